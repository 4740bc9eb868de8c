"""The numba kernels behind :class:`bayesnet.inference.kernels.KernelSchedule` (imported only when used).

Compiled with ``cache=True`` (numba keeps the machine code next to this file, or in its
user cache directory when that is not writable) and ``nogil=True`` (batches are split
over threads).  The arrays and their sections are described in
:mod:`bayesnet.inference.flat_layout`; the algorithm in :mod:`bayesnet.inference.kernels`.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from bayesnet.inference.flat_layout import (
    I_C2S,
    I_CHIDX,
    I_CHPTR,
    I_EVMAP,
    I_EVOFF,
    I_FIXHIDX,
    I_FIXHPTR,
    I_FIXMAP,
    I_FIXMOFF,
    I_FIXVAR,
    I_FIXVOFF,
    I_GCH,
    I_GCMAP,
    I_GMAPS,
    I_GMID,
    I_GMKIND,
    I_GMMAP,
    I_GMPTR,
    I_GOFF,
    I_GPTR,
    I_GSZ,
    I_GVAR,
    I_HVIDX,
    I_HVPTR,
    I_LOFF,
    I_META,
    I_ONES,
    I_P2S,
    I_P2SOFF,
    I_PARIDX,
    I_PARPTR,
    I_POST,
    I_RTOPO,
    I_SOFF,
    I_TOFF,
    M_EVERY,
    M_FFIX,
    M_FM0,
    M_FMSG0,
    M_FPOT0,
    M_GB,
    M_MAXSEP,
    M_NC,
    M_NFIX,
    M_NV,
    M_ROOT,
    M_S,
    M_SS,
    M_T,
    P_EDGES,
    P_META,
    P_NCHIDX,
    P_NCHPTR,
    P_NEED,
    P_NRD,
    P_NRDPTR,
    P_READS,
    P_RMAP,
    P_RMOFF,
    P_TMASK,
)

__all__ = ["run_blocks", "run_rows"]


@njit(cache=True, nogil=True, error_model="numpy")
def _sec(a, k):
    return a[a[k] : a[k + 1]]


@njit(cache=True, nogil=True, error_model="numpy")
def _rescale(t, off, size):
    """Divide ``t[off:off + size]`` by its maximum; return the log of the maximum (-inf if it is 0)."""
    z = t[off]
    for k in range(1, size):
        z = max(z, t[off + k])
    if not z > 0:
        return -np.inf
    for k in range(size):
        t[off + k] /= z
    return math.log(z)


@njit(cache=True, nogil=True, error_model="numpy")
def run_rows(I, F, G, P, codes, soft, out, logev, r0, r1):
    """Posteriors (``out``) and log-evidence (``logev``) of rows ``r0:r1`` (see the module docstring)."""
    meta = _sec(I, I_META)
    nc = meta[M_NC]
    nv = meta[M_NV]
    S = meta[M_S]
    root = meta[M_ROOT]
    every = meta[M_EVERY]
    nfix = meta[M_NFIX]
    T = meta[M_T]
    SS = meta[M_SS]
    maxsep = meta[M_MAXSEP]
    fpot0 = meta[M_FPOT0]
    fm0 = meta[M_FM0]
    fmsg0 = meta[M_FMSG0]
    ffix = meta[M_FFIX]
    post = _sec(I, I_POST)
    toff = _sec(I, I_TOFF)
    soff = _sec(I, I_SOFF)
    chptr = _sec(I, I_CHPTR)
    chidx = _sec(I, I_CHIDX)
    c2s = _sec(I, I_C2S)
    p2soff = _sec(I, I_P2SOFF)
    p2s = _sec(I, I_P2S)
    hvptr = _sec(I, I_HVPTR)
    hvidx = _sec(I, I_HVIDX)
    evoff = _sec(I, I_EVOFF)
    evmap = _sec(I, I_EVMAP)
    loff = _sec(I, I_LOFF)
    parptr = _sec(I, I_PARPTR)
    paridx = _sec(I, I_PARIDX)
    rtopo = _sec(I, I_RTOPO)
    fixvar = _sec(I, I_FIXVAR)
    fixmoff = _sec(I, I_FIXMOFF)
    fixmap = _sec(I, I_FIXMAP)
    fixvoff = _sec(I, I_FIXVOFF)
    fixhptr = _sec(I, I_FIXHPTR)
    fixhidx = _sec(I, I_FIXHIDX)
    ones = _sec(I, I_ONES)
    gptr = _sec(I, I_GPTR)
    goff = _sec(I, I_GOFF)
    gsz = _sec(I, I_GSZ)
    gcmap = _sec(I, I_GCMAP)
    gmptr = _sec(I, I_GMPTR)
    gmkind = _sec(I, I_GMKIND)
    gmid = _sec(I, I_GMID)
    gmmap = _sec(I, I_GMMAP)
    gch = _sec(I, I_GCH)
    gvar = _sec(I, I_GVAR)
    a_gm = I[I_GMAPS]
    GB = meta[M_GB]
    pm = _sec(P, P_META)
    nedges = pm[0]
    nreads = pm[1]
    ntot = pm[2]
    edges = _sec(P, P_EDGES)
    reads = _sec(P, P_READS)
    rmoff = _sec(P, P_RMOFF)
    rmap = _sec(P, P_RMAP)
    tmask = _sec(P, P_TMASK)

    pot = np.empty(max(T, 1), F.dtype)
    m = np.empty(max(SS, 1), F.dtype)
    msg = np.empty(max(SS, 1), F.dtype)
    sm = np.empty(max(maxsep, 1), F.dtype)
    lik = np.empty(max(S, 1), F.dtype)
    obs = np.zeros(max(nv, 1), np.bool_)
    rel = np.zeros(max(nv, 1), np.bool_)
    fixon = np.zeros(max(nfix, 1), np.bool_)
    here = np.zeros(max(nc, 1), np.bool_)
    dirty = np.zeros(max(nc, 1), np.bool_)
    gact = np.zeros(max(len(goff), 1), np.bool_)
    gtab = np.empty(max(GB, 1), F.dtype)
    nsoft = soft.shape[0]

    for r in range(r0, r1):
        # ---- the row's likelihood vector, and which variables it observes
        for v in range(nv):
            a = loff[v]
            b = loff[v + 1]
            code = codes[r, v]
            seen = False
            for s in range(a, b):
                x = 1.0 if (code < 0 or s - a == code) else 0.0
                if nsoft > 0:
                    x *= soft[r, s]
                lik[s] = x
                if x != 1.0:
                    seen = True
            obs[v] = seen
        # ---- barren variables whose CPT columns do not sum to 1: corrected at their host
        if nfix > 0:
            for v in range(nv):
                rel[v] = obs[v] or tmask[v] != 0
            for q in range(nv):
                v = rtopo[q]
                if rel[v]:
                    for e in range(parptr[v], parptr[v + 1]):
                        rel[paridx[e]] = True
            for f in range(nfix):
                fixon[f] = not rel[fixvar[f]]
        # ---- cliques whose subtree holds evidence
        for q in range(nc):
            i = post[q]
            d = False
            for e in range(hvptr[i], hvptr[i + 1]):
                if obs[hvidx[e]]:
                    d = True
                    break
            if not d and nfix > 0:
                for e in range(fixhptr[i], fixhptr[i + 1]):
                    if fixon[fixhidx[e]]:
                        d = True
                        break
            here[i] = d
            if not d:
                for e in range(chptr[i], chptr[i + 1]):
                    if dirty[chidx[e]]:
                        d = True
                        break
            dirty[i] = d

        logacc = 0.0
        bad = False
        # ---- collect
        for q in range(nc):
            i = post[q]
            if not dirty[i]:
                continue
            t0 = toff[i]
            size = toff[i + 1] - t0
            # groups of small factors multiplied together first (when all the clique's factors fit one
            # rescaling interval, as in run_blocks)
            nact = 0
            for e in range(hvptr[i], hvptr[i + 1]):
                if obs[hvidx[e]]:
                    nact += 1
            for e in range(chptr[i], chptr[i + 1]):
                c = chidx[e]
                if dirty[c] or ones[c] == 0:
                    nact += 1
            if nfix > 0:
                for e in range(fixhptr[i], fixhptr[i + 1]):
                    if fixon[fixhidx[e]]:
                        nact += every  # no grouping with corrections
            grouping = 1 + nact <= every
            for g in range(gptr[i], gptr[i + 1]):
                gact[g] = False
                if not grouping:
                    continue
                na = 0
                for e in range(gmptr[g], gmptr[g + 1]):
                    idn = gmid[e]
                    if gmkind[e] == 0:
                        if obs[idn]:
                            na += 1
                    elif dirty[idn] or ones[idn] == 0:
                        na += 1
                if na < 2:
                    continue
                gact[g] = True
                g0 = goff[g]
                for j in range(gsz[g]):
                    gtab[g0 + j] = 1.0
                for e in range(gmptr[g], gmptr[g + 1]):
                    idn = gmid[e]
                    mo = a_gm + gmmap[e]
                    if gmkind[e] == 0:
                        if obs[idn]:
                            sc = loff[idn]
                            for j in range(gsz[g]):
                                gtab[g0 + j] *= lik[sc + I[mo + j]]
                    elif dirty[idn]:
                        sc = soff[idn]
                        for j in range(gsz[g]):
                            gtab[g0 + j] *= msg[sc + I[mo + j]]
                    elif ones[idn] == 0:
                        sc = fmsg0 + soff[idn]
                        for j in range(gsz[g]):
                            gtab[g0 + j] *= F[sc + I[mo + j]]
            for k in range(size):
                pot[t0 + k] = F[t0 + k]
            count = 1
            if here[i]:
                for e in range(hvptr[i], hvptr[i + 1]):
                    v = hvidx[e]
                    if not obs[v] or (gvar[v] >= 0 and gact[gvar[v]]):
                        continue
                    if count == every:
                        lz = _rescale(pot, t0, size)
                        if lz == -np.inf:
                            bad = True
                            break
                        logacc += lz
                        count = 1
                    eo = evoff[v]
                    lo = loff[v]
                    for k in range(size):
                        pot[t0 + k] *= lik[lo + evmap[eo + k]]
                    count += 1
                if nfix > 0 and not bad:
                    for e in range(fixhptr[i], fixhptr[i + 1]):
                        f = fixhidx[e]
                        if not fixon[f]:
                            continue
                        if count == every:
                            lz = _rescale(pot, t0, size)
                            if lz == -np.inf:
                                bad = True
                                break
                            logacc += lz
                            count = 1
                        mo = fixmoff[f]
                        vo = ffix + fixvoff[f]
                        for k in range(size):
                            pot[t0 + k] *= F[vo + fixmap[mo + k]]
                        count += 1
            if bad:
                break
            for e in range(chptr[i], chptr[i + 1]):
                c = chidx[e]
                po = p2soff[c]
                so = soff[c]
                grouped = gch[c] >= 0 and gact[gch[c]]
                if dirty[c]:
                    if grouped:
                        continue
                    if count == every:
                        lz = _rescale(pot, t0, size)
                        if lz == -np.inf:
                            bad = True
                            break
                        logacc += lz
                        count = 1
                    for k in range(size):
                        pot[t0 + k] *= msg[so + p2s[po + k]]
                    count += 1
                else:
                    logacc += G[c]
                    if ones[c] != 0 or grouped:
                        continue
                    if count == every:
                        lz = _rescale(pot, t0, size)
                        if lz == -np.inf:
                            bad = True
                            break
                        logacc += lz
                        count = 1
                    so = fmsg0 + so
                    for k in range(size):
                        pot[t0 + k] *= F[so + p2s[po + k]]
                    count += 1
            if bad:
                break
            for g in range(gptr[i], gptr[i + 1]):
                if gact[g]:
                    g0 = goff[g]
                    mo = a_gm + gcmap[g]
                    for k in range(size):
                        pot[t0 + k] *= gtab[g0 + I[mo + k]]
            if i != root:
                so = soff[i]
                ssz = soff[i + 1] - so
                for j in range(ssz):
                    m[so + j] = 0
                for k in range(size):
                    m[so + c2s[t0 + k]] += pot[t0 + k]
                z = m[so]
                for j in range(1, ssz):
                    z = max(z, m[so + j])
                if not z > 0:
                    bad = True
                    break
                for j in range(ssz):
                    msg[so + j] = m[so + j] / z
                logacc += math.log(z)

        if not bad:
            # ---- root total
            tr = toff[root]
            rsz = toff[root + 1] - tr
            if not dirty[root]:
                logacc += G[root]
                for k in range(rsz):
                    pot[tr + k] = F[fpot0 + tr + k]
            total = pot[tr]
            for k in range(1, rsz):
                total += pot[tr + k]
            if not total > 0:
                bad = True
            else:
                logacc += math.log(total)

        if bad:
            for j in range(ntot):
                out[r, j] = np.nan
            logev[r] = -np.inf
            continue

        # ---- distribute along the plan's edges (parents first)
        for ed in range(nedges):
            p = edges[2 * ed]
            c = edges[2 * ed + 1]
            tp = toff[p]
            psz = toff[p + 1] - tp
            po = p2soff[c]
            so = soff[c]
            ssz = soff[c + 1] - so
            for j in range(ssz):
                sm[j] = 0
            for k in range(psz):
                sm[p2s[po + k]] += pot[tp + k]
            if p == root:
                for j in range(ssz):
                    sm[j] /= total
            tc = toff[c]
            csz = toff[c + 1] - tc
            if dirty[c]:
                for j in range(ssz):
                    d = m[so + j]
                    sm[j] = sm[j] / d if d != 0 else 0.0
                for k in range(csz):
                    pot[tc + k] *= sm[c2s[tc + k]]
            else:
                for j in range(ssz):
                    d = F[fm0 + so + j]
                    sm[j] = sm[j] / d if d != 0 else 0.0
                for k in range(csz):
                    pot[tc + k] = F[fpot0 + tc + k] * sm[c2s[tc + k]]

        # ---- read the targets
        for q in range(nreads):
            h = reads[4 * q + 1]
            oo = reads[4 * q + 2]
            card = reads[4 * q + 3]
            for s in range(card):
                out[r, oo + s] = 0
            th = toff[h]
            hs = toff[h + 1] - th
            mo = rmoff[q]
            for k in range(hs):
                out[r, oo + rmap[mo + k]] += pot[th + k]
            tot = out[r, oo]
            for s in range(1, card):
                tot += out[r, oo + s]
            for s in range(card):
                out[r, oo + s] /= tot
        logev[r] = logacc


@njit(cache=True, nogil=True, error_model="numpy")
def _vset(dst, d0, x, R):
    d = dst[d0 : d0 + R]
    for r in range(R):
        d[r] = x


@njit(cache=True, nogil=True, error_model="numpy")
def _vscale(dst, d0, x, R):
    d = dst[d0 : d0 + R]
    for r in range(R):
        d[r] *= x


@njit(cache=True, nogil=True, error_model="numpy")
def _vmul(dst, d0, src, s0, R):
    d = dst[d0 : d0 + R]
    a = src[s0 : s0 + R]
    for r in range(R):
        d[r] *= a[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _vadd(dst, d0, src, s0, R):
    d = dst[d0 : d0 + R]
    a = src[s0 : s0 + R]
    for r in range(R):
        d[r] += a[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _vdiv(dst, src, off, z, R):
    d = dst[off : off + R]
    a = src[off : off + R]
    for r in range(R):
        d[r] = a[r] / z[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _vsetmul(dst, d0, src, s0, x, R):
    d = dst[d0 : d0 + R]
    a = src[s0 : s0 + R]
    for r in range(R):
        d[r] = x * a[r]


@njit(cache=True, nogil=True, error_model="numpy")
def run_blocks(I, F, G, P, codes, soft, out, logev, r0, r1, R):
    """Like :func:`run_rows`, vectorised over blocks of ``R`` rows (rows innermost in every table).

    A clique is computed for a whole block when any of its rows holds evidence below it; the
    cached evidence-free message is used (or, when all ones, skipped) only when none does.  So a
    row's answer may differ from :func:`run_rows`'s in the last bits (never more: both are the
    same exact computation), and depends only on the rows of its block.  Each clique's factors
    are multiplied in one pass over its table, fused with its message; the distribute pass makes
    one pass over each clique it visits, summing towards its children and targets at once.
    """
    meta = _sec(I, I_META)
    nc = meta[M_NC]
    nv = meta[M_NV]
    S = meta[M_S]
    root = meta[M_ROOT]
    every = meta[M_EVERY]
    nfix = meta[M_NFIX]
    T = meta[M_T]
    SS = meta[M_SS]
    fpot0 = meta[M_FPOT0]
    fm0 = meta[M_FM0]
    fmsg0 = meta[M_FMSG0]
    ffix = meta[M_FFIX]
    post = _sec(I, I_POST)
    toff = _sec(I, I_TOFF)
    soff = _sec(I, I_SOFF)
    chptr = _sec(I, I_CHPTR)
    chidx = _sec(I, I_CHIDX)
    p2soff = _sec(I, I_P2SOFF)
    hvptr = _sec(I, I_HVPTR)
    hvidx = _sec(I, I_HVIDX)
    evoff = _sec(I, I_EVOFF)
    loff = _sec(I, I_LOFF)
    parptr = _sec(I, I_PARPTR)
    paridx = _sec(I, I_PARIDX)
    rtopo = _sec(I, I_RTOPO)
    fixvar = _sec(I, I_FIXVAR)
    fixmoff = _sec(I, I_FIXMOFF)
    fixvoff = _sec(I, I_FIXVOFF)
    fixhptr = _sec(I, I_FIXHPTR)
    fixhidx = _sec(I, I_FIXHIDX)
    ones = _sec(I, I_ONES)
    a_c2s = I[I_C2S]
    a_p2s = I[I_P2S]
    a_ev = I[I_EVMAP]
    a_fix = I[I_FIXMAP]
    gb0 = S + SS  # start of the group tables in buf (in rows)
    gptr = _sec(I, I_GPTR)
    goff = _sec(I, I_GOFF)
    gsz = _sec(I, I_GSZ)
    gcmap = _sec(I, I_GCMAP)
    gmptr = _sec(I, I_GMPTR)
    gmkind = _sec(I, I_GMKIND)
    gmid = _sec(I, I_GMID)
    gmmap = _sec(I, I_GMMAP)
    gch = _sec(I, I_GCH)
    gvar = _sec(I, I_GVAR)
    a_gm = I[I_GMAPS]
    GB = meta[M_GB]
    pm = _sec(P, P_META)
    ntot = pm[2]
    reads = _sec(P, P_READS)
    rmoff = _sec(P, P_RMOFF)
    a_rmap = P[P_RMAP]
    tmask = _sec(P, P_TMASK)
    need = _sec(P, P_NEED)
    nchptr = _sec(P, P_NCHPTR)
    nchidx = _sec(P, P_NCHIDX)
    nrdptr = _sec(P, P_NRDPTR)
    nrd = _sec(P, P_NRD)

    pot = np.empty(max(T, 1) * R, F.dtype)
    buf = np.empty((S + SS + GB + 1) * R, F.dtype)  # likelihoods, scaled messages, group tables
    mb = S * R  # start of the messages in buf
    m = np.empty(max(SS, 1) * R, F.dtype)
    down = np.empty(max(SS, 1) * R, F.dtype)
    acc = np.empty(max(ntot, 1) * R, F.dtype)
    tmp = np.empty(R, F.dtype)
    z = np.empty(R, F.dtype)
    zl = np.empty(R, np.float64)
    total = np.empty(R, F.dtype)
    logacc = np.empty(R, np.float64)
    bad = np.zeros(R, np.bool_)
    obs = np.zeros(max(nv, 1), np.bool_)
    rel = np.zeros(max(nv, 1), np.bool_)
    fixon = np.zeros(max(nfix, 1) * R, np.bool_)
    fixany = np.zeros(max(nfix, 1), np.bool_)
    here = np.zeros(max(nc, 1), np.bool_)
    dirty = np.zeros(max(nc, 1), np.bool_)
    maxf = 1
    for i in range(nc):
        maxf = max(maxf, hvptr[i + 1] - hvptr[i] + chptr[i + 1] - chptr[i] + gptr[i + 1] - gptr[i])
    gact = np.zeros(max(len(goff), 1), np.bool_)
    vb = np.empty(maxf, np.int64)  # vector factors: base (in rows of buf) and map offset (in I)
    vm = np.empty(maxf, np.int64)
    sb = np.empty(maxf, np.int64)  # scalar factors (cached messages): base in F, map offset in I
    sq = np.empty(maxf, np.int64)
    nsoft = soft.shape[0]

    for b0 in range(r0, r1, R):
        nb = min(R, r1 - b0)
        # ---- likelihood vectors (padding rows repeat the block's first row)
        for v in range(nv):
            a = loff[v]
            bb = loff[v + 1]
            seen = False
            for r in range(R):
                row = b0 + (r if r < nb else 0)
                code = codes[row, v]
                for s in range(a, bb):
                    x = 1.0 if (code < 0 or s - a == code) else 0.0
                    if nsoft > 0:
                        x *= soft[row, s]
                    buf[s * R + r] = x
                    if x != 1.0:
                        seen = True
            obs[v] = seen
        if nfix > 0:
            for f in range(nfix):
                fixany[f] = False
            for r in range(R):
                for v in range(nv):
                    seen = tmask[v] != 0
                    if not seen:
                        for s in range(loff[v], loff[v + 1]):
                            if buf[s * R + r] != 1.0:
                                seen = True
                                break
                    rel[v] = seen
                for q in range(nv):
                    v = rtopo[q]
                    if rel[v]:
                        for e in range(parptr[v], parptr[v + 1]):
                            rel[paridx[e]] = True
                for f in range(nfix):
                    on = not rel[fixvar[f]]
                    fixon[f * R + r] = on
                    if on:
                        fixany[f] = True
        for q in range(nc):
            i = post[q]
            d = False
            for e in range(hvptr[i], hvptr[i + 1]):
                if obs[hvidx[e]]:
                    d = True
                    break
            if not d and nfix > 0:
                for e in range(fixhptr[i], fixhptr[i + 1]):
                    if fixany[fixhidx[e]]:
                        d = True
                        break
            here[i] = d
            if not d:
                for e in range(chptr[i], chptr[i + 1]):
                    if dirty[chidx[e]]:
                        d = True
                        break
            dirty[i] = d
        for r in range(R):
            logacc[r] = 0.0
            bad[r] = False

        # ---- collect
        for q in range(nc):
            i = post[q]
            if not dirty[i]:
                continue
            t0 = toff[i]
            size = toff[i + 1] - t0
            nfx = 0
            if nfix > 0:
                for e in range(fixhptr[i], fixhptr[i + 1]):
                    if fixany[fixhidx[e]]:
                        nfx += 1
            nact = nfx
            for e in range(hvptr[i], hvptr[i + 1]):
                if obs[hvidx[e]]:
                    nact += 1
            for e in range(chptr[i], chptr[i + 1]):
                c = chidx[e]
                if dirty[c] or ones[c] == 0:
                    nact += 1
            fused = nfx == 0 and 1 + nact <= every
            # groups of small factors (at least two active) are multiplied together first
            for g in range(gptr[i], gptr[i + 1]):
                gact[g] = False
                if not fused:
                    continue
                na = 0
                for e in range(gmptr[g], gmptr[g + 1]):
                    idn = gmid[e]
                    if gmkind[e] == 0:
                        if obs[idn]:
                            na += 1
                    elif dirty[idn] or ones[idn] == 0:
                        na += 1
                if na < 2:
                    continue
                gact[g] = True
                gb = gb0 + goff[g]
                for j in range(gsz[g]):
                    _vset(buf, (gb + j) * R, 1.0, R)
                for e in range(gmptr[g], gmptr[g + 1]):
                    idn = gmid[e]
                    mo = a_gm + gmmap[e]
                    if gmkind[e] == 0:
                        if not obs[idn]:
                            continue
                        lo = loff[idn]
                        for j in range(gsz[g]):
                            _vmul(buf, (gb + j) * R, buf, (lo + I[mo + j]) * R, R)
                    elif dirty[idn]:
                        sc = S + soff[idn]
                        for j in range(gsz[g]):
                            _vmul(buf, (gb + j) * R, buf, (sc + I[mo + j]) * R, R)
                    elif ones[idn] == 0:
                        sc = fmsg0 + soff[idn]
                        for j in range(gsz[g]):
                            _vscale(buf, (gb + j) * R, F[sc + I[mo + j]], R)
            nvf = 0
            nsf = 0
            for e in range(hvptr[i], hvptr[i + 1]):
                v = hvidx[e]
                if obs[v] and not (gvar[v] >= 0 and gact[gvar[v]]):
                    vb[nvf] = loff[v]
                    vm[nvf] = a_ev + evoff[v]
                    nvf += 1
            for e in range(chptr[i], chptr[i + 1]):
                c = chidx[e]
                grouped = gch[c] >= 0 and gact[gch[c]]
                if dirty[c]:
                    if not grouped:
                        vb[nvf] = S + soff[c]
                        vm[nvf] = a_p2s + p2soff[c]
                        nvf += 1
                else:
                    for r in range(R):
                        logacc[r] += G[c]
                    if ones[c] == 0 and not grouped:
                        sb[nsf] = fmsg0 + soff[c]
                        sq[nsf] = a_p2s + p2soff[c]
                        nsf += 1
            for g in range(gptr[i], gptr[i + 1]):
                if gact[g]:
                    vb[nvf] = gb0 + goff[g]
                    vm[nvf] = a_gm + gcmap[g]
                    nvf += 1
            so = soff[i]
            ssz = soff[i + 1] - so
            if i != root:
                for j in range(so * R, (so + ssz) * R):
                    m[j] = 0
            if fused:
                # one pass: potential x scalar factors x vector factors, summed into the message
                for k in range(size):
                    x = F[t0 + k]
                    for f in range(nsf):
                        x *= F[sb[f] + I[sq[f] + k]]
                    d = pot[(t0 + k) * R : (t0 + k + 1) * R]
                    if nvf == 0:
                        for r in range(R):
                            d[r] = x
                    else:
                        s0 = (vb[0] + I[vm[0] + k]) * R
                        a0 = buf[s0 : s0 + R]
                        for r in range(R):
                            d[r] = x * a0[r]
                        for f in range(1, nvf):
                            s1 = (vb[f] + I[vm[f] + k]) * R
                            a1 = buf[s1 : s1 + R]
                            for r in range(R):
                                d[r] *= a1[r]
                    if i != root:
                        j0 = (so + I[a_c2s + t0 + k]) * R
                        mm = m[j0 : j0 + R]
                        for r in range(R):
                            mm[r] += d[r]
            else:
                # many factors: one at a time, the table rescaled per row every `every` factors
                for k in range(size):
                    _vset(pot, (t0 + k) * R, F[t0 + k], R)
                count = 1
                for f in range(nvf + nsf + nfx):
                    if count == every:
                        _rescale_block(pot, t0, size, R, z, zl, bad, logacc)
                        count = 1
                    if f < nvf:
                        for k in range(size):
                            _vmul(pot, (t0 + k) * R, buf, (vb[f] + I[vm[f] + k]) * R, R)
                    elif f < nvf + nsf:
                        g = f - nvf
                        for k in range(size):
                            _vscale(pot, (t0 + k) * R, F[sb[g] + I[sq[g] + k]], R)
                    else:
                        g = f - nvf - nsf
                        cnt = 0
                        fx = 0
                        for e in range(fixhptr[i], fixhptr[i + 1]):
                            if fixany[fixhidx[e]]:
                                if cnt == g:
                                    fx = fixhidx[e]
                                cnt += 1
                        mo = a_fix + fixmoff[fx]
                        vo = ffix + fixvoff[fx]
                        for k in range(size):
                            x = F[vo + I[mo + k]]
                            base = (t0 + k) * R
                            for r in range(R):
                                if fixon[fx * R + r]:
                                    pot[base + r] *= x
                    count += 1
                if i != root:
                    for k in range(size):
                        _vadd(m, (so + I[a_c2s + t0 + k]) * R, pot, (t0 + k) * R, R)
            if i != root:
                for r in range(R):
                    z[r] = m[so * R + r]
                for j in range(1, ssz):
                    base = (so + j) * R
                    for r in range(R):
                        z[r] = max(z[r], m[base + r])
                for r in range(R):
                    if not z[r] > 0:
                        bad[r] = True
                        z[r] = 1.0
                    logacc[r] += math.log(z[r])
                for j in range(ssz):
                    _vdiv2(buf, mb + (so + j) * R, m, (so + j) * R, z, R)

        # ---- root total
        tr = toff[root]
        rsz = toff[root + 1] - tr
        if not dirty[root]:
            for k in range(rsz):
                _vset(pot, (tr + k) * R, F[fpot0 + tr + k], R)
            for r in range(R):
                logacc[r] += G[root]
        for r in range(R):
            total[r] = 0
        for k in range(rsz):
            _vadd(total, 0, pot, (tr + k) * R, R)
        for r in range(R):
            if not total[r] > 0:
                bad[r] = True
                total[r] = 1.0
            logacc[r] += math.log(total[r])

        # ---- distribute: one pass over each needed clique (parents first), its belief formed on
        # the fly and summed towards its children in the plan and the targets read there
        for qn in range(len(need)):
            p = need[qn]
            tp = toff[p]
            psz = toff[p + 1] - tp
            for e in range(nchptr[qn], nchptr[qn + 1]):
                c = nchidx[e]
                for j in range(soff[c] * R, soff[c + 1] * R):
                    down[j] = 0
            for e in range(nrdptr[qn], nrdptr[qn + 1]):
                q = nrd[e]
                for j in range(reads[4 * q + 2] * R, (reads[4 * q + 2] + reads[4 * q + 3]) * R):
                    acc[j] = 0
            sp = soff[p]
            for k in range(psz):
                if p == root:
                    d = pot[(tp + k) * R : (tp + k + 1) * R]
                else:
                    d = tmp
                    j0 = (sp + I[a_c2s + tp + k]) * R
                    rt = down[j0 : j0 + R]
                    if dirty[p]:
                        src = pot[(tp + k) * R : (tp + k + 1) * R]
                        for r in range(R):
                            d[r] = src[r] * rt[r]
                    else:
                        x = F[fpot0 + tp + k]
                        for r in range(R):
                            d[r] = x * rt[r]
                for e in range(nchptr[qn], nchptr[qn + 1]):
                    c = nchidx[e]
                    j0 = (soff[c] + I[a_p2s + p2soff[c] + k]) * R
                    dd = down[j0 : j0 + R]
                    for r in range(R):
                        dd[r] += d[r]
                for e in range(nrdptr[qn], nrdptr[qn + 1]):
                    q = nrd[e]
                    j0 = (reads[4 * q + 2] + P[a_rmap + rmoff[q] + k]) * R
                    dd = acc[j0 : j0 + R]
                    for r in range(R):
                        dd[r] += d[r]
            # the children's ratios: separator marginal over the collect message (0/0 = 0 is exact)
            for e in range(nchptr[qn], nchptr[qn + 1]):
                c = nchidx[e]
                so = soff[c]
                for j in range(soff[c + 1] - so):
                    base = (so + j) * R
                    if p == root:
                        for r in range(R):
                            down[base + r] /= total[r]
                    if dirty[c]:
                        for r in range(R):
                            dn = m[base + r]
                            down[base + r] = down[base + r] / dn if dn != 0 else 0.0
                    else:
                        dn = F[fm0 + so + j]
                        for r in range(R):
                            down[base + r] = down[base + r] / dn if dn != 0 else 0.0
            for e in range(nrdptr[qn], nrdptr[qn + 1]):
                q = nrd[e]
                oo = reads[4 * q + 2]
                card = reads[4 * q + 3]
                for r in range(nb):
                    tot = acc[oo * R + r]
                    for s in range(1, card):
                        tot += acc[(oo + s) * R + r]
                    for s in range(card):
                        out[b0 + r, oo + s] = acc[(oo + s) * R + r] / tot
        for r in range(nb):
            if bad[r]:
                for j in range(ntot):
                    out[b0 + r, j] = np.nan
                logev[b0 + r] = -np.inf
            else:
                logev[b0 + r] = logacc[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _vdiv2(dst, d0, src, s0, z, R):
    d = dst[d0 : d0 + R]
    a = src[s0 : s0 + R]
    for r in range(R):
        d[r] = a[r] / z[r]


@njit(cache=True, nogil=True, error_model="numpy")
def _rescale_block(pot, t0, size, R, z, zl, bad, logacc):
    """Divide each row of a block's clique table by its maximum; add the logs to ``logacc``."""
    for r in range(R):
        z[r] = pot[t0 * R + r]
    for k in range(1, size):
        base = (t0 + k) * R
        for r in range(R):
            z[r] = max(z[r], pot[base + r])
    for r in range(R):
        if not z[r] > 0:
            bad[r] = True
            z[r] = 1.0
        logacc[r] += math.log(z[r])
    for k in range(size):
        base = (t0 + k) * R
        for r in range(R):
            pot[base + r] /= z[r]
