"""The numba kernel behind :class:`bayesnet.inference.elimination.EliminationPropagator` (imported only when used).

One call answers rows ``a..b-1`` of a block of hard evidence, each row on its own:

1. the *relevant* variables: the targets, the observed variables and their ancestors (barren
   variables dropped, as pgmpy's ``VariableElimination`` drops them);
2. every relevant CPT with its observed axes indexed out (a table over its unobserved variables,
   divided by its maximum; a CPT with every variable observed is a number);
3. a greedy elimination order of the unobserved relevant variables on their interaction graph
   (the moral graph of the relevant part with the observed variables removed, so d-separated
   parts fall into components of their own): min-weight, and for rows whose tables are big next
   to the cost of an order (about ``m**2`` for ``m`` variables) also min-fill, weighted min-fill
   and restarts seeded by the row's codes, the order with the fewest table entries kept;
4. the elimination tree of that order (clique ``k`` = the ``k``-th eliminated variable first, then
   its neighbours at that moment; its parent is the clique of the first of those neighbours to be
   eliminated), every factor in the clique of its first eliminated variable;
5. a collect pass, one pass over each clique computing the product of its operands and summing
   it into the message (the messages of variable elimination, each divided by its maximum with
   the log of that maximum added to ``log P(e)``; the product is kept as a table only for cliques
   on the paths to the targets), and a distribute pass (Hugin: a child's belief is its
   table times the message from its parent's belief over the separator, divided by the message it
   sent up; 0 / 0 = 0) only along the paths to the cliques where the targets are eliminated;
6. each unobserved target's marginal from the belief of its clique, where it is the first axis.

Tables are in C order over the clique's variables.  Scaling: a factor's entries are CPT entries (at
most 1; the factor is divided by its maximum when that is below ``1e-30``) and every message has
maximum 1, so no product exceeds 1; a row is accepted only when every maximum it divides by (and every
belief's maximum, rescaled when it falls below ``1e-100``) is at least ``lo``: an entry lost to
underflow is then below ``tiny / lo`` of the largest, negligible.  Below that (or with impossible
evidence) the row's status is 1 and the caller answers it by another path.  A row whose
clique tables would exceed ``budget`` entries in all gets status 2, before any of them is built.

Compiled with ``cache=True, nogil=True``: the Python side splits the rows over threads.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

__all__ = ["eliminate_rows"]

_RESCALE = 1e-100

#: a sliced CPT is divided by its maximum when that is below this (products of a few stay far from ``lo``)
_FACTOR_RESCALE = 1e-30

#: An order costs about 20-30 ns per square of the variables left to eliminate (m), the arithmetic about 8 ns
#: per clique-table entry; rows whose min-weight cliques total more than this many entries per m**2 also
#: try min-fill and weighted min-fill ...
_TRY_MORE = 40

#: ... and then one restart per this many entries per m**2 of their best order so far, at most _MAX_RESTARTS
_PER_RESTART = 80
_MAX_RESTARTS = 16


@njit(cache=True, nogil=True)
def _product(size, nc, ccard, nops, obase, ost, vals, t, store, u, s, digits, idx):
    """One pass over a clique (C order, its eliminated variable first): each entry is the product of the
    operands (tables in ``vals`` at ``obase``, strides ``ost`` per clique axis), written to ``t`` when
    ``store``, and summed over the first axis into ``u`` (of ``s`` entries)."""
    for j in range(nc):
        digits[j] = 0
    for o in range(nops):
        idx[o] = obase[o]
    last = nc - 1
    cl = ccard[last]
    # the innermost strides of up to four operands as locals (the common cases: no reloads per entry)
    s0 = ost[0, last] if nops > 0 else 0
    s1 = ost[1, last] if nops > 1 else 0
    s2 = ost[2, last] if nops > 2 else 0
    s3 = ost[3, last] if nops > 3 else 0
    i = 0
    while i < size:
        j0 = i - digits[0] * s if nc > 1 else 0
        a0 = idx[0] if nops > 0 else 0
        a1 = idx[1] if nops > 1 else 0
        a2 = idx[2] if nops > 2 else 0
        a3 = idx[3] if nops > 3 else 0
        for d in range(cl):
            if nops == 0:
                v = 1.0
            elif nops == 1:
                v = vals[a0 + d * s0]
            elif nops == 2:
                v = vals[a0 + d * s0] * vals[a1 + d * s1]
            elif nops == 3:
                v = vals[a0 + d * s0] * vals[a1 + d * s1] * vals[a2 + d * s2]
            elif nops == 4:
                v = vals[a0 + d * s0] * vals[a1 + d * s1] * vals[a2 + d * s2] * vals[a3 + d * s3]
            else:
                v = 1.0
                for o in range(nops):
                    v *= vals[idx[o] + d * ost[o, last]]
            if store:
                t[i + d] = v
            if nc > 1:
                u[j0 + d] += v
            else:
                u[0] += v
        i += cl
        j = last - 1
        while j >= 0:
            digits[j] += 1
            for o in range(nops):
                idx[o] += ost[o, j]
            if digits[j] < ccard[j]:
                break
            for o in range(nops):
                idx[o] -= ost[o, j] * ccard[j]
            digits[j] = 0
            j -= 1


@njit(cache=True, nogil=True)
def _marginal(t, size, nc, ccard, ost, out, digits):
    """``out[k] += t[i]`` where ``k`` is the entry of ``out`` (strides ``ost``, 0 on summed axes) under ``i``."""
    for j in range(nc):
        digits[j] = 0
    last = nc - 1
    cl = ccard[last]
    sl = ost[last]
    oi = 0
    i = 0
    while i < size:
        for d in range(cl):
            out[oi + d * sl] += t[i + d]
        i += cl
        j = last - 1
        while j >= 0:
            digits[j] += 1
            oi += ost[j]
            if digits[j] < ccard[j]:
                break
            oi -= ost[j] * ccard[j]
            digits[j] = 0
            j -= 1


@njit(cache=True, nogil=True)
def _add_edge(adj, nbl, deg, lw, llc, a, c):
    """Join ``a`` and ``c`` in the interaction graph (matrix, neighbour lists, log weights) unless joined."""
    if not adj[a, c]:
        adj[a, c] = True
        adj[c, a] = True
        nbl[a, deg[a]] = c
        deg[a] += 1
        nbl[c, deg[c]] = a
        deg[c] += 1
        lw[a] += llc[c]
        lw[c] += llc[a]


@njit(cache=True, nogil=True)
def _fill(adj, done, y, nb, ccl, weighted, nbl, deg):
    """Edges missing between the remaining neighbours of ``y`` (each weighted by its two cardinalities)."""
    nn = 0
    for q in range(deg[y]):
        z = nbl[y, q]
        if not done[z]:
            nb[nn] = z
            nn += 1
    cnt = 0.0
    for i in range(nn):
        a = nb[i]
        for j in range(i + 1, nn):
            if not adj[a, nb[j]]:
                cnt += ccl[a] * ccl[nb[j]] if weighted else 1.0
    return cnt


@njit(cache=True, nogil=True)
def _order(adj, nbl, deg, lw, llc, ccl, m, budget, lbudget, mode, seed):
    """A greedy elimination order and its cliques.

    ``mode`` 0: min-weight (smallest clique table); 1: min-fill (fewest fill-in edges, ties by
    weight); 2: min weighted fill (fill-in edges weighted by the product of their cardinalities,
    ties by weight); 3: one of the three best by min-fill, chosen by the xorshift generator seeded
    with ``seed`` (a restart).  ``adj`` (adjacency matrix), ``nbl`` and ``deg`` (neighbour lists, which
    keep eliminated variables) and ``lw`` (log clique weight per variable) are consumed.
    Returns ``(total entries, position of each variable, clique pointers, clique variables, clique
    sizes)``, total -1 when the cliques would exceed ``budget`` entries.
    """
    by_fill = mode != 0
    weighted = mode == 2
    state = np.uint64(seed) | np.uint64(1)
    done = np.zeros(max(m, 1), np.bool_)
    epos = np.empty(max(m, 1), np.int64)
    cptr = np.empty(m + 1, np.int64)
    cvars = np.empty(max(4 * m, 1), np.int64)
    csize = np.empty(max(m, 1), np.int64)
    nb = np.empty(max(m, 1), np.int64)
    nb2 = np.empty(max(m, 1), np.int64)
    fill = np.zeros(max(m, 1), np.float64)
    dirty = np.zeros(max(m, 1), np.bool_)
    dlist = np.empty(max(m, 1), np.int64)
    if by_fill:
        for y in range(m):
            fill[y] = _fill(adj, done, y, nb2, ccl, weighted, nbl, deg)
    cptr[0] = 0
    total = 0
    for k in range(m):
        best = -1
        bw = np.inf
        bf = 0.0
        # the three best by (fill, weight), for a restart
        b1 = -1
        b2 = -1
        b3 = -1
        for x in range(m):
            if done[x]:
                continue
            if mode == 3:
                if b1 < 0 or fill[x] < fill[b1] or (fill[x] == fill[b1] and lw[x] < lw[b1]):
                    b3 = b2
                    b2 = b1
                    b1 = x
                elif b2 < 0 or fill[x] < fill[b2] or (fill[x] == fill[b2] and lw[x] < lw[b2]):
                    b3 = b2
                    b2 = x
                elif b3 < 0 or fill[x] < fill[b3] or (fill[x] == fill[b3] and lw[x] < lw[b3]):
                    b3 = x
            elif by_fill:
                if best < 0 or fill[x] < bf or (fill[x] == bf and lw[x] < bw):
                    bf = fill[x]
                    bw = lw[x]
                    best = x
            elif lw[x] < bw:
                bw = lw[x]
                best = x
        if mode == 3:
            state ^= state << np.uint64(13)
            state ^= state >> np.uint64(7)
            state ^= state << np.uint64(17)
            pick = int(state % np.uint64(3))
            best = b1
            if pick == 1 and b2 >= 0:
                best = b2
            elif pick == 2 and b3 >= 0:
                best = b3
        x = best
        nn = 0
        for q in range(deg[x]):
            y = nbl[x, q]
            if not done[y]:
                nb[nn] = y
                nn += 1
        # the clique's axes: the eliminated variable, then its neighbours by cardinality (the largest
        # last, so the innermost loops of the passes over the table are long)
        for i in range(1, nn):
            y = nb[i]
            j = i - 1
            while j >= 0 and ccl[nb[j]] > ccl[y]:
                nb[j + 1] = nb[j]
                j -= 1
            nb[j + 1] = y
        if lw[x] > lbudget + 1e-9:
            return -1, epos, cptr, cvars, csize
        size = ccl[x]
        for i in range(nn):
            size *= ccl[nb[i]]
        total += size
        if total > budget:
            return -1, epos, cptr, cvars, csize
        csize[k] = size
        c0 = cptr[k]
        if c0 + nn + 1 > cvars.shape[0]:
            grown = np.empty(2 * cvars.shape[0] + nn + 1, np.int64)
            grown[:c0] = cvars[:c0]
            cvars = grown
        cvars[c0] = x
        for i in range(nn):
            cvars[c0 + 1 + i] = nb[i]
        cptr[k + 1] = c0 + nn + 1
        done[x] = True
        epos[x] = k
        for i in range(nn):
            a = nb[i]
            lw[a] -= llc[x]
            for j in range(i + 1, nn):
                c = nb[j]
                _add_edge(adj, nbl, deg, lw, llc, a, c)
        if by_fill and nn:
            # fill changes only around the eliminated variable's neighbours
            nd = 0
            for i in range(nn):
                a = nb[i]
                if not dirty[a]:
                    dirty[a] = True
                    dlist[nd] = a
                    nd += 1
                for q in range(deg[a]):
                    z = nbl[a, q]
                    if not done[z] and not dirty[z]:
                        dirty[z] = True
                        dlist[nd] = z
                        nd += 1
            for q in range(nd):
                z = dlist[q]
                dirty[z] = False
                fill[z] = _fill(adj, done, z, nb2, ccl, weighted, nbl, deg)
    return total, epos, cptr, cvars, csize


@njit(cache=True, nogil=True)
def _row(r, cards, lcard, famptr, famidx, cptoff, cptval, parptr, paridx, rtopo, codes, targets, tstart,
         out, logz, budget, lo, rel, loc, gvar):
    nv = cards.shape[0]
    nt = targets.shape[0]
    code = codes[r]
    # ---- 1. relevant variables: targets, observed and their ancestors
    for v in range(nv):
        rel[v] = code[v] >= 0
    for q in range(nt):
        rel[targets[q]] = True
    for i in range(nv):
        v = rtopo[i]
        if rel[v]:
            for j in range(parptr[v], parptr[v + 1]):
                rel[paridx[j]] = True
    m = 0
    for v in range(nv):
        if rel[v] and code[v] < 0:
            loc[v] = m
            gvar[m] = v
            m += 1
        else:
            loc[v] = -1
    ccl = np.empty(max(m, 1), np.int64)
    llc = np.empty(max(m, 1), np.float64)
    for k in range(m):
        ccl[k] = cards[gvar[k]]
        llc[k] = lcard[gvar[k]]
    lz = 0.0
    # ---- 2. sliced factors
    nf = 0
    nscope = 0
    nval = 0
    for v in range(nv):
        if not rel[v]:
            continue
        size = 1
        cnt = 0
        for j in range(famptr[v], famptr[v + 1]):
            u = famidx[j]
            if code[u] < 0:
                size *= cards[u]
                cnt += 1
        if cnt:
            nf += 1
            nscope += cnt
            nval += size
    fsp = np.empty(nf + 1, np.int64)
    fsc = np.empty(max(nscope, 1), np.int64)
    fvp = np.empty(nf + 1, np.int64)
    fbase = np.empty(max(nf, 1), np.int64)  # offset in cptval of each factor's first entry
    cst = np.empty(max(nscope, 1), np.int64)  # CPT stride of each scope axis
    digits = np.zeros(max(m, 1) + 1, np.int64)
    fsp[0] = 0
    fvp[0] = 0
    f = 0
    for v in range(nv):
        if not rel[v]:
            continue
        base = cptoff[v]
        stride = 1
        p0 = fsp[f]
        cnt = 0
        for j in range(famptr[v + 1] - 1, famptr[v] - 1, -1):  # last axis first
            u = famidx[j]
            if code[u] >= 0:
                base += code[u] * stride
            else:
                cnt += 1
            stride *= cards[u]
        if cnt == 0:
            s = cptval[base]
            if not s > 0.0:
                return 1
            lz += math.log(s)
            continue
        # scope in the CPT's axis order, with the CPT's strides
        stride = 1
        p = p0 + cnt
        for j in range(famptr[v + 1] - 1, famptr[v] - 1, -1):
            u = famidx[j]
            if code[u] < 0:
                p -= 1
                fsc[p] = loc[u]
                cst[p] = stride
            stride *= cards[u]
        fsp[f + 1] = p0 + cnt
        size = 1
        for p in range(p0, p0 + cnt):
            size *= ccl[fsc[p]]
        fvp[f + 1] = fvp[f] + size
        fbase[f] = base
        f += 1
    # ---- 3. interaction graph and a min-weight elimination order
    adj = np.zeros((max(m, 1), max(m, 1)), np.bool_)
    nbl = np.empty((max(m, 1), max(m, 1)), np.int32)
    deg = np.zeros(max(m, 1), np.int64)
    lw = llc.copy()
    for f in range(nf):
        for p in range(fsp[f], fsp[f + 1]):
            x = fsc[p]
            for q in range(p + 1, fsp[f + 1]):
                y = fsc[q]
                _add_edge(adj, nbl, deg, lw, llc, x, y)
    lbudget = math.log(budget)
    total, epos, cptr, cvars, csize = _order(adj.copy(), nbl.copy(), deg.copy(), lw.copy(), llc, ccl, m, budget, lbudget, 0, 0)
    if total < 0 or total > _TRY_MORE * m * m:
        # a big row: other greedy orders, then restarts, often need a half to a quarter of the
        # tables; the smallest is kept (the restarts' generator is seeded by the row's codes)
        seed = 88172645463325252
        for v in range(nv):
            seed = (seed * 6364136223846793005 + code[v] + 2) & 0x7FFFFFFFFFFFFFFF
        for mode in (1, 2):
            t2, e2, p2, v2, s2 = _order(adj.copy(), nbl.copy(), deg.copy(), lw.copy(), llc, ccl, m, budget, lbudget, mode, 0)
            if t2 >= 0 and (total < 0 or t2 < total):
                total, epos, cptr, cvars, csize = t2, e2, p2, v2, s2
        # restarts while they are cheap next to the row's arithmetic
        tries = 0
        while tries < (_MAX_RESTARTS if total < 0 else min(_MAX_RESTARTS, total // (_PER_RESTART * m * m))):
            t2, e2, p2, v2, s2 = _order(adj.copy(), nbl.copy(), deg.copy(), lw.copy(), llc, ccl, m, budget, lbudget, 3, seed + tries)
            if t2 >= 0 and (total < 0 or t2 < total):
                total, epos, cptr, cvars, csize = t2, e2, p2, v2, s2
            tries += 1
    if total < 0:
        return 2
    # ---- 4. the elimination tree and the factors' cliques
    par = np.empty(max(m, 1), np.int64)
    nkids = np.zeros(m + 1, np.int64)
    for k in range(m):
        pk = -1
        for i in range(cptr[k] + 1, cptr[k + 1]):
            e = epos[cvars[i]]
            if pk < 0 or e < pk:
                pk = e
        par[k] = pk
        if pk >= 0:
            nkids[pk + 1] += 1
    for k in range(m):
        nkids[k + 1] += nkids[k]
    kids = np.empty(max(m, 1), np.int64)
    fill = nkids[:m].copy()
    for k in range(m):
        if par[k] >= 0:
            kids[fill[par[k]]] = k
            fill[par[k]] += 1
    fptr = np.zeros(m + 1, np.int64)
    fhome = np.empty(max(nf, 1), np.int64)
    for f in range(nf):
        h = m
        for p in range(fsp[f], fsp[f + 1]):
            e = epos[fsc[p]]
            h = min(h, e)
        fhome[f] = h
        fptr[h + 1] += 1
    for k in range(m):
        fptr[k + 1] += fptr[k]
    flist = np.empty(max(nf, 1), np.int64)
    fill2 = fptr[:m].copy()
    for f in range(nf):
        flist[fill2[fhome[f]]] = f
        fill2[fhome[f]] += 1
    # ---- 5. collect (clique tables kept only on the paths to the targets' cliques)
    need = np.zeros(max(m, 1), np.bool_)
    for q in range(nt):
        tv = targets[q]
        if code[tv] < 0:
            c = epos[loc[tv]]
            while c >= 0 and not need[c]:
                need[c] = True
                c = par[c]
    toff = np.empty(m + 1, np.int64)
    soff = np.empty(m + 1, np.int64)
    toff[0] = 0
    soff[0] = nval  # the messages follow the factors in one array
    width = 1
    most = 0
    for k in range(m):
        toff[k + 1] = toff[k] + (csize[k] if need[k] else 0)
        soff[k + 1] = soff[k] + csize[k] // ccl[cvars[cptr[k]]]
        w = cptr[k + 1] - cptr[k]
        width = max(width, w)
        most = max(most, fptr[k + 1] - fptr[k] + nkids[k + 1] - nkids[k])
    tab = np.empty(max(toff[m], 1), np.float64)
    vals = np.empty(soff[m], np.float64)
    # the factors' values (gathered from the CPTs; divided by their maximum when it is small)
    for f in range(nf):
        p0 = fsp[f]
        cnt = fsp[f + 1] - p0
        o = fvp[f]
        size = fvp[f + 1] - o
        for p in range(cnt):
            digits[p] = 0
        last = p0 + cnt - 1
        cl = ccl[fsc[last]]
        sl = cst[last]
        off = fbase[f]
        mx = 0.0
        i = 0
        while i < size:
            for d in range(cl):
                x = cptval[off + d * sl]
                vals[o + i + d] = x
                mx = max(mx, x)
            i += cl
            p = cnt - 2
            while p >= 0:
                digits[p] += 1
                off += cst[p0 + p]
                if digits[p] < ccl[fsc[p0 + p]]:
                    break
                off -= cst[p0 + p] * ccl[fsc[p0 + p]]
                digits[p] = 0
                p -= 1
        if not mx > 0.0:
            return 1
        if mx < _FACTOR_RESCALE:
            inv = 1.0 / mx
            for i in range(size):
                vals[o + i] *= inv
            lz += math.log(mx)
    posmap = np.empty(max(m, 1), np.int64)
    fst = np.empty(width, np.int64)
    ccard = np.empty(width, np.int64)
    cdig = np.empty(width, np.int64)
    obase = np.empty(max(most, 1), np.int64)
    ost = np.zeros((max(most, 1), width), np.int64)
    oidx = np.empty(max(most, 1), np.int64)
    for k in range(m):
        c0 = cptr[k]
        nc = cptr[k + 1] - c0
        for j in range(nc):
            posmap[cvars[c0 + j]] = j
            ccard[j] = ccl[cvars[c0 + j]]
        nops = 0
        for q in range(fptr[k], fptr[k + 1]):
            f = flist[q]
            for j in range(nc):
                ost[nops, j] = 0
            stride = 1
            for p in range(fsp[f + 1] - 1, fsp[f] - 1, -1):
                ost[nops, posmap[fsc[p]]] = stride
                stride *= ccl[fsc[p]]
            obase[nops] = fvp[f]
            nops += 1
        for q in range(nkids[k], nkids[k + 1]):
            c = kids[q]
            for j in range(nc):
                ost[nops, j] = 0
            stride = 1
            for p in range(cptr[c + 1] - 1, cptr[c], -1):
                ost[nops, posmap[cvars[p]]] = stride
                stride *= ccl[cvars[p]]
            obase[nops] = soff[c]
            nops += 1
        s = soff[k + 1] - soff[k]
        u = vals[soff[k]:soff[k + 1]]
        u[:] = 0.0
        _product(csize[k], nc, ccard, nops, obase, ost, vals, tab[toff[k]:toff[k + 1]], need[k], u, s, cdig, oidx)
        z = 0.0
        for j in range(s):
            z = max(z, u[j])
        if not z >= lo:
            return 1
        lz += math.log(z)
        if par[k] >= 0:
            inv = 1.0 / z
            for j in range(s):
                u[j] *= inv
    # ---- 6. distribute along the paths to the targets' cliques
    msg = np.empty(max(soff[m] - soff[0], 1), np.float64)
    for k in range(m - 1, -1, -1):
        if not need[k]:
            continue
        p = par[k]
        size = csize[k]
        t = tab[toff[k]:toff[k + 1]]
        if p >= 0:
            # the parent's belief over this clique's separator
            c0 = cptr[p]
            nc = cptr[p + 1] - c0
            for j in range(nc):
                posmap[cvars[c0 + j]] = j
                ccard[j] = ccl[cvars[c0 + j]]
                fst[j] = 0
            stride = 1
            for i in range(cptr[k + 1] - 1, cptr[k], -1):
                fst[posmap[cvars[i]]] = stride
                stride *= ccl[cvars[i]]
            s = soff[k + 1] - soff[k]
            mm = msg[:s]
            mm[:] = 0.0
            _marginal(tab[toff[p]:toff[p + 1]], csize[p], nc, ccard, fst, mm, cdig)
            u = vals[soff[k]:soff[k + 1]]
            mx = 0.0
            for j in range(s):
                mm[j] = mm[j] / u[j] if u[j] > 0.0 else 0.0
                mx = max(mx, mm[j])
            if not mx > 0.0:
                return 1
            inv = 1.0 / mx
            for j in range(s):
                mm[j] *= inv
            bmx = 0.0
            for xi in range(ccl[cvars[cptr[k]]]):
                b0 = xi * s
                for j in range(s):
                    y = t[b0 + j] * mm[j]
                    t[b0 + j] = y
                    bmx = max(bmx, y)
            # the belief is rescaled only when it runs low (rare: the ratio has maximum 1)
            if bmx < _RESCALE:
                if not bmx >= lo:
                    return 1
                inv = 1.0 / bmx
                for i in range(size):
                    t[i] *= inv
    # ---- 7. the targets' marginals
    for q in range(nt):
        tv = targets[q]
        o = tstart[q]
        ct = cards[tv]
        if code[tv] >= 0:
            for x in range(ct):
                out[r, o + x] = 0.0
            out[r, o + code[tv]] = 1.0
            continue
        k = epos[loc[tv]]
        s = soff[k + 1] - soff[k]
        t0 = toff[k]
        tot = 0.0
        for x in range(ct):
            acc = 0.0
            for j in range(s):
                acc += tab[t0 + x * s + j]
            out[r, o + x] = acc
            tot += acc
        if not tot > 0.0:
            return 1
        for x in range(ct):
            out[r, o + x] /= tot
    logz[r] = lz
    return 0


@njit(cache=True, nogil=True)
def eliminate_rows(cards, famptr, famidx, cptoff, cptval, parptr, paridx, rtopo, codes, targets, tstart,
                   out, logz, status, a, b, budget, lo):
    """Rows ``a..b-1`` of ``codes`` (see the module docstring); ``status[r]`` 0 (answered), 1 or 2."""
    nv = cards.shape[0]
    lcard = np.empty(nv, np.float64)
    for v in range(nv):
        lcard[v] = math.log(cards[v])
    rel = np.empty(nv, np.bool_)
    loc = np.empty(nv, np.int64)
    gvar = np.empty(nv, np.int64)
    for r in range(a, b):
        status[r] = _row(r, cards, lcard, famptr, famidx, cptoff, cptval, parptr, paridx, rtopo, codes, targets,
                         tstart, out, logz, budget, lo, rel, loc, gvar)
