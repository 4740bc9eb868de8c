"""Compiled, exact, vectorised batch inference for discrete Bayesian networks.

:func:`compile_network` turns any pgmpy ``DiscreteBayesianNetwork`` into a
:class:`CompiledNetwork` that answers posterior queries for many evidence
scenarios (rows) at once, exactly (no sampling), with numpy.

Algorithm
---------
*Compile time* (once per network):

1. The DAG is moralised and triangulated by greedy elimination (min-fill and
   min-weight are both tried; the cheaper clique set wins), and the maximal
   cliques are joined by a maximum-weight spanning tree over the separators,
   giving a junction tree (:mod:`bayesnet.inference.junction_tree`).
2. Each CPT is assigned to the smallest clique containing its family; the
   assigned CPTs are multiplied into a constant clique potential, a numpy array
   whose axes follow one fixed global variable order, plus a trailing *batch*
   axis (rows are the last, contiguous axis, so every numpy inner loop runs over
   rows).  Because every clique and every separator lists its variables in that
   same order, a separator message broadcasts against a clique table by a mere
   ``reshape`` (no transposes), and marginalising is one ``np.add.reduce`` over
   precomputed axes.
3. Each variable gets a *home* clique (the smallest one containing it) where its
   evidence is multiplied in and its marginal is read.  All reshape targets and
   reduction axes are precomputed, as are the evidence-free ("prior") clique
   tables and messages, which are reused for every part of the tree whose
   subtree holds no evidence in a given chunk of rows.
4. For small batches (a single scenario, say) the cost is the number of numpy
   calls rather than the arithmetic, so a second, coarser tree is derived lazily
   by merging neighbouring cliques while their union stays small
   (:func:`bayesnet.inference.junction_tree.merge_cliques`); it is used for batches of at
   most ``small_batch`` rows.

*Evaluation* (per chunk of rows):

1. Evidence becomes one likelihood array of shape ``(card, rows)`` per observed
   variable: one-hot for hard evidence, arbitrary non-negative weights for
   virtual (soft) evidence; variables unobserved in the whole chunk are skipped.
   Each likelihood row is divided by its maximum (a constant factor carries no
   information) and the log of that maximum is added back to ``log P(e)``, so
   every factor that enters a clique table is at most 1.
2. **Collect** (leaves to root, Hugin architecture): a clique table is its
   constant potential times its evidence likelihoods times its children's
   messages (children whose subtree holds no evidence contribute cached
   constants, folded into the potential before the batch axis appears; small
   batch factors are multiplied together before touching a large table); the
   message to the parent is that table summed down to the separator.
3. **Distribute** (root to leaves, only along the paths needed for the
   requested targets): a child's belief is its collect table times the ratio of
   the parent's separator marginal to the (unscaled) collect message; ``0/0`` is
   taken as ``0``, which is exact because such entries of the child table are
   zero.  The root's separator marginals are divided by the root total, so every
   other belief comes out normalised; each target's posterior is its home belief
   summed to the variable and renormalised (observed variables come out exactly
   one-hot).

Compiled kernels
----------------
With numba installed (``BAYESNET_NUMBA=0`` turns it off), every dense pass of a network of
one parameter set whose clique tables total at most 4 million entries runs in compiled
kernels instead of numpy calls (``bayesnet.inference.kernels``): the same scaled Hugin
propagation over a flat schedule of the finest tree (index maps for every product and
marginalisation), single rows one by one, batches in blocks of up to 64 rows vectorised
together and split over threads.  Each row's subtrees without evidence use cached
evidence-free messages (skipped when all ones: a barren part), small factors meeting in a
clique are multiplied together first, and the distribute pass visits only the paths to the
cliques the targets are read from.  Whether the kernels are used depends on the network
only, so a query takes the same path whatever was asked before; a batch row and the same
row asked alone agree to rounding (1e-15).

Scaling
-------
Nothing underflows however many findings are observed or however many children
share a clique (a naive-Bayes hub with thousands of children, say):

* every message is divided by its per-row **maximum** (so the prior message of a
  barren subtree stays exactly 1), and the log of the maximum is accumulated;
* a clique table into which ``k`` factors (each at most 1) have been multiplied
  since it was last rescaled is divided by its per-row maximum, the log of which is
  accumulated too, with ``k = floor(-log2(tiny) / 32)`` from ``np.finfo(dtype)``
  (31 for float64, 3 for float32): each factor may then use up 32 binary orders of
  magnitude before anything can underflow.  The same rule applies in the cached
  prior pass and in ``_Layout.propagate_small``;
* ``log P(e)`` is the sum of all these logs plus the log of the root table's total
  (exact up to rounding; the terms are summed in float64).

For a few rows (a single scenario), ``_Layout.propagate_small`` does not
rescale the messages; it accepts its result only where the root total (and every
clique rescaling factor) lies in ``[tiny**0.8, tiny**-0.8]`` of the dtype (about
``[1e-246, 1e246]`` for float64, ``[1e-31, 1e31]`` for float32) and otherwise redoes
the chunk with the scaled pass.  float16 is rejected (too narrow to be made safe).

Rows whose evidence has probability zero end with a zero root total, which
propagates as NaN through that row only; they are reported via
``log_evidence == -inf`` (and :class:`~bayesnet.errors.ImpossibleEvidenceError`
from the strict methods).  A non-finite log-evidence of the other sign, or NaN
posteriors with a finite log-evidence, cannot arise from the scaled computation;
should it, the row is an error (:data:`NUMERIC_MESSAGE`,
:class:`~bayesnet.errors.EvidenceError` from the strict methods), never a success.

Parameter sets
--------------
:meth:`CompiledNetwork.with_tables` gives a network on the same junction tree
whose CPTs vary per row (parameter draws): the potentials and the cached prior
tables and messages carry a batch axis of length P, and each chunk of rows uses the
matching slice of them.  Its layout (potentials and prior caches) is built on first use.

Relevance
---------
Every answer is the one on the ancestral closure of the row's targets and evidence
(barren nodes pruned, as pgmpy's ``VariableElimination`` and pyAgrum's
``LazyPropagation`` prune them), whether or not the CPT columns sum to exactly 1
(BIF files round them; nothing is renormalised by default):

* on networks with big clique tables (``relevance="auto"``: at least 20,000 entries in
  all with the compiled kernels), rows of hard evidence are answered one by one on their
  own pruned network by :class:`~bayesnet.inference.elimination.EliminationPropagator`
  (numba): barren CPTs dropped, hard evidence indexed out of every CPT, a greedy
  elimination order found for the row, its elimination tree propagated up and then down
  only towards the targets.  Rows it does not accept go to
  :class:`~bayesnet.inference.relevance.SlicedPropagator` (numpy; the only stage without
  numba, then for networks of at least 7,000 entries per clique of its merged tree): the
  fixed tree, hard evidence sliced out of every CPT (a gather, never a one-hot product),
  lazy Shafer-Shenoy messages contracted by ``numpy.einsum`` along cached paths, downward
  messages only towards the targets, rows batched per clique and local evidence pattern.
  Rows neither accepts numerically are redone by the dense pass;
* the dense pass (everything else: soft evidence, small networks, parameter sets)
  multiplies, for each row where a variable is barren, ``1 / (its CPT's column
  sums)`` over its parents into the clique hosting its CPT, which makes that CPT sum
  out to exactly 1 (no factor at all when the columns already sum to 1).

:meth:`CompiledNetwork.restricted` gives the network cut to the ancestral closure of
the variables a query targets or observes: posteriors and log-evidence are unchanged
while the junction tree is smaller.  Restricted structures are compiled once per
closure and cached; a network of parameter sets restricts to one of the same
parameter sets.

Memory
------
Within one call, the chunk-sized clique tables, messages and separator marginals
are written into buffers reused by every chunk (see ``_Layout.propagate``), so
that a large clique table is not handed back to the operating system and faulted in
again for each chunk.

CPT columns are used as given unless ``renormalize=True`` (see :func:`compile_network`).
Results match pgmpy's ``VariableElimination`` to ~1e-15 on pgmpy's bundled networks,
read as the files give them (see ``tests/test_engine.py`` and
``tests/test_engine_relevance.py``).

Examples
--------
>>> from pgmpy.models import DiscreteBayesianNetwork
>>> from pgmpy.factors.discrete import TabularCPD
>>> import pandas as pd
>>> model = DiscreteBayesianNetwork([("rain", "wet")])
>>> model.add_cpds(
...     TabularCPD("rain", 2, [[0.8], [0.2]], state_names={"rain": ["no", "yes"]}),
...     TabularCPD("wet", 2, [[0.9, 0.1], [0.1, 0.9]], evidence=["rain"],
...                evidence_card=[2], state_names={"wet": ["no", "yes"], "rain": ["no", "yes"]}))
>>> net = compile_network(model)
>>> post = net.posteriors(pd.DataFrame({"wet": ["yes", None]}), targets=["rain"])
>>> post.round(4).values.tolist()
[[0.3077, 0.6923], [0.8, 0.2]]
>>> net.posteriors_dict({"wet": "yes"})["rain"].round(4).tolist()
[0.3077, 0.6923]
"""

from __future__ import annotations

import copy
import itertools
import math
from collections.abc import Callable, Hashable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.errors import EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.inference import kernels
from bayesnet.inference.elimination import EliminationPropagator
from bayesnet.inference.evidence import arrow_strings
from bayesnet.inference.junction_tree import JunctionTree, build_junction_tree, merge_cliques, parents_first
from bayesnet.inference.relevance import SlicedPropagator

__all__ = [
    "DEFAULT_MEMORY_BUDGET",
    "IMPOSSIBLE_MESSAGE",
    "NUMERIC_MESSAGE",
    "CompiledNetwork",
    "EncodedRows",
    "EngineResult",
    "compile_network",
]

#: Default upper bound (bytes) on the working memory of one chunk of rows.
DEFAULT_MEMORY_BUDGET = 256 * 2**20

#: Error string used in :attr:`EngineResult.errors` for impossible rows.
IMPOSSIBLE_MESSAGE = "evidence has probability zero"

#: Error string used in :attr:`EngineResult.errors` for rows whose result is not finite
#: (should not happen: every factor is scaled to at most 1; reported rather than returned as a success).
NUMERIC_MESSAGE = "numerical overflow: the probability of the evidence or a posterior is not finite"

#: Rows per chunk are also capped here: beyond this, bigger chunks stop paying off.
_MAX_CHUNK = 2048

#: Working-set size (bytes) that chunks aim for by default (cache friendliness); chunks
#: never go below 64 rows for it (per-call overhead would dominate).
_CACHE_BUDGET = 64 * 2**20

#: Largest clique table created when coarsening the tree for small batches.
_COARSE_TABLE = 256

#: Cliques of at least this many entries get their small factors combined first.
_COMBINE_MIN = 256

#: Networks whose clique tables total at least this many entries answer rows of hard evidence
#: through :class:`~bayesnet.inference.relevance.SlicedPropagator` by default (``relevance="auto"``).
_SLICED_MIN_TABLE = 20_000

#: ... when their total is at least this many entries per clique of the propagator's (merged) tree.
_SLICED_RATIO = 7_000

#: The propagator's tree merges neighbouring cliques while their union has at most this many entries.
_SLICED_MERGE = 100_000

#: With the compiled kernels, networks whose clique tables total at least this many entries answer rows of
#: hard evidence by per-row elimination (:class:`~bayesnet.inference.elimination.EliminationPropagator`)
#: by default; smaller ones by the dense kernels (measured crossover, ``bayesnet bench``).
_ELIM_MIN_TABLE = 20_000

#: Rows handed to the per-row elimination at a time, and the most bytes of their code matrix.
_ELIM_ROWS = 16_384
_ELIM_CODES_BYTES = 32 * 2**20

#: Networks whose (finest) clique tables total at most this many entries are answered by the compiled
#: kernels (``bayesnet.inference.kernels``) when numba is available, on every dense path.
_KERNEL_MAX_TABLE = 4_000_000

#: Rows of hard evidence handed to the kernels at a time (bounds the code matrix: rows x variables int32).
_KERNEL_ROWS = 65_536

#: Batches of at most this many rows use the coarse tree.
_SMALL_BATCH = 4

#: Chunk-sized arrays of at least this many bytes are kept in a per-call workspace and
#: reused by every chunk (see ``_Layout.propagate``); smaller ones are left to the
#: allocator, whose recycled memory is warm in cache (dedicated buffers measured ~5%
#: slower on child, where every table is small).
_BUFFER_MIN = 2**21


@dataclass(frozen=True)
class EngineResult:
    """Outcome of :meth:`CompiledNetwork.evaluate` (error tolerant).

    Attributes
    ----------
    posteriors : pandas.DataFrame
        Same index as the evidence, MultiIndex columns ``(variable, state)``;
        NaN in rows that could not be evaluated.
    log_evidence : pandas.Series
        Natural log of P(evidence) per row (with virtual evidence: of the
        likelihood-weighted total); ``-inf`` for impossible rows, NaN for rows
        with invalid input.
    errors : pandas.Series
        ``""`` for good rows, otherwise a one-line explanation.
    """

    posteriors: pd.DataFrame
    log_evidence: pd.Series
    errors: pd.Series

    @property
    def ok(self) -> pd.Series:
        """Boolean Series, True where the row was evaluated successfully."""
        return self.errors == ""


@dataclass(frozen=True)
class EncodedRows:
    """Rows of hard evidence as state indices (:meth:`CompiledNetwork.encode`), reusable by another network.

    A network whose variables of these names have the same states (in the same order) evaluates
    them without reading the frame again: :meth:`CompiledNetwork.evaluate` and
    :meth:`CompiledNetwork.posteriors` take them in place of a DataFrame.

    Attributes
    ----------
    index : pandas.Index
        The rows' labels.
    names : tuple of str
        The observed columns' variables.
    states : tuple of tuple of str
        Each variable's states, in the order of its codes.
    codes : tuple of ndarray
        Per variable, the observed state's index in each row (-1: not observed, or a bad value).
    problems : dict
        Row position -> ``[(variable name, bad value), ...]``.
    """

    index: pd.Index
    names: tuple[str, ...]
    states: tuple[tuple[str, ...], ...]
    codes: tuple[np.ndarray, ...]
    problems: dict[int, list[tuple[str, Any]]]

    def __len__(self) -> int:
        return len(self.index)

    def with_observed(self, observed: Mapping[str, tuple[tuple[str, ...], str]]) -> EncodedRows:
        """These rows with more variables observed in every row: ``{name: (its states, the state)}``."""
        n = len(self.index)
        names, states, codes = list(self.names), list(self.states), list(self.codes)
        for name, (sts, state) in observed.items():
            if name in names:
                raise EvidenceError(f"{name!r} is already a column of the encoded rows")
            names.append(name)
            states.append(tuple(sts))
            codes.append(np.full(n, tuple(sts).index(state), dtype=np.intp))
        return EncodedRows(self.index, tuple(names), tuple(states), tuple(codes), self.problems)


@dataclass(eq=False, slots=True)
class _Plan:
    """Precomputed reading plan of one layout for one tuple of target variables."""

    targets: tuple[int, ...]
    reads: list  # (home clique, axes to sum, start, stop)
    edges: list  # distribute steps, parents first
    starts: np.ndarray
    cards: np.ndarray
    total: int
    prior: np.ndarray  # (total, 1) prior marginals


class _Layout:
    """Everything that depends on one junction tree: potentials, shapes, cached priors.

    Arrays have the clique's variables as leading axes (global variable order)
    and the batch as the last axis: length 1 for constants, or the number of
    parameter sets for the potentials (and prior caches) of a network whose
    tables vary per row (:meth:`CompiledNetwork.with_tables`).
    """

    def __init__(self, jt: JunctionTree, tables: list, cards: list[int], dtype: np.dtype):
        self.jt = jt
        self.dtype = dtype
        self.tiny, self.every, self.lo, self.hi = _limits(dtype)
        self.log_lo = float(np.log(self.lo))
        n = len(jt.cliques)
        nvars = len(cards)
        sizes = [jt.table_size(i) for i in range(n)]
        csets = [set(c) for c in jt.cliques]
        holders: dict[int, list[int]] = {}
        for i, c in enumerate(jt.cliques):
            for v in c:
                holders.setdefault(v, []).append(i)
        # home clique of each variable: the smallest clique containing it
        self.home = [min(holders[v], key=lambda i: (sizes[i], i)) for v in range(nvars)]
        # each CPT goes to the smallest clique containing its family
        self.hosts = [
            min((i for i in holders[fam[0]] if csets[i].issuperset(fam)), key=lambda i: (sizes[i], i)) for fam, _ in tables
        ]
        self.sizes = sizes
        self.parent = list(jt.parent)
        self.children = [tuple(ch) for ch in jt.children]
        self.all_axes = [tuple(range(len(c))) for c in jt.cliques]
        self.sum_axes: list = [None] * n  # clique axes summed out for the message to the parent
        self.sep_axes: list = [()] * n  # axes of the message (to scale it per row)
        self.in_parent: list = [()] * n  # message reshaped to broadcast against the parent
        self.in_child: list = [()] * n  # separator array reshaped against this clique
        self.parent_sum_axes: list = [()] * n  # parent axes summed out to reach the separator
        for i, c in enumerate(jt.cliques):
            p = jt.parent[i]
            if p < 0:
                continue
            sep = csets[i] & csets[p]
            self.sum_axes[i] = tuple(k for k, u in enumerate(c) if u not in sep)
            self.sep_axes[i] = tuple(range(len(sep)))
            self.in_parent[i] = tuple(cards[u] if u in sep else 1 for u in jt.cliques[p]) + (-1,)
            self.in_child[i] = tuple(cards[u] if u in sep else 1 for u in c) + (-1,)
            self.parent_sum_axes[i] = tuple(k for k, u in enumerate(jt.cliques[p]) if u not in sep)
        homes = [jt.cliques[h] for h in self.home]
        self.ev_shape = [tuple(cards[u] if u == v else 1 for u in c) + (-1,) for v, c in enumerate(homes)]
        # barren-node corrections (key -1 - v, see CompiledNetwork._barren_factors): over v's parents, at its host
        self.fix_shape = [
            tuple(cards[u] if (u in fam and u != v) else 1 for u in jt.cliques[self.hosts[v]]) + (-1,)
            for v, (fam, _) in enumerate(tables)
        ]
        self.read_axes = [tuple(k for k, u in enumerate(c) if u != v) for v, c in enumerate(homes)]
        self.cards = cards
        self.root = jt.root
        self.postorder = list(jt.postorder)
        self.root_axes = self.all_axes[self.root] if n else ()
        sep_total = sum(math.prod(s[:-1]) for s in self.in_parent if s)
        # bytes per row: clique tables (collect + root belief), messages, likelihoods, output
        self.row_bytes = dtype.itemsize * (2 * sum(sizes) + 4 * sep_total + 3 * sum(cards) + 8)
        self._set_potentials(self._potentials(tables))

    def _potentials(self, tables: list) -> list[np.ndarray]:
        """Clique potentials (batch last) from ``(family, array with a trailing batch axis)`` pairs."""
        cards = self.cards
        phis = [np.ones(tuple(cards[u] for u in c) + (1,), dtype=np.float64) for c in self.jt.cliques]
        for (fam, arr), host in zip(tables, self.hosts):
            fs = set(fam)
            shape = tuple(cards[u] if u in fs else 1 for u in self.jt.cliques[host]) + (arr.shape[-1],)
            phis[host] = phis[host] * arr.reshape(shape)
        return [p.astype(self.dtype) for p in phis]

    def with_tables(self, tables: list) -> _Layout:
        """The same tree and plans' structure with new (possibly per-row) tables."""
        new = copy.copy(self)
        new._set_potentials(self._potentials(tables))
        return new

    def _set_potentials(self, phi: list[np.ndarray]) -> None:
        self.phi = phi
        self.nb = max((p.shape[-1] for p in phi), default=1)  # batch of the constants
        self._compute_prior()
        self._build_steps()

    def _build_steps(self) -> None:
        self.steps = [
            (
                i,
                self.phi[i],
                tuple((ch, self.in_parent[ch]) for ch in self.children[i]),
                self.sum_axes[i],
                self.sep_axes[i],
                self.pot0[i],
                self.msg0[i],
                self.logz0[i],
                self.all_axes[i],
            )
            for i in self.postorder
        ]
        self.plans: dict[tuple[int, ...], _Plan] = {}
        self._slices: dict[tuple[int, int], _Layout] = {}

    def sliced(self, s: int, e: int) -> _Layout:
        """This layout restricted to parameter sets ``s:e`` (itself when its constants have batch 1)."""
        if self.nb == 1 or (s == 0 and e == self.nb):
            return self
        key = (s, e)
        new = self._slices.get(key)
        if new is not None:
            return new

        def cut(x):
            if isinstance(x, np.ndarray) and x.shape[-1] == self.nb:
                return x[..., s:e]
            return x

        new = copy.copy(self)
        for name in ("phi", "pot0", "msg0", "div0", "belief0", "logz0"):
            setattr(new, name, [cut(x) for x in getattr(self, name)])
        new.logz_prior = cut(self.logz_prior)
        new.nb = e - s
        new._build_steps()
        if len(self._slices) > 16:
            self._slices.clear()
        self._slices[key] = new
        return new

    def _compute_prior(self) -> None:
        """Evidence-free clique tables, messages and beliefs (cached for reuse).

        Scaled like :meth:`propagate`: messages are divided by their maximum, and a
        table is divided by its maximum after every ``self.every`` factors; ``logz0[i]``
        holds the log of what was taken out at clique ``i`` (a float, or an array
        over the parameter sets).
        """
        n = len(self.phi)
        self.pot0: list = [None] * n
        self.msg0: list = [None] * n
        self.div0: list = [None] * n  # unscaled prior message + tiny, to divide by
        self.logz0: list = [0.0] * n
        self.belief0: list = [None] * n
        self.logz_prior = 0.0
        if n == 0:
            return
        every = self.every
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            for i in self.postorder:
                pot = self.phi[i]
                count = 1
                logz: Any = 0.0
                for ch in self.children[i]:
                    if count == every:
                        logz = logz + _rescale(pot, self.all_axes[i])
                        count = 1
                    pot = pot * self.msg0[ch].reshape(self.in_parent[ch])
                    count += 1
                self.pot0[i] = pot
                if self.parent[i] >= 0:
                    m = np.add.reduce(pot, axis=self.sum_axes[i])
                    z = np.maximum.reduce(m, axis=self.sep_axes[i], keepdims=True)
                    self.msg0[i] = m / z
                    self.div0[i] = m + self.tiny
                    logz = logz + np.log(z.reshape(-1))
                self.logz0[i] = _scalar(logz)
            r = self.root
            total = np.add.reduce(self.pot0[r], axis=self.all_axes[r], keepdims=True)
            self.belief0[r] = self.pot0[r] / total
            for i in reversed(self.postorder):
                p = self.parent[i]
                if p < 0:
                    continue
                sm = np.add.reduce(self.belief0[p], axis=self.parent_sum_axes[i])
                sm /= self.div0[i]
                self.belief0[i] = self.pot0[i] * sm.reshape(self.in_child[i])
            self.logz_prior = _scalar(np.log(total.reshape(-1)) + sum(self.logz0))

    def plan(self, targets: tuple[int, ...]) -> _Plan:
        """Reading plan for ``targets`` (cached)."""
        plan = self.plans.get(targets)
        if plan is not None:
            return plan
        reads = []
        start = 0
        needed: set[int] = set()
        for t in targets:
            h = self.home[t]
            reads.append((h, self.read_axes[t], start, start + self.cards[t]))
            start += self.cards[t]
            while h >= 0 and h not in needed:
                needed.add(h)
                h = self.parent[h]
        edges = [
            (
                self.parent[i],
                i,
                self.parent_sum_axes[i],
                self.in_child[i],
                self.pot0[i],
                self.div0[i],
                self.parent[i] == self.root,
            )
            for i in reversed(self.postorder)
            if i in needed and self.parent[i] >= 0
        ]
        cards = np.array([self.cards[t] for t in targets], dtype=np.intp)
        starts = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.intp) if len(targets) else cards
        prior = np.empty((start, self.nb), dtype=self.dtype)
        for h, axes, a, b in reads:
            prior[a:b] = np.add.reduce(self.belief0[h], axis=axes)
        if len(targets):
            prior /= np.repeat(np.add.reduceat(prior, starts, axis=0), cards, axis=0)
        plan = _Plan(targets, reads, edges, starts, cards, start, prior)
        if len(self.plans) > 256:
            self.plans.clear()
        self.plans[targets] = plan
        return plan

    def _group_evidence(self, lik: Mapping[int, np.ndarray]) -> list[list | None]:
        """Likelihood arrays grouped by the clique they are multiplied into (reshaped to its axes)."""
        evs: list[list | None] = [None] * len(self.phi)
        for v, arr in lik.items():
            if v < 0:  # a barren-node correction over the parents of variable -1 - v
                h = self.hosts[-1 - v]
                evs[h] = (evs[h] or []) + [arr.reshape(self.fix_shape[-1 - v])]
                continue
            h = self.home[v]
            evs[h] = (evs[h] or []) + [arr.reshape(self.ev_shape[v])]
        return evs

    def _dirty(self, evs: list[list | None]) -> list[bool]:
        """Cliques whose subtree holds evidence (the others reuse their cached prior tables)."""
        dirty = [False] * len(self.phi)
        for i in self.postorder:
            dirty[i] = evs[i] is not None or any(dirty[ch] for ch in self.children[i])
        return dirty

    def propagate(
        self, lik: Mapping[int, np.ndarray], b: int, plan: _Plan, ws: dict | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Run collect/distribute for one chunk.

        Parameters
        ----------
        lik : mapping of int to ndarray
            Variable index -> likelihood array of shape ``(card, b)`` (batch
            last); variables not present are unobserved.
        b : int
            Rows in the chunk.
        plan : _Plan
            Targets.
        ws : dict, optional
            Workspace shared by the chunks of one call: the chunk-sized clique tables,
            messages and separator marginals are written into its buffers (keyed by
            role and clique, reused while the shape matches) instead of fresh arrays.
            Nothing of a chunk outlives the call to :meth:`propagate`, so the buffers
            can be overwritten by the next chunk.  This matters for speed: a fresh
            table of many MB per chunk may be served by the allocator with new pages
            (``mmap`` or a heap trimmed back between chunks), and faulting those in
            cost as much as the arithmetic (insurance: 400k page faults per 6,000 rows).

        Returns
        -------
        probs : ndarray, shape (b, plan.total)
            Posterior marginals of the targets, concatenated (NaN for impossible rows).
        log_evidence : ndarray, shape (b,)
        """
        if not lik:
            return (
                np.broadcast_to(plan.prior.T, (b, plan.total)).copy(),
                np.broadcast_to(np.asarray(self.logz_prior, dtype=np.float64), (b,)).copy(),
            )
        n = len(self.phi)
        evs = self._group_evidence(lik)
        pots: list = [None] * n
        msgs: list = [None] * n
        dirty = self._dirty(evs)
        zs = []
        zsc: list = [None] * n
        big = b >= 64
        sizes = self.sizes
        every = self.every
        logconst: Any = 0.0
        logs: list = []  # per-row logs of clique-table rescalings
        add_reduce = np.add.reduce
        max_reduce = np.maximum.reduce
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            # collect: leaves first; clean subtrees reuse the cached prior tables
            for i, phi, kids, sax, sepax, pot0, msg0, logz0, allax in self.steps:
                if not dirty[i]:
                    pots[i] = pot0
                    msgs[i] = msg0
                    logconst += logz0
                    continue
                factors = evs[i] if evs[i] is not None else []
                # batch-1 factors (clean children) go into the constant first: cheap
                base = phi
                count = 1  # factors in the table since it was last rescaled
                for ch, shp in kids:
                    x = msgs[ch].reshape(shp)
                    if dirty[ch]:
                        factors.append(x)
                    else:
                        if count == every:
                            logconst += _rescale(base, allax)
                            count = 1
                        base = base * x
                        count += 1
                if count + len(factors) <= every:
                    if big and len(factors) > 1 and sizes[i] >= _COMBINE_MIN:
                        factors = _combine_small(factors, sizes[i])
                    pot = _bmul(base, factors[0], b, _buffer(ws, ("pot", i), base, b))
                    for x in factors[1:]:
                        pot *= x
                else:
                    # many factors: rescale the table per row every `every` products
                    if count == every:
                        logconst += _rescale(base, allax)
                        count = 1
                    pot = _bmul(base, factors[0], b, _buffer(ws, ("pot", i), base, b))
                    count += 1
                    for x in factors[1:]:
                        if count == every:
                            logs.append(_rescale(pot, allax))
                            count = 1
                        pot *= x
                        count += 1
                pots[i] = pot
                if sax is not None:
                    m = add_reduce(pot, axis=sax, out=_buffer(ws, ("msg", i), pot, b, sax))
                    z = max_reduce(m, axis=sepax, keepdims=True)
                    m /= z
                    msgs[i] = m
                    zs.append(z)
                    zsc[i] = z
            # root (every dirty clique's ancestors are dirty, so the root is too)
            total = add_reduce(pots[self.root], axis=self.root_axes, keepdims=True)
            zs.append(total)
            out = self._distribute(plan, b, pots, msgs, dirty, zsc, total, ws)
            if len(zs) == 1:
                log_ev = np.log(total.reshape(b))
            else:
                logs_z = np.log(np.concatenate([z.reshape(b) for z in zs]))
                if logs_z.dtype != np.float64:  # sum in float64: there may be thousands of terms
                    logs_z = logs_z.astype(np.float64)
                log_ev = logs_z.reshape(len(zs), b).sum(axis=0)
            if log_ev.dtype != np.float64:
                log_ev = log_ev.astype(np.float64)
            log_ev += logconst
            for x in logs:
                log_ev += x
            log_ev[np.isnan(log_ev)] = -np.inf
        return out, log_ev

    def _distribute(
        self, plan: _Plan, b: int, pots: list, msgs: list, dirty: list, zsc: list | None, total: np.ndarray, ws=None
    ) -> np.ndarray:
        """Distribute from the root along the paths needed for the targets; return their marginals.

        The root table is left unscaled: its separator marginals are divided by its ``total``
        instead (cheaper), which normalises every other belief.  ``zsc`` holds the scale taken
        out of each collect message; ``None`` when the messages are unscaled (and include
        ``tiny``), as in :meth:`propagate_small`.
        """
        add_reduce = np.add.reduce
        beliefs: list = [None] * len(self.phi)
        beliefs[self.root] = pots[self.root]
        tot = total.reshape(b)
        for p, i, psax, shp, pot0, div0, from_root in plan.edges:
            buf = None if ws is None else _buffer(ws, ("sep", i), beliefs[p], b, psax)
            sm = add_reduce(beliefs[p], axis=psax, out=buf)
            if from_root:
                sm /= tot
            if dirty[i]:
                if zsc is None:
                    sm /= msgs[i]
                else:
                    # ratio to the unscaled collect message m * z; 0/0 -> 0 is exact
                    # because the child table is zero wherever the message is
                    sm /= msgs[i] + self.tiny
                    sm /= zsc[i]
                pot = pots[i]
                pot *= sm.reshape(shp)
                beliefs[i] = pot
            else:
                sm /= div0
                x = sm.reshape(shp)
                beliefs[i] = pot0 * x if ws is None else _bmul(pot0, x, b, _buffer(ws, ("belief", i), pot0, b))
        return self._read(beliefs, plan, b)

    def _read(self, beliefs: list, plan: _Plan, b: int) -> np.ndarray:
        """Target marginals, shape ``(b, plan.total)``, from the clique beliefs.

        Beliefs are normalised up to rounding (except the root's); every marginal
        is renormalised anyway so that observed variables come out exactly one-hot.
        Call inside an ``np.errstate`` that ignores invalid operations (impossible
        rows give 0/0 = NaN).
        """
        add_reduce = np.add.reduce
        if b > 8:
            out = np.empty((b, plan.total), dtype=self.dtype)
            for h, axes, a, bb in plan.reads:
                dst = out[:, a:bb].T
                add_reduce(beliefs[h], axis=axes, out=dst)
                dst /= add_reduce(dst, axis=0)
            return out
        if not plan.total:
            return np.empty((b, 0), dtype=self.dtype)
        # few rows: fewest numpy calls
        out = np.concatenate([add_reduce(beliefs[h], axis=axes) for h, axes, _, _ in plan.reads]).T
        return out / np.repeat(np.add.reduceat(out, plan.starts, axis=1), plan.cards, axis=1)

    def propagate_small(
        self, lik: Mapping[int, np.ndarray], b: int, plan: _Plan
    ) -> tuple[np.ndarray, np.ndarray]:
        """Like :meth:`propagate` with fewer numpy calls, for a few rows.

        Messages are not rescaled; ``tiny`` is added to each collect message (so divisions
        need no zero test) and the result is accepted only where the root total lies in
        ``[lo, hi]`` (see :func:`_limits`: unscaled values cannot have underflowed there in
        any way that matters, and the ``tiny`` added is negligible).  A clique with at least
        ``every`` factors is rescaled per row as in :meth:`propagate`, and each rescaling
        maximum must lie above ``lo`` too.  Otherwise (including impossible evidence) the
        chunk is redone by :meth:`propagate`.
        """
        if not lik:
            return self.propagate(lik, b, plan)
        n = len(self.phi)
        evs = self._group_evidence(lik)
        pots: list = [None] * n
        msgs: list = [None] * n
        dirty = self._dirty(evs)
        add_reduce = np.add.reduce
        tiny = self.tiny
        every = self.every
        logconst: Any = 0.0
        logs: list = []
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            for i, phi, kids, sax, _sepax, pot0, msg0, logz0, allax in self.steps:
                if not dirty[i]:
                    pots[i] = pot0
                    msgs[i] = msg0  # normalised prior message: scale logz0 noted
                    logconst += logz0
                    continue
                factors = list(evs[i] or []) + [msgs[ch].reshape(shp) for ch, shp in kids]
                pot = phi * factors[0]
                count = 2  # factors in the table since it was last rescaled
                logz = None
                for x in factors[1:]:
                    if count == every:
                        lg = _rescale(pot, allax)
                        if not np.all(lg >= self.log_lo):
                            return self.propagate(lik, b, plan)
                        logz = lg if logz is None else logz + lg
                        count = 1
                    if pot.shape[-1] >= x.shape[-1]:
                        pot *= x
                    else:
                        pot = pot * x
                    count += 1
                if logz is not None:
                    logs.append(logz)
                pots[i] = pot
                if sax is not None:
                    m = add_reduce(pot, axis=sax)
                    m += tiny
                    msgs[i] = m
            total = add_reduce(pots[self.root], axis=self.root_axes, keepdims=True)
            if not np.all((total >= self.lo) & (total <= self.hi)):
                return self.propagate(lik, b, plan)
            out = self._distribute(plan, b, pots, msgs, dirty, None, total)
            log_ev = np.log(total.reshape(b)).astype(np.float64) + logconst
            for lg in logs:
                log_ev += lg
        return out, log_ev


def _limits(dtype: np.dtype) -> tuple[Any, int, Any, Any]:
    """Scaling limits of a floating dtype, all derived from ``np.finfo(dtype)``.

    Returns ``(tiny, every, lo, hi)``: the smallest normal number; how many factors
    (each at most 1) may be multiplied into a table before it is rescaled (each may take
    32 binary orders of magnitude: 31 for float64, 3 for float32); and the window
    ``[lo, hi] = [tiny**0.8, tiny**-0.8]`` in which an unscaled single-row result is
    accepted (an entry lost to underflow then carries a share of at most ``tiny**0.2``
    of the total: 1e-62 for float64, 2e-8 for float32).  See "Scaling" above.

    Raises
    ------
    TypeError
        For dtypes too narrow to be made safe (float16: fewer than 64 binary orders
        of magnitude above underflow).
    """
    fi = np.finfo(dtype)
    orders = -float(np.log2(fi.tiny))  # in the dtype itself: long double's tiny is 0.0 as a float
    every = int(orders // 32)
    if every < 2:
        raise TypeError(
            f"dtype {np.dtype(dtype)} is too narrow for exact inference (its normal range ends at "
            f"{fi.tiny:.3g}); use float32 or float64"
        )
    lo = fi.tiny ** fi.dtype.type(0.8)
    return fi.tiny, every, lo, fi.dtype.type(1) / lo


def _rescale(pot: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """Divide each row (last axis) of ``pot`` in place by its maximum; return the logs of the maxima.

    All-zero rows (impossible evidence) are left alone (log 0 = -inf is returned for them).
    """
    z = np.maximum.reduce(pot, axis=axes, keepdims=True)
    logz = np.log(z.reshape(-1)).astype(np.float64)
    z[z == 0] = 1
    pot /= z
    return logz


def _scalar(x: Any) -> Any:
    """A length-1 array as a float (constants of one parameter set); other arrays unchanged."""
    if isinstance(x, np.ndarray):
        return float(x.reshape(-1)[0]) if x.size == 1 else x.astype(np.float64)
    return float(x)


def _buffer(
    ws: dict | None, key: tuple, like: np.ndarray, b: int, drop: tuple[int, ...] = ()
) -> np.ndarray | None:
    """A buffer of ``like``'s shape (without the axes ``drop``) with batch ``b``, from workspace ``ws``.

    Reused while the shape and dtype match (the chunks of one call); ``None``
    without a workspace (numpy then allocates).
    """
    if ws is None:
        return None
    shape = tuple(d for k, d in enumerate(like.shape[:-1]) if k not in drop) + (b,)
    if math.prod(shape) * like.dtype.itemsize < _BUFFER_MIN:
        return None  # small: the allocator's recycled (cache-warm) memory is faster
    buf = ws.get(key)
    if buf is None or buf.shape != shape or buf.dtype != like.dtype:
        buf = np.empty(shape, dtype=like.dtype)
        ws[key] = buf
    return buf


def _bmul(const: np.ndarray, x: np.ndarray, b: int, out: np.ndarray | None = None) -> np.ndarray:
    """``const * x`` of batch ``b`` (``const`` has the full table shape), into ``out`` if given.

    Broadcasting a batch-1 ``const`` along the (innermost) batch axis inside the
    product is slow in numpy; for long batches a broadcasting copy followed by an
    in-place product is ~2x faster.  Short batches multiply directly.
    """
    if b < 64:
        return np.multiply(const, x, out=out)
    if out is None:
        out = np.empty(const.shape[:-1] + (b,), dtype=const.dtype)
    out[...] = const
    out *= x
    return out


def _combine_small(factors: list[np.ndarray], clique_size: int) -> list[np.ndarray]:
    """Multiply batch factors over small variable sets together before the big product.

    Each factor broadcasts against a clique table of ``clique_size`` entries;
    multiplying it in costs a pass over the whole table.  Pairs whose product is
    much smaller than the table are combined first (greedily, smallest first),
    which saves passes over the large table.
    """
    # absorb each factor into a larger one over a superset of its variables (free)
    fs: list[np.ndarray] = []
    for f in sorted(factors, key=lambda x: -x.size):
        fshape = f.shape[:-1]
        for k, g in enumerate(fs):
            if all(a == 1 or a == c for a, c in zip(fshape, g.shape[:-1])):
                fs[k] = g * f
                break
        else:
            fs.append(f)
    # then join pairs whose product is still much smaller than the table
    while 1 < len(fs) <= 16:
        best = None
        for a in range(len(fs)):
            sa = fs[a].shape
            for c in range(a + 1, len(fs)):
                size = math.prod(max(p, q) for p, q in zip(sa[:-1], fs[c].shape[:-1]))
                if best is None or size < best[0]:
                    best = (size, a, c)
        assert best is not None
        size, a, c = best
        if 4 * size > clique_size:
            break
        joint = fs[a] * fs[c]
        fs = [f for k, f in enumerate(fs) if k != a and k != c]
        fs.append(joint)
    return fs


def _factorize(column: pd.Series) -> tuple[np.ndarray, Any]:
    """``pd.factorize(column)`` (codes, -1 for missing, and the distinct values), fast for pyarrow strings.

    A column of pandas' pyarrow-backed strings (the default ``str`` dtype with pyarrow installed) is
    dictionary-encoded by pyarrow in one call: pandas' own factorize costs tens of microseconds per
    column, which is most of a small frame's time on a network of many variables.
    """
    data = arrow_strings(column)
    if data is not None:
        import pyarrow.compute as pc

        encoded = data.dictionary_encode()
        codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.intp, copy=False)
        return codes, encoded.dictionary.to_pylist()
    try:
        return pd.factorize(column, use_na_sentinel=True)
    except TypeError:  # unhashable cells (lists, sets, dicts): each is a bad value of its row
        column = column.map(lambda x: x if isinstance(x, Hashable) else _Unhashable(x))
        return pd.factorize(column, use_na_sentinel=True)


class _Unhashable:
    """Stands in for an unhashable evidence cell so that it is reported as a bad value of its row."""

    __slots__ = ("value",)

    def __init__(self, value: Any):
        self.value = value

    def __repr__(self) -> str:
        return repr(self.value)


def _as_list(targets: Any) -> list | None:
    if targets is None:
        return None
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        return [targets]
    return list(targets)


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    return isinstance(value, (float, np.floating)) and math.isnan(value)


class CompiledNetwork:
    """A Bayesian network compiled to a junction tree for fast batch inference.

    Build it with :func:`compile_network`.

    Attributes
    ----------
    variables : list
        Variable names, in the network's node order.
    states : dict
        Variable -> list of state names (the network's order).
    cardinality : dict
        Variable -> number of states.
    dtype : numpy.dtype
        Floating type of all computations.
    junction_tree : JunctionTree
        The compiled tree (over variable indices into :attr:`variables`).

    Examples
    --------
    >>> import gzip, pathlib, pgmpy
    >>> from pgmpy.readwrite import BIFReader
    >>> path = pathlib.Path(pgmpy.__file__).parent / "utils" / "example_models" / "asia.bif.gz"
    >>> net = compile_network(BIFReader(string=gzip.open(path, "rt").read()).get_model())
    >>> net.posteriors_dict({"xray": "yes", "smoke": "yes"}, targets=["lung"])["lung"].round(4).tolist()
    [0.646, 0.354]
    """

    def __init__(
        self,
        model: Any,
        dtype: Any = np.float64,
        *,
        heuristic: str = "best",
        renormalize: bool = False,
        small_batch: int = _SMALL_BATCH,
        coarse_table: int = _COARSE_TABLE,
    ):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"dtype must be a floating type, got {self.dtype}")
        _limits(self.dtype)  # rejects dtypes too narrow to be made safe (float16)
        self.small_batch = int(small_batch)
        #: "auto", "always" or "never": rows of hard evidence through the relevance path (see ``_sliced_wanted``)
        self.relevance = "auto"
        self.coarse_table = int(coarse_table)

        variables = list(model.nodes())
        self.variables: list = variables
        self._index: dict[Hashable, int] = {v: i for i, v in enumerate(variables)}
        cpds = {cpd.variable: cpd for cpd in model.get_cpds()}
        missing = [v for v in variables if v not in cpds]
        if missing:
            raise ValueError(f"the model has no CPD for variable(s): {', '.join(map(str, missing))}")

        self.states: dict[Hashable, list] = {}
        for v in variables:
            cpd = cpds[v]
            card = int(cpd.variable_card)
            names = (cpd.state_names or {}).get(v)
            self.states[v] = list(names) if names is not None else list(range(card))
            if len(self.states[v]) != card:
                raise ValueError(f"variable {v!r}: {card} states but {len(self.states[v])} state names")
        self.cardinality: dict[Hashable, int] = {v: len(self.states[v]) for v in variables}
        self._cards = [self.cardinality[v] for v in variables]
        self._state_choices = [[str(s) for s in self.states[v]] for v in variables]

        # state lookup tables: exact names first, then their str() forms
        self._state_index: list[dict] = []
        self._state_str_index: list[dict[str, int]] = []
        for v in variables:
            backwards = list(enumerate(self.states[v]))[::-1]  # the first of equal names wins
            self._state_index.append({s: k for k, s in backwards})
            self._state_str_index.append({str(s): k for k, s in backwards})

        # CPT arrays with axes in global variable order and states in canonical order
        families: dict[int, list[int]] = {}
        tables: list[tuple[tuple[int, ...], np.ndarray]] = []
        self._cpd_axes: list[tuple[list, list[int]]] = []  # per variable: CPD axes, their global order
        for v in variables:
            cpd = cpds[v]
            cvars = list(cpd.variables)
            values = np.asarray(cpd.values, dtype=np.float64)
            if values.ndim != len(cvars):
                values = values.reshape([int(c) for c in cpd.cardinality])
            for ax, u in enumerate(cvars):
                if u not in self._index:
                    raise ValueError(f"CPD of {v!r} refers to unknown variable {u!r}")
                names = (cpd.state_names or {}).get(u)
                if names is not None and list(names) != self.states[u]:
                    if sorted(map(str, names)) != sorted(map(str, self.states[u])):
                        raise ValueError(
                            f"CPD of {v!r} gives states {list(names)} for {u!r}, "
                            f"but its own CPD has {self.states[u]}"
                        )
                    pos = {str(s): k for k, s in enumerate(names)}
                    values = np.take(values, [pos[str(s)] for s in self.states[u]], axis=ax)
                if values.shape[ax] != self.cardinality[u]:
                    raise ValueError(f"CPD of {v!r}: axis for {u!r} has the wrong length")
            if np.any(values < 0) or not np.all(np.isfinite(values)):
                raise ValueError(f"CPD of {v!r} has negative or non-finite entries")
            if renormalize:
                sums = values.sum(axis=0, keepdims=True)
                values = np.divide(values, sums, out=values.copy(), where=sums > 0)
            idx = [self._index[u] for u in cvars]
            order = sorted(range(len(idx)), key=idx.__getitem__)
            tables.append((tuple(idx[k] for k in order), np.transpose(values, order)[..., None]))
            families[self._index[v]] = [self._index[u] for u in cvars[1:]]
            self._cpd_axes.append((list(cvars), order))
        self._renormalize = bool(renormalize)
        self._heuristic = heuristic
        self._setup(tables, families)

    def _setup(self, tables: list, families: dict[int, list[int]]) -> None:
        """Junction tree, layout and lookup tables from the parsed CPTs (``__init__``, :meth:`restricted`)."""
        # (family in global order, CPT with a trailing batch axis of length 1 or P)
        self._tables = tables
        self._families = families  # variable index -> parent indices (CPD order)
        self._n_sets = 1
        self._base: CompiledNetwork = self
        self._restricted: dict[tuple[int, ...], CompiledNetwork] = {}

        jt = build_junction_tree(families, self._cards, self._heuristic)
        self.junction_tree: JunctionTree = jt
        # the dense layout (potentials and prior caches: about three times the clique tables) is
        # built on first use: rows that the relevance path answers never need it
        self._fine_layout: _Layout | None = None
        self._sliced_prop: SlicedPropagator | None | bool = False  # built on first use
        self._eliminator: EliminationPropagator | None | bool = False  # built on first use
        self._kernel_sched: kernels.KernelSchedule | None | bool = False  # built on first use
        self._fix_cache: dict | None = None
        self._topo_cache: list | None = None
        self._coarse: _Layout | None = None

        # one-hot likelihood tables (card, card + 1): column k = state k, last column
        # (code -1) = all ones for "unobserved"
        self._onehot: list[np.ndarray] = [
            np.hstack([np.eye(card, dtype=self.dtype), np.ones((card, 1), dtype=self.dtype)]) for card in self._cards
        ]
        self._onehot1 = [[np.ascontiguousarray(t[:, k : k + 1]) for k in range(t.shape[0])] for t in self._onehot]
        self._columns: dict[tuple[int, ...], pd.MultiIndex] = {}

    @property
    def _fine(self) -> _Layout:
        """The layout of the junction tree with this network's tables (built on first use)."""
        layout = self._fine_layout
        if layout is None:
            if self._base is self:
                layout = _Layout(self.junction_tree, self._tables, self._cards, self.dtype)
            else:
                layout = self._base._fine.with_tables(self._tables)
            self._fine_layout = layout
        return layout

    @property
    def _kernel(self) -> kernels.KernelSchedule | None:
        """The compiled kernels' schedule of the finest tree (built on first use; None when not used).

        Used for every dense pass (single rows and batches) of a network of one parameter set whose
        clique tables total at most ``_KERNEL_MAX_TABLE`` entries, when numba is available
        (``bayesnet.inference.kernels.available()``).  Whether it is used depends on the network
        only, never on the queries asked before: every query takes the same path each time.
        """
        sched = self.__dict__.get("_kernel_sched", False)
        if sched is False:
            sched = None
            if (self._n_sets == 1 and self.total_clique_size <= _KERNEL_MAX_TABLE and self.junction_tree.cliques
                    and kernels.available()):
                lay = self._fine
                sched = kernels.KernelSchedule(self.junction_tree, lay.phi, lay.home, lay.hosts, self._fixes,
                                               self._families, self._cards, self.dtype, lay.every)
            self._kernel_sched = sched
        return sched

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_restricted"] = {}  # a cache: rebuilt on demand
        state["_sliced_prop"] = False  # likewise (SlicedPropagator)
        state["_eliminator"] = False  # and EliminationPropagator
        state["_kernel_sched"] = False  # and the compiled kernels' schedule
        return state

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return (
            f"<CompiledNetwork: {len(self.variables)} variables, {len(self.junction_tree.cliques)} cliques, "
            f"max clique table {self.max_clique_size}>"
        )

    @property
    def cliques(self) -> list[tuple]:
        """Cliques of the junction tree as tuples of variable names."""
        return [tuple(self.variables[u] for u in c) for c in self.junction_tree.cliques]

    @property
    def max_clique_size(self) -> int:
        """Number of entries in the largest clique table."""
        return self.junction_tree.max_clique_size

    @property
    def total_clique_size(self) -> int:
        """Total number of entries over all clique tables."""
        return self.junction_tree.total_clique_size

    def default_chunk_size(self, memory_budget: int = DEFAULT_MEMORY_BUDGET) -> int:
        """Rows per chunk so that one chunk's working arrays fit ``memory_budget`` bytes.

        Parameters
        ----------
        memory_budget : int
            Bytes allowed for the arrays of one chunk.

        Returns
        -------
        int
            At least 1, at most 2048 (larger chunks stop paying off); by default
            also about 64 MB of working arrays, but no fewer than 64 rows for that.

        Examples
        --------
        >>> net.default_chunk_size() >= 1
        True
        """
        row = max(self._base._fine.row_bytes, 1)  # the structure's: the same for every parameter set
        cache_friendly = max(64, _CACHE_BUDGET // row)
        return int(max(1, min(_MAX_CHUNK, cache_friendly, memory_budget // row)))

    def _layout(self, b: int) -> _Layout:
        if b > self.small_batch:
            return self._fine
        if self._coarse is None:
            base = self._base
            if base._coarse is None:
                cjt = merge_cliques(base.junction_tree, max(base.coarse_table, 1))
                if len(cjt.cliques) == len(base.junction_tree.cliques):
                    base._coarse = base._fine
                else:
                    base._coarse = _Layout(cjt, base._tables, base._cards, base.dtype)
            if base is not self:
                self._coarse = self._fine if base._coarse is base._fine else base._coarse.with_tables(self._tables)
        return self._coarse

    @property
    def n_parameter_sets(self) -> int:
        """Number of parameter sets P (1 unless made by :meth:`with_tables`).

        With ``P > 1`` every query takes exactly P rows, row ``i`` using parameter set ``i``.
        """
        return self._n_sets

    def with_tables(self, tables: Mapping[Hashable, np.ndarray]) -> CompiledNetwork:
        """A network on the same junction tree whose CPTs vary per row (parameter draws).

        Parameters
        ----------
        tables : mapping
            Variable -> array of shape ``(P, card(var), *card(parents))``, with the
            parents in the order of that variable's pgmpy CPD evidence
            (``cpd.variables[1:]``) and states in the network's order (:attr:`states`).
            Variables not given keep their compiled table.  All arrays share one
            ``P >= 1``.  Their columns are renormalised to sum to 1 (parameter
            draws); the compiled tables of the other variables are kept as they are.

        Returns
        -------
        CompiledNetwork
            Shares the junction tree, state lookups and plans' structure (no
            re-triangulation); its rows ARE the parameter sets: every method
            (:meth:`propagate`, :meth:`evaluate`, :meth:`posteriors`,
            :meth:`posteriors_from_likelihoods`, ...) then takes exactly P rows, row
            ``i`` using parameter set ``i``.  A likelihood of shape ``(card,)`` or
            ``(1, card)``, or an evidence frame (or dict) of one row, is broadcast to
            all P rows (the result then has a ``RangeIndex`` of P rows).  With
            ``P > 1``, :meth:`posteriors_dict` returns arrays of shape ``(P, card)``
            and :meth:`log_evidence_dict` an array of shape ``(P,)``.  With ``P == 1``
            it behaves like an ordinary compiled network.  The evidence-free
            ("prior") caches are kept per parameter set; rows are processed in chunks
            together with the matching slice of the potentials.

        Raises
        ------
        UnknownNameError
            A key is not a variable of the network.
        ValueError
            Wrong shape, different P across variables, P < 1, negative or
            non-finite entries (the message names the variable).

        Examples
        --------
        >>> draws = net.with_tables({"smoke": np.array([[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]])})  # P = 3
        >>> draws.n_parameter_sets
        3
        >>> draws.posteriors_dict({}, targets=["smoke"])["smoke"].round(12).tolist()
        [[0.5, 0.5], [0.9, 0.1], [0.2, 0.8]]
        >>> draws.posteriors(pd.DataFrame({"xray": ["yes"]}), targets=["lung"]).shape
        (3, 2)
        """
        if not isinstance(tables, Mapping):
            raise ValueError("tables must be a mapping of variable -> array of shape (P, card, *parent cards)")
        new_tables = list(self._tables)
        n_sets: int | None = None
        for name, arr in tables.items():
            v = self._var_index(name)
            cvars, order = self._cpd_axes[v]
            expected = tuple(self._cards[self._index[u]] for u in cvars)
            parents = f" and parents {cvars[1:]}" if len(cvars) > 1 else ""
            try:
                a = np.asarray(arr, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise ValueError(f"tables for variable {name!r} are not numeric: {exc}") from None
            if a.ndim != len(expected) + 1 or a.shape[1:] != expected:
                raise ValueError(
                    f"tables for variable {name!r} must have shape (P, {', '.join(map(str, expected))}) "
                    f"(parameter sets, its {expected[0]} states{parents} in the CPD's order), got {a.shape}"
                )
            if a.shape[0] < 1:
                raise ValueError(f"tables for variable {name!r} hold no parameter set (P = 0)")
            if n_sets is None:
                n_sets = a.shape[0]
            elif a.shape[0] != n_sets:
                raise ValueError(
                    f"tables for variable {name!r} have {a.shape[0]} parameter sets, but others have {n_sets}"
                )
            if not np.all(np.isfinite(a)):
                raise ValueError(f"tables for variable {name!r} contain NaN or infinite values")
            if np.any(a < 0):
                raise ValueError(f"tables for variable {name!r} contain negative values")
            sums = a.sum(axis=1, keepdims=True)  # parameter draws: columns renormalised, always
            a = np.divide(a, sums, out=a.copy(), where=sums > 0)
            moved = np.moveaxis(a, 0, -1)  # CPD axes, then the parameter sets
            fam = new_tables[v][0]
            new_tables[v] = (fam, np.ascontiguousarray(np.transpose(moved, [*order, len(order)])))
        if n_sets is None:
            n_sets = self._n_sets
        if self._n_sets > 1 and n_sets != self._n_sets:
            raise ValueError(f"this network already has {self._n_sets} parameter sets; got tables with {n_sets}")
        return self._base._with_table_list(new_tables, int(n_sets))

    def _with_table_list(self, tables: list, n_sets: int) -> CompiledNetwork:
        """This (base) network with checked ``(family, array)`` tables; the layout is built on first use."""
        net = copy.copy(self)
        net._tables = tables
        net._n_sets = n_sets
        net._fine_layout = None
        net._coarse = None
        net._sliced_prop = False
        net._eliminator = False
        net._kernel_sched = False
        net._fix_cache = None
        net._base = self
        net._restricted = {}
        return net

    def restricted(self, keep: Iterable) -> CompiledNetwork:
        """The network restricted to the ancestral closure of ``keep`` (barren nodes removed).

        A variable outside the closure (neither in ``keep`` nor an ancestor of a variable in
        ``keep``) is barren for any query about ``keep`` given evidence on variables in
        ``keep``: every query prunes it (see "Relevance" in the module docstring), also when
        its CPT columns do not sum exactly to 1.  Posteriors of variables in ``keep`` and
        the log-evidence of evidence on them (with those targets) are therefore the same
        in the restricted network as in this one (to rounding), at the cost of a smaller
        junction tree.

        Parameters
        ----------
        keep : iterable
            Variables (names) the queries will target or observe.

        Returns
        -------
        CompiledNetwork
            Over the closure's variables (in this network's order), with its own junction
            tree compiled once per distinct closure and cached on the network this one
            was derived from (the last 32 closures).  A network of parameter sets
            (:meth:`with_tables`) gives a network of the same parameter sets: its
            restriction keeps the per-row tables of the closure's variables (cached on it,
            the last 8 closures).  This network itself when the closure is every variable.

        Raises
        ------
        UnknownNameError
            A name in ``keep`` is not a variable of the network.

        Examples
        --------
        >>> small = net.restricted(["lung", "smoke"])
        >>> small.variables
        ['smoke', 'lung']
        >>> bool(abs(small.posteriors_dict({"smoke": "yes"})["lung"][0]
        ...          - net.posteriors_dict({"smoke": "yes"})["lung"][0]) < 1e-15)
        True
        """
        wanted = [self._var_index(k) for k in (_as_list(keep) or [])]
        closure: set[int] = set()
        stack = list(wanted)
        families = self._families
        while stack:
            v = stack.pop()
            if v not in closure:
                closure.add(v)
                stack.extend(families[v])
        if len(closure) == len(self.variables):
            return self
        key = tuple(sorted(closure))
        cache = self._restricted
        net = cache.get(key)
        if net is not None:
            return net
        if self._base is self:
            net = self._subnetwork(key)
            bound = 32
        else:
            sub = self._base.restricted([self.variables[v] for v in key])
            # the closure's per-row tables, with the families in the sub-network's indices
            tables = [(sub._tables[k][0], self._tables[v][1]) for k, v in enumerate(key)]
            net = sub._with_table_list(tables, self._n_sets)
            bound = 8
        while len(cache) >= bound:
            cache.pop(next(iter(cache)), None)
        cache[key] = net
        return net

    def _subnetwork(self, key: tuple[int, ...]) -> CompiledNetwork:
        """A freshly compiled network over the variables ``key`` (sorted indices, closed under parents)."""
        new = object.__new__(type(self))
        new.dtype = self.dtype
        new.small_batch = self.small_batch
        new.relevance = self.relevance
        new.coarse_table = self.coarse_table
        new._renormalize = self._renormalize
        new._heuristic = self._heuristic
        remap = {v: k for k, v in enumerate(key)}
        new.variables = [self.variables[v] for v in key]
        new._index = {name: k for k, name in enumerate(new.variables)}
        new.states = {name: self.states[name] for name in new.variables}
        new.cardinality = {name: self.cardinality[name] for name in new.variables}
        # per-variable lists; the order of the kept variables is unchanged, so each table keeps its axis order
        for name in ("_cards", "_state_choices", "_state_index", "_state_str_index", "_cpd_axes"):
            setattr(new, name, [getattr(self, name)[v] for v in key])
        tables = [(tuple(remap[u] for u in self._tables[v][0]), self._tables[v][1]) for v in key]
        families = {remap[v]: [remap[u] for u in self._families[v]] for v in key}
        new._setup(tables, families)
        return new

    def columns(self, targets: Iterable | None = None) -> pd.MultiIndex:
        """The ``(variable, state)`` MultiIndex of posteriors for ``targets``.

        Parameters
        ----------
        targets : list, optional
            Target variables (default all).

        Returns
        -------
        pandas.MultiIndex
        """
        return self._columns_for(self._target_indices(targets))

    def _columns_for(self, targets: tuple[int, ...]) -> pd.MultiIndex:
        cols = self._columns.get(targets)
        if cols is None:
            tuples = [(self.variables[t], s) for t in targets for s in self.states[self.variables[t]]]
            cols = pd.MultiIndex.from_tuples(tuples, names=["variable", "state"])
            if len(self._columns) > 256:
                self._columns.clear()
            self._columns[targets] = cols
        return cols

    # ------------------------------------------------------------- validation
    def _target_indices(self, targets: Any) -> tuple[int, ...]:
        tl = _as_list(targets)
        if tl is None:
            return tuple(range(len(self.variables)))
        return tuple(dict.fromkeys(self._var_index(t, "in targets") for t in tl))  # without repeats, in order

    def _var_index(self, name: Any, context: str = "") -> int:
        i = self._index.get(name) if isinstance(name, Hashable) else None
        if i is None:
            raise UnknownNameError("variable", name, [str(v) for v in self.variables], context=context)
        return i

    def _match_state(self, v: int, value: Any) -> int:
        """State code of ``value`` for variable ``v``, or -2 when it is not a state."""
        if not isinstance(value, (bool, np.bool_)):  # True == 1 must not pick state 1
            try:
                k = self._state_index[v].get(value)
            except TypeError:  # unhashable
                k = None
            if k is not None:
                return k
        text = str(value)
        k = self._state_str_index[v].get(text)
        if k is None and isinstance(value, (float, np.floating)) and float(value).is_integer():
            k = self._state_str_index[v].get(str(int(value)))
        return -2 if k is None else k

    def _state_error(self, v: int, value: Any, context: str) -> UnknownNameError:
        return UnknownNameError("state", value, self._state_choices[v], context=context)

    # ------------------------------------------------------------ chunk driver
    def _run_chunks(
        self,
        n_rows: int,
        targets: tuple[int, ...],
        chunk_size: int | None,
        make_lik: Callable[[int, int], dict[int, np.ndarray]],
        log_scale: np.ndarray | None = None,
        fine: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate ``n_rows`` rows in chunks; ``make_lik(start, stop)`` builds each chunk's likelihoods.

        ``log_scale`` (per row) is added to the log-evidence (likelihood rescaling).  ``fine``: always
        the finest tree and the rescaled pass (the rows the sliced propagator did not accept).
        """
        if chunk_size is None:
            chunk_size = self.default_chunk_size()
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        if self._n_sets > 1 and n_rows != self._n_sets:
            raise EvidenceError(
                f"this network has {self._n_sets} parameter sets, so it takes exactly {self._n_sets} rows "
                f"(or one row, broadcast); got {n_rows}"
            )
        total = sum(self._cards[t] for t in targets)
        probs = np.empty((n_rows, total), dtype=self.dtype)
        log_ev = np.empty(n_rows, dtype=np.float64)
        sched = self._kernel if self._n_sets == 1 else None
        if sched is not None:
            offs = sched.loff
            for s in range(0, n_rows, chunk_size):
                e = min(n_rows, s + chunk_size)
                soft = None
                lik = make_lik(s, e)
                if lik:
                    soft = np.ones((e - s, int(offs[-1])), dtype=self.dtype)
                    for v, arr in lik.items():
                        soft[:, offs[v] : offs[v + 1]] = arr.T
                probs[s:e], log_ev[s:e] = sched.run(None, soft, targets, n=e - s)
            if log_scale is not None:
                log_ev += log_scale
            return probs, log_ev
        ws: dict = {}  # chunk-sized buffers, reused by the chunks of this call (see _Layout.propagate)
        for s in range(0, n_rows, chunk_size):
            e = min(n_rows, s + chunk_size)
            layout = self._fine if fine else self._layout(e - s)
            if self._n_sets > 1:
                layout = layout.sliced(s, e)
            lik = make_lik(s, e)
            if self._fixes:
                lik = self._barren_factors(lik, targets, s, e)
            if e - s <= self.small_batch and not fine:
                p, lz = layout.propagate_small(lik, e - s, layout.plan(targets))
            else:
                p, lz = layout.propagate(lik, e - s, layout.plan(targets), ws)
            probs[s:e] = p
            log_ev[s:e] = lz
        if log_scale is not None:
            log_ev += log_scale
        return probs, log_ev

    # --------------------------------------------------------- likelihood API
    def _check_likelihoods(
        self, likelihoods: Mapping[Any, Any], n_rows: int | None
    ) -> tuple[dict[int, np.ndarray], int, np.ndarray | None]:
        """Validate likelihood arrays: ``(arrays (rows, card) by variable index, n_rows, log scale)``.

        Each row is divided by its maximum; the log scale (shape ``(n_rows,)``, or None
        when nothing was rescaled) is what must be added back to the log-evidence.
        """
        if not isinstance(likelihoods, Mapping):
            raise EvidenceError("likelihoods must be a mapping of variable name -> array of shape (rows, states)")
        arrays: dict[int, np.ndarray] = {}
        for name, arr in likelihoods.items():
            v = self._var_index(name)
            card = self._cards[v]
            try:
                a = np.asarray(arr, dtype=np.float64)
            except (TypeError, ValueError) as exc:
                raise EvidenceError(f"likelihood for variable {name!r} is not numeric: {exc}") from None
            if a.ndim == 1:
                if a.shape[0] != card:
                    raise EvidenceError(
                        f"likelihood for variable {name!r} has {a.shape[0]} entries, "
                        f"but the variable has {card} states {self.states[name]}"
                    )
                a = a[None, :]
            elif a.ndim != 2 or a.shape[1] != card:
                raise EvidenceError(
                    f"likelihood for variable {name!r} must have shape (rows, {card}) "
                    f"for states {self.states[name]}, got {a.shape}"
                )
            if not np.all(np.isfinite(a)):
                raise EvidenceError(f"likelihood for variable {name!r} contains NaN or infinite values")
            if np.any(a < 0):
                raise EvidenceError(f"likelihood for variable {name!r} contains negative values")
            zero = ~np.any(a > 0, axis=1)
            if zero.any():
                rows = np.flatnonzero(zero)
                raise EvidenceError(
                    f"likelihood for variable {name!r} is all zeros in row(s) {rows[:5].tolist()}"
                    f"{'...' if len(rows) > 5 else ''}: at least one state must have positive likelihood"
                )
            arrays[v] = a
        multi = {a.shape[0] for a in arrays.values() if a.shape[0] != 1}
        if n_rows is None:
            if len(multi) > 1:
                raise EvidenceError(f"likelihood arrays have different numbers of rows: {sorted(multi)}")
            if multi:
                n_rows = multi.pop()
            elif self._n_sets > 1:
                n_rows = self._n_sets
            elif arrays:
                n_rows = 1
            else:
                raise EvidenceError("n_rows is required when no likelihood arrays are given")
        n_rows = int(n_rows)
        if n_rows < 0:
            raise EvidenceError(f"n_rows must be non-negative, got {n_rows}")
        for v, a in arrays.items():
            if a.shape[0] not in (1, n_rows):
                raise EvidenceError(
                    f"likelihood for variable {self.variables[v]!r} has {a.shape[0]} rows, expected {n_rows}"
                )
        # a constant factor carries no information: each row is divided by its max (so
        # that no product of likelihoods can overflow or underflow) and log(max) is
        # added back to the log-evidence
        log_scale = None
        out = {}
        for v, a in arrays.items():
            top = a.max(axis=1)
            if not np.all(top == 1):
                a = a / top[:, None]
                lt = np.log(top)
                log_scale = lt if log_scale is None else log_scale + lt
            if not np.all(a == 1):  # drop arrays that are all ones (unobserved everywhere)
                out[v] = np.ascontiguousarray(a, dtype=self.dtype)
        if log_scale is not None:
            log_scale = np.broadcast_to(log_scale, (n_rows,)).copy()
        return out, n_rows, log_scale

    @staticmethod
    def _chunk_lik(arrays: Mapping[int, np.ndarray], s: int, e: int) -> dict[int, np.ndarray]:
        """Slice (rows, card) arrays to one chunk, transposed to (card, rows)."""
        out = {}
        b = e - s
        for v, a in arrays.items():
            if a.shape[0] == 1:
                out[v] = a.T if b == 1 else np.broadcast_to(a.T, (a.shape[1], b))
                continue
            part = a[s:e]
            if not np.all(part == 1):
                out[v] = part.T
        return out

    def propagate(
        self,
        likelihoods: Mapping[Any, Any],
        n_rows: int | None = None,
        targets: Iterable | None = None,
        chunk_size: int | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Error-tolerant numeric core: posteriors and log-evidence from likelihood arrays.

        Parameters
        ----------
        likelihoods : mapping of variable -> array_like
            Each array has shape ``(n_rows, card)`` (or ``(card,)``, shared by all
            rows) of non-negative likelihoods: all ones = unobserved, one-hot =
            hard evidence, anything else = virtual evidence.
        n_rows : int, optional
            Number of rows (inferred from the arrays when omitted).
        targets : list, optional
            Target variables (default all).
        chunk_size : int, optional
            Rows per chunk (default: :meth:`default_chunk_size`).

        Returns
        -------
        probs : ndarray, shape (n_rows, total states of targets)
            Concatenated posteriors, columns as :meth:`columns`; NaN in impossible rows.
        log_evidence : ndarray, shape (n_rows,)
            ``log sum_x P(x) prod_v L_v(x_v)`` (the likelihoods as given: each
            row is rescaled to a maximum of 1 inside and the log of the scale
            added back); ``-inf`` for impossible rows.

        Raises
        ------
        EvidenceError
            Malformed likelihood arrays.

        Examples
        --------
        >>> import numpy as np
        >>> probs, logz = net.propagate({"xray": np.array([[0.0, 1.0], [0.3, 0.7]])},
        ...                             targets=["lung"])
        >>> probs.shape
        (2, 2)
        """
        targets_i = self._target_indices(targets)
        arrays, n, log_scale = self._check_likelihoods(likelihoods, n_rows)
        return self._run_chunks(n, targets_i, chunk_size, lambda s, e: self._chunk_lik(arrays, s, e), log_scale)

    def posteriors_from_likelihoods(
        self,
        likelihoods: Mapping[Any, Any],
        n_rows: int | None = None,
        targets: Iterable | None = None,
        chunk_size: int | None = None,
    ) -> dict[Any, np.ndarray]:
        """Posterior marginals from soft (virtual) or hard evidence given as arrays.

        Parameters
        ----------
        likelihoods : mapping of variable -> array_like
            Shape ``(n_rows, card)`` or ``(card,)``; see :meth:`propagate`.  A
            likelihood vector ``L`` for variable ``X`` has the same effect as
            pgmpy's ``virtual_evidence=[TabularCPD(X, card, L[:, None])]``.
        n_rows : int, optional
            Number of rows (inferred when omitted).
        targets : list, optional
            Target variables (default all).
        chunk_size : int, optional
            Rows per chunk.

        Returns
        -------
        dict
            Target variable -> array of shape ``(n_rows, card)``.

        Raises
        ------
        EvidenceError
            Bad shapes, negative, NaN/inf or all-zero likelihood vectors.
        ImpossibleEvidenceError
            Some rows have probability zero (``rows`` holds their positions).
        EvidenceError
            A non-finite result (:data:`NUMERIC_MESSAGE`; not expected with the scaling).

        Examples
        --------
        >>> import numpy as np
        >>> post = net.posteriors_from_likelihoods(
        ...     {"xray": np.array([[0.2, 0.8]])}, targets=["lung"])
        >>> post["lung"].shape
        (1, 2)
        """
        probs, log_ev = self.propagate(likelihoods, n_rows, targets, chunk_size)
        self._raise_failures(probs, log_ev, np.arange(len(log_ev)))
        return self._split(probs, self._target_indices(targets))

    def _split(self, probs: np.ndarray, targets: tuple[int, ...]) -> dict[Any, np.ndarray]:
        ends = np.cumsum([self._cards[t] for t in targets], dtype=np.intp)
        return {self.variables[t]: probs[:, e - self._cards[t] : e] for t, e in zip(targets, ends)}

    @staticmethod
    def _failures(probs: np.ndarray, log_ev: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Boolean masks of impossible rows (log-evidence -inf or NaN) and of numerical
        failures (log-evidence +inf, or NaN posteriors with a finite log-evidence)."""
        impossible = ~(log_ev > -np.inf)
        numeric = (log_ev == np.inf) | (~impossible & np.isnan(probs).any(axis=1))
        return impossible, numeric

    def _raise_failures(self, probs: np.ndarray, log_ev: np.ndarray, labels: Any) -> None:
        impossible, numeric = self._failures(probs, log_ev)
        if impossible.any():
            raise self._impossible_error(list(np.asarray(labels, dtype=object)[impossible]))
        if numeric.any():
            rows = list(np.asarray(labels, dtype=object)[numeric])
            raise EvidenceError(f"{NUMERIC_MESSAGE} (rows {', '.join(repr(x) for x in rows[:5])})")

    @staticmethod
    def _impossible_error(labels: list) -> ImpossibleEvidenceError:
        shown = ", ".join(repr(x) for x in labels[:5])
        more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
        noun = "row" if len(labels) == 1 else "rows"
        return ImpossibleEvidenceError(
            f"the evidence in {noun} {shown}{more} is impossible under the model "
            "(probability zero), so no posterior exists",
            rows=list(labels),
        )

    # ------------------------------------------------------------ dict API
    def _dict_lik(self, evidence: Mapping[Any, Any]) -> dict[int, np.ndarray]:
        lik: dict[int, np.ndarray] = {}
        state_index = self._state_index
        onehot1 = self._onehot1
        for name, value in evidence.items():
            v = self._var_index(name)
            k = state_index[v].get(value) if type(value) is str else None
            if k is None:
                if _is_missing(value):
                    continue
                k = self._match_state(v, value)
                if k < 0:
                    raise self._state_error(v, value, f"of variable {name!r}")
            lik[v] = onehot1[v][k]
        return lik

    def posteriors_dict(
        self, evidence: Mapping[Any, Any] | None = None, targets: Iterable | None = None
    ) -> dict[Any, np.ndarray]:
        """Fast path for one scenario: posterior marginals from a dict of findings.

        Parameters
        ----------
        evidence : dict, optional
            Variable -> observed state; ``None``/NaN values are ignored.
        targets : list, optional
            Target variables (default all).

        Returns
        -------
        dict
            Target variable -> 1-D array of probabilities in state order.

        Raises
        ------
        UnknownNameError
            Unknown variable or state.
        ImpossibleEvidenceError
            The findings have probability zero.
        EvidenceError
            A non-finite result (:data:`NUMERIC_MESSAGE`; not expected with the scaling).

        Examples
        --------
        >>> p = net.posteriors_dict({"xray": "yes"}, targets=["lung"])
        >>> p["lung"].round(3)
        array([0.489, 0.511])
        """
        targets_i = self._target_indices(targets)
        sched = self._kernel if self._n_sets == 1 else None
        if self._n_sets == 1 and self._sliced_wanted(1, targets_i):
            # networks whose rows take the relevance path: so does a single row (a dense pass over
            # munin1's tables takes seconds)
            codes = self._dict_codes(evidence or {})
            probs, log_ev = self._run_sliced(list(range(codes.shape[1])), list(codes.astype(np.intp).T), None, 1,
                                             targets_i, None)
            self._check_single(float(log_ev[0]), probs)
            return {k: v[0] for k, v in self._split(probs, targets_i).items()}
        if sched is not None:
            row, lz = sched.run_one(self._dict_codes(evidence or {}), targets_i)
            self._check_single(lz, row)
            out = {}
            a = 0
            cards = self._cards
            variables = self.variables
            for t in targets_i:
                b = a + cards[t]
                out[variables[t]] = row[a:b]
                a = b
            return out
        lik = self._dict_lik(evidence or {})
        if self._n_sets > 1:
            probs, log_ev = self._run_chunks(self._n_sets, targets_i, None, self._dict_maker(lik))
            self._raise_failures(probs, log_ev, np.arange(self._n_sets))
            return self._split(probs, targets_i)
        layout = self._layout(1)
        plan = layout.plan(targets_i)
        if self._fixes:
            lik = self._barren_factors(lik, targets_i, 0, 1)
        probs, log_ev = layout.propagate_small(lik, 1, plan)
        self._check_single(float(log_ev[0]), probs)
        row = probs[0]
        return {self.variables[t]: row[a:bb] for t, (_, _, a, bb) in zip(plan.targets, plan.reads)}

    @staticmethod
    def _check_single(log_ev: float, probs: np.ndarray) -> None:
        """Raise for one scenario whose evidence is impossible, or whose answer is not finite."""
        if not log_ev > -np.inf:
            raise ImpossibleEvidenceError(
                "the evidence is impossible under the model (probability zero), so no posterior exists",
                rows=[0],
            )
        if not log_ev < np.inf or np.isnan(probs).any():
            raise EvidenceError(NUMERIC_MESSAGE)

    def _dict_codes(self, evidence: Mapping[Any, Any]) -> np.ndarray:
        """One scenario's findings as a ``(1, variables)`` int32 row of state codes (-1 = unobserved)."""
        codes = np.full((1, len(self.variables)), -1, dtype=np.int32)
        state_index = self._state_index
        index = self._index
        for name, value in evidence.items():
            v = index.get(name) if isinstance(name, Hashable) else None
            if v is None:
                v = self._var_index(name)
            k = state_index[v].get(value) if type(value) is str else None
            if k is None:
                if _is_missing(value):
                    continue
                k = self._match_state(v, value)
                if k < 0:
                    raise self._state_error(v, value, f"of variable {name!r}")
            codes[0, v] = k
        return codes

    @staticmethod
    def _dict_maker(lik: Mapping[int, np.ndarray]) -> Callable[[int, int], dict[int, np.ndarray]]:
        """Chunk maker broadcasting one scenario's ``(card, 1)`` likelihoods to every row."""
        return lambda s, e: {v: np.broadcast_to(a, (a.shape[0], e - s)) for v, a in lik.items()}

    def log_evidence_dict(self, evidence: Mapping[Any, Any] | None = None) -> float:
        """Natural log of P(evidence) for one scenario given as a dict.

        Returns ``-inf`` when the evidence is impossible.

        Examples
        --------
        >>> abs(net.log_evidence_dict({})) < 1e-12   # log 1, up to rounding
        True
        """
        sched = self._kernel if self._n_sets == 1 else None
        if sched is not None:
            return sched.run_one(self._dict_codes(evidence or {}), ())[1]
        lik = self._dict_lik(evidence or {})
        if self._n_sets > 1:
            return self._run_chunks(self._n_sets, (), None, self._dict_maker(lik))[1]
        layout = self._layout(1)
        if self._fixes:
            lik = self._barren_factors(lik, (), 0, 1)
        _, log_ev = layout.propagate_small(lik, 1, layout.plan(()))
        return float(log_ev[0])

    # ------------------------------------------------------------ DataFrame API
    def _encode_frame(self, evidence: Any) -> tuple[pd.DataFrame, list[int], list[np.ndarray], dict[int, list]]:
        """Map a DataFrame of state names to integer codes (-1 = unobserved).

        Returns the frame (or the :class:`EncodedRows` given instead of one, read without
        encoding again), its variable indices, code arrays and
        ``{row position: [(variable index, bad value), ...]}``.
        """
        if isinstance(evidence, EncodedRows):
            return self._decode_rows(evidence)
        if isinstance(evidence, Mapping):
            evidence = pd.DataFrame([evidence])
        elif not isinstance(evidence, pd.DataFrame):
            raise EvidenceError(
                f"evidence must be a pandas DataFrame (one row per scenario), got {type(evidence).__name__}"
            )
        if self._n_sets > 1 and len(evidence) != self._n_sets:
            if len(evidence) != 1:
                raise EvidenceError(
                    f"this network has {self._n_sets} parameter sets, so the evidence must have "
                    f"{self._n_sets} rows (or one, broadcast); got {len(evidence)}"
                )
            evidence = evidence.iloc[np.zeros(self._n_sets, dtype=np.intp)].reset_index(drop=True)
        if evidence.columns.has_duplicates:
            dups = evidence.columns[evidence.columns.duplicated()].unique().tolist()
            raise EvidenceError(f"evidence has duplicate columns: {dups}")
        var_idx = [self._var_index(col) for col in evidence.columns]
        codes_list: list[np.ndarray] = []
        problems: dict[int, list] = {}
        for v, (_name, column) in zip(var_idx, evidence.items(), strict=True):
            fcodes, uniques = _factorize(column)
            table = np.empty(len(uniques) + 1, dtype=np.intp)
            table[-1] = -1  # factorize's NA code -1 maps to -1
            bad_u = []
            for j, u in enumerate(uniques):
                k = -1 if _is_missing(u) else self._match_state(v, u)
                table[j] = k
                if k < -1:
                    bad_u.append(j)
            codes = table[fcodes]
            if bad_u:
                for j in bad_u:
                    for r in np.flatnonzero(fcodes == j):
                        problems.setdefault(int(r), []).append((v, uniques[j]))
                codes = np.where(codes < -1, -1, codes)
            codes_list.append(codes)
        return evidence, var_idx, codes_list, problems

    def encode(self, evidence_df: pd.DataFrame) -> EncodedRows:
        """The rows of ``evidence_df`` as state indices, for this network or one sharing its variables.

        Parameters
        ----------
        evidence_df : pandas.DataFrame
            As for :meth:`posteriors` (hard evidence only).

        Returns
        -------
        EncodedRows
            Bad values are kept (as ``problems``), not raised: :meth:`posteriors` raises and
            :meth:`evaluate` reports them when the rows are evaluated.

        Examples
        --------
        >>> enc = net.encode(pd.DataFrame({"smoke": ["yes", None]}))
        >>> enc.names, enc.codes[0].tolist()
        (('smoke',), [0, -1])
        """
        frame, var_idx, codes_list, problems = self._encode_frame(evidence_df)
        return EncodedRows(
            index=frame.index,
            names=tuple(self.variables[v] for v in var_idx),
            states=tuple(tuple(self.states[self.variables[v]]) for v in var_idx),
            codes=tuple(codes_list),
            problems={r: [(self.variables[v], value) for v, value in items] for r, items in problems.items()},
        )

    def _decode_rows(self, rows: EncodedRows) -> tuple[EncodedRows, list[int], list[np.ndarray], dict[int, list]]:
        """:class:`EncodedRows` as :meth:`_encode_frame` gives a frame (its variables must have this network's
        states)."""
        index = {name: self._var_index(name) for name in rows.names}
        for name, sts in zip(rows.names, rows.states, strict=True):
            own = tuple(self.states[self.variables[index[name]]])
            if own != tuple(sts):
                raise EvidenceError(f"the encoded rows give {name!r} the states {list(sts)}; this network's are "
                                    f"{list(own)}: encode the rows with this network")
        problems = {r: [(index[name], value) for name, value in items] for r, items in rows.problems.items()}
        return rows, list(index.values()), list(rows.codes), problems

    def _run_frame(
        self,
        var_idx: list[int],
        codes_list: list[np.ndarray],
        bad_rows: np.ndarray | None,
        likelihoods: Mapping[Any, Any] | None,
        n: int,
        targets: tuple[int, ...],
        chunk_size: int | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate ``n`` encoded rows of evidence (``bad_rows`` left unobserved) times the extra ``likelihoods``."""
        if not likelihoods and self._n_sets == 1 and self._sliced_wanted(n, targets):
            return self._run_sliced(var_idx, codes_list, bad_rows, n, targets, chunk_size)
        sched = self._kernel if self._n_sets == 1 and not likelihoods else None
        if sched is not None:
            if chunk_size is not None and int(chunk_size) < 1:
                raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
            total = sum(self._cards[t] for t in targets)
            probs = np.empty((n, total), dtype=self.dtype)
            log_ev = np.empty(n, dtype=np.float64)
            for s in range(0, n, _KERNEL_ROWS):
                e = min(n, s + _KERNEL_ROWS)
                codes = np.full((e - s, len(self.variables)), -1, dtype=np.int32)
                for v, cc in zip(var_idx, codes_list):
                    codes[:, v] = cc[s:e]
                if bad_rows is not None:
                    codes[bad_rows[s:e]] = -1
                probs[s:e], log_ev[s:e] = sched.run(codes, None, targets)
            return probs, log_ev
        onehot = self._onehot
        extra: dict[int, np.ndarray] = {}
        log_scale = None
        if likelihoods:
            extra, _, log_scale = self._check_likelihoods(likelihoods, n)

        def make(s: int, e: int) -> dict[int, np.ndarray]:
            lik: dict[int, np.ndarray] = {}
            for v, codes in zip(var_idx, codes_list):
                cc = codes[s:e]
                if bad_rows is not None:
                    cc = np.where(bad_rows[s:e], -1, cc)
                if (cc >= 0).any():
                    lik[v] = onehot[v][:, cc]
            for v, part in self._chunk_lik(extra, s, e).items():
                lik[v] = lik[v] * part if v in lik else part
            return lik

        return self._run_chunks(n, targets, chunk_size, make, log_scale)

    # ------------------------------------------------------------ barren nodes
    @property
    def _fixes(self) -> dict[int, np.ndarray]:
        """Per variable whose CPT columns do not sum to 1 (beyond 1e-14): ``1 / column sums``.

        Shape: the CPT's axes in global order with the variable's own axis of length 1, and the
        trailing batch (parameter-set) axis.  Empty when every column sums to 1 (``renormalize``).
        """
        fixes = self.__dict__.get("_fix_cache")
        if fixes is None:
            fixes = {}
            for v, (fam, arr) in enumerate(self._tables):
                sums = arr.sum(axis=fam.index(v), keepdims=True)
                if np.abs(sums - 1).max() > 1e-14:
                    fixes[v] = np.divide(1.0, sums, out=np.ones_like(sums), where=sums > 0).astype(self.dtype)
            self._fix_cache = fixes
        return fixes

    def _barren_factors(
        self, lik: Mapping[int, np.ndarray], targets: tuple[int, ...], s: int, e: int
    ) -> dict[int, np.ndarray]:
        """``lik`` plus, for rows where a variable is barren, ``1 / its CPT's column sums`` (key ``-1 - v``).

        A variable is barren in a row when it is neither a target nor observed (a likelihood other
        than all ones) nor an ancestor of one; summing it out then gives its CPT's column sums,
        which the correction turns into exactly 1: the answer is the one on the ancestral closure
        of the targets and the evidence, as pgmpy's and pyAgrum's pruning give, whether or not
        the CPT columns sum to 1.
        """
        b = e - s
        nv = len(self.variables)
        rel = np.zeros((nv, b), dtype=bool)
        for v, arr in lik.items():
            if v >= 0:
                rel[v] = (arr != 1).any(axis=0) if arr.shape[-1] == b else bool((arr != 1).any())
        if targets:
            rel[list(targets)] = True
        fams = self._families
        for v in reversed(self._topo):
            pa = fams[v]
            if pa and rel[v].any():
                rel[pa] |= rel[v]
        out = dict(lik)
        for v, fix in self._fixes.items():
            barren = ~rel[v]
            if barren.any():
                f = fix if fix.shape[-1] == 1 else fix[..., s:e]
                out[-1 - v] = np.where(barren, f, self.dtype.type(1))
        return out

    @property
    def _topo(self) -> list[int]:
        """Variable indices, parents before children."""
        topo = self.__dict__.get("_topo_cache")
        if topo is None:
            topo = parents_first(self._families, len(self.variables))
            self._topo_cache = topo
        return topo

    # ------------------------------------------------------------ relevance path
    @property
    def _sliced(self) -> SlicedPropagator | None:
        """The evidence-sliced propagator on this network's tree (built on first use; None if unusable)."""
        prop = self.__dict__.get("_sliced_prop", False)
        if prop is False:
            # neighbouring cliques merged while their union stays moderate: sliced by the evidence, a
            # bigger clique costs little more, and every clique costs a few numpy calls per row pattern
            jt = merge_cliques(self.junction_tree, _SLICED_MERGE)
            if max((len(c) for c in jt.cliques), default=0) >= 50:
                prop = None  # einsum has 51 index letters for variables
            else:
                lo = _limits(self.dtype)[2]
                prop = SlicedPropagator(jt, self._tables, self._families, self._cards, self.dtype, lo)
            self._sliced_prop = prop
        return prop

    @property
    def _elim(self) -> EliminationPropagator | None:
        """The compiled per-row elimination (built on first use; None without the compiled kernels)."""
        prop = self.__dict__.get("_eliminator", False)
        if prop is False:
            prop = None
            if self._n_sets == 1 and kernels.available():
                prop = EliminationPropagator(self._tables, self._families, self._cards)
            self._eliminator = prop
        return prop

    def _sliced_wanted(self, n: int, targets: tuple[int, ...]) -> bool:
        """Whether rows of hard evidence take the relevance path (see ``relevance``).

        Its first stage is :class:`~bayesnet.inference.elimination.EliminationPropagator` when the
        compiled kernels are available, then :class:`SlicedPropagator` (numpy) for the rows it
        does not accept.  Decided by the network alone, never by the queries asked before.
        """
        mode = self.relevance
        if mode == "never" or n == 0:
            return False
        if mode == "always":
            return self._elim is not None or self._sliced is not None
        if kernels.available():
            # per-row elimination against the dense kernels: measured crossover (bench_engine); the
            # propagator is built only for networks that use it
            return self.total_clique_size >= _ELIM_MIN_TABLE and self._elim is not None
        # the dense pass costs about one pass over every clique table per row (~30 ns an entry here);
        # the sliced one a few einsum calls per clique of its merged tree and local evidence pattern
        # (~80 us): worth it when the tables are big for their number (measured crossover: insurance 5,900 dense, pigs 7,500 sliced)
        if self.total_clique_size < _SLICED_MIN_TABLE or self._sliced is None:
            return False
        return self.total_clique_size > _SLICED_RATIO * len(self._sliced.jt.cliques)

    def _run_sliced(
        self,
        var_idx: list[int],
        codes_list: list[np.ndarray],
        bad_rows: np.ndarray | None,
        n: int,
        targets: tuple[int, ...],
        chunk_size: int | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Hard-evidence rows through the relevance path: compiled per-row elimination, then the numpy sliced
        propagator for the rows it does not accept, then the dense pass for the rows neither accepts."""
        if chunk_size is not None and int(chunk_size) < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        nv = len(self.variables)
        elim = self._elim
        if elim is None:
            codes = np.full((n, nv), -1, dtype=np.intp)
            for v, c in zip(var_idx, codes_list):
                codes[:, v] = c
            if bad_rows is not None:
                codes[bad_rows] = -1
            return self._run_sliced_numpy(codes, targets, chunk_size)
        total = sum(self._cards[t] for t in targets)
        probs = np.empty((n, total), dtype=self.dtype)
        log_ev = np.empty(n, dtype=np.float64)
        bad = None
        if bad_rows is not None:
            bad = np.zeros(n, dtype=bool)
            bad[bad_rows] = True
        rest: list[np.ndarray] = []
        rest_codes: list[np.ndarray] = []
        step = max(1, min(_ELIM_ROWS, _ELIM_CODES_BYTES // (8 * max(nv, 1))))
        for s in range(0, n, step):
            e = min(n, s + step)
            codes = np.full((e - s, nv), -1, dtype=np.int64)
            for v, c in zip(var_idx, codes_list):
                codes[:, v] = c[s:e]
            if bad is not None:
                codes[bad[s:e]] = -1
            p, lz, status = elim.run(codes, targets)
            probs[s:e] = p
            log_ev[s:e] = lz
            left = np.flatnonzero(status != 0)
            if left.size:
                rest.append(left + s)
                rest_codes.append(codes[left])
        if rest:
            rows = np.concatenate(rest)
            p, lz = self._run_sliced_numpy(np.concatenate(rest_codes).astype(np.intp), targets, chunk_size)
            probs[rows] = p
            log_ev[rows] = lz
        return probs, log_ev

    def _run_sliced_numpy(
        self, codes: np.ndarray, targets: tuple[int, ...], chunk_size: int | None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rows of codes through :class:`SlicedPropagator`; the rows it does not accept through the dense pass."""
        prop = self._sliced
        n = codes.shape[0]
        total = sum(self._cards[t] for t in targets)
        probs = np.empty((n, total), dtype=self.dtype)
        log_ev = np.empty(n, dtype=np.float64)
        failed = np.ones(n, dtype=bool)
        if prop is not None:
            # chunks: at most chunk_size (default 2048) rows, and messages of at most the memory budget
            cap = _MAX_CHUNK if chunk_size is None else int(chunk_size)
            bounds = [0]
            if n:
                cum = np.cumsum(prop.message_bytes(codes))
                while bounds[-1] < n:
                    s = bounds[-1]
                    base = cum[s - 1] if s else 0.0
                    e = int(np.searchsorted(cum, base + DEFAULT_MEMORY_BUDGET, side="right"))
                    bounds.append(min(n, s + cap, max(e, s + 1)))
            with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
                for s, e in itertools.pairwise(bounds):
                    p, lz, f = prop.run(codes[s:e], targets)
                    probs[s:e] = p
                    log_ev[s:e] = lz
                    failed[s:e] = f
        if failed.any():
            rows = np.flatnonzero(failed)
            onehot = self._onehot
            sub = codes[rows]

            def make(s: int, e: int) -> dict[int, np.ndarray]:
                cc = sub[s:e]
                return {v: onehot[v][:, cc[:, v]] for v in range(cc.shape[1]) if (cc[:, v] >= 0).any()}

            p, lz = self._run_chunks(len(rows), targets, None, make, fine=True)
            probs[rows] = p
            log_ev[rows] = lz
        return probs, log_ev

    def evaluate(
        self,
        evidence_df: pd.DataFrame,
        targets: Iterable | None = None,
        chunk_size: int | None = None,
        likelihoods: Mapping[Any, Any] | None = None,
    ) -> EngineResult:
        """Error-tolerant batch evaluation: posteriors, log-evidence and per-row errors.

        Parameters
        ----------
        evidence_df : pandas.DataFrame
            One row per scenario; columns are variables, values are state names
            (NaN/None = not observed).
        targets : list, optional
            Target variables (default all).
        chunk_size : int, optional
            Rows per chunk (default :meth:`default_chunk_size`, bounded memory).
        likelihoods : mapping, optional
            Extra virtual evidence, as in :meth:`propagate` (rows aligned with
            ``evidence_df``), multiplied with the hard evidence.

        Returns
        -------
        EngineResult
            Rows with an unknown state value get NaN posteriors and an error
            message naming row, column, value and the closest valid state;
            impossible rows get NaN, ``log_evidence == -inf`` and
            ``"evidence has probability zero"``; a row with a non-finite result
            otherwise gets NaN posteriors and :data:`NUMERIC_MESSAGE`.  Other rows
            are unaffected.

        Raises
        ------
        UnknownNameError
            A column or target is not a variable of the network.
        EvidenceError
            Malformed input as a whole (not a DataFrame, duplicate columns, bad
            likelihood arrays).

        Examples
        --------
        >>> res = net.evaluate(pd.DataFrame({"xray": ["yes", "maybe"]}))
        >>> res.errors.tolist()
        ['', "row 1, column 'xray': unknown state 'maybe' of variable 'xray'; did you mean 'yes'?"]
        """
        targets_i = self._target_indices(targets)
        frame, var_idx, codes_list, problems = self._encode_frame(evidence_df)
        n = len(frame)
        bad_rows = None
        if problems:
            bad_rows = np.zeros(n, dtype=bool)
            bad_rows[list(problems)] = True
        probs, log_ev = self._run_frame(var_idx, codes_list, bad_rows, likelihoods, n, targets_i, chunk_size)
        errors = np.full(n, "", dtype=object)
        impossible, numeric = self._failures(probs, log_ev)
        errors[impossible] = IMPOSSIBLE_MESSAGE
        if numeric.any():
            errors[numeric] = NUMERIC_MESSAGE
            probs[numeric] = np.nan
        index = frame.index
        if bad_rows is not None:
            probs[bad_rows] = np.nan
            log_ev[bad_rows] = np.nan
            for r, items in problems.items():
                errors[r] = "; ".join(
                    f"row {index[r]!r}, column {self.variables[v]!r}: "
                    + str(self._state_error(v, value, f"of variable {self.variables[v]!r}"))
                    for v, value in items
                )
        return EngineResult(
            posteriors=pd.DataFrame(probs, index=index, columns=self._columns_for(targets_i)),
            log_evidence=pd.Series(log_ev, index=index, name="log_evidence"),
            errors=pd.Series(errors, index=index, name="error", dtype=object),
        )

    def posteriors(
        self,
        evidence_df: pd.DataFrame,
        targets: Iterable | None = None,
        chunk_size: int | None = None,
        likelihoods: Mapping[Any, Any] | None = None,
    ) -> pd.DataFrame:
        """Posterior marginals for every row of evidence (strict).

        Parameters
        ----------
        evidence_df : pandas.DataFrame
            One row per scenario; columns are variable names, values are state
            names (NaN/None = not observed; values whose ``str()`` equals a
            state name are accepted too).  A dict is taken as one row.
        targets : list, optional
            Target variables (default all).
        chunk_size : int, optional
            Rows per chunk.
        likelihoods : mapping, optional
            Extra virtual evidence arrays, see :meth:`propagate`.

        Returns
        -------
        pandas.DataFrame
            Same index as ``evidence_df``; MultiIndex columns ``(variable,
            state)`` with states in the network's order; each variable's block
            of a row sums to 1.  Observed targets get their one-hot distribution.

        Raises
        ------
        UnknownNameError
            Unknown column, target or state (with a "did you mean" suggestion).
        ImpossibleEvidenceError
            Some rows have probability zero; ``.rows`` lists their labels.
        EvidenceError
            A non-finite result (:data:`NUMERIC_MESSAGE`; not expected with the scaling).

        Examples
        --------
        >>> df = pd.DataFrame({"smoke": ["yes", None], "xray": ["yes", "no"]}, index=["a", "b"])
        >>> net.posteriors(df, targets=["lung"]).round(3)  # doctest: +NORMALIZE_WHITESPACE
        variable   lung
        state       yes     no
        a         0.646  0.354
        b         0.001  0.999
        """
        targets_i = self._target_indices(targets)
        frame, var_idx, codes_list, problems = self._encode_frame(evidence_df)
        if problems:
            first = min(problems)
            v, value = problems[first][0]
            raise self._state_error(v, value, f"of variable {self.variables[v]!r} in row {frame.index[first]!r}")
        probs, log_ev = self._run_frame(var_idx, codes_list, None, likelihoods, len(frame), targets_i, chunk_size)
        self._raise_failures(probs, log_ev, frame.index)
        return pd.DataFrame(probs, index=frame.index, columns=self._columns_for(targets_i))


def compile_network(
    model: Any,
    dtype: Any = np.float64,
    *,
    heuristic: str = "best",
    renormalize: bool = False,
) -> CompiledNetwork:
    """Compile a pgmpy ``DiscreteBayesianNetwork`` for fast exact batch inference.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
        A network with a TabularCPD for every node.
    dtype : numpy dtype, default float64
        Floating type of the computation (float64 for exact agreement with pgmpy).
    heuristic : {"best", "min_fill", "min_weight"}
        Triangulation heuristic (see :func:`bayesnet.inference.junction_tree.triangulate`).
    renormalize : bool, default False
        Rescale every CPT column to sum to exactly 1.  By default the CPTs are
        used as given, as pgmpy and pyAgrum use them: BIF files often carry
        rounding errors of ~1e-7 in their columns, and the answer is then the one
        on the ancestral closure of the targets and the evidence (barren nodes
        pruned, as those references prune them), so it agrees with theirs to
        rounding (see ``_barren_factors`` and :mod:`bayesnet.inference.relevance`).

    Returns
    -------
    CompiledNetwork

    Examples
    --------
    >>> from pgmpy.models import DiscreteBayesianNetwork
    >>> from pgmpy.factors.discrete import TabularCPD
    >>> m = DiscreteBayesianNetwork([("a", "b")])
    >>> m.add_cpds(TabularCPD("a", 2, [[0.5], [0.5]]),
    ...            TabularCPD("b", 2, [[0.9, 0.2], [0.1, 0.8]], evidence=["a"], evidence_card=[2]))
    >>> net = compile_network(m)
    >>> net.posteriors_dict({"b": 1})["a"].round(4).tolist()
    [0.1111, 0.8889]
    """
    return CompiledNetwork(model, dtype, heuristic=heuristic, renormalize=renormalize)
