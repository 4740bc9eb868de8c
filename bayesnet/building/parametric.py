"""The one table builder: the network's tables, vectorised over parameter sets.

Uncertainty and sensitivity analyses need the tables for hundreds or thousands of parameter
sets, and the point model for one; :func:`build_vectorised` builds them all at once with a
leading *draw* axis: every table of :class:`VectorTables` has shape
``(n_draws, card(var), *card(parents))``. :func:`bayesnet.building.network.build_tables` is the
case of one draw, the point values (with ``strict=True``, so that an inconsistency is raised).

The steps (see :mod:`bayesnet.building.network` for the structure): risk-factor prevalences;
each condition's table from the log odds ratios of its risk factors
(:func:`~bayesnet.building.conversions.effect_log_odds_ratio`), the noisy-OR of its causing
conditions and a baseline log-odds ``b``; ``mechanical_pain`` as the absence of every serious
condition; and each finding's leaky noisy-OR (:func:`~bayesnet.building.conversions.leak_from`,
:func:`~bayesnet.building.conversions.sensitivity_from`,
:func:`~bayesnet.building.conversions.noisy_or_link`; with findings schema 2 the links are solved so
that each sensitivity holds among all the cases of its condition, see :func:`_marginal_links`). The
other iterative step, the baseline ``b`` that makes a condition's marginal probability equal its
sourced prevalence, is solved for
all draws at once by Newton steps on ``sum_k w_k expit(b + eta_k) = prevalence - floor``
inside a bracket that always holds the root (bisection fallback; converged to ~1e-15 in ``b``);
a root outside [-60, 60] is rejected as an effect too extreme to reconcile with the prevalence.

A parameter set that cannot be reconciled (a prevalence at or below what the causing conditions
already produce, a sensitivity below the false-positive rate, a derived probability outside
[0, 1]) is a :class:`~bayesnet.errors.PriorsError` with ``strict=True``. Otherwise it is not an
error: the draw is flagged in :attr:`VectorTables.valid` and the reason in
:attr:`VectorTables.problems`; or, given a ``redraw`` function, the parameter group at fault is
redrawn until it fits (:mod:`bayesnet.reasoning.uncertainty`). :mod:`bayesnet.reasoning.sensitivity`
moves unusable bounds towards the point value instead.

Examples
--------
>>> import bayesnet
>>> from bayesnet.building.parametric import parameter_space, build_vectorised
>>> model = bayesnet.load_model()
>>> space = parameter_space(model)
>>> vt = build_vectorised(space, np.stack([space.values, space.values]))
>>> vt.n, vt.cpts["spinal_metastasis"].shape
(2, (2, 2, 2, 3))
>>> bool(np.allclose(vt.cpts["spinal_metastasis"][0], model.tables.cpts["spinal_metastasis"], rtol=0, atol=1e-14))
True
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from scipy.special import logsumexp

from bayesnet.building import conversions as cv
from bayesnet.building.tables import Tables, marginal
from bayesnet.data.priors import Param, PriorSet
from bayesnet.errors import BayesNetError, PriorsError, UnknownNameError

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = [
    "MAX_REDRAW_ROUNDS",
    "cause_ancestors",
    "ParameterSpace",
    "VectorTables",
    "build_vectorised",
    "map_parameters",
    "parameter_space",
    "replace_parameters",
]

#: Tolerance of the prevalence floor check: a prevalence must exceed what the causes produce by more.
_FLOOR_TOL = 1e-15
#: The baseline log-odds of a condition must lie in [-BASELINE_LIMIT, BASELINE_LIMIT].
BASELINE_LIMIT = 60.0


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
        if rf.states != ("yes", "no") and not rf.parents:
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
    >>> ps = replace_parameters(load_priors(), {("iv_drug_use", "prevalence[primary_care]"): 0.1})
    >>> [round(ps.risk_factors["iv_drug_use"].prevalence["primary_care"][s].value, 3) for s in ("yes", "no")]
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
    states, parents, kinds, descriptions : dict
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
    descriptions: dict[str, str] = field(default_factory=dict)

    def draw(self, i: int) -> Tables:
        """Draw ``i`` as plain :class:`~bayesnet.building.network.Tables` (e.g. for ``build_network``)."""
        t = Tables(self.setting)
        t.states = dict(self.states)
        t.parents = {v: list(p) for v, p in self.parents.items()}
        t.kinds = dict(self.kinds)
        t.descriptions = {v: self.descriptions.get(v, "") for v in self.states}
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

    def marginal(self, variables: Sequence[str]) -> np.ndarray:
        """Exact joint of ``variables`` for every draw, shape ``(n, *cards)`` (see :func:`~bayesnet.building.network.marginal`)."""
        return marginal(self.cpts, self.parents, variables)



def _condition_order(priors: PriorSet) -> list[str]:
    """Calibrated conditions, each after the conditions that cause it; then the others."""
    order: list[str] = []
    conds = priors.conditions

    def visit(n: str) -> None:
        if n in order:
            return
        for c in conds[n].causes:
            visit(c.condition)
        order.append(n)

    for n, c in conds.items():
        if c.definition == "calibrated":
            visit(n)
    order.extend(n for n, c in conds.items() if c.definition != "calibrated")
    return order


def _no_serious_condition_table(k: int) -> np.ndarray:
    """P(node | k conditions): "yes" (index 0) exactly when all of them are "no" (index 1).

    >>> _no_serious_condition_table(2)[0].tolist()
    [[0.0, 0.0], [0.0, 1.0]]
    """
    table = np.zeros((2,) + (2,) * k)
    table[1] = 1.0
    table[(0,) + (1,) * k] = 1.0
    table[(1,) + (1,) * k] = 0.0
    return table


#: Signature of a redraw function: ``redraw(columns, n_rows)`` -> fresh values ``(n_rows, len(columns))``.
Redraw = Callable[[list[int], int], np.ndarray]

#: Rounds of redrawing one group before the draw is given up as inconsistent.
MAX_REDRAW_ROUNDS = 500


def _fail(p: Param, message: str) -> PriorsError:
    return PriorsError(message, file=p.file, entry=p.entry)


class _Checks(dict):
    """The problems one ``compute`` of :meth:`_Builder.enforce` finds: reason -> bad rows.

    In a strict build the first problem found is raised instead: ``error(i)`` makes the
    :class:`~bayesnet.errors.PriorsError` for the first bad row ``i``.
    """

    def __init__(self, m: int, strict: bool):
        super().__init__()
        self.m = m
        self.strict = strict

    def add(self, mask, reason: str, error: Callable[[int], PriorsError]) -> None:
        mask = np.broadcast_to(np.asarray(mask, dtype=bool), (self.m,))
        if self.strict and mask.any():
            raise error(int(np.argmax(mask)))
        prev = self.get(reason)
        self[reason] = mask.copy() if prev is None else (prev | mask)


class _Builder:
    """State of one vectorised build: the values (updated by redraws), problems and redraw counts."""

    def __init__(self, space: ParameterSpace, values: np.ndarray, redraw: Redraw | None, strict: bool = False):
        self.space = space
        self.values = values
        self.n = values.shape[0]
        self.redraw = redraw
        self.strict = strict
        self.problems: dict[str, np.ndarray] = {}
        self.redrawn: dict[str, int] = {}
        self.ancestors = cause_ancestors(space.priors)  # for the links calibrated among co-occurring conditions

    def cols(self, params: Sequence[Param]) -> list[int]:
        return [self.space.index[(p.node, p.parameter)] for p in params]

    def col(self, p: Param, rows: np.ndarray | slice = slice(None)) -> np.ndarray:
        return self.values[rows, self.space.index[(p.node, p.parameter)]]

    def checks(self, m: int) -> _Checks:
        return _Checks(m, self.strict)

    def flag(self, mask: np.ndarray, reason: str) -> None:
        mask = np.asarray(mask, dtype=bool)
        if mask.any():
            prev = self.problems.get(reason)
            self.problems[reason] = mask if prev is None else (prev | mask)

    def enforce(self, compute: Callable[[np.ndarray | slice], tuple[Any, _Checks]], group: Sequence[Param]):
        """Run ``compute(rows) -> (result, checks)`` on every row; redraw ``group`` where bad.

        Without a redraw function the bad rows are flagged (a strict build has raised already).
        With one, the columns of ``group`` are redrawn for the bad rows (all together), and the
        rows recomputed, until no problem is left (rejection sampling of the group, given
        everything computed before it); rows still bad after :data:`MAX_REDRAW_ROUNDS` rounds
        are flagged. ``result`` is an array or tuple of arrays with the rows on axis 0; it is
        returned with the redrawn rows updated.
        """
        result, bad_by = compute(slice(None))
        bad = np.zeros(self.n, dtype=bool)
        for m in bad_by.values():
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


def build_vectorised(
    space: ParameterSpace, values: np.ndarray, *, redraw: Redraw | None = None, strict: bool = False
) -> VectorTables:
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
    strict : bool, default False
        Raise the first inconsistency found (in the order nodes are built) as a
        :class:`~bayesnet.errors.PriorsError` naming the entry at fault, instead of flagging it;
        used by :func:`~bayesnet.building.network.build_tables`. Not with ``redraw``.

    Returns
    -------
    VectorTables
        Draw ``i`` is the network of parameter set ``vt.values[i]`` wherever ``valid[i]``.

    Raises
    ------
    PriorsError
        With ``strict=True``, for a parameter set that cannot be reconciled.

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
    if strict and redraw is not None:
        raise BayesNetError("build_vectorised: strict=True raises inconsistencies, so it takes no redraw function")
    priors, setting = space.priors, space.setting
    n = values.shape[0]
    bld = _Builder(space, values, redraw, strict)
    vt = VectorTables(setting, n)

    for name, rf in priors.risk_factors.items():
        vt.states[name] = rf.states
        vt.parents[name] = list(rf.parents)
        vt.kinds[name] = "risk_factor"
        vt.descriptions[name] = rf.description
        if rf.parents:  # P(yes | parents' states), from population data, the same in every setting
            shape = tuple(len(priors.risk_factors[q].states) for q in rf.parents)
            p = np.empty((n, *shape))
            for combo, param in rf.table.items():
                p[(slice(None), *(priors.risk_factors[q].states.index(x) for q, x in zip(rf.parents, combo,
                                                                                      strict=True)))] = bld.col(param)
            vt.cpts[name] = np.stack([p, 1.0 - p], axis=1)
            continue
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
        vt.descriptions[name] = cond.description
        if cond.definition in ("no_serious_condition", "no_modelled_condition"):
            # "yes" exactly when none of the serious (or, for no_modelled_condition, none of the) conditions is present
            absent = [c for c, spec in priors.conditions.items() if spec.definition == "calibrated"
                      and (spec.serious or cond.definition == "no_modelled_condition")]
            vt.parents[name] = absent
            table = _no_serious_condition_table(len(absent))
            vt.cpts[name] = np.broadcast_to(table, (n, *table.shape))
            vt.deterministic.add(name)
            continue
        _build_condition(vt, bld, name)

    for name, f in priors.findings_in(setting).items():
        vt.states[name] = f.states
        vt.kinds[name] = f.kind
        vt.descriptions[name] = f.description
        _build_finding(vt, bld, f, name)
    vt.problems = bld.problems
    bad = np.zeros(n, dtype=bool)
    for m in bld.problems.values():
        bad |= m
    vt.valid = ~bad
    vt.values = bld.values
    vt.redrawn = bld.redrawn
    return vt


def _effect_lor(bld: _Builder, effect, factor, name: str, vt: VectorTables) -> np.ndarray:
    """Log odds ratio of one risk-factor effect, one value per draw (:func:`~bayesnet.building.conversions.effect_log_odds_ratio`)."""
    p = effect.param
    setting = bld.space.setting
    # a factor by age and sex: its prevalence in the setting, computed once (the redraws do not move it)
    factor_yes = vt.marginal([factor.name])[:, 0] if factor.parents and effect.controls is None else None

    def compute(rows):
        v = bld.col(p, rows)
        chk = bld.checks(v.shape[0])
        if p.kind in cv.RATIO_EFFECTS:
            bad = ~(v > 0)
            chk.add(
                bad,
                f"{name}: {p.parameter} must be > 0",
                lambda i: _fail(p, f"is a ratio ({p.kind}) and must be > 0; got {v[i]!r}"),
            )
            return cv.effect_log_odds_ratio(p.kind, np.where(bad, 1.0, v)), chk
        if effect.controls is not None:
            p_ctrl = bld.col(effect.controls, rows)
        elif factor.parents:  # its prevalence in the setting: over the setting's age and sex
            yes = factor_yes[rows]
            p_ctrl = sum(yes if s == "yes" else 1.0 - yes for s in effect.states)
        else:
            dist = factor.prevalence[setting]
            if factor.states == ("yes", "no"):
                yes = bld.col(dist["yes"], rows)
                p_ctrl = sum(yes if s == "yes" else 1.0 - yes for s in effect.states)
            else:
                p_ctrl = sum(bld.col(dist[s], rows) for s in effect.states)
        p_case = cv.case_share(p.kind, v, p_ctrl)
        bad = ~((p_case > 0) & (p_case < 1) & (p_ctrl > 0) & (p_ctrl < 1))
        chk.add(
            bad,
            f"{name}: {p.parameter} gives a proportion among cases or controls outside (0, 1)",
            lambda i: _fail(
                p,
                f"proportion among cases ({p_case[i]}) and among controls ({p_ctrl[i]}) must lie strictly "
                "between 0 and 1 to give an odds ratio",
            ),
        )
        # only the shares enter: a bad row gets the harmless odds ratio 1
        return cv.effect_log_odds_ratio(
            "proportion_of_cases", np.where(bad, 0.5, p_case), np.where(bad, 0.5, p_ctrl)
        ), chk

    group = [p] + ([effect.controls] if effect.controls is not None else [])
    return bld.enforce(compute, group)


def _axis(vec: np.ndarray, i: int, ndim: int) -> np.ndarray:
    """Place a ``(n, k)`` array on axis ``i`` of ``ndim`` parent axes, after the draw axis."""
    shape = [vec.shape[0]] + [1] * ndim
    shape[1 + i] = vec.shape[1]
    return vec.reshape(shape)


def _build_condition(vt: VectorTables, bld: _Builder, name: str) -> None:
    """Table of a calibrated condition: ``P(yes) = 1 - (1 - expit(b + eta)) * prod(1 - q_j)``."""
    priors, setting, n = bld.space.priors, bld.space.setting, vt.n
    cond = priors.conditions_in(setting)[name]
    factors: list[str] = []
    for e in cond.effects:
        if e.factor not in factors:
            factors.append(e.factor)
    lor = {f: np.zeros((n, len(vt.states[f]))) for f in factors}
    for e in cond.effects:
        value = _effect_lor(bld, e, priors.risk_factors[e.factor], name, vt)
        for state in e.states:
            lor[e.factor][:, vt.states[e.factor].index(state)] += value
    causes = [c.condition for c in cond.causes]
    parents = factors + causes
    vt.parents[name] = parents
    shape = tuple(len(vt.states[p]) for p in parents)
    k = len(parents)
    nf = len(factors)
    prevalence = cond.prevalence[setting]

    eta = np.zeros((n, *shape))
    for i, f in enumerate(factors):
        eta = eta + _axis(lor[f], i, k)
    try:
        joint = vt.marginal(parents) if parents else np.ones((n,))
    except BayesNetError as exc:
        raise PriorsError(str(exc), file="conditions.yaml", entry=f"conditions.{name}") from None
    red = tuple(range(1, k + 1))
    cause_axes = tuple(range(1 + nf, 1 + k))
    # log-odds of the distinct risk-factor configurations (the cause axes only scale the weights)
    eta_f = (eta[(slice(None), *([slice(None)] * nf), *([0] * len(causes)))] if causes else eta).reshape(n, -1)

    def weights(rows, survive):
        """Weight of each risk-factor configuration: sum over cause states of joint * survive."""
        w = joint[rows] * survive
        return (w.sum(axis=cause_axes) if causes else w).reshape(survive.shape[0], -1)

    # P(parent condition present), for causes given as the share of this condition's cases they cause
    p_cause = [joint.sum(axis=tuple(a for a in red if a != 1 + nf + j))[:, 0] for j in range(len(causes))]

    def compute(rows):
        m = np.arange(n)[rows].size
        chk = bld.checks(m)
        target = bld.col(prevalence, rows)
        shares = [bld.col(c.param, rows) for c in cond.causes if c.param.kind == "proportion_of_cases"]
        if shares:
            total = np.sum(shares, axis=0)
            chk.add(
                ~(total < 1.0),
                f"{name}: shares of cases caused by other conditions sum to 1 or more",
                lambda i: _fail(prevalence, f"the caused_by shares of {name} sum to {total[i]:.4g}; they must sum to "
                                "less than 1 (some cases have other causes)"),
            )
        survive = np.ones((m, *shape))  # P(no parent condition causes C): prod (1 - q_j) over present ones
        for j, c in enumerate(cond.causes):
            v = bld.col(c.param, rows)
            if c.param.kind == "proportion_of_cases":  # share a of the cases: P(parent) q = a * prevalence
                q = v * target / p_cause[j][rows]
                chk.add(
                    ~((q >= 0) & (q <= 1)),
                    f"{name}: {c.param.parameter} needs more {c.condition} than there is",
                    lambda i, c=c, q=q, v=v, pc=p_cause[j][rows]: _fail(
                        c.param, f"a share of {v[i]:.4g} of the cases of {name} caused by {c.condition} needs "
                        f"{c.condition} in at least {v[i] * target[i]:.4g} of patients; it is in "
                        f"{pc[i]:.4g}"),
                )
                q = np.clip(q, 0.0, 1.0)
            else:
                q = v
                chk.add(
                    ~((q >= 0) & (q <= 1)),
                    f"{name}: a caused_by probability outside [0, 1]",
                    lambda i, c=c, q=q: _fail(c.param, f"is a probability and must lie in [0, 1]; got {q[i]!r}"),
                )
            vec = np.stack([1.0 - q, np.ones(m)], axis=1)
            survive = survive * _axis(vec, nf + j, k)
        floor = np.sum(joint[rows] * (1.0 - survive), axis=red) if k else np.zeros(m)
        chk.add(
            ~(target > floor + _FLOOR_TOL),
            f"{name}: prevalence at or below what its causes already produce",
            lambda i: _fail(
                prevalence,
                f"prevalence {target[i]:.4g} in {setting} is below the {floor[i]:.4g} already caused by "
                f"{', '.join(causes)}; lower the caused_by probabilities or raise the prevalence",
            ),
        )
        # the baseline must lie in [-L, L]: the prevalence at b = -L must not exceed the target,
        # nor fall short of it at b = +L
        w = weights(rows, survive)
        at = [floor + np.sum(w * cv.expit(b + eta_f[rows]), axis=1) - target for b in (-BASELINE_LIMIT, BASELINE_LIMIT)]
        chk.add(
            (target > floor + _FLOOR_TOL) & ((at[0] * at[1] > 0) | ~(target < 1.0)),
            f"{name}: no baseline in [-{BASELINE_LIMIT:g}, {BASELINE_LIMIT:g}] reproduces the prevalence",
            lambda i: _fail(
                prevalence,
                f"no baseline reproduces the prevalence {target[i]:.4g} in {setting} with these risk-factor effects "
                "(an odds ratio or a proportion is too extreme); check the effects of this condition",
            ),
        )
        return (survive, floor, target), chk

    survive, floor, target = bld.enforce(compute, [prevalence] + [c.param for c in cond.causes])
    bad = ~((target > floor + _FLOOR_TOL) & (target < 1.0))
    r = np.where(bad, 0.5 * (1.0 - floor), target - floor)
    b = _solve_baseline(weights(slice(None), survive), eta_f, r)
    vt.baselines[name] = b
    p_yes = (1.0 - survive) + cv.expit(b.reshape((n,) + (1,) * k) + eta) * survive
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
    hi = cv.logit(np.clip(r / total, 1e-300, 1 - 1e-16)) - eta_min
    lo, hi = np.minimum(lo, hi), np.maximum(lo, hi)
    b = lo.copy()
    idx = np.arange(n)
    for _ in range(max_iter):
        if not idx.size:
            break
        bb = b[idx]
        s = cv.expit(bb[:, None] + eta[idx])
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


def cause_ancestors(priors: PriorSet) -> dict[str, set[str]]:
    """Condition -> itself and every condition that causes it, directly or not (caused_by links)."""
    out: dict[str, set[str]] = {}

    def visit(n: str) -> set[str]:
        if n not in out:
            out[n] = {n}.union(*(visit(c.condition) for c in priors.conditions[n].causes))
        return out[n]

    for n in priors.conditions:
        visit(n)
    return out


#: Sweeps of the fixed-point iteration that calibrates co-occurring links (it converges in a few).
MAX_CALIBRATION_SWEEPS = 200


def _marginal_links(joint: np.ndarray, leaks: np.ndarray, sens: np.ndarray,
                    related: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Noisy-OR link probabilities that reproduce each sensitivity among the cases of its condition.

    ``joint`` is ``P(context, C_1..C_k)``, shape ``(m, n_ctx, 2, ..., 2)`` (state 0 = yes), ``leaks``
    ``(m, n_ctx)`` and ``sens`` ``(m, n_ctx, k)``: the wanted ``P(F | C_j = yes, context)`` among
    the cases of ``C_j`` with or without the conditions that come with it (``related[j, i]``: one
    causes the other, directly or not, or a third condition causes both), and without the others,
    which a case series of ``C_j`` holds at their (small) population rate. Under the leaky
    noisy-OR ``P(F | C_j, ctx) = 1 - (1 - q_j) E_j`` with
    ``E_j = E[(1 - leak) prod_{i != j} (1 - q_i)^[C_i] | C_j = yes, ctx, unrelated absent]``, so
    each ``q_j`` has a closed form given the others; Gauss-Seidel sweeps converge (co-occurrence
    probabilities are below one). Without co-occurrence this is ``1 - (1 - s)/(1 - leak)``.
    Returns ``q`` and a mask of the rows with a sensitivity below what the leak and the related
    conditions already give (``q < 0``, clipped to 0), shape ``(m, k)``.
    """
    m, nc, k = sens.shape
    R = m * nc  # one row per parameter set and context
    J = joint.reshape(R, -1)
    sens = sens.reshape(R, k)
    leaks = leaks.reshape(R)
    X = np.array(np.unravel_index(np.arange(2**k), (2,) * k)).T == 0  # config -> which conditions are "yes"
    # the configurations a case series of C_j holds: C_j present, no unrelated condition (the sums
    # below run over these only; every other configuration has weight zero)
    keep = [np.flatnonzero(X[:, j] & ~(X & ~related[j] & (np.arange(k) != j)).any(axis=1)) for j in range(k)]
    Jk = [J[:, keep[j]] for j in range(k)]
    p_yes = np.stack([Jk[j].sum(-1) for j in range(k)], axis=-1)
    q = 1.0 - (1.0 - sens) / (1.0 - leaks[:, None])
    low = q < -1e-12
    q = np.clip(q, 0.0, 1.0)
    # only a condition with related ones needs the fixed point; the others keep the closed form
    coupled = [j for j in range(k) if related[j].sum() > 1]
    if coupled:
        rel = {j: [i for i in coupled if i != j and related[j, i]] for j in coupled}
        with np.errstate(invalid="ignore", divide="ignore"):
            w = {j: Jk[j] * ((1.0 - leaks) / p_yes[:, j])[:, None] for j in coupled}  # E_j's weights
        _newton_links(q, sens, X, keep, w, rel, coupled, p_yes)
        _sweep_links(q, low, sens, X, keep, w, rel, coupled, p_yes)
    return q.reshape(m, nc, k), low.reshape(m, nc, k).any(axis=1)


def _link_factors(u: np.ndarray, Xj: np.ndarray, rel: list[int]) -> list[np.ndarray]:
    """``(1 - q_i)^[C_i]`` per configuration of ``Xj`` for each related ``i``, shape ``(rows, configs)``."""
    return [np.where(Xj[:, i], u[:, i, None], 1.0) for i in rel]


def _newton_links(q, sens, X, keep, w, rel, coupled, p_yes, steps: int = 30, rounds: int = 4) -> None:
    """Newton steps on ``(1 - q_j) E_j(q) = 1 - s_j`` for the coupled links, in place.

    The system is multilinear in ``u = 1 - q``, so a few steps bring a row to the fixed point that
    the sweeps of :func:`_sweep_links` then confirm in one or two passes. A link whose solution
    is below zero is clipped to zero as the sweeps do (held at ``u = 1`` and the others solved
    again, an active-set loop of a few rounds). Rows that do not settle keep their start and are
    left to the sweeps, which decide every row.
    """
    c = len(coupled)
    pos = {j: a for a, j in enumerate(coupled)}
    u0 = 1.0 - q[:, coupled]
    u = u0.copy()
    full = 1.0 - q
    base = np.flatnonzero((p_yes[:, coupled] > 0).all(axis=1))
    clamp = np.zeros((q.shape[0], c), dtype=bool)
    target = 1.0 - sens[:, coupled]

    def evaluate(rows):
        """Residuals, Jacobian and ``E_j`` of ``rows``."""
        full[rows[:, None], coupled] = u[rows]
        F = np.empty((rows.size, c))
        E = np.empty((rows.size, c))
        Jac = np.zeros((rows.size, c, c))
        for j in coupled:
            a = pos[j]
            Xj = X[keep[j]]
            fac = _link_factors(full[rows], Xj, rel[j])
            wj = w[j][rows]
            prod = np.prod(fac, axis=0) if fac else np.ones_like(wj)
            E[:, a] = (wj * prod).sum(-1)
            F[:, a] = u[rows, a] * E[:, a] - target[rows, a]
            Jac[:, a, a] = E[:, a]
            for b, i in enumerate(rel[j]):
                rest = np.prod([f for g, f in enumerate(fac) if g != b], axis=0) if len(fac) > 1 else 1.0
                Jac[:, a, pos[i]] = u[rows, a] * (wj * rest * Xj[:, i]).sum(-1)
        cl = clamp[rows]
        F = np.where(cl, u[rows] - 1.0, F)  # a clipped link: u = 1
        Jac = np.where(cl[:, :, None], np.eye(c)[None], Jac)
        return F, Jac, E

    for _ in range(rounds):
        rows = base
        for _ in range(steps):
            if not rows.size:
                break
            F, Jac, _ = evaluate(rows)
            ok = np.isfinite(F).all(axis=1) & (np.abs(np.linalg.det(Jac)) > 1e-300)
            step = np.zeros_like(F)
            if ok.any():
                step[ok] = np.linalg.solve(Jac[ok], F[ok][..., None])[..., 0]
            u[rows] -= step
            size = np.max(np.abs(step), axis=1)
            gone = ~ok | (size <= 1e-13) | ~(np.isfinite(u[rows]).all(axis=1) & (np.abs(u[rows]) <= 1e6).all(axis=1))
            rows = rows[~gone]
        if not base.size:
            break
        # the clipped fixed point: a link is clipped exactly when its unclipped u would be 1 or more
        _, _, E = evaluate(base)
        with np.errstate(invalid="ignore", divide="ignore"):
            free_u = target[base] / E
        over = ~clamp[base] & (u[base] > 1.0)
        under = clamp[base] & (free_u < 1.0)
        if not (over.any() or under.any()):
            break
        cb = clamp[base]
        cb[over] = True
        cb[under] = False
        clamp[base] = cb
        ub = u[base]
        ub[over] = 1.0
        ub[under] = np.minimum(free_u[under], 1.0)
        u[base] = ub
    bad = ~(np.isfinite(u).all(axis=1) & (u >= 0.0).all(axis=1) & (u <= 1.0 + 1e-12).all(axis=1))
    u[bad] = u0[bad]
    q[:, coupled] = np.clip(1.0 - u, 0.0, 1.0)


def _sweep_links(q, low, sens, X, keep, w, rel, coupled, p_yes) -> None:
    """Gauss-Seidel sweeps of the coupled links (clipped to ``[0, 1]``), in place, row by row to 1e-15."""
    act = np.arange(q.shape[0])
    for _ in range(MAX_CALIBRATION_SWEEPS):
        if not act.size:
            break
        before = q[act].copy()
        for j in coupled:
            Xj = X[keep[j]]
            fac = _link_factors(1.0 - q[act], Xj, rel[j])
            prod = np.prod(fac, axis=0) if fac else 1.0
            with np.errstate(invalid="ignore", divide="ignore"):
                e = (w[j][act] * prod).sum(-1)
                qj = 1.0 - (1.0 - sens[act, j]) / e
            qj = np.where(p_yes[act, j] > 0, qj, q[act, j])
            low[act, j] = qj < -1e-12
            q[act, j] = np.clip(qj, 0.0, 1.0)
        act = act[np.max(np.abs(q[act] - before), axis=1, initial=0.0) > 1e-15]


def _build_finding(vt: VectorTables, bld: _Builder, f, name: str) -> None:
    """Table of a finding or test: a leaky noisy-OR of its conditions (one leak per context)."""
    n = vt.n
    conds = list(f.links)
    contexts = list(vt.states[f.leak_by]) if f.leak_by else ["*"]
    vt.parents[name] = ([f.leak_by] if f.leak_by else []) + conds
    k = len(conds)
    joint = None
    # conditions that come together: one causes the other, or a third causes both (not a shared effect)
    anc = bld.ancestors
    related = np.array([[bool(anc[a] & anc[b]) for b in conds] for a in conds], dtype=bool).reshape(k, k)
    if f.marginal_links and (related.sum() > k):  # P(context, conditions), for links calibrated among all cases
        joint = vt.marginal(vt.parents[name])
        joint = joint if f.leak_by else joint[:, None]

    def compute(rows):
        """Leak and link probabilities of every context, and the problems, for ``rows``."""
        m = np.arange(n)[rows].size
        chk = bld.checks(m)
        leaks = np.empty((m, len(contexts)))
        links = np.empty((m, len(contexts), k))
        for ci, ctx in enumerate(contexts):
            p = f.leak[ctx]
            sens = bld.col(f.links[f.leak_relative_to[ctx]], rows) if p.kind in ("odds_ratio", "lr_negative", "lr_positive") else None
            leak = cv.leak_from(p.kind, bld.col(p, rows), sens)
            bad = ~((leak >= 0) & (leak < 1))
            chk.add(
                bad,
                f"{name}: {p.parameter} gives a false-positive rate outside [0, 1)",
                lambda i, p=p, leak=leak: _fail(p, f"gives a false-positive rate of {leak[i]:.4g}, outside [0, 1)"),
            )
            leak = np.where(bad, 0.0, leak)
            leaks[:, ci] = leak
            for j, c in enumerate(conds):
                lp = f.links[c]
                s = cv.sensitivity_from(lp.kind, bld.col(lp, rows), leak)
                chk.add(
                    ~((s >= 0) & (s <= 1)),
                    f"{name}: {lp.parameter} gives a sensitivity outside [0, 1]",
                    lambda i, lp=lp, s=s: _fail(lp, f"gives a sensitivity of {s[i]:.4g}, outside [0, 1]"),
                )
                chk.add(
                    s < leak - 1e-12,
                    f"{name}: {lp.parameter} below the false-positive rate",
                    lambda i, lp=lp, s=s, leak=leak: _fail(
                        lp,
                        f"sensitivity {s[i]:.4g} is below the false-positive rate {leak[i]:.4g}; "
                        "a noisy-OR link can only raise the chance of a finding",
                    ),
                )
                links[:, ci, j] = s if joint is not None else cv.noisy_or_link(s, leak)
        if joint is not None:  # links hold the sensitivities: make each one hold among all cases
            links, low = _marginal_links(joint[rows], leaks, links, related)
            for j, c in enumerate(conds):
                chk.add(
                    low[:, j],
                    f"{name}: {f.links[c].parameter} below what the leak and the other linked conditions give",
                    lambda i, c=c: _fail(f.links[c], f"the sensitivity for {c} is below what the false-positive rate "
                                         f"and the other linked conditions ({', '.join(x for x in conds if x != c)}) "
                                         f"already give to the cases of {c}"),
                )
        return (leaks, links), chk

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
