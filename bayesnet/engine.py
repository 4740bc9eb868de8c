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
   giving a junction tree (:mod:`bayesnet.junction_tree`).
2. Each CPT is assigned to the smallest clique containing its family; the
   assigned CPTs are multiplied into a constant clique potential, a numpy array
   whose axes follow one fixed global variable order.  Because every clique and
   every separator lists its variables in that same order, a separator message
   broadcasts against a clique table by a mere ``reshape`` (no transposes), and
   marginalising is one ``np.add.reduce`` over precomputed axes.
3. Each variable gets a *home* clique (the smallest one containing it) where its
   evidence is multiplied in and its marginal is read.  All reshape targets and
   reduction axes are precomputed, as are the evidence-free ("prior") clique
   tables and messages, which are reused for every part of the tree whose
   subtree holds no evidence in a given chunk of rows.

*Evaluation* (per chunk of rows; arrays carry a leading batch axis):

1. Evidence becomes one likelihood array of shape ``(rows, card)`` per observed
   variable: one-hot for hard evidence, arbitrary non-negative weights for
   virtual (soft) evidence, all ones (skipped) for unobserved.
2. **Collect** (leaves to root, Hugin architecture): a clique table is its
   constant potential times its evidence likelihoods times its children's
   messages; the message to the parent is that table summed down to the
   separator.  Every message is divided by its per-row total and the log of the
   total is accumulated, so nothing underflows however many findings are
   observed; ``log P(e)`` is the sum of these logs plus the log of the root
   table's total (exact, up to rounding).
3. **Distribute** (root to leaves, only along the paths needed for the
   requested targets): a child's belief is its collect table times the ratio of
   the parent's separator marginal to the collect message (``0/0`` is taken as
   ``0``, which is exact because such entries of the child table are zero).
   Beliefs stay normalised, so each target's posterior is its home belief summed
   to the variable, renormalised.

Rows whose evidence has probability zero end with a zero root total, which
propagates as NaN through that row only; they are reported via
``log_evidence == -inf`` (and :class:`~bayesnet.errors.ImpossibleEvidenceError`
from the strict methods).

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
>>> post.round(4)
  rain
    no     yes
0  0.1818  0.8182
1  0.8000  0.2000
>>> float(net.posteriors_dict({"wet": "yes"})["rain"][1].round(4))
0.8182
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.errors import EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.junction_tree import JunctionTree, build_junction_tree

__all__ = [
    "compile_network",
    "CompiledNetwork",
    "EngineResult",
    "DEFAULT_MEMORY_BUDGET",
    "IMPOSSIBLE_MESSAGE",
]

#: Default upper bound (bytes) on the working memory of one chunk of rows.
DEFAULT_MEMORY_BUDGET = 256 * 2**20

#: Error string used in :attr:`EngineResult.errors` for impossible rows.
IMPOSSIBLE_MESSAGE = "evidence has probability zero"

#: Rows per chunk are also capped here: beyond this, bigger chunks stop paying off.
_MAX_CHUNK = 8192


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


@dataclass
class _Clique:
    """Precompiled per-clique data (all arrays carry a leading batch axis of 1)."""

    vars: tuple[int, ...]
    phi: np.ndarray  # constant potential, shape (1, *cards)
    children: tuple[int, ...]
    parent: int
    all_axes: tuple[int, ...]  # every non-batch axis
    sum_axes: tuple[int, ...]  # axes of this clique summed out for the message to the parent
    sep_axes: tuple[int, ...]  # non-batch axes of the message (to total it per row)
    in_parent: tuple[int, ...]  # reshape of the message to broadcast against the parent
    in_child: tuple[int, ...]  # reshape of a separator array to broadcast against this clique
    parent_sum_axes: tuple[int, ...]  # axes of the parent summed out to reach the separator
    # prior (evidence-free) values
    pot0: np.ndarray | None = None
    msg0: np.ndarray | None = None
    logz0: float = 0.0
    belief0: np.ndarray | None = None


class _Plan:
    """Precomputed reading plan for one tuple of target variables."""

    __slots__ = ("targets", "reads", "edges", "starts", "cards", "total", "_columns", "prior")

    def __init__(self, targets: tuple[int, ...], reads, edges, starts, cards, total):
        self.targets = targets
        self.reads = reads  # list of (clique, axes, start, stop)
        self.edges = edges  # distribute edges (parent, child), parents first
        self.starts = starts
        self.cards = cards
        self.total = total
        self._columns: pd.MultiIndex | None = None
        self.prior: np.ndarray | None = None


def _as_list_targets(targets: Any) -> list | None:
    if targets is None:
        return None
    if isinstance(targets, (str, bytes)) or not isinstance(targets, Iterable):
        return [targets]
    return list(targets)


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
    >>> p = net.posteriors_dict({"xray": "yes", "smoke": "yes"}, targets=["lung"])
    >>> [round(float(x), 4) for x in p["lung"]]
    [0.4887, 0.5113]
    """

    def __init__(
        self,
        model: Any,
        dtype: Any = np.float64,
        *,
        heuristic: str = "best",
        renormalize: bool = True,
    ):
        self.dtype = np.dtype(dtype)
        if self.dtype.kind != "f":
            raise TypeError(f"dtype must be a floating type, got {self.dtype}")
        self._tiny = np.finfo(self.dtype).tiny

        variables = list(model.nodes())
        self.variables: list = variables
        self._index: dict[Hashable, int] = {v: i for i, v in enumerate(variables)}
        cpds = {}
        for cpd in model.get_cpds():
            cpds[cpd.variable] = cpd
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

        # state lookup tables: exact names first, then their str() forms
        self._state_index: list[dict] = []
        self._state_str_index: list[dict[str, int]] = []
        for v in variables:
            exact: dict = {}
            for k, s in enumerate(self.states[v]):
                exact.setdefault(s, k)
            self._state_index.append(exact)
            self._state_str_index.append({str(s): k for k, s in reversed(list(enumerate(self.states[v])))})

        # CPT arrays with axes in global variable order and states in canonical order
        families: dict[int, list[int]] = {}
        tables: list[tuple[tuple[int, ...], np.ndarray]] = []
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
            if renormalize:
                sums = values.sum(axis=0, keepdims=True)
                values = np.divide(values, sums, out=values.copy(), where=sums > 0)
            if np.any(values < 0) or not np.all(np.isfinite(values)):
                raise ValueError(f"CPD of {v!r} has negative or non-finite entries")
            idx = [self._index[u] for u in cvars]
            order = sorted(range(len(idx)), key=idx.__getitem__)
            tables.append((tuple(idx[k] for k in order), np.transpose(values, order)))
            families[self._index[v]] = [self._index[u] for u in cvars[1:]]

        jt = build_junction_tree(families, self._cards, heuristic)
        self.junction_tree: JunctionTree = jt
        n = len(jt.cliques)
        sizes = [jt.table_size(i) for i in range(n)]
        csets = [set(c) for c in jt.cliques]

        # home clique of each variable: the smallest clique containing it
        self._home: list[int] = []
        for v in range(len(variables)):
            self._home.append(min((i for i in range(n) if v in csets[i]), key=lambda i: (sizes[i], i)))

        # potentials
        phis = [np.ones(tuple(self._cards[u] for u in c), dtype=np.float64) for c in jt.cliques]
        for fam, arr in tables:
            fs = set(fam)
            host = min((i for i in range(n) if fs <= csets[i]), key=lambda i: (sizes[i], i))
            shape = tuple(self._cards[u] if u in fs else 1 for u in jt.cliques[host])
            phis[host] = phis[host] * arr.reshape(shape)

        self._cl: list[_Clique] = []
        for i, c in enumerate(jt.cliques):
            p = jt.parent[i]
            all_axes = tuple(range(1, len(c) + 1))
            if p >= 0:
                sep = csets[i] & csets[p]
                sum_axes = tuple(1 + k for k, u in enumerate(c) if u not in sep)
                nsep = len(sep)
                sep_axes = tuple(range(1, nsep + 1))
                in_parent = (-1,) + tuple(self._cards[u] if u in sep else 1 for u in jt.cliques[p])
                in_child = (-1,) + tuple(self._cards[u] if u in sep else 1 for u in c)
                parent_sum_axes = tuple(1 + k for k, u in enumerate(jt.cliques[p]) if u not in sep)
            else:
                sum_axes = sep_axes = in_parent = in_child = parent_sum_axes = ()
            self._cl.append(
                _Clique(
                    vars=tuple(c),
                    phi=phis[i].astype(self.dtype)[None],
                    children=tuple(jt.children[i]),
                    parent=p,
                    all_axes=all_axes,
                    sum_axes=sum_axes,
                    sep_axes=sep_axes,
                    in_parent=in_parent,
                    in_child=in_child,
                    parent_sum_axes=parent_sum_axes,
                )
            )
        # evidence reshape targets, per variable, in its home clique
        self._ev_shape: list[tuple[int, ...]] = []
        self._read_axes: list[tuple[int, ...]] = []
        for v in range(len(variables)):
            c = jt.cliques[self._home[v]]
            self._ev_shape.append((-1,) + tuple(self._cards[u] if u == v else 1 for u in c))
            self._read_axes.append(tuple(1 + k for k, u in enumerate(c) if u != v))
        # one-hot likelihood tables with an extra all-ones row for "unobserved" (code -1)
        self._onehot: list[np.ndarray] = []
        for card in self._cards:
            t = np.ones((card + 1, card), dtype=self.dtype)
            t[:card] = np.eye(card, dtype=self.dtype)
            self._onehot.append(t)
        self._postorder = list(jt.postorder)
        self._root = jt.root
        self._plans: dict[tuple[int, ...], _Plan] = {}
        self._compute_prior()
        # flat per-clique collect steps (postorder; the root last, with sax None)
        self._steps = [
            (
                i,
                c.phi,
                tuple((ch, self._cl[ch].in_parent) for ch in c.children),
                c.sum_axes if c.parent >= 0 else None,
                c.sep_axes,
                c.pot0,
                c.msg0,
                c.logz0,
            )
            for i in self._postorder
            for c in [self._cl[i]]
        ]
        self._root_axes = self._cl[self._root].all_axes if self._cl else ()
        self._onehot1 = [[t[k : k + 1] for k in range(len(t) - 1)] for t in self._onehot]
        # per-row working-memory estimate (bytes) used to size chunks
        sep_total = sum(int(np.prod(self._cl[i].in_parent[1:])) for i in range(n) if jt.parent[i] >= 0)
        self._row_bytes = self.dtype.itemsize * (
            2 * sum(sizes) + 4 * sep_total + 4 * sum(self._cards) + 8
        )

    # ------------------------------------------------------------------ basics
    def __repr__(self) -> str:
        return (
            f"<CompiledNetwork: {len(self.variables)} variables, {len(self._cl)} cliques, "
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
            At least 1, at most 8192.
        """
        return int(max(1, min(_MAX_CHUNK, memory_budget // max(self._row_bytes, 1))))

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
        return self._columns_for(self._plan(self._target_indices(targets)))

    # ------------------------------------------------------------- validation
    def _target_indices(self, targets: Any) -> tuple[int, ...]:
        tl = _as_list_targets(targets)
        if tl is None:
            return tuple(range(len(self.variables)))
        out: list[int] = []
        seen: set[int] = set()
        for t in tl:
            i = self._index.get(t) if isinstance(t, Hashable) else None
            if i is None:
                raise UnknownNameError("variable", t, [str(v) for v in self.variables], context="in targets")
            if i not in seen:
                seen.add(i)
                out.append(i)
        return tuple(out)

    def _var_index(self, name: Any) -> int:
        i = self._index.get(name) if isinstance(name, Hashable) else None
        if i is None:
            raise UnknownNameError("variable", name, [str(v) for v in self.variables])
        return i

    def _match_state(self, v: int, value: Any) -> int:
        """State code of ``value`` for variable ``v``, or -2 when it is not a state."""
        try:
            k = self._state_index[v].get(value)
        except TypeError:  # unhashable
            k = None
        if k is not None and (type(value) is str or not isinstance(value, (bool, np.bool_))):
            return k
        text = str(value)
        k = self._state_str_index[v].get(text)
        if k is None and isinstance(value, (float, np.floating)) and float(value).is_integer():
            k = self._state_str_index[v].get(str(int(value)))
        return -2 if k is None else k

    def _plan(self, targets: tuple[int, ...]) -> _Plan:
        plan = self._plans.get(targets)
        if plan is not None:
            return plan
        reads = []
        start = 0
        needed: set[int] = set()
        for t in targets:
            h = self._home[t]
            reads.append((h, self._read_axes[t], start, start + self._cards[t]))
            start += self._cards[t]
            while h >= 0 and h not in needed:
                needed.add(h)
                h = self._cl[h].parent
        edges = [
            (c.parent, i, c.parent_sum_axes, c.in_child, c.pot0)
            for i in reversed(self._postorder)
            if i in needed and (c := self._cl[i]).parent >= 0
        ]
        cards = np.array([self._cards[t] for t in targets], dtype=np.intp)
        starts = np.concatenate([[0], np.cumsum(cards)[:-1]]).astype(np.intp) if len(targets) else np.zeros(0, np.intp)
        plan = _Plan(targets, reads, edges, starts, cards, start)
        out = np.empty((1, start), dtype=self.dtype)
        for h, axes, a, b in reads:
            out[:, a:b] = np.add.reduce(self._cl[h].belief0, axis=axes)
        if len(targets):
            out /= np.repeat(np.add.reduceat(out, starts, axis=1), cards, axis=1)
        plan.prior = out
        if len(self._plans) > 256:
            self._plans.clear()
        self._plans[targets] = plan
        return plan

    # ------------------------------------------------------------ core numerics
    def _compute_prior(self) -> None:
        """Evidence-free clique tables, messages and beliefs (cached for reuse)."""
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            cl = self._cl
            for i in self._postorder:
                c = cl[i]
                pot = c.phi
                for ch in c.children:
                    pot = pot * cl[ch].msg0.reshape(cl[ch].in_parent)
                c.pot0 = pot
                if c.parent >= 0:
                    m = np.add.reduce(pot, axis=c.sum_axes)
                    z = np.add.reduce(m, axis=c.sep_axes, keepdims=True)
                    c.msg0 = m / z
                    c.logz0 = float(np.log(z.reshape(-1)[0]))
            if not cl:
                self._logz_root0 = 0.0
                return
            r = cl[self._root]
            total = np.add.reduce(r.pot0, axis=r.all_axes, keepdims=True)
            self._logz_root0 = float(np.log(total.reshape(-1)[0]))
            r.belief0 = r.pot0 / total
            for i in reversed(self._postorder):
                c = cl[i]
                if c.parent < 0:
                    continue
                sm = np.add.reduce(cl[c.parent].belief0, axis=c.parent_sum_axes)
                ratio = sm / (c.msg0 + self._tiny)
                c.belief0 = c.pot0 * ratio.reshape(c.in_child)
        self._logz_prior = self._logz_root0 + sum(c.logz0 for c in cl if c.parent >= 0)

    def _propagate(self, lik: Mapping[int, np.ndarray], b: int, plan: _Plan) -> tuple[np.ndarray, np.ndarray]:
        """Run collect/distribute for one chunk.

        Parameters
        ----------
        lik : mapping of int to ndarray
            Variable index -> likelihood array of shape ``(b, card)``; variables
            not present are unobserved.
        b : int
            Rows in the chunk.
        plan : _Plan
            Targets.

        Returns
        -------
        probs : ndarray, shape (b, plan.total)
            Posterior marginals of the targets, concatenated (NaN for impossible rows).
        log_evidence : ndarray, shape (b,)
        """
        if not lik:
            return (
                np.broadcast_to(plan.prior, (b, plan.total)).copy(),
                np.full(b, self._logz_prior, dtype=np.float64),
            )
        home = self._home
        ev_shape = self._ev_shape
        n = len(self._cl)
        evs: list[list | None] = [None] * n
        for v, arr in lik.items():
            h = home[v]
            x = arr.reshape(ev_shape[v])
            if evs[h] is None:
                evs[h] = [x]
            else:
                evs[h].append(x)
        pots: list = [None] * n
        msgs: list = [None] * n
        dirty = [False] * n
        zs = []
        logconst = 0.0
        add_reduce = np.add.reduce
        with np.errstate(divide="ignore", invalid="ignore", over="ignore", under="ignore"):
            # collect: leaves first; clean subtrees reuse the cached prior tables
            for i, phi, kids, sax, sepax, pot0, msg0, logz0 in self._steps:
                e = evs[i]
                if e is None:
                    for ch, _ in kids:
                        if dirty[ch]:
                            break
                    else:
                        pots[i] = pot0
                        msgs[i] = msg0
                        logconst += logz0
                        continue
                    pot = phi
                    owned = False
                else:
                    pot = phi * e[0]
                    for x in e[1:]:
                        pot *= x
                    owned = True
                dirty[i] = True
                for ch, shp in kids:
                    x = msgs[ch].reshape(shp)
                    if owned and pot.shape[0] >= x.shape[0]:
                        pot *= x
                    else:
                        pot = pot * x
                        owned = True
                pots[i] = pot
                if sax is not None:
                    m = add_reduce(pot, axis=sax)
                    z = add_reduce(m, axis=sepax, keepdims=True)
                    m /= z
                    msgs[i] = m
                    zs.append(z)
            # root (last step): normalise its table
            root = self._root
            rpot = pots[root]
            total = add_reduce(rpot, axis=self._root_axes, keepdims=True)
            zs.append(total)
            beliefs: list = [None] * n
            beliefs[root] = rpot / total
            # distribute along the paths needed for the targets
            tiny = self._tiny
            for p, i, psax, shp, pot0 in plan.edges:
                sm = add_reduce(beliefs[p], axis=psax)
                sm /= msgs[i] + tiny  # 0/0 -> 0: exact, the child table is 0 there
                if dirty[i]:
                    pot = pots[i]
                    pot *= sm.reshape(shp)
                    beliefs[i] = pot
                else:
                    beliefs[i] = pot0 * sm.reshape(shp)
            out = np.empty((b, plan.total), dtype=self.dtype)
            for h, axes, a, bb in plan.reads:
                add_reduce(beliefs[h], axis=axes, out=out[:, a:bb])
            if plan.total:
                out /= np.repeat(np.add.reduceat(out, plan.starts, axis=1), plan.cards, axis=1)
            if len(zs) == 1:
                log_ev = np.log(total.reshape(b))
            else:
                log_ev = np.log(np.concatenate([z.reshape(b) for z in zs])).reshape(len(zs), b).sum(axis=0)
            log_ev += logconst
            if log_ev.dtype != np.float64:
                log_ev = log_ev.astype(np.float64)
            log_ev[np.isnan(log_ev)] = -np.inf
        return out, log_ev

    # --------------------------------------------------------- likelihood API
    def _check_likelihoods(
        self, likelihoods: Mapping[Any, Any], n_rows: int | None
    ) -> tuple[dict[int, np.ndarray], int]:
        if not isinstance(likelihoods, Mapping):
            raise EvidenceError("likelihoods must be a mapping of variable name -> array of shape (rows, states)")
        arrays: dict[int, np.ndarray] = {}
        for name, arr in likelihoods.items():
            v = self._var_index(name)
            card = self._cards[v]
            try:
                a = np.asarray(arr, dtype=self.dtype)
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
                    f"likelihood for variable {name!r} must have shape (rows, {card}), got {a.shape}"
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
            n_rows = multi.pop() if multi else (1 if arrays else None)
            if n_rows is None:
                raise EvidenceError("n_rows is required when no likelihood arrays are given")
        n_rows = int(n_rows)
        if n_rows < 0:
            raise EvidenceError(f"n_rows must be non-negative, got {n_rows}")
        for v, a in arrays.items():
            if a.shape[0] not in (1, n_rows):
                raise EvidenceError(
                    f"likelihood for variable {self.variables[v]!r} has {a.shape[0]} rows, expected {n_rows}"
                )
        # drop arrays that are all ones (unobserved everywhere)
        arrays = {v: a for v, a in arrays.items() if not np.all(a == 1)}
        return arrays, n_rows

    def _run_chunks(
        self,
        n_rows: int,
        plan: _Plan,
        chunk_size: int | None,
        make_lik,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Evaluate ``n_rows`` rows in chunks; ``make_lik(start, stop)`` builds each chunk's likelihoods."""
        if chunk_size is None:
            chunk_size = self.default_chunk_size()
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
        probs = np.empty((n_rows, plan.total), dtype=self.dtype)
        log_ev = np.empty(n_rows, dtype=np.float64)
        for s in range(0, n_rows, chunk_size):
            e = min(n_rows, s + chunk_size)
            p, lz = self._propagate(make_lik(s, e), e - s, plan)
            probs[s:e] = p
            log_ev[s:e] = lz
        return probs, log_ev

    @staticmethod
    def _chunk_lik(arrays: Mapping[int, np.ndarray], s: int, e: int, n: int) -> dict[int, np.ndarray]:
        out = {}
        for v, a in arrays.items():
            if a.shape[0] == 1:
                if n == 1 or e - s == 1:
                    out[v] = a
                else:
                    out[v] = np.broadcast_to(a, (e - s, a.shape[1]))
                continue
            part = a[s:e]
            if not np.all(part == 1):
                out[v] = part
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
            ``log sum_x P(x) prod_v L_v(x_v)``; ``-inf`` for impossible rows.

        Examples
        --------
        >>> import numpy as np
        >>> probs, logz = net.propagate({"xray": np.array([[0.0, 1.0], [0.3, 0.7]])},
        ...                             targets=["lung"])  # doctest: +SKIP
        """
        plan = self._plan(self._target_indices(targets))
        arrays, n = self._check_likelihoods(likelihoods, n_rows)
        return self._run_chunks(n, plan, chunk_size, lambda s, e: self._chunk_lik(arrays, s, e, n))

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
            likelihood vector ``L`` for variable ``X`` is the same as pgmpy's
            ``virtual_evidence`` with a TabularCPD of values ``L`` (up to scale).
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

        Examples
        --------
        >>> import numpy as np
        >>> post = net.posteriors_from_likelihoods(
        ...     {"xray": np.array([[0.2, 0.8]])}, targets=["lung"])  # doctest: +SKIP
        >>> post["lung"].shape  # doctest: +SKIP
        (1, 2)
        """
        plan = self._plan(self._target_indices(targets))
        arrays, n = self._check_likelihoods(likelihoods, n_rows)
        probs, log_ev = self._run_chunks(n, plan, chunk_size, lambda s, e: self._chunk_lik(arrays, s, e, n))
        bad = np.flatnonzero(~(log_ev > -np.inf))
        if len(bad):
            raise self._impossible_error(bad.tolist())
        return self._split(probs, plan)

    def _split(self, probs: np.ndarray, plan: _Plan) -> dict[Any, np.ndarray]:
        return {self.variables[t]: probs[:, a:b] for t, (_, _, a, b) in zip(plan.targets, plan.reads)}

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
        index = self._index
        state_index = self._state_index
        onehot1 = self._onehot1
        for name, value in evidence.items():
            v = index.get(name) if isinstance(name, Hashable) else None
            if v is None:
                raise UnknownNameError("variable", name, [str(x) for x in self.variables])
            k = state_index[v].get(value) if type(value) is str else None
            if k is None:
                if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
                    continue
                k = self._match_state(v, value)
                if k < 0:
                    raise UnknownNameError(
                        "state", value, [str(x) for x in self.states[name]], context=f"of variable {name!r}"
                    )
            lik[v] = onehot1[v][k]
        return lik

    def posteriors_dict(self, evidence: Mapping[Any, Any] | None = None, targets: Iterable | None = None) -> dict[Any, np.ndarray]:
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

        Examples
        --------
        >>> p = net.posteriors_dict({"xray": "yes"}, targets=["lung"])  # doctest: +SKIP
        >>> p["lung"]  # doctest: +SKIP
        array([0.5, 0.5])
        """
        plan = self._plan(self._target_indices(targets))
        lik = self._dict_lik(evidence or {})
        probs, log_ev = self._propagate(lik, 1, plan)
        if not log_ev[0] > -np.inf:
            raise ImpossibleEvidenceError(
                "the evidence is impossible under the model (probability zero), so no posterior exists",
                rows=[0],
            )
        row = probs[0]
        return {self.variables[t]: row[a:b] for t, (_, _, a, b) in zip(plan.targets, plan.reads)}

    def log_evidence_dict(self, evidence: Mapping[Any, Any] | None = None) -> float:
        """Natural log of P(evidence) for one scenario given as a dict (``-inf`` if impossible).

        Examples
        --------
        >>> net.log_evidence_dict({})  # doctest: +SKIP
        0.0
        """
        plan = self._plan(())
        _, log_ev = self._propagate(self._dict_lik(evidence or {}), 1, plan)
        return float(log_ev[0])

    # ------------------------------------------------------------ DataFrame API
    def _encode_frame(self, evidence: Any) -> tuple[pd.DataFrame, list[int], list[np.ndarray], dict[int, list]]:
        """Map a DataFrame of state names to integer codes (-1 = unobserved).

        Returns the frame, its variable indices, code arrays and
        ``{row position: [(column, bad value), ...]}``.
        """
        if isinstance(evidence, Mapping):
            evidence = pd.DataFrame([evidence])
        elif not isinstance(evidence, pd.DataFrame):
            raise EvidenceError(
                f"evidence must be a pandas DataFrame (one row per scenario), got {type(evidence).__name__}"
            )
        if evidence.columns.has_duplicates:
            dups = evidence.columns[evidence.columns.duplicated()].unique().tolist()
            raise EvidenceError(f"evidence has duplicate columns: {dups}")
        var_idx = [self._var_index(col) for col in evidence.columns]
        codes_list: list[np.ndarray] = []
        problems: dict[int, list] = {}
        for pos_col, (col, v) in enumerate(zip(evidence.columns, var_idx)):
            series = evidence.iloc[:, pos_col]
            fcodes, uniques = pd.factorize(series, use_na_sentinel=True)
            table = np.empty(len(uniques) + 1, dtype=np.intp)
            table[-1] = -1
            bad_u = []
            for j, u in enumerate(uniques):
                if isinstance(u, float) and math.isnan(u):
                    table[j] = -1
                    continue
                k = self._match_state(v, u)
                table[j] = k
                if k < 0:
                    bad_u.append(j)
            codes = table[fcodes]  # fcodes == -1 -> table[-1] == -1
            if bad_u:
                for j in bad_u:
                    for r in np.flatnonzero(fcodes == j):
                        problems.setdefault(int(r), []).append((col, uniques[j]))
                codes = np.where(codes < -1, -1, codes)
            codes_list.append(codes)
        return evidence, var_idx, codes_list, problems

    def _frame_lik_maker(self, var_idx, codes_list, bad_rows: np.ndarray | None, extra: dict[int, np.ndarray], n: int):
        onehot = self._onehot

        def make(s: int, e: int) -> dict[int, np.ndarray]:
            lik: dict[int, np.ndarray] = {}
            for v, codes in zip(var_idx, codes_list):
                cc = codes[s:e]
                if bad_rows is not None:
                    cc = np.where(bad_rows[s:e], -1, cc)
                if (cc >= 0).any():
                    lik[v] = onehot[v][cc]
            for v, part in self._chunk_lik(extra, s, e, n).items():
                lik[v] = lik[v] * part if v in lik else part
            return lik

        return make

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
            ``"evidence has probability zero"``.  Other rows are unaffected.

        Raises
        ------
        UnknownNameError
            A column or target is not a variable of the network.

        Examples
        --------
        >>> res = net.evaluate(pd.DataFrame({"xray": ["yes", "maybe"]}))  # doctest: +SKIP
        >>> res.errors.tolist()  # doctest: +SKIP
        ['', "column 'xray': unknown state 'maybe' of variable 'xray' in row 1; ..."]
        """
        plan = self._plan(self._target_indices(targets))
        frame, var_idx, codes_list, problems = self._encode_frame(evidence_df)
        n = len(frame)
        extra: dict[int, np.ndarray] = {}
        if likelihoods:
            extra, _ = self._check_likelihoods(likelihoods, n)
        bad_rows = None
        if problems:
            bad_rows = np.zeros(n, dtype=bool)
            bad_rows[list(problems)] = True
        make = self._frame_lik_maker(var_idx, codes_list, bad_rows, extra, n)
        probs, log_ev = self._run_chunks(n, plan, chunk_size, make)
        errors = np.full(n, "", dtype=object)
        impossible = np.flatnonzero(~(log_ev > -np.inf))
        errors[impossible] = IMPOSSIBLE_MESSAGE
        if bad_rows is not None:
            probs[bad_rows] = np.nan
            log_ev[bad_rows] = np.nan
            labels = frame.index
            for r, items in problems.items():
                errors[r] = "; ".join(
                    f"row {labels[r]!r}, column {col!r}: "
                    + str(UnknownNameError("state", value, [str(x) for x in self.states[col]], context=f"of variable {col!r}"))
                    for col, value in items
                )
        index = frame.index
        return EngineResult(
            posteriors=pd.DataFrame(probs, index=index, columns=self._columns_for(plan)),
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

        Examples
        --------
        >>> df = pd.DataFrame({"smoke": ["yes", None], "xray": ["yes", "no"]}, index=["a", "b"])
        >>> net.posteriors(df, targets=["lung"]).round(3)  # doctest: +SKIP
        variable   lung
        state       yes     no
        a         0.489  0.511
        b         0.003  0.997
        """
        plan = self._plan(self._target_indices(targets))
        frame, var_idx, codes_list, problems = self._encode_frame(evidence_df)
        if problems:
            first = min(problems)
            col, value = problems[first][0]
            raise UnknownNameError(
                "state",
                value,
                [str(x) for x in self.states[col]],
                context=f"of variable {col!r} in row {frame.index[first]!r}",
            )
        n = len(frame)
        extra: dict[int, np.ndarray] = {}
        if likelihoods:
            extra, _ = self._check_likelihoods(likelihoods, n)
        make = self._frame_lik_maker(var_idx, codes_list, None, extra, n)
        probs, log_ev = self._run_chunks(n, plan, chunk_size, make)
        bad = np.flatnonzero(~(log_ev > -np.inf))
        if len(bad):
            raise self._impossible_error(frame.index[bad].tolist())
        return pd.DataFrame(probs, index=frame.index, columns=self._columns_for(plan))

    def _columns_for(self, plan: _Plan) -> pd.MultiIndex:
        if plan._columns is None:
            tuples = [(self.variables[t], s) for t in plan.targets for s in self.states[self.variables[t]]]
            plan._columns = pd.MultiIndex.from_tuples(tuples, names=["variable", "state"])
        return plan._columns


def compile_network(
    model: Any,
    dtype: Any = np.float64,
    *,
    heuristic: str = "best",
    renormalize: bool = True,
) -> CompiledNetwork:
    """Compile a pgmpy ``DiscreteBayesianNetwork`` for fast exact batch inference.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
        A network with a TabularCPD for every node.
    dtype : numpy dtype, default float64
        Floating type of the computation (float64 for exact agreement with pgmpy).
    heuristic : {"best", "min_fill", "min_weight"}
        Triangulation heuristic (see :func:`bayesnet.junction_tree.triangulate`).
    renormalize : bool, default True
        Rescale every CPT column to sum to exactly 1 (BIF files often carry
        rounding errors of ~1e-7; without this, the answer would depend on which
        barren nodes an algorithm happens to prune).

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
