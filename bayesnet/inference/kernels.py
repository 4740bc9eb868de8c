"""Compiled junction-tree propagation: numba kernels over a flat, precomputed schedule.

:class:`KernelSchedule` holds one junction tree of a compiled network as a few flat
arrays (the clique potentials, the cached evidence-free tables and messages, and
integer *index maps* that say, for every entry of a clique table, which entry of a
separator message, of an evidence vector or of a correction table it meets), and
answers rows of evidence with a compiled kernel (numba, ``cache=True``, ``nogil``)
that loops over those maps.  No numpy call is made per clique, so a single
scenario costs microseconds rather than the hundreds of numpy calls of the dense
pass; batches are split over threads (the kernel releases the GIL).

The arithmetic is the dense pass's scaled Hugin propagation
(:meth:`bayesnet.inference.engine._Layout.propagate`), row by row:

* evidence (hard codes and/or likelihood rows, each at most 1) is multiplied into
  each observed variable's home clique; a barren variable whose CPT columns do not
  sum to 1 gets ``1 / column sums`` at its CPT's host (relevance computed per row,
  the ancestral closure of the targets and the evidence), so the answer is the one
  on the pruned network, as pgmpy's ``VariableElimination`` gives;
* subtrees without evidence reuse cached evidence-free messages and tables, and a
  cached message that is all ones (a barren subtree: its CPTs sum out to 1) is not
  multiplied at all;
* messages are divided by their maximum, a clique table by its maximum after every
  ``every`` factors (see :func:`bayesnet.inference.engine._limits`), the logs summed
  in float64 into ``log P(e)``; a zero maximum or a zero total marks the row
  impossible (NaN posteriors, ``log P(e) = -inf``);
* the distribute pass runs only along the paths from the root to the cliques the
  targets are read from (chosen to keep those paths small).

Every row is computed on its own, from the row and the fixed caches only: the result
is the same bits whatever else is in the batch or was asked before, and a single row
gives the same bits as that row inside a batch.

numba is optional: :func:`available` says whether it can be used (``BAYESNET_NUMBA=0``
turns it off); without it the engine keeps its numpy passes.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from bayesnet.inference.flat_layout import I_ONES, P_META, pack_sections, submap
from bayesnet.inference.junction_tree import parents_first

__all__ = ["KernelSchedule", "available", "elimination_kernel", "kernel_threads", "thread_pool"]

# ----------------------------------------------------------------------------- numba, lazily

_STATE: dict[str, Any] = {}
_LOCK = threading.Lock()


def available() -> bool:
    """Whether the compiled kernels can be used (numba importable and not disabled by ``BAYESNET_NUMBA=0``).

    numba is imported on the first call only (it takes a few tenths of a second).

    Examples
    --------
    >>> isinstance(available(), bool)
    True
    """
    if "ok" not in _STATE:
        with _LOCK:
            if "ok" not in _STATE:
                ok = os.environ.get("BAYESNET_NUMBA", "1").strip().lower() not in ("0", "false", "no", "off")
                if ok:
                    try:
                        _STATE["kernels"] = _build_kernels()
                    except (ImportError, OSError, RuntimeError, AttributeError):  # numba missing or unusable:
                        # the numpy passes are used instead
                        ok = False
                _STATE["ok"] = ok
    return bool(_STATE["ok"])


def kernel_threads() -> int:
    """Threads a batch is split over: ``BAYESNET_THREADS`` if set, else the CPUs this process may use."""
    env = os.environ.get("BAYESNET_THREADS", "").strip()
    if env:
        try:
            return max(1, int(env))
        except ValueError:
            pass
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


# ----------------------------------------------------------------------------- flat layout

class KernelSchedule:
    """One junction tree with its tables as flat arrays, answered by the compiled kernels.

    Parameters
    ----------
    jt : JunctionTree
        The tree (cliques over variable indices, sorted in the global order).
    phi : list of ndarray
        Clique potentials (the clique's axes in the global order, a trailing batch axis of length 1).
    home : list of int
        Clique where each variable's evidence is multiplied in.
    hosts : list of int
        Clique holding each variable's CPT.
    fixes : dict
        Variable -> ``1 / CPT column sums`` (the CPT's axes in the global order with the variable's
        own axis of length 1, and a trailing batch axis of length 1), for CPTs whose columns do not
        sum to 1; multiplied in at the host in rows where the variable is barren.
    families : dict
        Variable -> parent indices.
    cards : list of int
    dtype : numpy dtype
    every : int
        Factors a clique table takes before it is rescaled (see the module docstring).

    Notes
    -----
    Requires :func:`available`.  Thread-safe: the kernels keep their working arrays per call.
    """

    def __init__(self, jt: Any, phi: list, home: Sequence[int], hosts: Sequence[int], fixes: dict,
                 families: dict, cards: Sequence[int], dtype: Any, every: int):
        if not available():
            raise RuntimeError("the compiled kernels need numba (see bayesnet.inference.kernels.available)")
        k = _STATE["kernels"]
        self.dtype = np.dtype(dtype)
        self.cards = [int(c) for c in cards]
        self.jt = jt
        cliques = jt.cliques
        nc = len(cliques)
        nv = len(self.cards)
        self.nv = nv
        self.home = list(home)
        self.holders: list[list[int]] = [[] for _ in range(nv)]
        for i, c in enumerate(cliques):
            for v in c:
                self.holders[v].append(i)
        sizes = [math.prod(self.cards[u] for u in c) for c in cliques]
        self.sizes = sizes
        self.parent = list(jt.parent)
        toff = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        seps = [tuple(u for u in c if jt.parent[i] >= 0 and u in set(cliques[jt.parent[i]]))
                for i, c in enumerate(cliques)]
        self.seps = seps
        sepsz = [math.prod(self.cards[u] for u in s) if jt.parent[i] >= 0 else 0 for i, s in enumerate(seps)]
        soff = np.concatenate([[0], np.cumsum(sepsz)]).astype(np.int64)
        T, SS = int(toff[-1]), int(soff[-1])
        c2s = [(submap(c, self.cards, seps[i]) if jt.parent[i] >= 0 else np.zeros(sizes[i], np.int64))
               for i, c in enumerate(cliques)]
        p2s, p2soff, pos = [], np.zeros(nc, np.int64), 0
        for i in range(nc):
            p = jt.parent[i]
            p2soff[i] = pos
            if p >= 0:
                m = submap(cliques[p], self.cards, seps[i])
                p2s.append(m)
                pos += len(m)
        chptr = np.concatenate([[0], np.cumsum([len(ch) for ch in jt.children])])
        chidx = [c for ch in jt.children for c in ch]
        homed: list[list[int]] = [[] for _ in range(nc)]
        for v, h in enumerate(home):
            homed[h].append(v)
        hvptr = np.concatenate([[0], np.cumsum([len(x) for x in homed])])
        hvidx = [v for x in homed for v in x]
        evmaps, evoff, pos = [], np.zeros(nv, np.int64), 0
        for v in range(nv):
            evoff[v] = pos
            m = submap(cliques[home[v]], self.cards, [v])
            evmaps.append(m)
            pos += len(m)
        loff = np.concatenate([[0], np.cumsum(self.cards)]).astype(np.int64)
        self.loff = loff
        parptr = np.concatenate([[0], np.cumsum([len(families[v]) for v in range(nv)])])
        paridx = [u for v in range(nv) for u in families[v]]
        rtopo = parents_first(families, nv)[::-1]
        fixvars = sorted(fixes)
        fixmaps, fixmoff, fixvals, fixvoff, pos, vpos = [], [], [], [0], 0, 0
        fixhosted: list[list[int]] = [[] for _ in range(nc)]
        for f, v in enumerate(fixvars):
            h = hosts[v]
            fam = [u for u in cliques[h] if u in set(self._family(families, v)) and u != v]
            fixmoff.append(pos)
            m = submap(cliques[h], self.cards, fam)
            fixmaps.append(m)
            pos += len(m)
            vals = np.asarray(fixes[v]).reshape(-1)
            fixvals.append(vals)
            vpos += len(vals)
            fixvoff.append(vpos)
            fixhosted[h].append(f)
        fixhptr = np.concatenate([[0], np.cumsum([len(x) for x in fixhosted])])
        fixhidx = [f for x in fixhosted for f in x]
        groups = self._groups(cliques, seps, homed, jt.children, sizes)
        gptr, goff, gsz, gcmap, gmptr, gmkind, gmid, gmmap, gmaps = [0], [], [], [], [0], [], [], [], []
        gch = np.full(nc, -1, np.int64)
        gvar = np.full(nv, -1, np.int64)
        pos = gpos = 0
        for i in range(nc):
            for U, members in groups[i]:
                g = len(goff)
                goff.append(gpos)
                size_g = math.prod(self.cards[u] for u in U)
                gsz.append(size_g)
                gpos += size_g
                mp = submap(cliques[i], self.cards, U)
                gcmap.append(pos)
                gmaps.append(mp)
                pos += len(mp)
                for kind, ident, mvars in members:
                    gmkind.append(kind)
                    gmid.append(ident)
                    mp = submap(U, self.cards, mvars)
                    gmmap.append(pos)
                    gmaps.append(mp)
                    pos += len(mp)
                    if kind == 0:
                        gvar[ident] = g
                    else:
                        gch[ident] = g
                gmptr.append(len(gmkind))
            gptr.append(len(goff))
        self.n_groups = len(goff)
        #: rows per block of the vectorised kernel
        self.block = int(max(1, min(_BLOCK, _BLOCK_ENTRIES // max(T + 2 * SS + int(loff[-1]) + gpos, 1))))
        meta = [nc, nv, int(loff[-1]), jt.root, int(every), len(fixvars), T, SS, max(sepsz, default=0),
                T, 2 * T, 2 * T + SS, 2 * T + 2 * SS, gpos]
        cat = (lambda xs: np.concatenate(xs) if len(xs) else np.zeros(0, np.int64))
        self.I = pack_sections([meta, jt.postorder, jt.parent, toff, soff, chptr, chidx, cat(c2s), p2soff, cat(p2s),
                                hvptr, hvidx, evoff, cat(evmaps), loff, parptr, paridx, rtopo, fixvars, fixmoff,
                                cat(fixmaps), fixvoff, fixhptr, fixhidx, np.zeros(nc),
                                gptr, goff, gsz, gcmap, gmptr, gmkind, gmid, gmmap, gch, gvar, cat(gmaps)])
        F = np.zeros(2 * T + 2 * SS + vpos, dtype=self.dtype)
        for i in range(nc):
            F[toff[i]:toff[i + 1]] = np.asarray(phi[i], dtype=self.dtype).reshape(-1)
        if fixvals:
            F[2 * T + 2 * SS:] = np.concatenate(fixvals).astype(self.dtype)
        self.F = F
        self.G = np.zeros(nc, dtype=np.float64)  # log of what the cached evidence-free subtree took out
        self._prior(jt, toff, soff, c2s, p2s, p2soff, T, SS, int(every))
        self._run = k["run"]
        self._blocks = k["blocks"]
        self._plans: dict[tuple[int, ...], np.ndarray] = {}
        self._plan_lock = threading.Lock()

    def _prior(self, jt: Any, toff: np.ndarray, soff: np.ndarray, c2s: list, p2s: list, p2soff: np.ndarray,
               T: int, SS: int, every: int) -> None:
        """Evidence-free collect (numpy, once): cached tables ``pot0``, messages ``m0`` (unscaled) and
        ``msg0`` (scaled by their maximum), all-ones flags, and in ``G`` the log of what each subtree
        took out.  Scaled as the kernels scale (a table rescaled after every ``every`` factors)."""
        F, G = self.F, self.G
        nc = len(jt.cliques)
        tol = 4 * float(np.finfo(self.dtype).eps)
        ones = np.zeros(nc, dtype=np.int64)
        child_map = {}
        pos = 0
        for i in range(nc):
            if jt.parent[i] >= 0:
                child_map[i] = p2s[pos]
                pos += 1
        with np.errstate(divide="ignore", invalid="ignore"):
            for i in jt.postorder:
                pot = F[toff[i]:toff[i + 1]].copy()
                count = 1
                lz = 0.0
                for c in jt.children[i]:
                    if ones[c]:
                        continue
                    if count == every:
                        top = pot.max()
                        if top > 0:
                            pot /= top
                            lz += float(np.log(top))
                        count = 1
                    pot *= F[2 * T + SS + soff[c]:2 * T + SS + soff[c + 1]][child_map[c]]
                    count += 1
                F[T + toff[i]:T + toff[i + 1]] = pot
                if jt.parent[i] >= 0:
                    m0 = np.bincount(c2s[i], weights=pot, minlength=int(soff[i + 1] - soff[i])).astype(self.dtype)
                    top = m0.max()
                    if not top > 0:
                        top = self.dtype.type(1)
                    msg0 = m0 / top
                    F[2 * T + soff[i]:2 * T + soff[i + 1]] = m0
                    F[2 * T + SS + soff[i]:2 * T + SS + soff[i + 1]] = msg0
                    lz += float(np.log(top))
                    ones[i] = int(np.all(np.abs(msg0.astype(np.float64) - 1.0) <= tol))
                G[i] = lz + sum(G[c] for c in jt.children[i])
        self.ones = ones
        self.I[self.I[I_ONES]:self.I[I_ONES + 1]] = ones

    def _groups(self, cliques: list, seps: list, homed: list, children: list, sizes: list) -> list:
        """Per clique, groups of small factors (children's messages, evidence vectors) multiplied together first.

        A group's variables make a table of at most a quarter of the clique's; each group is
        ``(variables, [(kind, id, member variables)])`` with kind 0 for a variable's evidence and 1
        for a child's message.  Only groups of at least two members are kept.
        """
        out = []
        for i, c in enumerate(cliques):
            limit = sizes[i] // 4
            members = [(1, ch, tuple(seps[ch])) for ch in children[i]] + [(0, v, (v,)) for v in homed[i]]
            tab = (lambda vs: math.prod(self.cards[u] for u in vs))
            members.sort(key=lambda mem: (-tab(mem[2]), mem[0], mem[1]))
            groups: list[list] = []
            for mem in members:
                if tab(mem[2]) > limit:
                    continue
                best = None
                for g in groups:
                    union = set(g[0]) | set(mem[2])
                    size = tab(union)
                    if size <= limit and (best is None or size < best[0]):
                        best = (size, g, union)
                if best is not None:
                    best[1][0] = tuple(u for u in c if u in best[2])
                    best[1][1].append(mem)
                else:
                    groups.append([tuple(mem[2]), [mem]])
            out.append([(tuple(g[0]), g[1]) for g in groups if len(g[1]) >= 2])
        return out

    @staticmethod
    def _family(families: dict, v: int) -> list[int]:
        return [v, *families[v]]

    @property
    def nbytes(self) -> int:
        """Bytes held by the schedule's arrays."""
        return int(self.I.nbytes + self.F.nbytes + self.G.nbytes)

    # ------------------------------------------------------------------ plans
    def plan(self, targets: tuple[int, ...]) -> np.ndarray:
        """The distribute-and-read plan of ``targets`` (cached; a deterministic function of ``targets``).

        Each target is read from a clique containing it, chosen greedily so that the cliques on
        the paths from the root to the read cliques (the only ones the distribute pass visits)
        have few entries in total.
        """
        plan = self._plans.get(targets)
        if plan is not None:
            return plan
        root = self.jt.root
        parent = self.parent
        sizes = self.sizes
        needed = {root} if self.jt.cliques else set()
        reads = []
        for t in targets:
            inside = [h for h in self.holders[t] if h in needed]
            if inside:
                h = min(inside, key=lambda i: (sizes[i], i))
            else:
                def cost(h: int) -> tuple[int, int, int]:
                    c, i = 0, h
                    while i not in needed:
                        c += sizes[i]
                        i = parent[i]
                    return (c, sizes[h], h)

                h = min(self.holders[t], key=cost)
                i = h
                while i not in needed:
                    needed.add(i)
                    i = parent[i]
            reads.append((t, h))
        # each target read from the smallest clique on those paths that holds it
        reads = [(t, min((i for i in self.holders[t] if i in needed), key=lambda i: (sizes[i], i))) for t, _ in reads]
        edges = [(parent[i], i) for i in reversed(self.jt.postorder) if i in needed and parent[i] >= 0]
        rmaps, rmoff, rows, pos, out = [], [], [], 0, 0
        for t, h in reads:
            m = submap(self.jt.cliques[h], self.cards, [t])
            rmoff.append(pos)
            rmaps.append(m)
            pos += len(m)
            rows.append((t, h, out, self.cards[t]))
            out += self.cards[t]
        tmask = np.zeros(self.nv, dtype=np.int64)
        tmask[list(targets)] = 1
        # the same, per needed clique (parents first): its children in the plan and the reads made there
        need = [i for i in reversed(self.jt.postorder) if i in needed]
        kids: dict[int, list[int]] = {i: [] for i in need}
        for p, c in edges:
            kids[p].append(c)
        at: dict[int, list[int]] = {i: [] for i in need}
        for q, (_, h) in enumerate(reads):
            at[h].append(q)
        plan = pack_sections([[len(edges), len(reads), out], np.asarray(edges, np.int64).reshape(-1),
                              np.asarray(rows, np.int64).reshape(-1), rmoff,
                              np.concatenate(rmaps) if rmaps else np.zeros(0), tmask,
                              need, np.cumsum([0] + [len(kids[i]) for i in need]), [c for i in need for c in kids[i]],
                              np.cumsum([0] + [len(at[i]) for i in need]), [q for i in need for q in at[i]]])
        with self._plan_lock:
            if len(self._plans) > 256:
                self._plans.clear()
            self._plans[targets] = plan
        return plan

    # ------------------------------------------------------------------ running
    def run(self, codes: np.ndarray | None, soft: np.ndarray | None, targets: tuple[int, ...],
            n: int | None = None, threads: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Posteriors of ``targets`` (concatenated, shape ``(n, total states)``) and ``log P(e)`` per row.

        Parameters
        ----------
        codes : ndarray of int, shape (n, nv), optional
            Hard evidence: the observed state's index per variable, ``-1`` where unobserved.
        soft : ndarray, shape (n, sum of cards), optional
            Likelihood rows (each variable's block scaled to a maximum of 1; all ones = unobserved),
            multiplied with the hard evidence.
        targets : tuple of int
        n : int, optional
            Rows (needed only when neither array is given).
        threads : int, optional
            Threads to split the rows over (default :func:`kernel_threads`; small batches use one).
        """
        plan = self.plan(targets)
        if codes is None:
            rows = soft.shape[0] if soft is not None else int(n or 0)
            codes = np.full((rows, self.nv), -1, dtype=np.int32)
        elif codes.dtype != np.int32 or not codes.flags.c_contiguous:
            codes = np.ascontiguousarray(codes, dtype=np.int32)
        rows = codes.shape[0]
        if soft is None:
            soft = np.empty((0, int(self.loff[-1])), dtype=self.dtype)
        else:
            soft = np.ascontiguousarray(soft, dtype=self.dtype)
        total = int(plan[plan[P_META] + 2])
        out = np.empty((rows, total), dtype=self.dtype)
        logev = np.empty(rows, dtype=np.float64)
        nt = kernel_threads() if threads is None else max(1, int(threads))
        R = self.block
        if rows <= _ROW_KERNEL_MAX or R < _BLOCK_MIN:
            self._run(self.I, self.F, self.G, plan, codes, soft, out, logev, 0, rows)
            return out, logev
        blocks = -(-rows // R)
        nt = max(1, min(nt, blocks // 4))
        # thread boundaries on whole blocks: a row's block, hence its bits, does not depend on the threads
        bounds = [min(rows, R * (blocks * t // nt)) for t in range(nt + 1)]
        if nt == 1:
            self._blocks(self.I, self.F, self.G, plan, codes, soft, out, logev, 0, rows, R)
            return out, logev
        pool = _pool(nt)
        futs = [pool.submit(self._blocks, self.I, self.F, self.G, plan, codes, soft, out, logev, a, b, R)
                for a, b in itertools.pairwise(bounds) if b > a]
        for f in futs:
            f.result()
        return out, logev

    def run_one(self, codes: np.ndarray, targets: tuple[int, ...]) -> tuple[np.ndarray, float]:
        """One row of hard evidence (``codes`` of shape ``(1, nv)``, int32): ``(posteriors, log P(e))``."""
        plan = self._plans.get(targets)
        if plan is None:
            plan = self.plan(targets)
        out = np.empty((1, int(plan[plan[P_META] + 2])), dtype=self.dtype)
        logev = np.empty(1, dtype=np.float64)
        self._run(self.I, self.F, self.G, plan, codes, self._nosoft(), out, logev, 0, 1)
        return out[0], float(logev[0])

    def _nosoft(self) -> np.ndarray:
        ns = self.__dict__.get("_nosoft_arr")
        if ns is None:
            ns = self.__dict__["_nosoft_arr"] = np.empty((0, int(self.loff[-1])), dtype=self.dtype)
        return ns

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        for key in ("_run", "_blocks", "_plan_lock", "_nosoft_arr"):
            state.pop(key, None)
        state["_plans"] = {}
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._plan_lock = threading.Lock()
        if not available():
            raise RuntimeError("the compiled kernels need numba")
        self._run = _STATE["kernels"]["run"]
        self._blocks = _STATE["kernels"]["blocks"]


#: Batches of at most this many rows run row by row (:func:`~bayesnet.inference.numba_kernels.run_rows`),
#: larger ones in blocks of ``_BLOCK`` rows vectorised together (``run_blocks``).
_ROW_KERNEL_MAX = 8

#: Rows per block of the vectorised kernel (rows are the innermost axis of its tables) ...
_BLOCK = 64

#: ... fewer when the block's tables would exceed this many entries (clique tables times rows) ...
_BLOCK_ENTRIES = 2**21

#: ... and row by row when that leaves fewer than this many rows per block.
_BLOCK_MIN = 8

_POOLS: dict[int, ThreadPoolExecutor] = {}


if hasattr(os, "register_at_fork"):  # a forked child has none of the parent's threads: new pools there
    os.register_at_fork(after_in_child=_POOLS.clear)


def elimination_kernel() -> Any:
    """The compiled per-row elimination (:func:`bayesnet.inference.numba_elimination.eliminate_rows`).

    Raises
    ------
    RuntimeError
        Without numba, or with ``BAYESNET_NUMBA=0`` (see :func:`available`).
    """
    if not available():
        raise RuntimeError("the compiled kernels need numba (and BAYESNET_NUMBA not set to 0)")
    return _STATE["kernels"]["elim"]


def thread_pool(n: int) -> ThreadPoolExecutor:
    """The process's pool of ``n`` kernel threads (one per size, made on first use)."""
    return _pool(n)


def _pool(n: int) -> ThreadPoolExecutor:
    pool = _POOLS.get(n)
    if pool is None:
        with _LOCK:
            pool = _POOLS.get(n)
            if pool is None:
                pool = _POOLS[n] = ThreadPoolExecutor(max_workers=n, thread_name_prefix="bayesnet-kernel")
    return pool


# ----------------------------------------------------------------------------- the kernels

def _build_kernels() -> dict:
    """Import the kernels (numba compiles each on its first call, or loads it from its cache)."""
    from bayesnet.inference import numba_elimination
    from bayesnet.inference import numba_kernels as code

    return {"run": code.run_rows, "blocks": code.run_blocks, "elim": numba_elimination.eliminate_rows}
