"""Relevance-pruned, evidence-sliced propagation for rows of hard evidence (Shafer-Shenoy on a fixed tree).

:class:`SlicedPropagator` answers the same queries as the dense batch pass of
:mod:`bayesnet.inference.engine` (posterior marginals of target variables and
``log P(e)`` for rows of hard evidence), on the same junction tree, but does per
row only the work that the row's evidence and the targets make necessary:

* **Barren nodes** are dropped: a CPT takes part in a row only when its variable
  is a target, observed, or an ancestor of one (the ancestral closure, computed for
  all rows at once).  This is what pgmpy's ``VariableElimination`` does (its
  pruning), so the answer is the reference's one even when a BIF's CPT columns do
  not sum exactly to 1 (nothing is renormalised).
* **Hard evidence is sliced, not multiplied**: every observed variable is indexed
  out of every CPT that mentions it (a gather per row), so a clique only ever
  handles its *unobserved* variables.  A clique of 13 million entries with three of
  its seven variables observed becomes a handful of small factors.
* **Lazy messages** (Shafer-Shenoy, no clique tables): a message is the einsum of
  the clique's sliced CPTs and incoming messages, summed to the unobserved part of
  the separator; ``numpy.einsum`` contracts it pairwise along a cached path
  (``tensordot``, so BLAS, for single rows).  A subtree holding no relevant CPT
  sends nothing; a message whose separator is entirely observed is a number that
  only enters ``log P(e)``.  So evidence that d-separates part of the network costs
  that part nothing beyond a scalar.
* **Only the paths to the targets** get downward messages.
* **Rows are batched per clique**: rows that observe the same variables of a clique
  (and agree on which CPTs and messages are present there) share one einsum with a
  batch axis, so small cliques cost a few calls per chunk rather than per row.

Scaling: every message is divided by its per-row maximum and the log of that
maximum is added to ``log P(e)``; all factors are at most 1 (CPT entries, scaled
messages), so no partial product exceeds 1, and a row is accepted only when every
maximum and the root total are at least ``lo = tiny**0.8`` of the dtype (an entry
lost to underflow is then negligible, as in the engine's small-batch pass).  Rows
that fail (including impossible evidence) are reported in ``failed`` and the caller
redoes them with the dense, rescaled pass.

Memory: a group's einsum is split into calls of at most ``budget`` bytes of the
clique's unobserved table; messages kept for a chunk are separator-sized.
"""

from __future__ import annotations

import math
import string
import threading
from typing import Any

import numpy as np

from bayesnet.inference.junction_tree import parents_first

__all__ = ["SlicedPropagator"]

_LETTERS = string.ascii_letters[:-1]  # "Z" is the batch axis
_ALL = slice(None)
_B = "Z"

#: operands of one einsum call at most (numpy accepts 32); more are contracted in batches
_MAX_OPERANDS = 24

#: einsum problems of at most this many index combinations run without a contraction path
_DIRECT = 262144


class _Store:
    """Messages of one directed tree edge for the rows of a chunk (grouped arrays + per-row pointers)."""

    __slots__ = ("arrays", "owner", "pos")

    def __init__(self, n: int):
        self.arrays: list[np.ndarray] = []
        self.owner = np.full(n, -1, dtype=np.intp)
        self.pos = np.zeros(n, dtype=np.intp)

    def put(self, rows: np.ndarray, arr: np.ndarray) -> None:
        self.owner[rows] = len(self.arrays)
        self.pos[rows] = np.arange(len(rows))
        self.arrays.append(arr)

    def get(self, rows: np.ndarray) -> np.ndarray:
        own = self.owner[rows]
        o0 = own[0]
        if (own == o0).all():
            a = self.arrays[o0]
            p = self.pos[rows]
            if len(p) == len(a) and (p == np.arange(len(p))).all():
                return a
            return a[p]
        first = self.arrays[o0]
        out = np.empty((len(rows),) + first.shape[1:], dtype=first.dtype)
        for o in np.unique(own):
            sel = own == o
            out[sel] = self.arrays[o][self.pos[rows[sel]]]
        return out


def _groups(keys: np.ndarray) -> list[np.ndarray]:
    """Positions of equal rows of a boolean matrix, one array per distinct row."""
    n, k = keys.shape
    if n == 1:
        return [np.zeros(1, dtype=np.intp)]
    if k == 0:
        return [np.arange(n)]
    if k <= 62:
        code = keys.astype(np.int64) @ (np.int64(1) << np.arange(k, dtype=np.int64))
    else:
        packed = np.packbits(keys, axis=1)
        code = np.unique(packed, axis=0, return_inverse=True)[1].reshape(-1)
    order = np.argsort(code, kind="stable")
    sc = code[order]
    cuts = np.flatnonzero(sc[1:] != sc[:-1]) + 1
    return np.split(order, cuts)


class SlicedPropagator:
    """Evidence-sliced, relevance-pruned propagation on a compiled network's junction tree.

    Parameters
    ----------
    jt : JunctionTree
        The tree (cliques over variable indices).
    tables : list of (family, array)
        Per variable ``v``: its family in global order and its CPT with those axes
        (a trailing batch axis of length 1 is allowed and dropped).
    families : dict
        Variable -> parent indices.
    cards : list of int
    dtype : numpy dtype
    lo : float
        Smallest per-row scale accepted (see the module docstring).
    budget : int
        Bytes of one einsum call's clique table (rows are split to fit).
    """

    def __init__(self, jt: Any, tables: list, families: dict, cards: list[int], dtype: np.dtype, lo: float,
                 budget: int = 64 * 2**20):
        self.jt = jt
        self.cards = list(cards)
        self.dtype = np.dtype(dtype)
        self.lo = float(lo)
        self.budget = int(budget)
        nv = len(cards)
        n = len(jt.cliques)
        self.fam = [tuple(t[0]) for t in tables]
        self.cpt = [np.ascontiguousarray(np.asarray(t[1]).reshape(np.asarray(t[1]).shape[:len(t[0])]),
                                         dtype=self.dtype) for t in tables]
        sizes = [jt.table_size(i) for i in range(n)]
        csets = [set(c) for c in jt.cliques]
        holders: dict[int, list[int]] = {}
        for i, c in enumerate(jt.cliques):
            for v in c:
                holders.setdefault(v, []).append(i)
        self.home = [min(holders[v], key=lambda i: (sizes[i], i)) for v in range(nv)]
        host = [min((i for i in holders[f[0]] if csets[i].issuperset(f)), key=lambda i: (sizes[i], i))
                for f in self.fam]
        self.hosted: list[list[int]] = [[] for _ in range(n)]
        for v, h in enumerate(host):
            self.hosted[h].append(v)
        self.parent = list(jt.parent)
        self.children = [list(ch) for ch in jt.children]
        self.postorder = list(jt.postorder)
        self.root = jt.root
        self.sep = [tuple(u for u in jt.cliques[i] if self.parent[i] >= 0 and u in csets[self.parent[i]])
                    for i in range(n)]
        # topological order (parents first) for the ancestral closure
        self.topo = parents_first(families, nv)
        self.families = {v: list(p) for v, p in families.items()}
        self._paths: dict = {}
        self._scale: np.ndarray | None = None
        self._orow: list = []
        self._relrow: list = []
        self._lock = threading.Lock()
        # bytes per row of the messages kept for a chunk (upper bound: full separators, both directions)
        self.row_bytes = self.dtype.itemsize * (2 * sum(math.prod(cards[u] for u in s) for s in self.sep) + 8)

    def message_bytes(self, codes: np.ndarray) -> np.ndarray:
        """Upper bound, per row of ``codes``, on the bytes of the messages :meth:`run` keeps for it.

        Each separator carries at most one message up and one down, over its unobserved variables.
        """
        if not hasattr(self, "_sep_logs"):
            inc = np.zeros((len(self.cards), len(self.sep)))
            logc = np.log(np.asarray(self.cards, dtype=float))
            for k, s in enumerate(self.sep):
                inc[list(s), k] = logc[list(s)]
            self._sep_logs = inc
        logs = (codes < 0).astype(float) @ self._sep_logs
        return 2 * self.dtype.itemsize * (np.exp(logs).sum(axis=1) + 8)

    # ------------------------------------------------------------------ helpers
    def _einsum(self, subs: str, ops: list[np.ndarray]) -> np.ndarray:
        dims: dict[str, int] = {}
        for s, a in zip(subs.split("->")[0].split(","), ops):
            dims.update(zip(s, a.shape))
        if math.prod(dims.values()) <= _DIRECT or len(ops) <= 1:
            return np.einsum(subs, *ops)
        key = (subs, tuple(a.shape for a in ops))
        path = self._paths.get(key)
        if path is None:
            path = np.einsum_path(subs, *ops, optimize="greedy")[0]
            if len(self._paths) > 20000:
                self._paths.clear()
            self._paths[key] = path
        return np.einsum(subs, *ops, optimize=path)

    def _operands(self, i: int, rows: np.ndarray, codes: np.ndarray, obs: np.ndarray, rel: np.ndarray,
                  letter: dict, batch: bool) -> tuple[list, list[str]]:
        """Sliced CPTs hosted at clique ``i`` for a group of rows (same observed pattern)."""
        ops: list = []
        subs: list[str] = []
        r0 = int(rows[0])
        orow = self._orow[r0]  # observed variable -> state code, in row r0
        relrow = self._relrow[r0]
        for v in self.hosted[i]:
            if not relrow[v]:
                continue
            fam = self.fam[v]
            a = self.cpt[v]
            oax = [k for k, u in enumerate(fam) if u in orow]
            if oax:
                uax = [k for k, u in enumerate(fam) if u not in orow]
                if batch:
                    a = a.transpose(oax + uax)[tuple(codes[rows, fam[k]] for k in oax)]
                    subs.append(_B + "".join(letter[fam[k]] for k in uax))
                else:
                    a = a[tuple(orow.get(u, _ALL) for u in fam)]
                    subs.append("".join(letter[fam[k]] for k in uax))
            else:  # nothing observed: one table shared by the rows
                subs.append("".join(letter[u] for u in fam))
            ops.append(a)
        return ops, subs

    # ------------------------------------------------------------------ main
    def run(self, codes: np.ndarray, targets: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posteriors of ``targets`` and log-evidence for rows of hard evidence (see :meth:`_run`).

        Calls are serialised (a lock): the per-call row tables live on the instance.
        """
        with self._lock:
            try:
                return self._run(codes, targets)
            finally:
                self._orow = self._relrow = []
                self._scale = None

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        del state["_lock"]
        state["_paths"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    def _run(self, codes: np.ndarray, targets: tuple[int, ...]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Posteriors of ``targets`` and log-evidence for rows of hard evidence.

        Parameters
        ----------
        codes : ndarray of int, shape (n, variables)
            State code per row and variable, -1 where unobserved.
        targets : tuple of int

        Returns
        -------
        probs : ndarray, shape (n, total states of targets)
        log_evidence : ndarray, shape (n,)
        failed : ndarray of bool, shape (n,)
            Rows whose result is not accepted (scale below ``lo``: impossible or
            extreme evidence); their probs and log-evidence are meaningless.
        """
        n = codes.shape[0]
        # per row, as Python objects (cheap lookups in the per-group code)
        self._orow = [{int(u): int(codes[r, u]) for u in np.flatnonzero(codes[r] >= 0)} for r in range(n)]
        nc = len(self.jt.cliques)
        cards = self.cards
        obs = codes >= 0
        # ancestral closure of the targets and the observed variables, per row
        rel = obs.copy()
        if targets:
            rel[:, list(targets)] = True
        fams = self.families
        for v in reversed(self.topo):
            pa = fams[v]
            if pa:
                col = rel[:, v]
                if col.any():
                    rel[:, pa] |= col[:, None]
        self._relrow = rel.tolist()
        logz = np.zeros(n, dtype=np.float64)
        failed = np.zeros(n, dtype=bool)
        parent = self.parent
        children = self.children
        # ---- collect
        up: list[_Store | None] = [None] * nc
        sends = np.zeros((n, nc), dtype=bool)
        ment = [np.zeros((n, len(s)), dtype=bool) for s in self.sep]  # separator variables a message mentions
        for i in self.postorder:
            clique = self.jt.cliques[i]
            kids = children[i]
            hv = self.hosted[i]
            cols = [obs[:, list(clique)], rel[:, hv] if hv else np.zeros((n, 0), bool),
                    sends[:, kids] if kids else np.zeros((n, 0), bool), *(ment[c] for c in kids)]
            active = cols[1].any(axis=1) | cols[2].any(axis=1)
            if not active.any():
                continue
            arows = np.flatnonzero(active)
            keys = np.concatenate([c[arows] for c in cols], axis=1)
            for g in _groups(keys):
                rows = arows[g]
                r0 = rows[0]
                orow = self._orow[int(r0)]
                unobs = [u for u in clique if u not in orow]
                self._collect_group(i, rows, codes, obs, rel, sends, up, ment, unobs, logz, failed, kids)
        # ---- distribute along the paths to the unobserved targets, and read them
        total = sum(cards[t] for t in targets)
        probs = np.zeros((n, total), dtype=self.dtype)
        starts = np.concatenate([[0], np.cumsum([cards[t] for t in targets])]).astype(np.intp)
        need = np.zeros((n, nc), dtype=bool)  # cliques whose marginal (hence down message) is needed
        for k, t in enumerate(targets):
            ot = obs[:, t]
            if ot.any():
                r = np.flatnonzero(ot)
                probs[r, starts[k] + codes[r, t]] = 1
            h = self.home[t]
            while h >= 0:
                need[:, h] |= ~ot
                h = parent[h]
        down: list[_Store | None] = [None] * nc
        dsends = np.zeros((n, nc), dtype=bool)
        dment = [np.zeros((n, len(s)), dtype=bool) for s in self.sep]
        home_targets: dict[int, list[int]] = {}
        for k, t in enumerate(targets):
            home_targets.setdefault(self.home[t], []).append(k)
        for i in reversed(self.postorder):
            clique = self.jt.cliques[i]
            kids = children[i]
            hv = self.hosted[i]
            base = [obs[:, list(clique)], rel[:, hv] if hv else np.zeros((n, 0), bool),
                    sends[:, kids] if kids else np.zeros((n, 0), bool), dsends[:, [i]], dment[i],
                    *(ment[c] for c in kids)]
            # down messages to the children on a needed path
            for c in kids:
                want = need[:, c]
                if not want.any():
                    continue
                # anything outside c's subtree present?
                others = base[1].any(axis=1) | dsends[:, i]
                for c2 in kids:
                    if c2 != c:
                        others = others | sends[:, c2]
                wrows = np.flatnonzero(want & others)
                if not len(wrows):
                    continue
                keys = np.concatenate([x[wrows] for x in base], axis=1)
                for g in _groups(keys):
                    rows = wrows[g]
                    orow = self._orow[int(rows[0])]
                    if all(u in orow for u in self.sep[c]):
                        continue  # a scalar: carries nothing to the subtree (its log is in the collect total)
                    self._down_group(i, c, rows, codes, obs, rel, sends, up, ment, dsends, down, dment, kids)
            for k in home_targets.get(i, []):
                t = targets[k]
                want = ~obs[:, t] & ~failed
                if not want.any():
                    continue
                wrows = np.flatnonzero(want)
                keys = np.concatenate([x[wrows] for x in base], axis=1)
                for g in _groups(keys):
                    rows = wrows[g]
                    m = self._marginal(i, t, rows, codes, obs, rel, sends, up, ment, dsends, down, dment, kids)
                    s = m.sum(axis=1, keepdims=True)
                    probs[rows, starts[k]:starts[k + 1]] = m / s
        return probs, logz, failed

    def _inputs(self, i, rows, codes, obs, rel, sends, up, ment, kids, letter, batch, skip=-1):
        ops, subs = self._operands(i, rows, codes, obs, rel, letter, batch)
        r0 = rows[0]
        for c in kids:
            if c == skip or not sends[r0, c]:
                continue
            m = up[c].get(rows)
            if not batch:
                m = m[0]
            ops.append(m)
            mk = ment[c][r0]
            subs.append((_B if batch else "") + "".join(letter[u] for u, k in zip(self.sep[c], mk) if k))
        return ops, subs

    def _contract(self, ops, subs, out, batch, rows):
        """einsum of the operands to the letters of ``out`` that some operand mentions.

        Returns ``(result with a leading row axis, mentioned mask over out)``, or ``(None, None)``
        without operands.  A message is constant along a variable no factor mentions, so that
        variable is left out of it (summing a constant over it later would count its states).
        """
        if not ops:
            return None, None
        have = set("".join(subs))
        mask = [ch in have for ch in out]
        out = "".join(ch for ch in out if ch in have)
        self._scale = None
        if len(ops) > _MAX_OPERANDS:
            ops, subs = self._reduce_operands(list(ops), list(subs), out, len(rows))
        if batch and not any(_B in x for x in subs):
            res = self._einsum(",".join(subs) + "->" + out, ops)
            return np.broadcast_to(res, (len(rows),) + res.shape), mask
        res = self._einsum(",".join(subs) + "->" + (_B if batch else "") + out, ops)
        if not batch:
            res = res[None]
        return res, mask

    def _reduce_operands(self, ops: list, subs: list, out: str, b: int) -> tuple[list, list]:
        """Contract operands a batch of :data:`_MAX_OPERANDS` at a time (einsum takes at most 32).

        Each intermediate is divided by its (per-row) maximum, whose log is left in ``self._scale``
        for the caller's ``log P(e)``: hundreds of factors in one clique (a naive-Bayes hub) cannot
        underflow in between.
        """
        scale = np.zeros(b)
        while len(ops) > _MAX_OPERANDS:
            head, hsubs = ops[:_MAX_OPERANDS], subs[:_MAX_OPERANDS]
            ops, subs = ops[_MAX_OPERANDS:], subs[_MAX_OPERANDS:]
            later = set(out).union(*subs)
            letters = sorted(set("".join(hsubs)))
            keep = "".join(ch for ch in letters if ch in later or ch == _B)
            if _B in keep:
                keep = _B + keep.replace(_B, "")
            inter = self._einsum(",".join(hsubs) + "->" + keep, head)
            if keep.startswith(_B):
                z = inter.reshape(inter.shape[0], -1).max(axis=1)
                z = np.where(z > 0, z, 1)
                inter = inter / z.reshape((-1,) + (1,) * (inter.ndim - 1))
            else:
                z = np.asarray(inter).max() if np.size(inter) else 1.0
                z = z if z > 0 else 1.0
                inter = inter / z
            scale = scale + np.log(z)
            ops.append(inter)
            subs.append(keep)
        self._scale = scale
        return ops, subs

    def _split(self, rows: np.ndarray, unobs: list[int]) -> list[np.ndarray]:
        if len(rows) == 1:
            return [rows]
        size = math.prod(self.cards[u] for u in unobs) * self.dtype.itemsize
        per = max(1, self.budget // max(size, 1))
        if len(rows) <= per:
            return [rows]
        return [rows[s:s + per] for s in range(0, len(rows), per)]

    def _collect_group(self, i, rows, codes, obs, rel, sends, up, ment, unobs, logz, failed, kids):
        letter = {u: _LETTERS[k] for k, u in enumerate(unobs)}
        orow = self._orow[int(rows[0])]
        sep_letters = "".join(letter[u] if u not in orow else "." for u in self.sep[i])
        for part in self._split(rows, unobs):
            batch = len(part) > 1
            ops, subs = self._inputs(i, part, codes, obs, rel, sends, up, ment, kids, letter, batch)
            res, mask = self._contract(ops, subs, sep_letters, batch, part)
            if res is None:
                continue
            if not batch:  # one row: Python scalars (most groups of the big cliques)
                r = int(part[0])
                z1 = float(res.max())
                if not z1 >= self.lo:
                    failed[r] = True
                    z1 = 1.0
                logz[r] += math.log(z1) if z1 > 0 else -np.inf
                if self._scale is not None:
                    logz[r] += float(self._scale[0])
                if any(mask):
                    if up[i] is None:
                        up[i] = _Store(len(obs))
                    up[i].put(part, res / z1)
                    sends[r, i] = True
                    ment[i][r] = mask
                continue
            flat = res.reshape(len(part), -1)
            z = flat.max(axis=1)
            bad = ~(z >= self.lo)
            if bad.any():
                failed[part[bad]] = True
                z = np.where(bad, 1, z)
            logz[part] += np.log(z)  # the caller ignores log(0) warnings
            if self._scale is not None:
                logz[part] += self._scale
            if any(mask):
                res = res / z.reshape((-1,) + (1,) * (res.ndim - 1))
                if up[i] is None:
                    up[i] = _Store(len(obs))
                up[i].put(part, res)
                sends[part, i] = True
                ment[i][part] = mask

    def _down_group(self, i, c, rows, codes, obs, rel, sends, up, ment, dsends, down, dment, kids):
        r0 = rows[0]
        orow = self._orow[int(r0)]
        unobs = [u for u in self.jt.cliques[i] if u not in orow]
        letter = {u: _LETTERS[k] for k, u in enumerate(unobs)}
        sep_letters = "".join(letter[u] if u not in orow else "." for u in self.sep[c])
        for part in self._split(rows, unobs):
            batch = len(part) > 1
            ops, subs = self._inputs(i, part, codes, obs, rel, sends, up, ment, kids, letter, batch, skip=c)
            self._add_down(i, part, obs, dsends, down, dment, letter, batch, ops, subs)
            res, mask = self._contract(ops, subs, sep_letters, batch, part)
            if res is None or not any(mask):
                continue
            flat = res.reshape(len(part), -1)
            z = flat.max(axis=1)
            z = np.where(z > 0, z, 1)
            res = res / z.reshape((-1,) + (1,) * (res.ndim - 1))
            if down[c] is None:
                down[c] = _Store(len(obs))
            down[c].put(part, res)
            dsends[part, c] = True
            dment[c][part] = mask

    def _add_down(self, i, part, obs, dsends, down, dment, letter, batch, ops, subs):
        r0 = part[0]
        if dsends[r0, i]:
            m = down[i].get(part)
            ops.append(m if batch else m[0])
            mk = dment[i][r0]
            subs.append((_B if batch else "") + "".join(letter[u] for u, k in zip(self.sep[i], mk) if k))

    def _marginal(self, i, t, rows, codes, obs, rel, sends, up, ment, dsends, down, dment, kids):
        r0 = rows[0]
        orow = self._orow[int(r0)]
        unobs = [u for u in self.jt.cliques[i] if u not in orow]
        letter = {u: _LETTERS[k] for k, u in enumerate(unobs)}
        out = np.empty((len(rows), self.cards[t]), dtype=self.dtype)
        pos = 0
        for part in self._split(rows, unobs):
            batch = len(part) > 1
            ops, subs = self._inputs(i, part, codes, obs, rel, sends, up, ment, kids, letter, batch)
            self._add_down(i, part, obs, dsends, down, dment, letter, batch, ops, subs)
            res, mask = self._contract(ops, subs, letter[t], batch, part)
            out[pos:pos + len(part)] = 1 if res is None or not mask[0] else res
            pos += len(part)
        return out
