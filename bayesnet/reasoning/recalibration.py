"""Recalibration: a user's own counts update the published numbers, with the published value as the prior.

:func:`recalibrate` takes a table of counts, or patient-level rows from which it tabulates them,
updates the corresponding parameters of the model's setting and returns a
:class:`Recalibration`: the new model (the same setting with the moved numbers restated), a report
of which numbers moved, from what to what, with intervals, and a :meth:`Recalibration.save` that
writes the new numbers as a setting file loading like any shipped one
(``bayesnet.load_model("new_setting.yaml")``, ``--setting new_setting.yaml``).

Input
-----
*A table of counts*: one row per number, columns ``node``, ``parameter``, ``events``, ``total``
(``parameter`` as in ``model.sources()`` or ``model.parameter_space.keys``; the ``[setting]``
suffix of the model's setting may be left out, so ``prevalence`` means ``prevalence[primary_care]``
in primary care). ``events`` counts what the number measures (its ``kind``):

* a prevalence (risk factor or condition, in the setting): patients with it among ``total``;
* a risk-factor prevalence by age band (``prevalence[age_group=70_plus]``): patients with the
  factor among ``total`` of that band;
* a multi-state distribution (``age_group``, ``sex``): one row per state, the same ``total`` for
  all, events summing to it (``prevalence[<state>]`` or ``prevalence[<setting>][<state>]``);
* a sensitivity or proportion of cases: positives among ``total`` confirmed cases;
* a false-positive rate: positives among ``total`` non-cases; a specificity: negatives among
  them. An optional column ``kind`` may say which of the two the row counts (``specificity`` or
  ``false_positive_rate``), whichever the number is stored as;
* a ratio (``odds_ratio``, ``relative_risk``, ``lr_positive``, ``lr_negative``): two groups, the
  columns ``events``/``total`` for the first and ``events_ref``/``total_ref`` for the second. The
  odds ratio is ``(events / (total - events)) / (events_ref / (total_ref - events_ref))``: in a
  cohort the first group is the exposed and ``events`` its cases; in a case-control study the
  first group is the cases and ``events`` the exposed among them (the odds ratio is the same).
  A relative risk or likelihood ratio is ``(events / total) / (events_ref / total_ref)``: risk
  among the exposed over risk among the unexposed; for an LR+ of a finding, positives among
  cases over positives among non-cases (LR-: negatives among each).

*Patient-level rows*: a DataFrame (or CSV file) with one row per patient and one column per
observed variable (variable ids, state names; empty = not observed), all patients of the
model's setting. The counts are tabulated for the parameters named in ``parameters``, or, by
default, for every probability whose defining population is fully observed: its columns are
present, the columns that define the population have no missing value and the variable itself
is observed in every patient of that population. Populations are the network's own definitions:

* a prevalence: every row; by age band: the rows of that band;
* a false-positive rate or specificity (the *leak* of a finding): the rows in which every
  condition linked to the finding is absent (and, for a leak by age band, of that band);
* a sensitivity for condition C: the rows with C, and without each linked condition unrelated
  to C (with findings schema 2 a sensitivity holds among all the cases of C, with or without the
  conditions that come with it: one causes the other, or a third causes both);
* a risk-factor effect given as the proportion of cases with the factor: the rows with the
  condition (its ``controls``: the rows without).

Risk-factor odds ratios and relative risks are left out by default: the network's are
conditional on the condition's other risk factors, a 2x2 table of the rows is crude; name one
in ``parameters`` to update it from the crude table (factor in the effect's states against the
reference state; the report says ``crude 2x2``). A ``caused_by`` link cannot be tabulated (which
condition caused which is not observed): give its counts in a table. Ratios of findings (LR+,
odds ratios of a leak or link) come only from a table.

Update rule
-----------
* **Probabilities**: the prior is the Beta(a, b) whose 2.5%, 50% and 97.5% quantiles are closest,
  on the logit scale, to the published low, value and high (least squares, the median's residual
  weighted twice: a Beta has two parameters and cannot match three numbers exactly when the
  interval is asymmetric on that scale; the report gives the fitted prior's own interval in
  ``prior_fit_low``/``prior_fit_high``). A bound at 0 or 1 is not a quantile and is left out (the
  fit then matches the other two exactly); a number without an interval gets the default width of
  its grade, :data:`~bayesnet.reasoning.uncertainty.DEFAULT_SD`, as in the uncertainty analysis.
  The posterior is Beta(a + events, b + total - events) (conjugate); the restated value is its
  **median** and the interval its 2.5% and 97.5% quantiles, so the uncertainty analysis (which
  reads a number as the median of a split normal whose 2.5% and 97.5% quantiles are the interval)
  reproduces the posterior at those three points. The mean is reported too.
* **Multi-state distributions** (age band, sex): a Dirichlet with means at the published values
  and one concentration fitted as above to all the states' intervals at once (least squares of
  the marginal Betas' quantiles); the posterior Dirichlet adds the counts; the restated values
  are the posterior means (medians need not sum to one) with the marginal Betas' quantiles.
* **Ratios**: a normal on the log scale centred on the log value, its standard deviation the
  average of the interval's two half-widths over 1.96; the data's log ratio and its variance
  (Woolf: ``1/a + 1/b + 1/c + 1/d`` for an odds ratio, ``1/a - 1/n1 + 1/c - 1/n0`` for a ratio of
  proportions; 0.5 added to every cell when one is zero) update it as a normal likelihood
  (precisions add). The restated value is ``exp`` of the posterior mean (its median).

Every restated number is rounded to 6 significant digits (the network is built from the rounded
numbers, and the saved file holds the same), its source says ``recalibrated from <data> (k/n) on
the prior <original source>``, its ``setting`` names the data and the population counted, its
``note`` the prior and the update. Its grade is **A** (a primary study) when the user's counts
carry at least half the posterior's information (``data_weight`` = total / (a + b + total) for a
Beta, data precision / posterior precision for a ratio), otherwise the prior's own grade: a
handful of patients does not make an expert estimate a primary study. ``grade=`` overrides.
The counts are kept in the source and the note, not in the ``counts`` field: the loader reads
``counts`` as the whole evidence for a number and requires an interval at least as wide as the
counts' exact binomial interval, which a posterior that also rests on the prior can be narrower than.

Which numbers a setting file can hold
-------------------------------------
A setting restates a root risk factor's prevalence, a condition's prevalence, a finding's leak and
links and a risk-factor effect. A factor by age band (``risk_factors.yaml``) and a ``caused_by``
link are shared by every setting: they can be recalibrated (the new model uses them; its priors
then hold only this setting, since the shared numbers are no longer those of the others) but not
saved; :meth:`Recalibration.save` refuses with the list of them.

Examples
--------
>>> import bayesnet, pandas as pd
>>> model = bayesnet.load_model("emergency_suspected_pe")
>>> counts = pd.DataFrame({"node": ["pulmonary_embolism"], "parameter": ["prevalence"],
...                        "events": [30], "total": [400]})
>>> res = recalibrate(model, counts, label="our audit")
>>> row = res.report.iloc[0]
>>> row["data"], float(row["prior_value"]), float(row["posterior_value"]), row["grade"]
('30/400', 0.0469, 0.051284, 'A')
>>> src = res.model.sources().set_index(["node", "parameter"])["source"]
>>> src[("pulmonary_embolism", "prevalence[emergency_suspected_pe]")][:49]
'recalibrated from our audit (30/400) on the prior'
"""

from __future__ import annotations

import contextlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import yaml
from scipy.special import expit, logit

from bayesnet.building.parametric import cause_ancestors
from bayesnet.data.priors import (
    PROBABILITY_KINDS,
    SETTINGS_DIR,
    Param,
    PriorSet,
    load_priors,
    read_yaml_mapping,
)
from bayesnet.errors import BayesNetError, PriorsError, UnknownNameError
from bayesnet.formatting import render
from bayesnet.reasoning.uncertainty import DEFAULT_SD, Z975

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = [
    "COUNT_COLUMNS",
    "Recalibration",
    "RecalibrationError",
    "fit_beta",
    "fit_log_normal",
    "recalibrate",
    "recalibration_targets",
    "setting_document",
    "tabulate",
]

#: The columns a table of counts must have (``events_ref``, ``total_ref`` and ``kind`` are optional).
COUNT_COLUMNS = ("node", "parameter", "events", "total")
_OPTIONAL_COLUMNS = ("events_ref", "total_ref", "kind")
#: Significant digits of a restated number.
DIGITS = 6
#: The restated intervals are 95% intervals, as every interval in priors/.
LEVEL = 0.95
#: Complementary kinds: a row may count one for a number stored as the other.
_COMPLEMENT = {"specificity": "false_positive_rate", "false_positive_rate": "specificity"}
_ODDS_RATIOS = {"odds_ratio"}  # the other ratio kinds are ratios of proportions


class RecalibrationError(BayesNetError, ValueError):
    """Counts or rows that cannot update the model as given; the message names the row, column or number."""


# --------------------------------------------------------------------------------------------
# the numbers counts can update


@dataclass(frozen=True)
class Population:
    """Who is counted for a number from patient rows: ``filters`` select the rows, ``outcome`` is the variable counted.

    ``events`` are the outcome's states that count as an event. For a ratio, ``group`` is the
    variable and states of the first group, ``reference`` those of the second.
    """

    outcome: str
    events: tuple[str, ...]
    filters: tuple[tuple[str, tuple[str, ...]], ...] = ()
    group: tuple[str, tuple[str, ...]] | None = None
    reference: tuple[str, tuple[str, ...]] | None = None
    note: str = ""

    def describe(self) -> str:
        """Plain words, e.g. ``rows with pulmonary_embolism=yes, dvt any``."""
        parts = [f"{v}={'|'.join(s)}" for v, s in self.filters]
        text = "every row" if not parts else "rows with " + ", ".join(parts)
        if self.group is not None:
            text += f"; {self.group[0]}={'|'.join(self.group[1])} against {self.reference[0]}={'|'.join(self.reference[1])}"
        return text + (f" ({self.note})" if self.note else "")

    @property
    def columns(self) -> list[str]:
        cols = [v for v, _ in self.filters] + [self.outcome]
        for g in (self.group, self.reference):
            if g is not None:
                cols.append(g[0])
        return list(dict.fromkeys(cols))


@dataclass(frozen=True)
class Target:
    """One number of the model's setting that counts can update.

    Attributes
    ----------
    node, parameter : str
        The key in the model's parameter space (for a multi-state distribution ``parameter`` is
        ``prevalence[<setting>]`` and ``params`` holds one number per state).
    params : tuple of Param
    family : {"beta", "dirichlet", "log_odds_ratio", "log_ratio"}
    where : str
        Where the number lives: ``risk_factor``, ``risk_factor_table``, ``condition``, ``effect``,
        ``controls``, ``cause``, ``leak``, ``link``.
    key : tuple
        The structural place, for restating it (e.g. ``("leak", finding, context)``).
    saveable : bool
        Whether a setting file can restate it.
    population : Population or None
        How patient rows count it (None: not from rows); ``why_not`` says why.
    states : tuple of str
        The states of a multi-state distribution.
    """

    node: str
    parameter: str
    params: tuple[Param, ...]
    family: str
    where: str
    key: tuple
    saveable: bool
    population: Population | None
    why_not: str = ""
    states: tuple[str, ...] = ()
    auto: bool = True  # tabulated from rows without being named

    @property
    def param(self) -> Param:
        return self.params[0]

    @property
    def kind(self) -> str:
        return self.params[0].kind


def _family(kind: str) -> str:
    if kind in PROBABILITY_KINDS:
        return "beta"
    return "log_odds_ratio" if kind in _ODDS_RATIOS else "log_ratio"


def recalibration_targets(model: BackPainModel) -> dict[tuple[str, str], Target]:
    """Every number of the model's setting, as a ``Target``, keyed ``(node, parameter)``.

    A multi-state distribution is one target, listed under ``(node, "prevalence[<setting>]")``.

    Examples
    --------
    >>> import bayesnet
    >>> t = recalibration_targets(bayesnet.load_model())
    >>> t[("fever", "leak")].population.describe()[:40]
    'rows with epidural_abscess=no, vertebral'
    """
    ps, s = model.priors, model.setting
    states = model.states
    out: dict[tuple[str, str], Target] = {}

    def add(t: Target) -> None:
        out[(t.node, t.parameter)] = t

    for name, rf in ps.risk_factors.items():
        if rf.parents:
            for p in dict.fromkeys(rf.table.values()):
                combos = [c for c, q in rf.table.items() if q is p]
                filters = tuple((par, tuple(x for x in ps.risk_factors[par].states if any(c[i] == x for c in combos)))
                                for i, par in enumerate(rf.parents))
                add(Target(name, p.parameter, (p,), "beta", "risk_factor_table", ("risk_factor_table", name, p.parameter),
                           False, Population(name, ("yes",), filters)))
            continue
        dist = rf.prevalence[s]
        if rf.states == ("yes", "no"):
            p = dist["yes"]
            add(Target(name, p.parameter, (p,), "beta", "risk_factor", ("risk_factor", name), True,
                       Population(name, ("yes",))))
        else:
            params = tuple(dist[x] for x in rf.states)
            add(Target(name, f"prevalence[{s}]", params, "dirichlet", "risk_factor", ("risk_factor", name), True,
                       Population(name, rf.states), states=rf.states))
    anc = cause_ancestors(ps)
    for name, c in ps.conditions_in(s).items():
        if c.definition != "calibrated":
            continue
        p = c.prevalence[s]
        add(Target(name, p.parameter, (p,), "beta", "condition", ("condition", name), True, Population(name, ("yes",))))
        for i, e in enumerate(c.effects):
            factor = ps.risk_factors[e.factor]
            ref = ("no",) if factor.states == ("yes", "no") else (factor.states[0],)
            fam = _family(e.param.kind)
            if fam == "beta":
                pop = Population(e.factor, e.states, ((name, ("yes",)),))
                add(Target(name, e.param.parameter, (e.param,), fam, "effect", ("effect", name, i), True, pop))
            elif e.param.kind == "lr_positive":
                pop = Population(e.factor, e.states, (), (name, ("yes",)), (name, ("no",)), "crude 2x2")
                add(Target(name, e.param.parameter, (e.param,), fam, "effect", ("effect", name, i), True, pop,
                           auto=False))
            else:
                pop = Population(name, ("yes",), (), (e.factor, e.states), (e.factor, ref), "crude 2x2")
                add(Target(name, e.param.parameter, (e.param,), fam, "effect", ("effect", name, i), True, pop,
                           auto=False))
            if e.controls is not None:
                pop = Population(e.factor, e.states, ((name, ("no",)),))
                add(Target(name, e.controls.parameter, (e.controls,), "beta", "controls", ("controls", name, i), True,
                           pop))
        for i, k in enumerate(c.causes):
            add(Target(name, k.param.parameter, (k.param,), _family(k.param.kind), "cause", ("cause", name, i), False,
                       None, "which condition caused which is not observed in patient rows; give its counts in a table"))
    for name, f in ps.findings_in(s).items():
        conds = list(f.links)
        pos, neg = states[name]
        for ctx, p in f.leak.items():
            fam = _family(p.kind)
            key = ("leak", name, ctx)
            if fam != "beta":
                add(Target(name, p.parameter, (p,), fam, "leak", key, True, None,
                           f"a leak given as {p.kind} is a ratio between cases and non-cases; give a 2x2 table of counts"))
                continue
            filters = tuple((c, ("no",)) for c in conds)
            if f.leak_by is not None:
                filters = ((f.leak_by, (ctx,)),) + filters
            ev = (neg,) if p.kind == "specificity" else (pos,)
            add(Target(name, p.parameter, (p,), fam, "leak", key, True, Population(name, ev, filters)))
        for c, p in f.links.items():
            fam = _family(p.kind)
            key = ("link", name, c)
            if fam != "beta":
                add(Target(name, p.parameter, (p,), fam, "link", key, True, None,
                           f"a link given as {p.kind} is a ratio against the false-positive rate; give a 2x2 table of counts"))
                continue
            if f.marginal_links:
                others = [o for o in conds if o != c and not (anc[o] & anc[c])]
                note = ""
            else:
                others = [o for o in conds if o != c]
                note = ""
            filters = ((c, ("yes",)),) + tuple((o, ("no",)) for o in others)
            add(Target(name, p.parameter, (p,), fam, "link", key, True, Population(name, (pos,), filters, note=note)))
    return out


def _aliases(targets: Mapping[tuple[str, str], Target], setting: str) -> dict[tuple[str, str], tuple[Target, str | None]]:
    """Every accepted ``(node, parameter)`` -> ``(target, state)``: the keys, without the setting's suffix, per state."""
    out: dict[tuple[str, str], tuple[Target, str | None]] = {}
    suffix = f"[{setting}]"
    for (node, name), t in targets.items():
        out[(node, name)] = (t, None)
        if t.family == "dirichlet":
            out[(node, "prevalence")] = (t, None)
            for st, p in zip(t.states, t.params, strict=True):
                out[(node, p.parameter)] = (t, st)
                out[(node, f"prevalence[{st}]")] = (t, st)
        elif name.endswith(suffix):
            out.setdefault((node, name[: -len(suffix)]), (t, None))
    return out


def _resolve(model: BackPainModel, aliases, node: Any, parameter: Any, where: str) -> tuple[Target, str | None]:
    nodes = sorted({n for n, _ in aliases})
    if not isinstance(node, str) or node not in model.states:
        raise UnknownNameError("node", node, model.states, f"({where})")
    if node not in nodes:
        raise RecalibrationError(f"{where}: {node!r} has no numbers of its own (it is defined by the others)")
    hit = aliases.get((node, parameter)) if isinstance(parameter, str) else None
    if hit is None:
        own = [p for n, p in aliases if n == node]
        raise UnknownNameError("parameter", parameter, own, f"of {node!r} in setting {model.setting!r} ({where})")
    return hit


# --------------------------------------------------------------------------------------------
# priors and updates


def _prior_interval(p: Param) -> tuple[float, float]:
    """The published interval, or the grade's default width around the value (logit or log scale)."""
    if p.has_interval:
        return p.low, p.high
    sd = DEFAULT_SD.get(p.grade, max(DEFAULT_SD.values()))
    if p.kind in PROBABILITY_KINDS:
        return float(expit(logit(p.value) - Z975 * sd)), float(expit(logit(p.value) + Z975 * sd))
    return p.value * math.exp(-Z975 * sd), p.value * math.exp(Z975 * sd)


def _beta_quantiles(q: np.ndarray, a: float, b: float) -> np.ndarray:
    from scipy.stats import beta

    return np.clip(beta.ppf(q, a, b), 1e-300, 1.0 - 1e-16)


@lru_cache(maxsize=8192)
def fit_beta(value: float, low: float, high: float) -> tuple[float, float]:
    """The Beta(a, b) fitted to a probability's value and 95% interval (see the module docstring).

    Parameters
    ----------
    value, low, high : float
        The point value (strictly between 0 and 1) and the interval; a bound at 0 or 1 is left out.

    Returns
    -------
    (a, b) : tuple of float

    Examples
    --------
    >>> from scipy.stats import beta
    >>> a, b = fit_beta(0.68, 0.4646, 0.8505)   # 17/25 with its exact interval
    >>> [round(float(x), 3) for x in beta.ppf([0.025, 0.5, 0.975], a, b)]
    [0.466, 0.68, 0.851]
    """
    from scipy.optimize import least_squares

    if not 0.0 < value < 1.0:
        raise RecalibrationError(f"a value of {value!r} is at the edge of [0, 1]: no Beta prior has it as its median")
    targets = [(0.5, value, 2.0)] + [(q, x, 1.0) for q, x in ((0.025, low), (0.975, high)) if 0.0 < x < 1.0]
    qs = np.array([t[0] for t in targets])
    xs = logit(np.array([t[1] for t in targets]))
    w = np.array([t[2] for t in targets])
    sd = max((high - low) / (2 * Z975), 1e-9)
    kappa = max(value * (1 - value) / sd**2 - 1.0, 1.0)
    x0 = np.log([value * kappa, (1 - value) * kappa])

    def residuals(theta: np.ndarray) -> np.ndarray:
        a, b = np.exp(theta)
        return w * (logit(_beta_quantiles(qs, a, b)) - xs)

    sol = least_squares(residuals, x0, xtol=1e-12, ftol=1e-12, gtol=1e-12)
    a, b = np.exp(sol.x)
    return float(a), float(b)


@lru_cache(maxsize=1024)
def _fit_dirichlet(values: tuple[float, ...], lows: tuple[float, ...], highs: tuple[float, ...]) -> float:
    """Concentration ``alpha_0`` of a Dirichlet with means ``values`` whose marginals best match the intervals."""
    from scipy.optimize import minimize_scalar

    m = np.asarray(values) / np.sum(values)
    rows = [(i, q, x, 2.0 if q == 0.5 else 1.0) for i, (v, lo, hi) in enumerate(zip(values, lows, highs, strict=True))
            for q, x in ((0.025, lo), (0.975, hi)) if 0.0 < x < 1.0 and np.isfinite(x)]
    if not rows:
        return 2.0 * len(values)

    def loss(log_a0: float) -> float:
        a0 = math.exp(log_a0)
        return float(sum((wt * (logit(_beta_quantiles(np.array([q]), m[i] * a0, (1 - m[i]) * a0))[0] - logit(x))) ** 2
                         for i, q, x, wt in rows))

    sol = minimize_scalar(loss, bounds=(math.log(0.5), math.log(1e8)), method="bounded", options={"xatol": 1e-10})
    return float(math.exp(sol.x))


def fit_log_normal(p: Param) -> tuple[float, float]:
    """The normal prior of a ratio on the log scale: ``(mean, sd)`` from its value and 95% interval.

    >>> from bayesnet.data.priors import load_priors
    >>> p = next(p for p in load_priors().params if p.kind == "odds_ratio" and p.has_interval)
    >>> mu, sd = fit_log_normal(p)
    >>> round(math.exp(mu), 6) == round(p.value, 6), sd > 0
    (True, True)
    """
    if not p.value > 0:
        raise RecalibrationError(f"{p.node} {p.parameter}: a ratio of {p.value!r} cannot be updated (must be > 0)")
    low, high = _prior_interval(p)
    mu = math.log(p.value)
    sides = [s for s in ((mu - math.log(low)) / Z975 if low > 0 else math.nan, (math.log(high) - mu) / Z975)
             if np.isfinite(s) and s > 0]
    if not sides:
        raise RecalibrationError(f"{p.node} {p.parameter}: the interval [{p.low}, {p.high}] has no width to update")
    return mu, float(np.mean(sides))


def _round(x: float) -> float:
    return float(f"{x:.{DIGITS}g}")


def _ratio_data(kind: str, a: int, n1: int, c: int, n0: int) -> tuple[float, float]:
    """Log ratio and its variance from two groups (0.5 added to every cell when one is zero)."""
    b, d = n1 - a, n0 - c
    if min(a, b, c, d) == 0:
        a, b, c, d = a + 0.5, b + 0.5, c + 0.5, d + 0.5
    if kind in _ODDS_RATIOS:
        return math.log(a * d / (b * c)), 1 / a + 1 / b + 1 / c + 1 / d
    n1, n0 = a + b, c + d
    return math.log((a / n1) / (c / n0)), 1 / a - 1 / n1 + 1 / c - 1 / n0


@dataclass
class _Update:
    target: Target
    rows: list[dict]  # one per state (one for a single number)
    new: tuple[Param, ...]


def _update(target: Target, obs: dict, label: str, grade: str | None) -> _Update:
    """The posterior of one target given its counts ``obs`` (events/total per state, or two groups)."""
    from scipy.stats import beta, norm

    p0 = target.param
    common = {"node": target.node, "kind": p0.kind, "prior_grade": p0.grade, "saveable": target.saveable,
              "population": obs["population"], "where": target.where}
    rows, new = [], []
    if target.family == "beta":
        k, n = obs["events"], obs["total"]
        low, high = _prior_interval(p0)
        a, b = fit_beta(p0.value, low, high)
        pa, pb = a + k, b + n - k
        med, lo, hi = (float(x) for x in beta.ppf([0.5, (1 - LEVEL) / 2, (1 + LEVEL) / 2], pa, pb))
        value, lo, hi = _round(med), _round(lo), _round(hi)
        lo, hi = min(lo, value), max(hi, value)
        fit_lo, fit_hi = (float(x) for x in beta.ppf([0.025, 0.975], a, b))
        weight = n / (a + b + n)
        data = f"{k}/{n}"
        rows.append({**common, "parameter": target.parameter, "family": "beta", "prior_value": p0.value,
                     "prior_low": p0.low, "prior_high": p0.high, "prior_a": a, "prior_b": b,
                     "prior_fit_low": fit_lo, "prior_fit_high": fit_hi, "events": k, "total": n,
                     "events_ref": np.nan, "total_ref": np.nan, "data": data, "posterior_value": value,
                     "posterior_mean": pa / (pa + pb), "posterior_median": med, "posterior_low": lo,
                     "posterior_high": hi, "posterior_a": pa, "posterior_b": pb,
                     "prior_quantile": float(beta.cdf(value, a, b)), "data_weight": weight})
        how = (f"prior {_g(p0.value)} [{_g(low)}, {_g(high)}] ({p0.setting}; grade {p0.grade}), read as "
               f"Beta({a:.4g}, {b:.4g}); updated with {data}: Beta({pa:.4g}, {pb:.4g}), median {_g(value)}, "
               f"mean {_g(pa / (pa + pb))}")
        new.append(_restated(p0, value, lo, hi, label, data, obs["population"], how, weight, grade))
    elif target.family == "dirichlet":
        counts = np.array([obs["events"][s] for s in target.states], dtype=float)
        n = int(counts.sum())
        vals = tuple(p.value for p in target.params)
        ints = [_prior_interval(p) if p.has_interval else (math.nan, math.nan) for p in target.params]
        a0 = _fit_dirichlet(vals, tuple(i[0] for i in ints), tuple(i[1] for i in ints))
        alpha = np.asarray(vals) / sum(vals) * a0
        post = alpha + counts
        total = post.sum()
        means = [_round(x) for x in post / total]
        means[int(np.argmax(means))] += 1.0 - sum(means)  # the rounded values sum to one
        weight = n / (a0 + n)
        data = ", ".join(f"{s} {int(k)}/{n}" for s, k in zip(target.states, counts, strict=True))
        how = (f"prior {', '.join(f'{s} {_g(v)}' for s, v in zip(target.states, vals, strict=True))} "
               f"({p0.setting}; grade {p0.grade}), read as a Dirichlet of concentration {a0:.4g}; updated with "
               f"{data}: concentration {total:.4g}, posterior means")
        for i, (s, p) in enumerate(zip(target.states, target.params, strict=True)):
            lo, hi = (float(x) for x in beta.ppf([(1 - LEVEL) / 2, (1 + LEVEL) / 2], post[i], total - post[i]))
            lo, hi = min(_round(lo), means[i]), max(_round(hi), means[i])
            fit_lo, fit_hi = (float(x) for x in beta.ppf([0.025, 0.975], alpha[i], a0 - alpha[i]))
            rows.append({**common, "parameter": p.parameter, "family": "dirichlet", "prior_value": p.value,
                         "prior_low": p.low, "prior_high": p.high, "prior_a": alpha[i], "prior_b": a0 - alpha[i],
                         "prior_fit_low": fit_lo, "prior_fit_high": fit_hi, "events": int(counts[i]), "total": n,
                         "events_ref": np.nan, "total_ref": np.nan, "data": f"{int(counts[i])}/{n}",
                         "posterior_value": means[i], "posterior_mean": post[i] / total,
                         "posterior_median": float(beta.ppf(0.5, post[i], total - post[i])), "posterior_low": lo,
                         "posterior_high": hi, "posterior_a": post[i], "posterior_b": total - post[i],
                         "prior_quantile": float(beta.cdf(means[i], alpha[i], a0 - alpha[i])), "data_weight": weight})
            new.append(_restated(p, means[i], lo, hi, label, data, obs["population"], how, weight, grade))
    else:
        a, n1, c, n0 = obs["events"], obs["total"], obs["events_ref"], obs["total_ref"]
        mu0, sd0 = fit_log_normal(p0)
        est, var = _ratio_data(p0.kind, a, n1, c, n0)
        prec = 1 / sd0**2 + 1 / var
        mu = (mu0 / sd0**2 + est / var) / prec
        sd = math.sqrt(1 / prec)
        value, lo, hi = _round(math.exp(mu)), _round(math.exp(mu - Z975 * sd)), _round(math.exp(mu + Z975 * sd))
        lo, hi = min(lo, value), max(hi, value)
        weight = (1 / var) / prec
        data = f"{a}/{n1} vs {c}/{n0}"
        rows.append({**common, "parameter": target.parameter, "family": "log_normal", "prior_value": p0.value,
                     "prior_low": p0.low, "prior_high": p0.high, "prior_a": np.nan, "prior_b": np.nan,
                     "prior_fit_low": math.exp(mu0 - Z975 * sd0), "prior_fit_high": math.exp(mu0 + Z975 * sd0),
                     "events": a, "total": n1, "events_ref": c, "total_ref": n0, "data": data,
                     "posterior_value": value, "posterior_mean": math.exp(mu + sd**2 / 2),
                     "posterior_median": math.exp(mu), "posterior_low": lo, "posterior_high": hi,
                     "posterior_a": np.nan, "posterior_b": np.nan,
                     "prior_quantile": float(norm.cdf((math.log(value) - mu0) / sd0)), "data_weight": weight})
        how = (f"prior {_g(p0.value)} [{_g(p0.low)}, {_g(p0.high)}] ({p0.setting}; grade {p0.grade}), read as a normal "
               f"on the log scale ({mu0:.4g}, sd {sd0:.4g}); updated with {data} (log ratio {est:.4g}, variance "
               f"{var:.4g}): ({mu:.4g}, sd {sd:.4g})")
        new.append(_restated(p0, value, lo, hi, label, data, obs["population"], how, weight, grade))
    for r in rows:
        r["change"] = r["posterior_value"] - r["prior_value"]
        r["fold"] = r["posterior_value"] / r["prior_value"] if r["prior_value"] > 0 else math.inf
        r["grade"] = new[0].grade
    return _Update(target, rows, tuple(new))


def _g(x: float) -> str:
    return "nan" if not np.isfinite(x) else f"{x:.4g}"


def _restated(p: Param, value: float, low: float, high: float, label: str, data: str, population: str, how: str,
              weight: float, grade: str | None) -> Param:
    g = grade if grade is not None else ("A" if weight >= 0.5 else p.grade)
    return replace(p, value=value, low=low, high=high, source=f"recalibrated from {label} ({data}) on the prior {p.source}",
                   setting=f"{label}: {population}", grade=g, note=how, counts="", origin="",
                   file=f"recalibration ({label})", entry=f"{p.node}.{p.parameter}")


# --------------------------------------------------------------------------------------------
# input


def _integer(value: Any, where: str, column: str) -> int:
    """A count: a non-negative integer (``12``, ``12.0`` or ``"12"``), else a named error."""
    ok = None
    if isinstance(value, bool | np.bool_):
        ok = None
    elif isinstance(value, int | np.integer) or isinstance(value, float | np.floating) and np.isfinite(value) and float(value).is_integer():
        ok = int(value)
    elif isinstance(value, str):
        text = value.strip()
        try:
            x = float(text)
            ok = int(x) if np.isfinite(x) and x.is_integer() else None
        except ValueError:
            ok = None
    if ok is None or ok < 0:
        raise RecalibrationError(f"{where}: column {column!r} must be a count (a non-negative integer); got {value!r}")
    return ok


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    if isinstance(v, str):
        return not v.strip()
    return v is pd.NA or v is pd.NaT


def _read_csv(path: Path) -> pd.DataFrame:
    name = path.name
    if not path.is_file():
        raise RecalibrationError(f"{name}: file not found ({str(path)!r})")
    try:
        return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""], skipinitialspace=True)
    except UnicodeDecodeError:
        raise RecalibrationError(f"{name}: not a UTF-8 text file") from None
    except pd.errors.EmptyDataError:
        raise RecalibrationError(f"{name}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise RecalibrationError(f"{name}: not a valid CSV file: {str(exc).strip().splitlines()[-1]}") from None


def _row_names(df: pd.DataFrame, from_file: bool) -> list[str]:
    if from_file:
        return [f"line {i + 2}" for i in range(len(df))]
    return [f"row {label!r}" for label in df.index]


def _parse_counts(model: BackPainModel, df: pd.DataFrame, aliases, label: str, from_file: bool) -> list[tuple[Target, dict]]:
    """Validate a table of counts: one ``(target, observation)`` per number (states of a distribution gathered)."""
    cols = [str(c).strip() for c in df.columns]
    df = df.set_axis(cols, axis=1)
    unknown = [c for c in cols if c not in COUNT_COLUMNS + _OPTIONAL_COLUMNS]
    if unknown:
        raise UnknownNameError("column", unknown[0], [*COUNT_COLUMNS, *_OPTIONAL_COLUMNS], f"in the counts of {label}")
    if len(set(cols)) != len(cols):
        dup = next(c for c in cols if cols.count(c) > 1)
        raise RecalibrationError(f"{label}: column {dup!r} appears twice")
    if df.empty:
        raise RecalibrationError(f"{label}: the table of counts has no rows")
    names = _row_names(df, from_file)
    gathered: dict[tuple[str, str], tuple[Target, dict, list[str]]] = {}
    for where, rec in zip(names, df.to_dict("records"), strict=True):
        where = f"{label}, {where}"
        for c in COUNT_COLUMNS:
            if _missing(rec.get(c)):
                raise RecalibrationError(f"{where}: column {c!r} is empty")
        node, parameter = str(rec["node"]).strip(), str(rec["parameter"]).strip()
        target, state = _resolve(model, aliases, node, parameter, where)
        k = _integer(rec["events"], where, "events")
        n = _integer(rec["total"], where, "total")
        if n == 0:
            raise RecalibrationError(f"{where}: total must be at least 1; got 0")
        if k > n:
            raise RecalibrationError(f"{where}: events ({k}) exceed total ({n})")
        kind = rec.get("kind")
        if not _missing(kind):
            kind = str(kind).strip()
            if kind == _COMPLEMENT.get(target.kind):
                k = n - k  # counted as the complement of what the number is stored as
            elif kind != target.kind:
                ok = [target.kind] + ([_COMPLEMENT[target.kind]] if target.kind in _COMPLEMENT else [])
                raise UnknownNameError("kind", kind, ok, f"for {node} {target.parameter} (stored as {target.kind}; {where})")
        ref = [rec.get(c) for c in ("events_ref", "total_ref")]
        key = (target.node, target.parameter)
        if target.family in ("log_odds_ratio", "log_ratio"):
            if any(_missing(x) for x in ref):
                raise RecalibrationError(
                    f"{where}: {node} {target.parameter} is a ratio ({target.kind}): counts update it as two groups; "
                    "give events_ref and total_ref too (module bayesnet.reasoning.recalibration says how)")
            c = _integer(ref[0], where, "events_ref")
            n0 = _integer(ref[1], where, "total_ref")
            if n0 == 0:
                raise RecalibrationError(f"{where}: total_ref must be at least 1; got 0")
            if c > n0:
                raise RecalibrationError(f"{where}: events_ref ({c}) exceed total_ref ({n0})")
            obs = {"events": k, "total": n, "events_ref": c, "total_ref": n0}
        else:
            if not all(_missing(x) for x in ref):
                raise RecalibrationError(f"{where}: events_ref/total_ref go with a ratio; {node} {target.parameter} is a "
                                         f"{target.kind}: leave them empty")
            obs = {"events": k, "total": n}
        if key in gathered and not (target.family == "dirichlet" and state not in gathered[key][1]["events"]):
            raise RecalibrationError(f"{where}: {node} {parameter} is given twice (also {gathered[key][2][0]}); add the "
                                     "counts up into one row if they are separate samples")
        if target.family == "dirichlet":
            if state is None:
                raise RecalibrationError(f"{where}: {node} has states {', '.join(target.states)}: give one row per state "
                                         f"(parameter prevalence[<state>])")
            if key in gathered:
                t, o, wh = gathered[key]
                if o["total"] != n:
                    raise RecalibrationError(f"{where}: every state of {node} must have the same total (the patients "
                                             f"counted); {o['total']} in {wh[0]}, {n} here")
                o["events"][state] = k
                wh.append(where)
                continue
            obs = {"events": {state: k}, "total": n}
        gathered[key] = (target, obs, [where])
    out = []
    for (node, _), (t, obs, wh) in gathered.items():
        if t.family == "dirichlet":
            missing = [s for s in t.states if s not in obs["events"]]
            if missing:
                raise RecalibrationError(f"{label}, {wh[0]}: {node} needs a row for every state; missing "
                                         f"{', '.join(missing)}")
            if sum(obs["events"].values()) != obs["total"]:
                raise RecalibrationError(f"{label}, {wh[0]}: the events of {node}'s states sum to "
                                         f"{sum(obs['events'].values())}, not to their total {obs['total']}")
        obs["population"] = "counts as given"
        out.append((t, obs))
    return out


def _check_rows(model: BackPainModel, rows: pd.DataFrame, label: str, from_file: bool,
                ignore: Sequence[str]) -> pd.DataFrame:
    """Patient rows with every column a variable and every value one of its states (or missing)."""
    states = model.states
    rows = rows.drop(columns=[c for c in ignore if c in rows.columns])
    cols = [str(c).strip() for c in rows.columns]
    rows = rows.set_axis(cols, axis=1)
    if len(set(cols)) != len(cols):
        dup = next(c for c in cols if cols.count(c) > 1)
        raise RecalibrationError(f"{label}: column {dup!r} appears twice")
    for c in cols:
        if c not in states:
            raise UnknownNameError("variable", c, states, f"(a column of the patient rows of {label}; drop it or "
                                   "ignore it with ignore_columns / --ignore-column)")
    if rows.empty:
        raise RecalibrationError(f"{label}: there are no patient rows")
    names = _row_names(rows, from_file)
    out = {}
    for c in cols:
        text = rows[c].astype("string").str.strip()
        text = text.mask(text == "")
        ok = (text.isna() | text.isin(states[c])).to_numpy(dtype=bool)
        if not ok.all():
            i = int(np.flatnonzero(~ok)[0])
            raise UnknownNameError("state", text.iloc[i], states[c], f"of {c!r} ({label}, {names[i]}, column {c!r})")
        out[c] = text.astype(object).where(text.notna(), None)
    return pd.DataFrame(out, index=rows.index)


def tabulate(model: BackPainModel, rows: pd.DataFrame, parameters: Sequence[Any] | None = None, *,
             missing: str = "error", label: str = "patient rows",
             exclude: Sequence[Any] = ()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Count, in patient rows, the events and totals of each number (see the module docstring).

    Parameters
    ----------
    model : BackPainModel
    rows : DataFrame
        One row per patient, columns variable ids, values state names (missing = not observed).
    parameters : list, optional
        ``"node:parameter"`` strings or ``(node, parameter)`` pairs. Default: every number whose
        defining population is fully observed.
    missing : {"error", "drop"}, default "error"
        For a named number: a missing value in its columns is an error, or its row is left out.
    label : str
    exclude : list, optional
        Numbers not to count (same forms as ``parameters``).

    Returns
    -------
    (counts, skipped) : tuple of DataFrame
        ``counts``: ``node, parameter, state, events, total, events_ref, total_ref, population,
        rows_left_out``, one row per number (per state for a distribution); ``skipped``: ``node,
        parameter, reason`` for the numbers not counted (default mode only).

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> cohort = model.sample_cohort(500, seed=0, columns=["sex", "fever"])
    >>> counts, skipped = tabulate(model, cohort)
    >>> counts["parameter"].tolist()
    ['prevalence[primary_care][female]', 'prevalence[primary_care][male]']
    """
    counts, skipped, _ = _tabulate(model, rows, parameters, missing, label, False, (), exclude)
    return counts, skipped


def _named(model: BackPainModel, aliases, items: Any, what: str) -> list[Target]:
    """The targets named by ``"node:parameter"`` strings or ``(node, parameter)`` pairs."""
    if isinstance(items, str) or not isinstance(items, Sequence):
        raise RecalibrationError(f"{what} must be a list of 'node:parameter' names or (node, parameter) pairs; "
                                 f"got {items!r}")
    chosen: list[Target] = []
    for item in items:
        if isinstance(item, str):
            node, sep, par = item.partition(":")
            if not sep:
                raise RecalibrationError(f"{what}: {item!r}: write it as node:parameter, e.g. "
                                         "d_dimer:sensitivity[pulmonary_embolism]")
        elif isinstance(item, Sequence) and len(item) == 2:
            node, par = item
        else:
            raise RecalibrationError(f"{what}: {item!r}: give 'node:parameter' or (node, parameter)")
        t, _ = _resolve(model, aliases, str(node).strip(), str(par).strip(), what)
        if t not in chosen:
            chosen.append(t)
    return chosen


def _tabulate(model, rows, parameters, missing, label, from_file, ignore=(), exclude=()):
    if missing not in ("error", "drop"):
        raise UnknownNameError("missing option", missing, ["error", "drop"])
    data = _check_rows(model, rows, label, from_file, ignore)
    targets = recalibration_targets(model)
    aliases = _aliases(targets, model.setting)
    named = parameters is not None
    chosen = _named(model, aliases, parameters, "parameters") if named else list(targets.values())
    excluded = _named(model, aliases, exclude, "exclude") if exclude else []
    records, skipped, pairs = [], [], []
    for t in chosen:
        name = f"{t.node} {t.parameter}"
        if t in excluded:
            skipped.append({"node": t.node, "parameter": t.parameter, "reason": "excluded"})
            continue
        pop = t.population
        if pop is None or (not named and not t.auto):
            reason = t.why_not if pop is None else ("a crude 2x2 table of the rows is not the network's conditional "
                                                    "odds ratio; name it in parameters to use it")
            if named:
                raise RecalibrationError(f"{name} cannot be counted in patient rows: {reason}")
            skipped.append({"node": t.node, "parameter": t.parameter, "reason": reason})
            continue
        absent = [c for c in pop.columns if c not in data.columns]
        if absent:
            if named:
                raise RecalibrationError(f"{name}: the patient rows of {label} have no column {absent[0]!r} (its "
                                         f"population: {pop.describe()})")
            skipped.append({"node": t.node, "parameter": t.parameter, "reason": f"no column {absent[0]}"})
            continue
        defining = [v for v, _ in pop.filters] + [g[0] for g in (pop.group, pop.reference) if g is not None]
        keep = pd.Series(True, index=data.index)
        for v in dict.fromkeys(defining):
            keep &= data[v].notna()
        inside = keep.copy()
        for v, sts in pop.filters:
            inside &= data[v].isin(sts)
        if pop.group is not None:
            inside &= data[pop.group[0]].isin(pop.group[1]) | data[pop.reference[0]].isin(pop.reference[1])
        lost_outcome = inside & data[pop.outcome].isna()
        lost = int((~keep).sum() + lost_outcome.sum())
        if lost:
            where = next(c for c in [*dict.fromkeys(defining), pop.outcome]
                         if (data[c].isna() & (inside if c == pop.outcome else True)).any())
            if not named:
                skipped.append({"node": t.node, "parameter": t.parameter,
                                "reason": f"{lost} rows without {where} (not fully observed)"})
                continue
            if missing == "error":
                raise RecalibrationError(f"{name}: {lost} of the patient rows of {label} have no value for {where!r}, "
                                         "needed to count it; fill them in, or leave those rows out (missing='drop', "
                                         "--missing drop)")
        inside &= data[pop.outcome].notna()
        sel = data[inside]
        rec = {"node": t.node, "population": pop.describe(), "rows_left_out": lost}
        if pop.group is None:
            n = len(sel)
            if n == 0:
                if named:
                    raise RecalibrationError(f"{name}: no patient of {label} is in its population ({pop.describe()})")
                skipped.append({"node": t.node, "parameter": t.parameter, "reason": "no patient in its population"})
                continue
            if t.family == "dirichlet":
                counts = {s: int((sel[pop.outcome] == s).sum()) for s in t.states}
                for s, p in zip(t.states, t.params, strict=True):
                    records.append({**rec, "parameter": p.parameter, "state": s, "events": counts[s], "total": n,
                                    "events_ref": np.nan, "total_ref": np.nan})
                obs = {"events": counts, "total": n}
            else:
                k = int(sel[pop.outcome].isin(pop.events).sum())
                records.append({**rec, "parameter": t.parameter, "state": None, "events": k, "total": n,
                                "events_ref": np.nan, "total_ref": np.nan})
                obs = {"events": k, "total": n}
        else:
            g1 = sel[sel[pop.group[0]].isin(pop.group[1])]
            g0 = sel[sel[pop.reference[0]].isin(pop.reference[1])]
            if len(g1) == 0 or len(g0) == 0:
                raise RecalibrationError(f"{name}: one of its two groups is empty in {label} ({pop.describe()})")
            k, n = int(g1[pop.outcome].isin(pop.events).sum()), len(g1)
            c, n0 = int(g0[pop.outcome].isin(pop.events).sum()), len(g0)
            records.append({**rec, "parameter": t.parameter, "state": None, "events": k, "total": n, "events_ref": c,
                            "total_ref": n0})
            obs = {"events": k, "total": n, "events_ref": c, "total_ref": n0}
        obs["population"] = f"{pop.describe()}, {len(sel)} patients" + (f" ({lost} left out)" if lost else "")
        pairs.append((t, obs))
    cols = ["node", "parameter", "state", "events", "total", "events_ref", "total_ref", "population", "rows_left_out"]
    if named is False and not pairs:
        raise RecalibrationError(f"{label}: no number could be counted in these rows (none has its population fully "
                                 "observed); name the numbers with parameters= / --parameter")
    return (pd.DataFrame(records, columns=cols), pd.DataFrame(skipped, columns=["node", "parameter", "reason"]), pairs)


# --------------------------------------------------------------------------------------------
# the new model


def _suffixed(p: Param, setting: str) -> Param:
    return p if p.parameter.endswith(f"[{setting}]") else replace(p, parameter=f"{p.parameter}[{setting}]")


def _new_priors(ps: PriorSet, setting: str, updates: Sequence[_Update]) -> tuple[PriorSet, dict]:
    """A copy of ``ps`` with the updated numbers restated in ``setting`` (shared ones replaced everywhere).

    Returns the priors and ``(node, old parameter) -> new parameter name``.
    """
    shared = {(u.target.node, u.target.param.parameter): u.new[0] for u in updates if not u.target.saveable}
    names: dict[tuple[str, str], str] = {}
    if shared:
        ps = ps.map_params(lambda p: shared.get((p.node, p.parameter), p))
        ps.settings = {setting: ps.settings[setting]}
    else:
        ps = replace(ps, risk_factors=dict(ps.risk_factors), conditions=dict(ps.conditions),
                     finding_overrides=dict(ps.finding_overrides), condition_overrides=dict(ps.condition_overrides),
                     params=list(ps.params))
    own_f = dict(ps.finding_overrides.get(setting, {}))
    own_c = dict(ps.condition_overrides.get(setting, {}))
    for u in updates:
        t = u.target
        kind = t.key[0]
        for old, new in zip(t.params, u.new, strict=True):
            names[(t.node, old.parameter)] = old.parameter
        if not t.saveable:
            continue
        if kind == "risk_factor":
            rf = ps.risk_factors[t.node]
            if t.family == "dirichlet":
                dist = dict(zip(t.states, u.new, strict=True))
            else:
                yes = u.new[0]
                dist = {"yes": yes, "no": replace(rf.prevalence[setting]["no"], value=1.0 - yes.value, low=1.0 - yes.high,
                                                  high=1.0 - yes.low, source=yes.source, setting=yes.setting,
                                                  grade=yes.grade, note=yes.note, origin="")}
            ps.risk_factors[t.node] = replace(rf, prevalence={**rf.prevalence, setting: dist})
        elif kind == "condition":
            c = ps.conditions[t.node]
            ps.conditions[t.node] = replace(c, prevalence={**c.prevalence, setting: u.new[0]})
            if t.node in own_c:
                own_c[t.node] = replace(own_c[t.node], prevalence=ps.conditions[t.node].prevalence)
        elif kind in ("effect", "controls"):
            _, cond, i = t.key
            c = own_c.get(cond, ps.conditions_in(setting)[cond])
            e = c.effects[i]
            p = _suffixed(u.new[0], setting)
            e = replace(e, param=p) if kind == "effect" else replace(e, controls=p)
            names[(t.node, t.param.parameter)] = p.parameter
            own_c[cond] = replace(c, effects=tuple(e if j == i else x for j, x in enumerate(c.effects)))
        elif kind in ("leak", "link"):
            _, fname, which = t.key
            f = own_f.get(fname, ps.findings_in(setting)[fname])
            p = _suffixed(u.new[0], setting)
            names[(t.node, t.param.parameter)] = p.parameter
            if kind == "leak":
                f = replace(f, leak={**f.leak, which: p})
            else:
                f = replace(f, links={**f.links, which: p})
            own_f[fname] = f
    if own_f:
        ps.finding_overrides = {**ps.finding_overrides, setting: own_f}
    if own_c:
        # a condition restated in this setting carries this setting's prevalence
        own_c = {n: replace(c, prevalence=ps.conditions[n].prevalence) for n, c in own_c.items()}
        ps.condition_overrides = {**ps.condition_overrides, setting: own_c}
    known = {(p.node, p.parameter) for p in ps.params}
    moved = {(u.target.node, o.parameter): n for u in updates for o, n in zip(u.target.params, u.new, strict=True)}
    params = [moved.get((p.node, p.parameter), p) for p in ps.params]
    for p in ps.params_for(setting):
        if (p.node, p.parameter) not in known:
            params.append(p)
    ps.params = params
    return ps, names


# --------------------------------------------------------------------------------------------
# the setting file


def _number(p: Param, kind: bool = True) -> dict:
    d: dict[str, Any] = {"kind": p.kind} if kind else {}
    d["value"] = p.value
    if p.has_interval:
        d["low"], d["high"] = p.low, p.high
    if p.counts:
        d["counts"] = p.counts
    d.update(source=p.source, setting=p.setting, grade=p.grade)
    if p.note:
        d["note"] = p.note
    return d


def _differs(a: Param, b: Param) -> bool:
    fields = ("kind", "value", "low", "high", "source", "setting", "grade", "counts")
    return any(not (getattr(a, f) == getattr(b, f) or (isinstance(getattr(a, f), float) and math.isnan(getattr(a, f))
                                                        and math.isnan(getattr(b, f)))) for f in fields)


def _shipped(ps: PriorSet, setting: str) -> bool:
    path = ps.setting_files.get(setting)
    return path is not None and Path(path).resolve().parent == (Path(ps.directory) / SETTINGS_DIR).resolve()


def setting_document(model: BackPainModel, *, description: str | None = None) -> tuple[dict, list[str]]:
    """The setting file (as a mapping) restating every number of the model's setting that its file does not give.

    The numbers of ``model.setting`` are compared with those its own file gives (loaded afresh from
    ``model.priors.directory``); each that differs is restated. A shipped setting is the base
    (``based_on``); a setting read from a file of its own is copied and the differing numbers
    written over it (so the new file stands alone as the old one did).

    Returns
    -------
    (document, unsaveable) : tuple
        The mapping, and the numbers that differ but no setting file can hold (``"node parameter"``).

    Raises
    ------
    RecalibrationError
        The setting's file cannot be read again.
    """
    ps, s = model.priors, model.setting
    path = ps.setting_files.get(s)
    if path is None:
        raise RecalibrationError(f"setting {s!r} was not read from a file: no base to write a setting file on")
    shipped = _shipped(ps, s)
    try:
        ref_ps = load_priors(ps.directory, extra_settings=() if shipped else (str(path),))
    except PriorsError as exc:
        raise RecalibrationError(f"cannot read setting {s!r} again from {str(path)!r}: {exc}") from None
    if s not in ref_ps.settings:
        raise RecalibrationError(f"setting {s!r} is not in {str(path)!r} any more")
    if shipped:
        doc: dict[str, Any] = {"schema_version": 2, "description": description or ps.settings[s], "based_on": s}
    else:
        doc = {k: v for k, v in read_yaml_mapping(Path(path), str(path)).items() if k != "default"}
        doc = yaml.safe_load(yaml.safe_dump(doc))  # a deep copy
        if description:
            doc["description"] = description
    ref = {(p.node, p.parameter): p for p in ref_ps.params_for(s)}
    current = recalibration_targets(model)
    unsaveable = []
    for t in current.values():
        if not any((p.node, p.parameter) not in ref or _differs(p, ref[(p.node, p.parameter)]) for p in t.params):
            continue
        if not t.saveable:
            unsaveable.append(f"{t.node} {t.parameter}")
            continue
        _restate(doc, model, t)
    return doc, unsaveable


def _restate(doc: dict, model: BackPainModel, t: Target) -> None:
    """Write target ``t``'s current numbers into the setting document ``doc``."""
    ps, s = model.priors, model.setting
    kind = t.key[0]
    if kind == "risk_factor":
        if t.family == "dirichlet":
            first = t.params[0]
            entry = {"values": {st: p.value for st, p in zip(t.states, t.params, strict=True)}}
            if all(p.has_interval for p in t.params):
                entry["low"] = {st: p.low for st, p in zip(t.states, t.params, strict=True)}
                entry["high"] = {st: p.high for st, p in zip(t.states, t.params, strict=True)}
            entry.update(source=first.source, setting=first.setting, grade=first.grade)
            if first.note:
                entry["note"] = first.note
        else:
            entry = _number(t.param, kind=t.param.kind != "prevalence")
        doc.setdefault("risk_factors", {})[t.node] = entry
    elif kind == "condition":
        doc.setdefault("conditions", {})[t.node] = _number(t.param, kind=t.param.kind != "prevalence")
    elif kind in ("effect", "controls"):
        _, cond, i = t.key
        e = ps.conditions_in(s)[cond].effects[i]
        entry = {"factor": e.factor, **({"state": e.states[0]} if len(e.states) == 1 else {"states": list(e.states)}),
                 **_number(e.param)}
        if e.controls is not None:
            entry["controls"] = _number(e.controls)
        effects = doc.setdefault("effects", {}).setdefault(cond, [])
        for j, old in enumerate(effects):
            old_states = old.get("states", [old.get("state")]) if isinstance(old, dict) else None
            if isinstance(old, dict) and old.get("factor") == e.factor and tuple(old_states or ()) == e.states:
                effects[j] = entry
                break
        else:
            effects.append(entry)
    else:
        _, fname, _ = t.key
        f = ps.findings_in(s)[fname]
        out = doc.setdefault("findings", {}).setdefault(fname, {})
        if kind == "leak":
            def leak(ctx: str) -> dict:
                d = _number(f.leak[ctx])
                if ctx in f.leak_relative_to:
                    d["relative_to"] = f.leak_relative_to[ctx]
                return d
            out["leak"] = leak("*") if f.leak_by is None else {"by": f.leak_by, "values": {c: leak(c) for c in f.leak}}
        else:
            out.setdefault("links", {})[t.key[2]] = _number(f.links[t.key[2]])


def _yaml_text(doc: dict, header: str) -> str:
    body = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100, default_flow_style=False)
    return "".join(f"# {line}\n" if line else "#\n" for line in header.splitlines()) + body


# --------------------------------------------------------------------------------------------
# the result


@dataclass
class Recalibration:
    """The result of :func:`recalibrate`.

    Attributes
    ----------
    model : BackPainModel
        The new model: the same setting with the moved numbers restated.
    prior_model : BackPainModel
        The model the counts updated.
    report : DataFrame
        One row per number (per state of a distribution): ``node, parameter, kind, family,
        prior_value, prior_low, prior_high, data, posterior_value, posterior_low, posterior_high,
        change, fold, prior_quantile, data_weight, grade``, and ``prior_a, prior_b`` (the fitted
        Beta, or the Dirichlet's marginal), ``prior_fit_low, prior_fit_high`` (the fitted prior's
        own 95% interval), ``events, total, events_ref, total_ref``, ``posterior_mean,
        posterior_median, posterior_a, posterior_b``, ``population``, ``saveable``, ``where``,
        ``prior_grade`` and ``restated_as`` (the number's name in the new model). ``posterior_value``
        is the restated number (6 significant digits): the posterior median (mean for a
        distribution); ``prior_quantile`` is where it falls in the prior (0.5: where the prior
        put it; 0.99: in its top 1%).
    counts : DataFrame
        The counts used (tabulated from patient rows, or as given).
    skipped : DataFrame
        ``node, parameter, reason``: numbers of patient rows not counted (default mode).
    label, setting : str
    """

    model: Any
    prior_model: Any
    report: pd.DataFrame
    counts: pd.DataFrame
    skipped: pd.DataFrame
    label: str
    setting: str
    unsaveable: list[str] = field(default_factory=list)

    @property
    def table(self) -> pd.DataFrame:
        """The report (for the renderers)."""
        return self.report

    def setting_yaml(self, name: str | None = None) -> str:
        """The new numbers as the text of a setting file (``based_on`` the setting); see :meth:`save`.

        Raises
        ------
        RecalibrationError
            Some moved numbers cannot be held by a setting file (a factor by age band, a
            ``caused_by`` link): the message lists them.
        """
        doc, unsaveable = setting_document(
            self.model, description=f"{self.prior_model.priors.settings[self.setting]} Recalibrated with {self.label}.")
        if unsaveable:
            raise RecalibrationError(
                "a setting file cannot restate " + ", ".join(unsaveable) + " (shared by every setting: "
                "risk_factors.yaml / conditions.yaml); recalibrate without them to save a setting, or edit a copy of "
                "the priors directory")
        n = len(self.report)
        header = (f"Setting {name or '<name>'}: setting {self.setting} recalibrated with {self.label} by bayesnet\n"
                  f"({n} number{'s' if n != 1 else ''} updated; each one's source gives the counts and its note the "
                  "prior and the update).\nLoad it with bayesnet.load_model(\"<this file>\") or --setting <this file>.")
        return _yaml_text(doc, header)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the new numbers as a setting file, checked by loading it before it replaces ``path``.

        The file is written next to ``path`` under a temporary name, loaded with the model's
        priors directory, its network compared with :attr:`model`'s (every table equal to 1e-12),
        and only then renamed onto ``path``: a file that would not load, or would load as another
        model, is never left behind. Its setting is named after the file (``path``'s stem).

        Returns
        -------
        Path

        Raises
        ------
        RecalibrationError
            ``path`` is not ``.yaml``/``.yml``, its folder does not exist, its name is that of a
            shipped setting, or some numbers cannot be saved (see :meth:`setting_yaml`).
        """
        target = Path(path)
        if target.suffix not in (".yaml", ".yml"):
            raise RecalibrationError(f"{str(path)!r}: a setting file must end in .yaml or .yml")
        if target.is_dir():
            raise RecalibrationError(f"{str(path)!r} is a folder; give the path of a .yaml file")
        if not target.resolve().parent.is_dir():
            raise RecalibrationError(f"{str(path)!r}: folder {str(target.resolve().parent)!r} does not exist")
        ps = self.prior_model.priors
        shipped = {p.stem for p in (Path(ps.directory) / SETTINGS_DIR).glob("*.yaml")}
        if target.stem in shipped:
            raise RecalibrationError(f"{str(path)!r}: {target.stem!r} is the name of a shipped setting; the file's name "
                                     "is its setting's name: choose another")
        text = self.setting_yaml(target.stem)
        fd, tmp = tempfile.mkstemp(dir=target.resolve().parent, prefix=f".{target.stem}.", suffix=".partial.yaml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                fh.write(text)
            loaded_ps = load_priors(ps.directory, extra_settings=(tmp,))
            loaded = type(self.model)(loaded_ps, Path(tmp).stem)
            _same_tables(self.model, loaded, target)
            os.replace(tmp, target)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        return target

    def to_dict(self) -> dict:
        """Plain-Python form (the command line's ``--json``)."""
        def clean(v: Any) -> Any:
            if hasattr(v, "item"):
                v = v.item()
            return None if isinstance(v, float) and not math.isfinite(v) else v

        return {"setting": self.setting, "data": self.label,
                "parameters": [{k: clean(v) for k, v in r.items()} for r in self.report.to_dict("records")],
                "skipped": [{k: clean(v) for k, v in r.items()} for r in self.skipped.to_dict("records")],
                "unsaveable": list(self.unsaveable)}

    def __repr__(self) -> str:
        text = render(self, "recalibration", "text")
        if text is not None:
            return text
        return f"<Recalibration of {self.setting} with {self.label}: {len(self.report)} numbers updated>"

    def _repr_html_(self) -> str | None:
        return render(self, "recalibration", "html") or self.report.to_html()


def _same_tables(a: Any, b: Any, where: Path) -> None:
    for v, t in a.tables.cpts.items():
        u = b.tables.cpts.get(v)
        if u is None or u.shape != t.shape or not np.allclose(u, t, rtol=0, atol=1e-12):
            raise RecalibrationError(f"{str(where)!r}: the written setting does not reproduce the recalibrated table of "
                                     f"{v!r}; nothing was written (please report this)")


# --------------------------------------------------------------------------------------------
# entry point


#: In the default mode for patient rows, the most nodes whose updates are left out because they do not fit.
MAX_LEFT_OUT = 20


def _node_of(entry: str | None) -> str | None:
    """The node a priors error's entry names (``findings.fever.leak`` -> ``fever``, ``fever.leak`` -> ``fever``)."""
    if not entry:
        return None
    parts = entry.split(".")
    return parts[1] if parts[0] in ("findings", "conditions", "risk_factors", "effects") and len(parts) > 1 else parts[0]


def _build(model: BackPainModel, updates: list[_Update], skipped: pd.DataFrame, auto: bool):
    """The new model; in the default mode for rows, the updates of a node that does not fit are left out (and said)."""
    left: list[dict] = []
    for _ in range(MAX_LEFT_OUT + 1):
        new_ps, names = _new_priors(model.priors, model.setting, updates)
        try:
            new_model = type(model)(new_ps, model.setting)
        except PriorsError as exc:
            node = _node_of(exc.entry)
            mine = [u for u in updates if u.target.node == node]
            if not auto or not mine or len(left) >= MAX_LEFT_OUT:
                culprit = exc.entry or "one of them"
                raise RecalibrationError(
                    f"the recalibrated numbers do not fit together in the network ({culprit}): "
                    f"{str(exc).split(': ')[-1]}; leave one of the numbers involved as it is (exclude=[...], "
                    "--exclude node:parameter) or give more counts") from None
            reason = f"left at the published value: its update did not fit the network ({str(exc).split(': ')[-1]})"
            left += [{"node": u.target.node, "parameter": u.target.parameter, "reason": reason} for u in mine]
            updates = [u for u in updates if u.target.node != node]
            continue
        if left:
            skipped = pd.concat([skipped, pd.DataFrame(left, columns=skipped.columns)], ignore_index=True)
        return new_model, names, updates, skipped
    raise AssertionError("unreachable")  # pragma: no cover


def recalibrate(
    model: BackPainModel,
    data: pd.DataFrame | str | os.PathLike,
    *,
    parameters: Sequence[Any] | None = None,
    label: str | None = None,
    grade: str | None = None,
    missing: str = "error",
    ignore_columns: Sequence[str] = (),
    exclude: Sequence[Any] = (),
) -> Recalibration:
    """Update the model's numbers with a user's counts, the published values as the prior.

    Parameters
    ----------
    model : BackPainModel
    data : DataFrame or path
        A table of counts (columns ``node, parameter, events, total`` and optionally
        ``events_ref, total_ref, kind``) or patient-level rows (columns named after variables),
        as a DataFrame or a CSV file (UTF-8, a header row); see the module docstring.
    parameters : list, optional
        With patient rows: the numbers to count (``"node:parameter"`` or ``(node, parameter)``);
        default every probability whose defining population is fully observed.
    label : str, optional
        Names the data in the sources (default: the file's name, or ``"user counts"`` /
        ``"user rows"``).
    grade : {"A", "B", "C"}, optional
        Grade of every restated number (default: A when the data carry at least half the
        posterior's information, else the prior's grade).
    missing : {"error", "drop"}, default "error"
        Patient rows, named numbers: a missing value needed to count one is an error, or its row
        is left out (the report's ``population`` says how many).
    ignore_columns : list of str
        Columns of patient rows that are not variables (a patient id...).
    exclude : list, optional
        Numbers to leave as they are (``"node:parameter"`` or ``(node, parameter)``), whatever the
        data say about them: e.g. one whose update would not fit the network's other numbers.

    Returns
    -------
    Recalibration

    Raises
    ------
    RecalibrationError, UnknownNameError
        A bad table or bad rows: the message names the file, the row or line, the column and
        the value. Or the new numbers do not fit together in the network (e.g. a sensitivity below the
        false-positive rate); the message names the number.
    """
    from_file = isinstance(data, str | os.PathLike)
    if from_file:
        path = Path(data)
        frame = _read_csv(path)
        label = label or path.name
    elif isinstance(data, pd.DataFrame):
        frame = data
    else:
        raise RecalibrationError(f"recalibrate takes a DataFrame or the path of a CSV file; got {type(data).__name__}")
    if grade is not None and grade not in ("A", "B", "C"):
        raise UnknownNameError("grade", grade, ["A", "B", "C"])
    cols = {str(c).strip() for c in frame.columns}
    is_counts = set(COUNT_COLUMNS) <= cols or (bool(cols & set(COUNT_COLUMNS)) and not cols & set(model.states))
    if is_counts:
        label = label or "user counts"
        missing_cols = [c for c in COUNT_COLUMNS if c not in cols]
        if missing_cols:
            raise RecalibrationError(f"{label}: a table of counts needs the columns {', '.join(COUNT_COLUMNS)}; "
                                     f"missing {', '.join(missing_cols)}")
        if parameters is not None:
            raise RecalibrationError("parameters= chooses what to count in patient rows; a table of counts names its "
                                     "numbers in its rows")
        targets = recalibration_targets(model)
        aliases = _aliases(targets, model.setting)
        pairs = _parse_counts(model, frame, aliases, label, from_file)
        if exclude:
            out = _named(model, aliases, exclude, "exclude")
            pairs = [(t, o) for t, o in pairs if t not in out]
            if not pairs:
                raise RecalibrationError(f"{label}: every number of the table is excluded; nothing to update")
        counts = pd.DataFrame([{"node": t.node, "parameter": p.parameter, "state": st,
                                "events": o["events"][st] if st else o["events"], "total": o["total"],
                                "events_ref": o.get("events_ref", np.nan), "total_ref": o.get("total_ref", np.nan),
                                "population": o["population"], "rows_left_out": 0}
                               for t, o in pairs for st, p in (zip(t.states, t.params, strict=True) if t.states
                                                               else [(None, t.param)])])
        skipped = pd.DataFrame(columns=["node", "parameter", "reason"])
    else:
        label = label or "user rows"
        counts, skipped, pairs = _tabulate(model, frame, parameters, missing, label, from_file, ignore_columns,
                                           exclude)
    updates = [_update(t, o, label, grade) for t, o in pairs]
    new_model, names, updates, skipped = _build(model, updates, skipped, auto=not is_counts and parameters is None)
    used = {(u.target.node, p.parameter) for u in updates for p in u.target.params}
    counts = counts[[k in used for k in zip(counts["node"], counts["parameter"], strict=True)]].reset_index(drop=True)
    rows = [r for u in updates for r in u.rows]
    order = ["node", "parameter", "kind", "family", "prior_value", "prior_low", "prior_high", "data",
             "posterior_value", "posterior_low", "posterior_high", "change", "fold", "prior_quantile", "data_weight",
             "grade", "prior_grade", "prior_a", "prior_b", "prior_fit_low", "prior_fit_high", "events", "total",
             "events_ref", "total_ref", "posterior_mean", "posterior_median", "posterior_a", "posterior_b",
             "population", "saveable", "where"]
    report = pd.DataFrame(rows, columns=order)
    report["restated_as"] = [names.get((r["node"], r["parameter"]), r["parameter"]) for r in rows]
    report.attrs.update(setting=model.setting, data=label, level=LEVEL)
    unsaveable = [f"{u.target.node} {u.target.parameter}" for u in updates if not u.target.saveable]
    return Recalibration(new_model, model, report, counts, skipped, label, model.setting, unsaveable)

