"""The network's tables vectorised over parameter sets, and exact inference over them.

:func:`bayesnet.network.build_tables` turns one set of sourced numbers into conditional
probability tables. Uncertainty and sensitivity analyses need the same tables for hundreds or
thousands of parameter sets, so this module rebuilds them with a leading *draw* axis: every
table of :class:`VectorTables` has shape ``(n_draws, card(var), *card(parents))``. The steps are
those of :func:`~bayesnet.network.build_tables` written with numpy arrays (the conversions of
:mod:`bayesnet.conversions`, the noisy-OR links, the layered condition tables); the one iterative
step, the baseline log-odds ``b`` of each condition that makes its marginal probability equal
its sourced prevalence, is solved for all draws at once by Newton steps on
``sum_k w_k expit(b + eta_k) = prevalence - floor`` inside a bracket that always holds the root
(bisection fallback; converged to ~1e-15 in ``b``). Draw ``i`` of the result equals
``build_tables`` run on that parameter set to ~1e-12.

A parameter set that the builder cannot reconcile (a prevalence at or below what the causing
conditions already produce, a sensitivity below the false-positive rate, a derived probability
outside [0, 1]) is not an error here: the draw is flagged in :attr:`VectorTables.valid` and the
reason in :attr:`VectorTables.problems`; or, given a ``redraw`` function, the parameter group at
fault is redrawn until it fits (:mod:`bayesnet.uncertainty`). :mod:`bayesnet.sensitivity` moves
unusable bounds towards the point value instead.

:func:`condition_posteriors` and :func:`condition_joint` are the exact evaluation over draws and
scenarios. They use variable elimination over broadcast numpy arrays whose variable axes come
first and whose last two axes are (draws, scenarios): every table carries the draw axis, every
likelihood the scenario axis. Risk factors are summed out cheapest first; a block of risk
factors confined to draw-only tables (e.g. the five shared by osteomyelitis and abscess) is
summed out in one matrix product with the outer product of the scenarios' likelihoods (BLAS),
and draw-only products are cached across chunks of scenarios. Each observed finding or test
enters as ``sum_f P(f | parents) lik(f)``; unobserved findings and tests are barren and drop
out. The result is the joint of the calibrated conditions (256 states for the eight serious
conditions; ``mechanical_pain`` is none of them), from which one matrix product gives every
condition's marginal, and :func:`bayesnet.joint.most_probable` the most probable combinations.
(A single ``np.einsum`` over all tables with draw and scenario axes was tried first: its
pairwise steps cost ~40 microseconds per (draw, scenario) pair, against ~15-25 here.) Work is
chunked over scenarios (and draws) to bound memory, and scenarios observing the same variables
are grouped into the same chunks.

Examples
--------
>>> import bayesnet
>>> from bayesnet.parametric import parameter_space, build_vectorised, condition_posteriors
>>> model = bayesnet.load_model()
>>> space = parameter_space(model)
>>> vt = build_vectorised(space, np.stack([space.values, space.values]))
>>> vt.n, vt.cpts["spinal_metastasis"].shape
(2, (2, 2, 2, 3))
>>> post = condition_posteriors(vt, [model.check_evidence({"history_of_cancer": "yes"})])
>>> post.shape  # (draws, scenarios, conditions)
(2, 1, 9)
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit, logsumexp

from .errors import BayesNetError, EvidenceError, ImpossibleEvidenceError, UnknownNameError
from .evidence import Evidence
from .network import Tables, _condition_order, ancestors
from .priors import Param, PriorSet

if TYPE_CHECKING:  # pragma: no cover
    from .model import BackPainModel

__all__ = [
    "EvidenceBatch",
    "ParameterSpace",
    "VectorTables",
    "build_vectorised",
    "condition_joint",
    "condition_posteriors",
    "iter_condition_posteriors",
    "map_parameters",
    "parameter_space",
    "replace_parameters",
]

#: Tolerance of the prevalence floor check, as in :func:`bayesnet.network.build_tables`.
_FLOOR_TOL = 1e-15
#: Default budget (in float64 numbers) for the largest array of one evaluation chunk.
DEFAULT_CHUNK_ELEMENTS = 3_000_000


# --------------------------------------------------------------------------------------------
# parameters


@dataclass
class ParameterSpace:
    """The sourced numbers one setting's network depends on, as columns of a matrix.

    Attributes
    ----------
    priors : PriorSet
    setting : str
    params : list of Param
        One entry per parameter the setting's tables use, in ``priors.params`` order (numbers of
        the other settings are left out). For a yes/no risk factor the parameter is P(yes).
    keys : list of (node, parameter)
    index : dict
        ``(node, parameter)`` -> column.
    values : ndarray
        The point values, shape ``(n_params,)``.
    groups : list of list of int
        Columns that form one multi-state distribution (e.g. the three age bands of a setting);
        their values must sum to one.
    """

    priors: PriorSet
    setting: str
    params: list[Param]
    keys: list[tuple[str, str]]
    index: dict[tuple[str, str], int]
    values: np.ndarray
    groups: list[list[int]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.params)

    def vector(self, values: Mapping[tuple[str, str], float] | None = None) -> np.ndarray:
        """The point values with some replaced: ``{(node, parameter): value}``.

        Raises
        ------
        BayesNetError
            For a key the setting does not use.
        """
        out = self.values.copy()
        for key, v in (values or {}).items():
            if key not in self.index:
                raise UnknownNameError("parameter", key, [f"{n}:{p}" for n, p in self.keys])
            out[self.index[key]] = float(v)
        return out

    def as_dict(self, row: np.ndarray) -> dict[tuple[str, str], float]:
        """One parameter set (a row of a values matrix) as ``{(node, parameter): value}``."""
        return {k: float(v) for k, v in zip(self.keys, np.asarray(row, dtype=float), strict=True)}

    def priors_for(self, row: np.ndarray) -> PriorSet:
        """A :class:`PriorSet` holding one parameter set (for :func:`~bayesnet.network.build_tables`)."""
        return replace_parameters(self.priors, self.as_dict(row))


def parameter_space(model: BackPainModel | PriorSet, setting: str | None = None) -> ParameterSpace:
    """List the parameters a setting's network depends on.

    Parameters
    ----------
    model : BackPainModel or PriorSet
        A model (its priors and setting are used) or priors.
    setting : str, optional
        Required when ``model`` is a PriorSet.

    Returns
    -------
    ParameterSpace

    Examples
    --------
    >>> import bayesnet
    >>> space = parameter_space(bayesnet.load_model())
    >>> ("spinal_metastasis", "prevalence[primary_care]") in space.index
    True
    >>> ("spinal_metastasis", "prevalence[emergency]") in space.index
    False
    """
    if isinstance(model, PriorSet):
        priors = model
        if setting is None:
            raise BayesNetError("parameter_space(priors, setting): the setting is required with a PriorSet")
    else:
        priors = model.priors
        setting = model.setting if setting is None else setting
    if setting not in priors.settings:
        raise UnknownNameError("setting", setting, priors.settings)
    params = priors.params_for(setting)
    keys = [(p.node, p.parameter) for p in params]
    index = {k: i for i, k in enumerate(keys)}
    groups = []
    for name, rf in priors.risk_factors.items():
        if rf.states != ("yes", "no"):
            groups.append([index[(name, rf.prevalence[setting][s].parameter)] for s in rf.states])
    values = np.array([p.value for p in params], dtype=float)
    return ParameterSpace(priors, setting, params, keys, index, values, groups)


def map_parameters(priors: PriorSet, fn: Callable[[Param], Param]) -> PriorSet:
    """Copy of ``priors`` with ``fn`` applied to every parameter (see :meth:`PriorSet.map_params`)."""
    return priors.map_params(fn)


def replace_parameters(priors: PriorSet, values: Mapping[tuple[str, str], float]) -> PriorSet:
    """Copy of ``priors`` with some values replaced (see :meth:`PriorSet.replace_values`).

    Examples
    --------
    >>> from bayesnet.priors import load_priors
    >>> ps = replace_parameters(load_priors(), {("history_of_cancer", "prevalence[primary_care]"): 0.1})
    >>> [round(ps.risk_factors["history_of_cancer"].prevalence["primary_care"][s].value, 3) for s in ("yes", "no")]
    [0.1, 0.9]
    """
    return priors.replace_values(values)


# --------------------------------------------------------------------------------------------
# vectorised tables


@dataclass
class VectorTables:
    """The network's tables for ``n`` parameter sets at once.

    Attributes
    ----------
    setting : str
    n : int
        Number of parameter sets (draws).
    states, parents, kinds : dict
        As in :class:`bayesnet.network.Tables`.
    cpts : dict
        Variable -> array of shape ``(n, card(var), *card(parents))``.
    baselines : dict
        Condition -> solved baseline log-odds, shape ``(n,)``.
    valid : ndarray of bool
        Shape ``(n,)``: False where the parameter set cannot be reconciled (see ``problems``);
        the tables of such a draw are filled but meaningless.
    problems : dict
        ``"node: what"`` -> boolean array ``(n,)`` marking the draws with that problem.
    deterministic : set
        Condition nodes whose table is a fixed 0/1 function of the others (``mechanical_pain``).
    values : ndarray or None
        The parameter sets the tables were built from, ``(n, n_params)`` (after any redraws).
    redrawn : dict
        With a redraw function: ``"node: what"`` -> number of draws whose group was redrawn.
    """

    setting: str
    n: int
    states: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    cpts: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    baselines: dict[str, np.ndarray] = field(default_factory=dict)
    valid: np.ndarray = field(default_factory=lambda: np.ones(0, dtype=bool))
    problems: dict[str, np.ndarray] = field(default_factory=dict)
    deterministic: set[str] = field(default_factory=set)
    values: np.ndarray | None = None
    redrawn: dict[str, int] = field(default_factory=dict)

    @classmethod
    def from_tables(cls, tables: Tables) -> VectorTables:
        """Wrap one :class:`~bayesnet.network.Tables` as a single draw."""
        vt = cls(tables.setting, 1)
        vt.states = dict(tables.states)
        vt.parents = {v: list(p) for v, p in tables.parents.items()}
        vt.kinds = dict(tables.kinds)
        vt.cpts = {v: np.asarray(a, dtype=float)[None] for v, a in tables.cpts.items()}
        vt.baselines = {c: np.array([b]) for c, b in tables.baselines.items()}
        vt.valid = np.ones(1, dtype=bool)
        vt.deterministic = {
            v
            for v, k in tables.kinds.items()
            if k == "condition" and v not in tables.baselines and _is_01(tables.cpts[v])
        }
        return vt

    def draw(self, i: int) -> Tables:
        """Draw ``i`` as plain :class:`~bayesnet.network.Tables` (e.g. for ``build_network``)."""
        t = Tables(self.setting)
        t.states = dict(self.states)
        t.parents = {v: list(p) for v, p in self.parents.items()}
        t.kinds = dict(self.kinds)
        t.descriptions = dict.fromkeys(self.states, "")
        t.cpts = {v: np.array(a[i]) for v, a in self.cpts.items()}
        t.baselines = {c: float(b[i]) for c, b in self.baselines.items()}
        return t

    def take(self, rows: np.ndarray | slice) -> VectorTables:
        """A subset of the draws."""
        out = dataclasses.replace(self)
        out.cpts = {v: a[rows] for v, a in self.cpts.items()}
        out.baselines = {c: b[rows] for c, b in self.baselines.items()}
        out.valid = self.valid[rows]
        out.problems = {k: m[rows] for k, m in self.problems.items()}
        out.values = None if self.values is None else self.values[rows]
        out.n = int(out.valid.shape[0])
        return out

    @property
    def calibrated_conditions(self) -> list[str]:
        """Condition nodes with a probabilistic table (the axes of :func:`condition_joint`)."""
        return [v for v, k in self.kinds.items() if k == "condition" and v not in self.deterministic]

    def marginal(self, variables: Sequence[str]) -> np.ndarray:
        """Exact joint of ``variables`` for every draw, shape ``(n, *cards)``."""
        needed = ancestors(list(variables), self.parents)
        if len(needed) > 50:
            raise BayesNetError("too many ancestors for one einsum (more than 50 variables)")
        letters = {v: i + 1 for i, v in enumerate(needed)}
        operands: list = []
        for v in needed:
            operands.append(self.cpts[v])
            operands.append([0, letters[v], *(letters[p] for p in self.parents[v])])
        operands.append([0, *(letters[v] for v in variables)])
        key = (tuple((v, tuple(self.parents[v])) for v in needed), tuple(variables), self.n > 1)
        path = _MARGINAL_PATHS.get(key)
        if path is None:  # the contraction order does not depend on the values: compute it once
            path = _MARGINAL_PATHS[key] = np.einsum_path(*operands, optimize="greedy")[0]
        return np.einsum(*operands, optimize=path)


_MARGINAL_PATHS: dict[tuple, list] = {}


def _is_01(a: np.ndarray) -> bool:
    return bool(np.all((a == 0.0) | (a == 1.0)))


#: Signature of a redraw function: ``redraw(columns, n_rows)`` -> fresh values ``(n_rows, len(columns))``.
Redraw = Callable[[list[int], int], np.ndarray]

#: Rounds of redrawing one group before the draw is given up as inconsistent.
MAX_REDRAW_ROUNDS = 500


class _Builder:
    """State of one vectorised build: the values (updated by redraws), problems and redraw counts."""

    def __init__(self, space: ParameterSpace, values: np.ndarray, redraw: Redraw | None):
        self.space = space
        self.values = values
        self.n = values.shape[0]
        self.redraw = redraw
        self.problems: dict[str, np.ndarray] = {}
        self.redrawn: dict[str, int] = {}

    def cols(self, params: Sequence[Param]) -> list[int]:
        return [self.space.index[(p.node, p.parameter)] for p in params]

    def col(self, p: Param, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.values[rows, self.space.index[(p.node, p.parameter)]]

    def flag(self, mask: np.ndarray, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            prev = self.problems.get(reason)
            self.problems[reason] = mask if prev is None else (prev | mask)

    def enforce(
        self, compute: Callable[[np.ndarray | slice], tuple[Any, dict[str, np.ndarray]]], group: Sequence[Param]
    ):
        """Run ``compute(rows) -> (result, {reason: bad mask})`` on every row; redraw ``group`` where bad.

        Without a redraw function the bad rows are flagged. With one, the columns of ``group``
        are redrawn for the bad rows (all together), and the rows recomputed, until no problem
        is left (rejection sampling of the group, given everything computed before it); rows
        still bad after :data:`MAX_REDRAW_ROUNDS` rounds are flagged. ``result`` is an array or
        tuple of arrays with the rows on axis 0; it is returned with the redrawn rows updated.
        """
        result, bad_by = compute(slice(None))
        bad = np.zeros(self.n, dtype=bool)
        for reason, m in bad_by.items():
            bad |= m
        if self.redraw is None or not bad.any():
            for reason, m in bad_by.items():
                self.flag(m, reason)
            return result
        for reason, m in bad_by.items():
            if m.any():
                self.redrawn[reason] = self.redrawn.get(reason, 0) + int(m.sum())
        cols = self.cols(group)
        idx = np.flatnonzero(bad)
        multi = isinstance(result, tuple)
        for _ in range(MAX_REDRAW_ROUNDS):
            if not idx.size:
                break
            self.values[np.ix_(idx, cols)] = self.redraw(cols, idx.size)
            part, part_bad = compute(idx)
            if multi:
                for whole, sub in zip(result, part, strict=True):
                    whole[idx] = sub
            else:
                result[idx] = part
            still = np.zeros(idx.size, dtype=bool)
            for m in part_bad.values():
                still |= m
            idx = idx[still]
        if idx.size:
            rest = np.zeros(self.n, dtype=bool)
            rest[idx] = True
            for reason in bad_by:
                self.flag(rest, reason)
        return result


def build_vectorised(space: ParameterSpace, values: np.ndarray, *, redraw: Redraw | None = None) -> VectorTables:
    """Build every table for many parameter sets at once.

    Parameters
    ----------
    space : ParameterSpace
        From :func:`parameter_space`.
    values : array_like
        Shape ``(n, len(space))`` (or ``(len(space),)`` for one set): one parameter set per row,
        columns as ``space.keys``.
    redraw : callable, optional
        ``redraw(columns, n_rows)`` returning fresh values for those columns. When given, a
        parameter group that violates a constraint is redrawn until it satisfies it (see
        :mod:`bayesnet.uncertainty`); the final values are in ``VectorTables.values``. Without
        it, inconsistent rows are flagged in ``valid``/``problems``.

    Returns
    -------
    VectorTables
        Draw ``i`` equals ``build_tables(space.priors_for(vt.values[i]), space.setting)`` (to
        ~1e-12) wherever ``valid[i]``; draws that ``build_tables`` would reject are flagged
        instead of raising.

    Examples
    --------
    >>> import bayesnet
    >>> space = parameter_space(bayesnet.load_model())
    >>> vt = build_vectorised(space, space.values)
    >>> bool(vt.valid[0]), vt.cpts["dvt"].shape[0]
    (True, 1)
    """
    values = np.array(values, dtype=float)  # a copy: redraws write into it
    if values.ndim == 1:
        values = values[None, :]
    if values.ndim != 2 or values.shape[1] != len(space):
        raise BayesNetError(f"values must have shape (n, {len(space)}); got {values.shape}")
    priors, setting = space.priors, space.setting
    n = values.shape[0]
    bld = _Builder(space, values, redraw)
    vt = VectorTables(setting, n)

    for name, rf in priors.risk_factors.items():
        vt.states[name] = rf.states
        vt.parents[name] = []
        vt.kinds[name] = "risk_factor"
        dist = rf.prevalence[setting]
        if rf.states == ("yes", "no"):
            p = bld.col(dist["yes"])
            vt.cpts[name] = np.stack([p, 1.0 - p], axis=1)
        else:
            vt.cpts[name] = np.stack([bld.col(dist[s]) for s in rf.states], axis=1)

    for name in _condition_order(priors):
        cond = priors.conditions[name]
        vt.states[name] = ("yes", "no")
        vt.kinds[name] = "condition"
        if cond.definition == "no_serious_condition":
            serious = [c for c, spec in priors.conditions.items() if spec.serious and spec.definition == "calibrated"]
            vt.parents[name] = serious
            table = np.zeros((2,) + (2,) * len(serious))
            table[1] = 1.0
            table[(0,) + (1,) * len(serious)] = 1.0
            table[(1,) + (1,) * len(serious)] = 0.0
            vt.cpts[name] = np.broadcast_to(table, (n, *table.shape))
            vt.deterministic.add(name)
            continue
        _build_condition(vt, bld, name)

    for name, f in priors.findings.items():
        vt.states[name] = f.states
        vt.kinds[name] = f.kind
        _build_finding(vt, bld, f, name)
    vt.problems = bld.problems
    bad = np.zeros(n, dtype=bool)
    for m in bld.problems.values():
        bad |= m
    vt.valid = ~bad
    vt.values = bld.values
    vt.redrawn = bld.redrawn
    return vt


def _effect_lor(bld: _Builder, effect, factor, name: str) -> np.ndarray:
    """Vectorised :func:`bayesnet.conversions.effect_log_odds_ratios` (one value per draw)."""
    p = effect.param
    setting = bld.space.setting

    def compute(rows):
        v = bld.col(p, rows)
        if p.kind in ("odds_ratio", "relative_risk"):
            bad = ~(v > 0)
            return np.log(np.where(bad, 1.0, v)), {f"{name}: {p.parameter} must be > 0": bad}
        if effect.controls is not None:
            p_ctrl = bld.col(effect.controls, rows)
        else:
            dist = factor.prevalence[setting]
            if factor.states == ("yes", "no"):
                yes = bld.col(dist["yes"], rows)
                p_ctrl = sum(yes if s == "yes" else 1.0 - yes for s in effect.states)
            else:
                p_ctrl = sum(bld.col(dist[s], rows) for s in effect.states)
        p_case = v if p.kind == "proportion_of_cases" else v * p_ctrl
        bad = ~((p_case > 0) & (p_case < 1) & (p_ctrl > 0) & (p_ctrl < 1))
        p_case = np.where(bad, 0.5, p_case)
        p_ctrl = np.where(bad, 0.5, p_ctrl)
        reason = f"{name}: {p.parameter} gives a proportion among cases or controls outside (0, 1)"
        return logit(p_case) - logit(p_ctrl), {reason: bad}

    group = [p] + ([effect.controls] if effect.controls is not None else [])
    return bld.enforce(compute, group)


def _axis(vec: np.ndarray, i: int, ndim: int) -> np.ndarray:
    """Place a ``(n, k)`` array on axis ``i`` of ``ndim`` parent axes, after the draw axis."""
    shape = [vec.shape[0]] + [1] * ndim
    shape[1 + i] = vec.shape[1]
    return vec.reshape(shape)


def _build_condition(vt: VectorTables, bld: _Builder, name: str) -> None:
    priors, setting, n = bld.space.priors, bld.space.setting, vt.n
    cond = priors.conditions[name]
    factors: list[str] = []
    for e in cond.effects:
        if e.factor not in factors:
            factors.append(e.factor)
    lor = {f: np.zeros((n, len(vt.states[f]))) for f in factors}
    for e in cond.effects:
        value = _effect_lor(bld, e, priors.risk_factors[e.factor], name)
        for state in e.states:
            lor[e.factor][:, vt.states[e.factor].index(state)] += value
    causes = [c.condition for c in cond.causes]
    parents = factors + causes
    vt.parents[name] = parents
    shape = tuple(len(vt.states[p]) for p in parents)
    k = len(parents)
    nf = len(factors)

    eta = np.zeros((n, *shape))
    for i, f in enumerate(factors):
        eta = eta + _axis(lor[f], i, k)
    joint = vt.marginal(parents) if parents else np.ones((n,))
    red = tuple(range(1, k + 1))
    prevalence = cond.prevalence[setting]

    def compute(rows):
        m = np.arange(n)[rows].size
        survive = np.ones((m, *shape))
        bad_q = np.zeros(m, dtype=bool)
        for j, c in enumerate(cond.causes):
            q = bld.col(c.param, rows)
            bad_q |= ~((q >= 0) & (q <= 1))
            vec = np.stack([1.0 - q, np.ones(m)], axis=1)
            survive = survive * _axis(vec, nf + j, k)
        target = bld.col(prevalence, rows)
        floor = np.sum(joint[rows] * (1.0 - survive), axis=red) if k else np.zeros(m)
        bad = ~((target > floor + _FLOOR_TOL) & (target < 1.0))
        return (survive, floor, target), {
            f"{name}: prevalence at or below what its causes already produce": bad,
            f"{name}: a caused_by probability outside [0, 1]": bad_q,
        }

    survive, floor, target = bld.enforce(compute, [prevalence] + [c.param for c in cond.causes])
    bad = ~((target > floor + _FLOOR_TOL) & (target < 1.0))
    # weights of the distinct risk-factor configurations: w = sum over cause states of joint * survive
    w = joint * survive
    if causes:
        w = w.sum(axis=tuple(range(1 + nf, 1 + k)))
        eta_f = eta[(slice(None), *([slice(None)] * nf), *([0] * len(causes)))]
    else:
        eta_f = eta
    w = w.reshape(n, -1)
    eta_f = eta_f.reshape(n, -1)
    r = np.where(bad, 0.5 * (1.0 - floor), target - floor)
    b = _solve_baseline(w, eta_f, r)
    vt.baselines[name] = b
    p_yes = (1.0 - survive) + expit(b.reshape((n,) + (1,) * k) + eta) * survive
    vt.cpts[name] = np.stack([p_yes, 1.0 - p_yes], axis=1)


def _solve_baseline(w: np.ndarray, eta: np.ndarray, r: np.ndarray, max_iter: int = 100) -> np.ndarray:
    """Solve ``g(b) = sum_k w_k expit(b + eta_k) - r = 0`` for ``b``, row by row (all rows at once).

    ``w`` (non-negative) and ``eta`` have shape ``(n, K)``, ``r`` shape ``(n,)`` with
    ``0 < r < sum(w)``. ``g`` is increasing in ``b``; ``expit(x) <= exp(x)`` gives the lower end
    of a bracket, ``log r - log sum w exp(eta)``, and ``expit(b + eta) >= expit(b + min eta)`` the
    upper end ``logit(r / sum w) - min eta``. Newton steps start at the lower end (which is
    already close for rare conditions) and fall back to bisection whenever a step leaves the
    bracket; iteration stops when a step is below ``1e-15 (1 + |b|)`` (typically 2-4 steps).
    """
    n = w.shape[0]
    with np.errstate(divide="ignore"):
        logw = np.log(w)
    total = w.sum(axis=1)
    eta_min = np.where(w > 0, eta, np.inf).min(axis=1)
    lo = np.log(r) - logsumexp(logw + eta, axis=1)
    hi = logit(np.clip(r / total, 1e-300, 1 - 1e-16)) - eta_min
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    b = lo.copy()
    idx = np.arange(n)
    for _ in range(max_iter):
        if not idx.size:
            break
        bb = b[idx]
        s = expit(bb[:, None] + eta[idx])
        ws = w[idx] * s
        g = ws.sum(axis=1) - r[idx]
        dg = (ws * (1.0 - s)).sum(axis=1)
        lo_i = np.where(g < 0, bb, lo[idx])
        hi_i = np.where(g > 0, bb, hi[idx])
        with np.errstate(divide="ignore", invalid="ignore"):
            new = bb - g / dg
        outside = ~((new >= lo_i) & (new <= hi_i))
        new = np.where(outside, 0.5 * (lo_i + hi_i), new)
        tol = 1e-15 * (1.0 + np.abs(bb))
        done = (g == 0) | (np.abs(new - bb) <= tol) | (hi_i - lo_i <= tol)
        b[idx] = np.where(g == 0, bb, new)
        lo[idx], hi[idx] = lo_i, hi_i
        idx = idx[~done]
    return b


def _build_finding(vt: VectorTables, bld: _Builder, f, name: str) -> None:
    n = vt.n
    conds = list(f.links)
    contexts = list(vt.states[f.leak_by]) if f.leak_by else ["*"]
    vt.parents[name] = ([f.leak_by] if f.leak_by else []) + conds
    k = len(conds)

    def compute(rows):
        """Leak and link probabilities of every context, and the problems, for ``rows``."""
        m = np.arange(n)[rows].size
        leaks = np.empty((m, len(contexts)))
        links = np.empty((m, len(contexts), k))
        bad_by: dict[str, np.ndarray] = {}

        def add(mask, reason):
            bad_by[reason] = bad_by.get(reason, np.zeros(m, dtype=bool)) | mask

        for ci, ctx in enumerate(contexts):
            p = f.leak[ctx]
            v = bld.col(p, rows)
            if p.kind in ("false_positive_rate", "prevalence"):
                leak = v
            elif p.kind == "specificity":
                leak = 1.0 - v
            else:
                sens = bld.col(f.links[f.leak_relative_to[ctx]], rows)
                if p.kind == "odds_ratio":
                    with np.errstate(divide="ignore", invalid="ignore"):
                        o = sens / (1.0 - sens) / v
                        leak = np.where(sens < 1.0, o / (1.0 + o), 1.0)
                else:  # lr_negative
                    leak = 1.0 - (1.0 - sens) / v
            bad = ~((leak >= 0) & (leak < 1))
            add(bad, f"{name}: {p.parameter} gives a false-positive rate outside [0, 1)")
            leak = np.where(bad, 0.0, leak)
            leaks[:, ci] = leak
            for j, c in enumerate(conds):
                lp = f.links[c]
                lv = bld.col(lp, rows)
                if lp.kind in ("sensitivity", "proportion_of_cases"):
                    s = lv
                elif lp.kind == "odds_ratio":
                    o = leak / (1.0 - leak) * lv
                    s = o / (1.0 + o)
                else:  # lr_positive
                    s = lv * leak
                add(~((s >= 0) & (s <= 1)), f"{name}: {lp.parameter} gives a sensitivity outside [0, 1]")
                add(s < leak - 1e-12, f"{name}: {lp.parameter} below the false-positive rate")
                links[:, ci, j] = np.clip(1.0 - (1.0 - s) / (1.0 - leak), 0.0, 1.0)
        return (leaks, links), bad_by

    group = [*f.leak.values(), *f.links.values()]
    leaks, links = bld.enforce(compute, group)
    tables = []
    for ci in range(len(contexts)):
        survive = np.broadcast_to((1.0 - leaks[:, ci]).reshape((n,) + (1,) * k), (n,) + (2,) * k).copy()
        for j in range(k):
            vec = np.stack([1.0 - links[:, ci, j], np.ones(n)], axis=1)
            survive = survive * _axis(vec, j, k)
        tables.append(1.0 - survive)
    p_pos = np.stack(tables, axis=1) if f.leak_by else tables[0]
    vt.cpts[name] = np.stack([p_pos, 1.0 - p_pos], axis=1)


# --------------------------------------------------------------------------------------------
# evidence over scenarios


@dataclass
class EvidenceBatch:
    """Likelihood vectors of many scenarios.

    Attributes
    ----------
    n : int
        Number of scenarios.
    lik : dict
        Variable -> array ``(n, card)``: the likelihood of each state in each scenario (one-hot
        for hard evidence, a row of ones where the scenario does not observe the variable).
        Only variables observed in at least one scenario are listed.
    """

    n: int
    lik: dict[str, np.ndarray]

    @classmethod
    def from_evidence(cls, evidence: Sequence[Evidence], states: Mapping[str, tuple[str, ...]]) -> EvidenceBatch:
        """Stack validated :class:`~bayesnet.evidence.Evidence` objects."""
        n = len(evidence)
        lik: dict[str, np.ndarray] = {}
        for i, ev in enumerate(evidence):
            for v, s in ev.hard.items():
                arr = lik.get(v)
                if arr is None:
                    arr = lik[v] = np.ones((n, len(states[v])))
                arr[i] = 0.0
                arr[i, states[v].index(s)] = 1.0
            for v, w in ev.soft.items():
                arr = lik.get(v)
                if arr is None:
                    arr = lik[v] = np.ones((n, len(states[v])))
                arr[i] = w
        return cls(n, lik)

    def rows(self, start: int, stop: int) -> EvidenceBatch:
        """Scenarios ``start:stop``, keeping only variables observed among them."""
        lik = {v: a[start:stop] for v, a in self.lik.items()}
        lik = {v: a for v, a in lik.items() if not np.all(a == 1.0)}
        return EvidenceBatch(stop - start, lik)

    def pattern(self) -> tuple[str, ...]:
        """The observed variables (sorted): scenarios with one pattern share an einsum path."""
        return tuple(sorted(self.lik))


def _as_batch(evidence: Any, states: Mapping[str, tuple[str, ...]]) -> EvidenceBatch:
    if isinstance(evidence, EvidenceBatch):
        return evidence
    if isinstance(evidence, Evidence):
        return EvidenceBatch.from_evidence([evidence], states)
    if isinstance(evidence, Sequence) and all(isinstance(e, Evidence) for e in evidence):
        return EvidenceBatch.from_evidence(list(evidence), states)
    raise EvidenceError(
        "evidence must be an Evidence, a list of Evidence or an EvidenceBatch (see model.check_evidence)"
    )


class _Layout:
    """Tables of a :class:`VectorTables` laid out for :func:`_contract` (built once per tables).

    Every array has its variable axes first, in a fixed global order, then the draw axis:
    ``(card(v1), card(v2), ..., n)``, so that products broadcast and sums reduce over leading
    axes while the inner loops run over draws (and scenarios), the long axes.
    """

    def __init__(self, vt: VectorTables):
        rfs = [v for v, k in vt.kinds.items() if k == "risk_factor"]
        self.conditions = vt.calibrated_conditions
        self.inner = rfs + self.conditions
        self.rfs = set(rfs)
        self.order = {v: i for i, v in enumerate(self.inner)}
        self.cards = {v: len(s) for v, s in vt.states.items()}
        # (sorted variables, array (cards..., n)) for risk factors and calibrated conditions
        self.tables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for v in self.inner:
            self.tables[v] = self._sorted([v, *vt.parents[v]], vt.cpts[v])
        # P(first state | parents) of findings and tests, and whole tables of deterministic nodes
        self.positive: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for v, k in vt.kinds.items():
            if k in ("finding", "test") and len(vt.states[v]) == 2:
                self.positive[v] = self._sorted(list(vt.parents[v]), vt.cpts[v][:, 0])
            elif v not in self.order:
                self.positive[v] = self._sorted([v, *vt.parents[v]], vt.cpts[v])
        self.cache = _Cache()  # draw-only products, reused across scenario chunks

    def _sorted(self, variables: list[str], arr: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        """Move the draw axis last and the variable axes into the global order."""
        key = sorted(range(len(variables)), key=lambda i: self.order.get(variables[i], 10**6 + i))
        arr = np.moveaxis(np.asarray(arr), 0, -1)
        arr = np.ascontiguousarray(np.transpose(arr, [*key, len(variables)]))
        return tuple(variables[i] for i in key), arr


def _layout(vt: VectorTables) -> _Layout:
    lay = getattr(vt, "_layout_cache", None)
    if lay is None:
        lay = _Layout(vt)
        vt._layout_cache = lay  # type: ignore[attr-defined]
    return lay


class _Factor:
    """A table over some variables (global order) with trailing (draw, scenario) axes of size 1 or more.

    ``key`` names how a draw-only factor was computed from the tables (None once a scenario
    axis is involved), so that the same product is reused across chunks of scenarios.
    """

    __slots__ = ("arr", "key", "vars")

    def __init__(self, variables: tuple[str, ...], arr: np.ndarray, key: tuple | None = None):
        self.vars = variables
        self.arr = arr
        self.key = key

    @property
    def size(self) -> int:
        return int(np.prod(self.arr.shape))


class _Cache(dict):
    """Draw-only factors keyed by how they were computed; emptied when it outgrows ``limit`` bytes."""

    def __init__(self, limit: int = 64 * 2**20):
        super().__init__()
        self.limit = limit
        self.nbytes = 0

    def put(self, key: tuple, value: _Factor) -> None:
        size = value.arr.nbytes
        if self.nbytes + size > self.limit:
            self.clear()
            self.nbytes = 0
        self[key] = value
        self.nbytes += size


def _cached(cache: _Cache | None, key: tuple | None, compute) -> _Factor:
    if cache is None or key is None:
        out = compute()
        out.key = key
        return out
    out = cache.get(key)
    if out is None:
        out = compute()
        out.key = key
        cache.put(key, out)
    return out


def _multiply(f: _Factor, g: _Factor, order: Mapping[str, int], cache: _Cache | None = None) -> _Factor:
    union = tuple(sorted(set(f.vars) | set(g.vars), key=order.__getitem__))

    def spread(h: _Factor) -> np.ndarray:
        shape = [h.arr.shape[h.vars.index(v)] if v in h.vars else 1 for v in union]
        return h.arr.reshape(shape + list(h.arr.shape[-2:]))

    key = ("*", f.key, g.key) if f.key is not None and g.key is not None else None
    return _cached(cache, key, lambda: _Factor(union, spread(f) * spread(g)))


def _sum_out(f: _Factor, v: str, cache: _Cache | None = None) -> _Factor:
    i = f.vars.index(v)
    key = ("+", f.key, v) if f.key is not None else None
    return _cached(cache, key, lambda: _Factor(f.vars[:i] + f.vars[i + 1 :], np.add.reduce(f.arr, axis=i)))


def _scope_size(factors: Sequence[_Factor], cards: Mapping[str, int]) -> int:
    """Numbers in the product of ``factors`` (variables times draw and scenario axes)."""
    union: set[str] = set()
    d = s = 1
    for f in factors:
        union.update(f.vars)
        d = max(d, f.arr.shape[-2])
        s = max(s, f.arr.shape[-1])
    return math.prod(cards[v] for v in union) * d * s


def _product(
    factors: list[_Factor], order: Mapping[str, int], cards: Mapping[str, int], cache: _Cache | None = None
) -> _Factor:
    """Multiply factors: each into the smallest factor whose variables include its own, then the rest
    pairing first those whose product is smallest (greedy, on bit masks)."""
    if len(factors) == 1:
        return factors[0]
    variables = {v for f in factors for v in f.vars}
    bit = {v: 1 << order[v] for v in variables}
    binary = all(cards[v] == 2 for v in variables)
    logc = {v: math.log(cards[v]) for v in variables}

    def log_size(mask: int) -> float:
        if binary:
            return mask.bit_count() * 0.6931471805599453
        return sum(lc for v, lc in logc.items() if mask & bit[v])

    items = []
    for f in factors:
        mask = 0
        for v in f.vars:
            mask |= bit[v]
        items.append([f, mask, f.arr.shape[-2] * f.arr.shape[-1], f.arr.shape[-2], f.arr.shape[-1]])
    # absorb: smallest first, each into the covering factor (variables include its own) whose
    # product is smallest
    items.sort(key=lambda it: (it[1].bit_count(), it[2]))
    i = 0
    while i < len(items) and len(items) > 1:
        fi, mi, _, di, si = items[i]
        host = None
        for j in range(len(items)):
            if j == i or mi & ~items[j][1]:
                continue
            _, mj, _, dj, sj = items[j]
            cost = log_size(mj) + math.log(max(di, dj) * max(si, sj))
            if host is None or cost < host[0]:
                host = (cost, j)
        if host is None:
            i += 1
            continue
        j = host[1]
        fj, mj, _, dj, sj = items[j]
        d, s_ = max(di, dj), max(si, sj)
        items[j] = [_multiply(fj, fi, order, cache), mj, d * s_, d, s_]
        items.pop(i)
    while len(items) > 1:
        best = None
        for i in range(len(items)):
            _, mi, _, di, si = items[i]
            for j in range(i + 1, len(items)):
                _, mj, _, dj, sj = items[j]
                cost = log_size(mi | mj) + math.log(max(di, dj) * max(si, sj))
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        _, i, j = best
        fj, mj, _, dj, sj = items.pop(j)
        fi, mi, _, di, si = items.pop(i)
        d, s_ = max(di, dj), max(si, sj)
        items.append([_multiply(fi, fj, order, cache), mi | mj, d * s_, d, s_])
    return items[0][0]


def _sum_block(
    table: _Factor, group: list[str], liks: Mapping[str, np.ndarray], cache: _Cache | None = None
) -> _Factor:
    """Sum the risk factors ``group`` out of a draw-only table, weighting by scenario likelihoods.

    ``table`` has shape ``(vars..., d, 1)``; ``liks`` maps the observed members of ``group`` to
    ``(s, card)`` arrays. The observed members are contracted in one matrix product (BLAS)
    with the outer product of their likelihoods; the result has shape ``(rest..., d, s)``.
    """
    for v in [g for g in group if g not in liks]:
        table = _sum_out(table, v, cache)
    observed = [g for g in group if g in liks]
    if not observed:
        return table
    pos = [table.vars.index(v) for v in observed]
    rest = tuple(v for v in table.vars if v not in observed)
    arr = table.arr[..., 0]
    arr = np.moveaxis(arr, pos, list(range(len(pos))))
    g_size = math.prod(arr.shape[: len(pos)])
    rest_shape = arr.shape[len(pos) :]
    t2 = arr.reshape(g_size, -1)
    lam = liks[observed[0]]
    for v in observed[1:]:
        lam = (lam[:, :, None] * liks[v][:, None, :]).reshape(lam.shape[0], -1)
    out = (t2.T @ lam.T).reshape(*rest_shape, lam.shape[0])
    return _Factor(rest, out)


def _slice(variables: tuple[str, ...], arr: np.ndarray, fixed: Mapping[str, int]) -> tuple[tuple[str, ...], np.ndarray]:
    """Take the observed state of every fixed variable (a view without those axes)."""
    if not any(v in fixed for v in variables):
        return variables, arr
    index = tuple(fixed.get(v, slice(None)) for v in variables)
    return tuple(v for v in variables if v not in fixed), arr[index]


def _contract(vt: VectorTables, batch: EvidenceBatch, d0: int, d1: int) -> _Factor:
    """Unnormalised joint of the calibrated conditions and the evidence, for draws ``d0:d1``.

    Variable elimination over broadcast arrays: risk factors and calibrated conditions keep their
    tables (draw axis); observed variables add their likelihoods (scenario axis); each observed
    finding or test enters as ``sum_f P(f | parents) lik(f)`` over (parents, draws, scenarios);
    the deterministic ``mechanical_pain`` enters only when observed. Unobserved findings and
    tests are barren and left out. Risk factors are summed out cheapest first (greedy on the
    size of the product, counting the draw and scenario axes); a risk factor whose tables carry
    no scenario axis yet is summed out together with every other risk factor confined to the
    same tables, in one matrix product with the outer product of their likelihoods. The
    remaining factors, all over conditions, are then multiplied into the joint. For a single
    scenario, a risk factor or condition observed in one state is sliced out of every table
    instead (no product, no sum).

    Returns
    -------
    _Factor
        Over ``vt.calibrated_conditions`` (global order), array ``(2, ..., 2, d, s)`` where ``s``
        is 1 when no scenario observes anything.
    """
    lay = _layout(vt)
    order, cards = lay.order, lay.cards
    cache = lay.cache
    # one scenario with a single possible state of a risk factor or condition (hard evidence):
    # slice that state out of every table instead of multiplying and summing
    fixed: dict[str, int] = {}
    weight = 1.0
    if batch.n == 1:
        for v, lik in batch.lik.items():
            if v in order:
                nz = np.flatnonzero(lik[0])
                if nz.size == 1:
                    fixed[v] = int(nz[0])
                    weight *= float(lik[0, nz[0]])
    factors: list[_Factor] = []
    rf_lik: dict[str, np.ndarray] = {}
    for v in lay.inner:
        variables, arr = lay.tables[v]
        arr = arr[..., d0:d1, None]
        sliced = tuple((u, fixed[u]) for u in variables if u in fixed)
        if sliced:
            variables, arr = _slice(variables, arr, fixed)
        lik = batch.lik.get(v)
        if lik is not None and v not in fixed:
            if v in lay.rfs:
                rf_lik[v] = lik
            else:
                factors.append(_Factor((v,), lik.T[:, None, :]))
        factors.append(_Factor(variables, arr, ("table", v, d0, d1, sliced)))
    for v, lik in batch.lik.items():
        if v in order:
            continue
        variables, arr = lay.positive[v]
        if v in vt.deterministic:  # sum_m lik(m) P(m | parents): no draw axis
            table = np.moveaxis(arr[..., 0], variables.index(v), -1)  # (parents..., card)
            fac = (table @ lik.T)[..., None, :]
            parents, fac = _slice(tuple(x for x in variables if x != v), fac, fixed)
            factors.append(_Factor(parents, fac))
            continue
        a, b = lik[:, 0], lik[:, 1]
        variables, pos = _slice(variables, arr[..., d0:d1, None], fixed)
        if batch.n == 1 and a[0] in (0.0, 1.0) and b[0] in (0.0, 1.0) and a[0] != b[0]:
            factors.append(_Factor(variables, pos if a[0] == 1.0 else 1.0 - pos))
        else:
            factors.append(_Factor(variables, b + pos * (a - b)))

    def lik_factor(v: str) -> _Factor:
        return _Factor((v,), rf_lik[v].T[:, None, :])

    remaining = [v for v in lay.inner if v in lay.rfs and v not in fixed]
    while remaining:
        best = None
        for v in remaining:
            touching = [f for f in factors if v in f.vars]
            if v in rf_lik:
                touching.append(lik_factor(v))
            cost = _scope_size(touching, cards)
            if best is None or cost < best[0]:
                best = (cost, v)
        v = best[1]
        touching = [f for f in factors if v in f.vars]
        if all(f.arr.shape[-1] == 1 for f in touching):
            # every table of v is draw-only: take the other risk factors confined to the same tables
            ids = {id(f) for f in touching}
            group = [u for u in remaining if all(id(f) in ids for f in factors if u in f.vars)]
            factors = [f for f in factors if id(f) not in ids]
            touching.sort(key=lambda f: f.size)
            factors.append(_sum_block(_product(touching, order, cards, cache), group, rf_lik, cache))
            for u in group:
                remaining.remove(u)
            continue
        remaining.remove(v)
        factors = [f for f in factors if v not in f.vars]
        if v in rf_lik:
            touching.append(lik_factor(v))
        touching.sort(key=lambda f: (f.arr.shape[-1] > 1, f.size))
        factors.append(_sum_out(_product(touching, order, cards, cache), v, cache))
    joint = _product(factors, order, cards, cache)
    if weight != 1.0:
        joint = _Factor(joint.vars, joint.arr * weight)
    if len(joint.vars) < len(lay.conditions):  # conditions observed (sliced out): put them back
        if any(c not in fixed for c in lay.conditions if c not in joint.vars):  # pragma: no cover
            raise BayesNetError("internal error: a condition vanished from the contraction")
        full = np.zeros((2,) * len(lay.conditions) + joint.arr.shape[-2:])
        full[tuple(fixed.get(c, slice(None)) for c in lay.conditions)] = joint.arr
        joint = _Factor(tuple(lay.conditions), full)
    if joint.arr.shape[-2] != d1 - d0:
        joint = _Factor(joint.vars, np.broadcast_to(joint.arr, (*joint.arr.shape[:-2], d1 - d0, joint.arr.shape[-1])))
    return joint


def _chunks(n_draws: int, n_scen: int, budget: int, per_pair: int) -> tuple[int, int]:
    """Draws and scenarios per chunk so that one chunk holds about ``budget`` numbers."""
    pairs = max(1, budget // max(per_pair, 1))
    if n_scen * n_draws <= pairs:
        return n_draws, n_scen
    if n_draws <= pairs:
        return n_draws, max(1, pairs // n_draws)
    return pairs, 1


def _reader(vt: VectorTables, conditions: Sequence[str]) -> np.ndarray:
    """Matrix ``(2**k, len(conditions) + 1)``: P(condition = yes | joint state), then a column of ones.

    Rows are the joint states of ``vt.calibrated_conditions`` in C order (state 0 = yes), so
    ``joint.reshape(2**k, -1).T @ reader`` gives every marginal and the normaliser at once.
    """
    calibrated = vt.calibrated_conditions
    k = len(calibrated)
    cols = []
    for c in conditions:
        if c in calibrated:
            shape = [1] * k
            shape[calibrated.index(c)] = 2
            col = np.broadcast_to(np.array([1.0, 0.0]).reshape(shape), (2,) * k)
        elif c in vt.deterministic:
            pa = vt.parents[c]
            table = np.asarray(vt.cpts[c][0][0], dtype=float)  # P(c = yes | parents), parents' order
            perm = sorted(range(len(pa)), key=lambda i: calibrated.index(pa[i]))
            table = np.transpose(table, perm)
            shape = [2 if x in pa else 1 for x in calibrated]
            col = np.broadcast_to(table.reshape(shape), (2,) * k)
        else:
            raise BayesNetError(f"{c!r} is not a condition of the network")
        cols.append(np.asarray(col, dtype=float).reshape(-1))
    cols.append(np.ones(2**k))
    return np.stack(cols, axis=1)


def condition_joint(vt: VectorTables, evidence: Any, *, normalise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Joint posterior of the calibrated conditions for every draw and scenario.

    Parameters
    ----------
    vt : VectorTables
    evidence : Evidence, list of Evidence or EvidenceBatch
    normalise : bool, default True
        Divide by the probability of the evidence.

    Returns
    -------
    joint : ndarray
        Shape ``(n_draws, n_scenarios, 2, ..., 2)``, one axis per condition of
        ``vt.calibrated_conditions`` (state 0 = yes). Pairs whose evidence has probability zero
        are left at zero.
    evidence_probability : ndarray
        Shape ``(n_draws, n_scenarios)``.

    Notes
    -----
    The whole array is held in memory (``n_draws * n_scenarios * 2**k`` numbers); for many
    draws and scenarios use :func:`condition_posteriors`, which reduces chunk by chunk.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> vt = VectorTables.from_tables(model.tables)
    >>> joint, z = condition_joint(vt, model.check_evidence({"fever": "yes"}))
    >>> joint.shape, round(float(joint.sum()), 12)
    ((1, 1, 2, 2, 2, 2, 2, 2, 2, 2), 1.0)
    """
    batch = _as_batch(evidence, vt.states)
    fac = _contract(vt, batch, 0, vt.n)
    k = len(fac.vars)
    arr = np.broadcast_to(fac.arr, (*fac.arr.shape[:-1], batch.n))
    res = np.ascontiguousarray(np.transpose(arr, [k, k + 1, *range(k)]), dtype=float)
    z = res.reshape(res.shape[0], res.shape[1], -1).sum(axis=2)
    if normalise:
        zz = np.where(z > 0, z, 1.0).reshape(z.shape + (1,) * k)
        res = res / zz
    return res, z


def _order_by_pattern(batch: EvidenceBatch) -> np.ndarray:
    """Scenario order that puts scenarios observing the same variables next to each other."""
    if not batch.lik or batch.n <= 1:
        return np.arange(batch.n)
    observed = np.stack([~np.all(a == 1.0, axis=1) for a in batch.lik.values()], axis=1)
    keys = observed[:, ::-1].T  # lexsort uses the last key first
    return np.lexsort(keys)


def iter_condition_posteriors(
    vt: VectorTables,
    evidence: Any,
    conditions: Sequence[str],
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Iterator[tuple[np.ndarray, int, int, np.ndarray, np.ndarray]]:
    """Yield ``(scenarios, d0, d1, posteriors, evidence_probability)`` chunk by chunk.

    ``scenarios`` are the positions of the chunk's scenarios in ``evidence`` (grouped by the
    variables they observe, so a chunk carries few unobserved likelihoods); ``posteriors`` has
    shape ``(d1 - d0, len(scenarios), len(conditions))`` (NaN where the evidence of a pair has
    probability zero) and ``evidence_probability`` shape ``(d1 - d0, len(scenarios))``.
    """
    batch = _as_batch(evidence, vt.states)
    k = len(vt.calibrated_conditions)
    reader = _reader(vt, conditions)
    per_pair = 6 * (2**k)
    dc, sc = _chunks(vt.n, batch.n, chunk_elements, per_pair)
    perm = _order_by_pattern(batch)
    for s0 in range(0, batch.n, sc):
        idx = perm[s0 : s0 + sc]
        lik = {v: a[idx] for v, a in batch.lik.items()}
        part = EvidenceBatch(len(idx), {v: a for v, a in lik.items() if not np.all(a == 1.0)})
        for d0 in range(0, vt.n, dc):
            d1 = min(vt.n, d0 + dc)
            fac = _contract(vt, part, d0, d1)
            arr = fac.arr
            flat = arr.reshape(2**k, -1)  # (joint states, draws * scenarios)
            sums = (flat.T @ reader).reshape(arr.shape[-2], arr.shape[-1], -1)
            if sums.shape[1] != part.n:
                sums = np.broadcast_to(sums, (sums.shape[0], part.n, sums.shape[2]))
            z = sums[:, :, -1]
            ok = z > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                post = sums[:, :, :-1] / np.where(ok, z, 1.0)[:, :, None]
            post = np.where(ok[:, :, None], post, np.nan)
            yield idx, d0, d1, post, z


def condition_posteriors(
    vt: VectorTables,
    evidence: Any,
    conditions: Sequence[str] | None = None,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """P(condition = yes) for every draw, scenario and condition.

    Parameters
    ----------
    vt : VectorTables
    evidence : Evidence, list of Evidence or EvidenceBatch
    conditions : list of str, optional
        Default: every condition node (calibrated ones and ``mechanical_pain``) in table order.
    chunk_elements : int
        Memory budget of one chunk, in float64 numbers.

    Returns
    -------
    ndarray
        Shape ``(n_draws, n_scenarios, n_conditions)``; NaN where the evidence has probability
        zero under that draw (callers decide whether that is an error).
    """
    if conditions is None:
        conditions = [v for v, k in vt.kinds.items() if k == "condition"]
    batch = _as_batch(evidence, vt.states)
    out = np.empty((vt.n, batch.n, len(conditions)))
    for idx, d0, d1, post, _ in iter_condition_posteriors(vt, batch, conditions, chunk_elements=chunk_elements):
        out[d0:d1, idx] = post
    return out


def impossible_error(labels: Sequence[Any] | None = None) -> ImpossibleEvidenceError:
    """The error raised when evidence has probability zero under the point estimates."""
    if not labels:
        return ImpossibleEvidenceError(
            "the evidence has probability zero under the model, so no posterior exists; check for "
            "contradictory entries (e.g. mechanical_pain=yes together with a serious condition)"
        )
    shown = ", ".join(repr(x) for x in list(labels)[:5])
    more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
    return ImpossibleEvidenceError(
        f"the evidence of scenario(s) {shown}{more} has probability zero under the model, so no posterior exists",
        rows=list(labels),
    )
