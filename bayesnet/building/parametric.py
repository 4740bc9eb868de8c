"""The network's tables vectorised over parameter sets, and exact inference over them.

:func:`bayesnet.building.network.build_tables` turns one set of sourced numbers into conditional
probability tables. Uncertainty and sensitivity analyses need the same tables for hundreds or
thousands of parameter sets, so this module rebuilds them with a leading *draw* axis: every
table of :class:`VectorTables` has shape ``(n_draws, card(var), *card(parents))``. The steps are
those of :func:`~bayesnet.building.network.build_tables` written with numpy arrays (the conversions of
:mod:`bayesnet.building.conversions`, the noisy-OR links, the layered condition tables); the one iterative
step, the baseline log-odds ``b`` of each condition that makes its marginal probability equal
its sourced prevalence, is solved for all draws at once by Newton steps on
``sum_k w_k expit(b + eta_k) = prevalence - floor`` inside a bracket that always holds the root
(bisection fallback; converged to ~1e-15 in ``b``). Draw ``i`` of the result equals
``build_tables`` run on that parameter set to ~1e-12.

A parameter set that the builder cannot reconcile (a prevalence at or below what the causing
conditions already produce, a sensitivity below the false-positive rate, a derived probability
outside [0, 1]) is not an error here: the draw is flagged in :attr:`VectorTables.valid` and the
reason in :attr:`VectorTables.problems`; or, given a ``redraw`` function, the parameter group at
fault is redrawn until it fits (:mod:`bayesnet.reasoning.uncertainty`). :mod:`bayesnet.reasoning.sensitivity` moves
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
condition's marginal, and :func:`bayesnet.reasoning.joint.most_probable` the most probable combinations.
(A single ``np.einsum`` over all tables with draw and scenario axes was tried first: its
pairwise steps cost ~40 microseconds per (draw, scenario) pair, against ~15-25 here.) Work is
chunked over scenarios (and draws) to bound memory, and scenarios observing the same variables
are grouped into the same chunks.

Examples
--------
>>> import bayesnet
>>> from bayesnet.building.parametric import parameter_space, build_vectorised, condition_posteriors
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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import expit, logit, logsumexp

from bayesnet.building.network import Tables, _condition_order, ancestors
from bayesnet.data.priors import Param, PriorSet
from bayesnet.errors import BayesNetError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

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

#: Tolerance of the prevalence floor check, as in :func:`bayesnet.building.network.build_tables`.
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
        """A :class:`PriorSet` holding one parameter set (for :func:`~bayesnet.building.network.build_tables`)."""
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
    >>> from bayesnet.data.priors import load_priors
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
        As in :class:`bayesnet.building.network.Tables`.
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
        """Wrap one :class:`~bayesnet.building.network.Tables` as a single draw."""
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
        """Draw ``i`` as plain :class:`~bayesnet.building.network.Tables` (e.g. for ``build_network``)."""
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
        :mod:`bayesnet.reasoning.uncertainty`); the final values are in ``VectorTables.values``. Without
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
    """Vectorised :func:`bayesnet.building.conversions.effect_log_odds_ratios` (one value per draw)."""
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
