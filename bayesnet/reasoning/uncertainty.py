"""Parameter uncertainty: distributions fitted to each number's interval, draws, posterior intervals.

Every sourced number has a point value and, where published (or estimated, for grade-C expert
numbers, with deliberately wide ranges), a 95% interval. :func:`uncertainty` draws whole
parameter sets from distributions fitted to those intervals, rebuilds the network's tables for
all draws at once (:func:`bayesnet.building.parametric.build_vectorised`), evaluates the posteriors
exactly for every draw on the model's junction-tree engine with one row per draw
(:meth:`bayesnet.inference.engine.CompiledNetwork.with_tables`, through :func:`tables_network`
and :func:`condition_posteriors`) and reports each condition's posterior under the point values
together with the central interval of the posteriors over the draws.

Distributions
-------------
Each parameter is drawn as a monotone transform of one standard normal variate ``z``:

* probabilities (kinds ``prevalence``, ``probability``, ``sensitivity``, ``specificity``,
  ``false_positive_rate``, ``proportion_of_cases``) on the logit scale, ratios (``odds_ratio``,
  ``relative_risk``, ``lr_positive``, ``lr_negative``) on the log scale;
* a *split normal* on that scale, centred on the transformed point value, with one standard
  deviation below it, ``(T(value) - T(low)) / 1.96``, and another above it,
  ``(T(high) - T(value)) / 1.96``: the point value is the median and the published bounds are
  exactly the 2.5% and 97.5% quantiles, so asymmetric intervals (exact binomial, ratios) are
  reproduced as published;
* a bound at the edge of the support (a probability interval reaching 0 or 1, e.g. a
  sensitivity of 0.96 with interval 0.91-1.0) cannot be a quantile of a logit-scale
  distribution; that side takes the width of the other side (a symmetric interval on the logit
  scale);
* a parameter with no recorded interval gets a default width by grade, a standard deviation of
  ``DEFAULT_SD = {"A": 0.25, "B": 0.3, "C": 0.6}`` on the logit or log scale (about the median
  width of the published intervals of each grade in ``priors/``: for grade C a 95% range of
  x3.2 either way on the odds); a value of exactly 0 or 1 is held fixed. Today every number
  in ``priors/`` carries an interval, so the defaults are a safety net;
* the states of a multi-state risk factor (``age_group``, ``sex``) are drawn each from its own
  distribution and renormalised to sum to one (the sum-to-one constraint shares the
  uncertainty between the states, so each state's spread is somewhat narrower than its
  interval: about 0.7 times for two states);
* draws are independent between parameters.

Constraints
-----------
Some parameter sets cannot be turned into tables: a condition's prevalence at or below what its
causing conditions already produce, a sensitivity below the false-positive rate of the same
finding, a derived probability outside [0, 1] (e.g. a likelihood ratio times a prevalence). The
rule is **rejection sampling of the parameter group the constraint concerns**, inside the
vectorised build (:func:`bayesnet.building.parametric.build_vectorised` with a ``redraw`` function):

* a finding or test: its leak(s) and all its link sensitivities are redrawn together until every
  sensitivity is at least the false-positive rate (these groups share no parameter with anything
  else, so this is exactly the fitted distribution truncated to consistent values);
* a condition: its prevalence and its ``caused_by`` probabilities are redrawn until the
  prevalence exceeds what the causes produce, given the upstream numbers already drawn
  (conditions are handled in causal order, so upstream numbers are final by then);
* a risk-factor effect: its value (and ``controls``) is redrawn until the proportions lie in
  (0, 1).

Every other parameter keeps its fitted distribution exactly. Redrawing whole parameter sets
instead would accept only about 1 set in 9 with today's priors (the constraints compound), and
would let, e.g., the cauda equina prevalence interval reshape the metastasis prevalence. With
1,000 primary-care draws, the groups redrawn most often are epidural abscess (38% of draws: at
the point values 60% of abscesses are caused by osteomyelitis), pulmonary embolism (36%; 64%
caused by DVT), cauda equina syndrome (34%; its interval reaches far below the 45% share caused
by metastasis, abscess and fracture), haematuria (17%), failure to improve (16%) and
lymphadenopathy (10%). The counts are reported in the result's ``attrs["redrawn"]``; a set still
inconsistent after :data:`~bayesnet.building.parametric.MAX_REDRAW_ROUNDS` redraws of a group would be
discarded and replaced (``attrs["rejected"]``, 0 in practice), and the analysis stops with a
:class:`~bayesnet.errors.BayesNetError` rather than loop if consistent sets cannot be found.

Intervals
---------
``low``/``high`` are the ``(1 - level) / 2`` and ``(1 + level) / 2`` quantiles of the posterior
over the draws (linear interpolation). ``posterior`` is the posterior under the point values
(the same number as :meth:`bayesnet.BackPainModel.diagnose`), not the median of the draws; it
falls inside the interval in practice (tested over many random scenarios) but need not in
principle: the posterior is a non-linear function of the parameters and the rejection step
reshapes the draws, so the point estimate could sit in a tail. The same seed gives identical
results; the batch version uses the same parameter draws for every scenario, so each row equals
the single-scenario result with the same seed. A draw under which the evidence is impossible
(which cannot happen when the evidence is possible at the point values, since the zeros of the
tables do not move between draws, but is not assumed) is left out of the statistics, counted in
the ``excluded_draws`` column and announced by an :class:`ExcludedDrawsWarning`; with no possible
draw the interval is NaN.

Examples
--------
>>> import bayesnet
>>> from bayesnet.reasoning.uncertainty import uncertainty
>>> model = bayesnet.load_model()
>>> res = uncertainty(model, {"history_of_cancer": "yes", "age_group": "70_plus"}, draws=200, seed=1)
>>> list(res.columns[:3])
['posterior', 'low', 'high']
>>> bool((res["low"] <= res["posterior"]).all() and (res["posterior"] <= res["high"]).all())
True
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from scipy.special import expit, logit

from bayesnet.building.parametric import ParameterSpace, VectorTables, build_vectorised
from bayesnet.data.priors import PROBABILITY_KINDS, Param
from bayesnet.errors import BayesNetError, EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.inference.evidence import Evidence
from bayesnet.reasoning.results import Uncertainty, as_result

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.inference.engine import CompiledNetwork
    from bayesnet.model import BackPainModel

__all__ = [
    "DEFAULT_SD",
    "ExcludedDrawsWarning",
    "FittedParameter",
    "ParameterDraws",
    "check_draws",
    "check_level",
    "condition_posteriors",
    "draw_parameters",
    "fit_parameter",
    "fitted_distributions",
    "impossible_error",
    "posterior_draws",
    "stack_likelihoods",
    "tables_network",
    "uncertainty",
    "uncertainty_batch",
]

#: Standard deviation (logit or log scale) for a parameter without a recorded interval, by grade.
DEFAULT_SD = {"A": 0.25, "B": 0.3, "C": 0.6}
#: 97.5% quantile of the standard normal.
Z975 = 1.959963984540054
#: Show a progress bar by default when draws x scenarios exceeds this.
PROGRESS_THRESHOLD = 200_000
#: Rows (scenario x draw pairs) per engine call of :func:`uncertainty_batch`: with fewer draws
#: than this, several scenarios share one call (the draws' tables repeated once per scenario).
ROWS_PER_CALL = 2048


class ExcludedDrawsWarning(UserWarning):
    """Some parameter draws make the evidence impossible; they are left out of the intervals.

    The number left out is in the result's ``excluded_draws`` column; where no draw at all is
    possible the interval is NaN.
    """


# --------------------------------------------------------------------------------------------
# argument checks


def check_draws(draws: Any) -> int:
    """Validate a number of draws (a positive integer).

    >>> check_draws(10)
    10
    """
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 1:
        raise BayesNetError(f"draws must be a positive integer; got {draws!r}")
    return int(draws)


def check_level(level: Any) -> float:
    """Validate an interval level, strictly between 0 and 1.

    >>> check_level(0.9)
    0.9
    """
    if isinstance(level, bool) or not isinstance(level, int | float | np.integer | np.floating):
        raise BayesNetError(f"level must be a number strictly between 0 and 1; got {level!r}")
    level = float(level)
    if not 0.0 < level < 1.0:
        raise BayesNetError(f"level must lie strictly between 0 and 1 (e.g. 0.95); got {level!r}")
    return level


def _check_seed(seed: Any) -> Any:
    if seed is None or isinstance(seed, np.random.SeedSequence):
        return seed
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise BayesNetError(f"seed must be a non-negative integer or None; got {seed!r}")
    return int(seed)


# --------------------------------------------------------------------------------------------
# distributions


@dataclass(frozen=True)
class FittedParameter:
    """The distribution fitted to one parameter (see the module docstring).

    Attributes
    ----------
    node, parameter, kind, grade : str
    value, low, high : float
        As recorded (``nan`` when there is no interval).
    scale : {"logit", "log", "fixed"}
    centre : float
        The transformed point value (the median).
    sd_low, sd_high : float
        Standard deviations below and above the centre, on ``scale``.
    basis : str
        Where the width comes from.
    """

    node: str
    parameter: str
    kind: str
    grade: str
    value: float
    low: float
    high: float
    scale: str
    centre: float
    sd_low: float
    sd_high: float
    basis: str

    def from_normal(self, z: np.ndarray) -> np.ndarray:
        """Parameter values for standard normal variates ``z`` (a monotone map)."""
        z = np.asarray(z, dtype=float)
        if self.scale == "fixed":
            return np.full(z.shape, self.value)
        x = self.centre + z * np.where(z < 0, self.sd_low, self.sd_high)
        return expit(x) if self.scale == "logit" else np.exp(x)

    def interval(self, level: float = 0.95) -> tuple[float, float]:
        """The central ``level`` interval of the fitted distribution."""
        from scipy.stats import norm

        z = norm.ppf(0.5 + level / 2.0)
        lo, hi = self.from_normal(np.array([-z, z]))
        return float(lo), float(hi)


def fit_parameter(p: Param, default_sd: Mapping[str, float] | None = None) -> FittedParameter:
    """Fit the split normal (logit or log scale) of one parameter to its value and 95% interval.

    Parameters
    ----------
    p : Param
    default_sd : mapping, optional
        Grade -> standard deviation used when there is no interval (default :data:`DEFAULT_SD`).

    Returns
    -------
    FittedParameter

    Examples
    --------
    >>> from bayesnet.data.priors import load_priors
    >>> p = next(p for p in load_priors().params if p.node == "pulmonary_embolism" and "dvt" in p.parameter)
    >>> f = fit_parameter(p)
    >>> f.scale, [round(x, 4) for x in f.interval()], (p.low, p.high)
    ('logit', [0.45, 0.833], (0.45, 0.833))
    """
    default_sd = DEFAULT_SD if default_sd is None else default_sd
    prob = p.kind in PROBABILITY_KINDS
    common = {k: getattr(p, k) for k in ("node", "parameter", "kind", "grade", "value", "low", "high")}

    def inside(x: float) -> bool:  # inside the support: (0, 1) for a probability, (0, inf) for a ratio
        return 0.0 < x < 1.0 if prob else x > 0.0

    if not inside(p.value):
        basis = "fixed: the value is at the edge of [0, 1]" if prob else "fixed: a ratio must be positive"
        return FittedParameter(**common, scale="fixed", centre=p.value, sd_low=0.0, sd_high=0.0, basis=basis)
    transform = logit if prob else np.log
    centre = float(transform(p.value))
    scale = "logit" if prob else "log"

    def side(bound: float) -> float | None:
        # a bound at the edge of the support is not a quantile of a logit-scale distribution
        return abs(float(transform(bound)) - centre) / Z975 if inside(bound) else None

    if p.has_interval:
        sd_low, sd_high = side(p.low), side(p.high)
        basis = "published interval"
    else:
        sd_low = sd_high = None
        basis = f"no interval: default width for grade {p.grade}"
    if sd_low is None and sd_high is None:
        sd_low = sd_high = float(default_sd.get(p.grade, max(default_sd.values())))
        if p.has_interval:
            basis = f"interval spans the whole range: default width for grade {p.grade}"
    elif sd_low is None:
        sd_low = sd_high
        basis = "published interval (lower bound at 0: upper side mirrored)"
    elif sd_high is None:
        sd_high = sd_low
        basis = "published interval (upper bound at 1: lower side mirrored)"
    return FittedParameter(**common, scale=scale, centre=centre, sd_low=sd_low, sd_high=sd_high, basis=basis)


def _fits(space: ParameterSpace) -> list[FittedParameter]:
    return [fit_parameter(p) for p in space.params]


def fitted_distributions(model: BackPainModel | ParameterSpace) -> pd.DataFrame:
    """The distribution of every parameter the model's setting uses.

    Returns
    -------
    DataFrame
        One row per parameter: ``node, parameter, kind, grade, value, low, high, scale, sd_low,
        sd_high, basis, q025, q975`` (the last two are the fitted distribution's 95% interval,
        equal to ``low``/``high`` wherever an interval is published inside the open range).

    Examples
    --------
    >>> import bayesnet
    >>> fd = fitted_distributions(bayesnet.load_model())
    >>> sorted(fd["scale"].unique())
    ['log', 'logit']
    """
    space = model if isinstance(model, ParameterSpace) else model.parameter_space
    rows = []
    for f in _fits(space):
        q = f.interval(0.95)
        rows.append({**f.__dict__, "q025": q[0], "q975": q[1]})
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------------
# draws


@dataclass
class ParameterDraws:
    """Consistent parameter sets drawn from the fitted distributions, and their tables.

    Attributes
    ----------
    space : ParameterSpace
    values : ndarray
        Shape ``(draws, n_params)``, columns as ``space.keys`` (after redraws).
    tables : VectorTables
        The tables of every draw.
    seed : int or None
    redrawn : dict
        ``"node: problem"`` -> number of draws in which that parameter group was redrawn.
    rejected : int
        Whole parameter sets thrown away because a group stayed inconsistent after
        :data:`~bayesnet.building.parametric.MAX_REDRAW_ROUNDS` redraws (0 with today's priors).
    """

    space: ParameterSpace
    values: np.ndarray
    tables: VectorTables
    seed: Any
    redrawn: dict[str, int] = field(default_factory=dict)
    rejected: int = 0
    _networks: dict = field(default_factory=dict, init=False, repr=False, compare=False)

    @property
    def n(self) -> int:
        return int(self.values.shape[0])

    def network(self, engine: CompiledNetwork, repeat: int = 1) -> CompiledNetwork:
        """``engine`` with the tables of these draws: row ``r`` of every evaluation uses draw ``r % n``.

        The network has ``n * repeat`` rows (the draws' tables repeated ``repeat`` times, so that
        ``repeat`` scenarios share one call); it is built once and kept (the last two).
        """
        key = (id(engine), int(repeat))
        net = self._networks.get(key)
        if net is None:
            if len(self._networks) >= 2:
                self._networks.pop(next(iter(self._networks)))
            net = self._networks[key] = tables_network(engine, self.tables, repeat)
        return net

    @property
    def share_redrawn(self) -> float:
        """Share of draws in which at least one parameter group had to be redrawn (upper bound: summed)."""
        return min(1.0, sum(self.redrawn.values()) / self.n) if self.n else 0.0


def _concat(parts: Sequence[VectorTables]) -> VectorTables:
    if len(parts) == 1:
        return parts[0]
    first = parts[0]
    out = VectorTables(first.setting, sum(p.n for p in parts))
    out.states, out.parents, out.kinds = first.states, first.parents, first.kinds
    out.deterministic = set(first.deterministic)
    for v, a in first.cpts.items():
        if v in first.deterministic:
            out.cpts[v] = np.broadcast_to(a[:1], (out.n, *a.shape[1:]))
        else:
            out.cpts[v] = np.concatenate([p.cpts[v] for p in parts], axis=0)
    out.baselines = {c: np.concatenate([p.baselines[c] for p in parts]) for c in first.baselines}
    out.valid = np.concatenate([p.valid for p in parts])
    out.values = np.concatenate([p.values for p in parts], axis=0)
    return out


def _transform(fits: Sequence[FittedParameter], cols: Sequence[int], z: np.ndarray) -> np.ndarray:
    centre = np.array([fits[c].centre for c in cols])
    sd_low = np.array([fits[c].sd_low for c in cols])
    sd_high = np.array([fits[c].sd_high for c in cols])
    scale = np.array([fits[c].scale for c in cols])
    value = np.array([fits[c].value for c in cols])
    x = centre + z * np.where(z < 0, sd_low, sd_high)
    with np.errstate(over="ignore"):
        return np.where(scale == "logit", expit(x), np.where(scale == "log", np.exp(np.minimum(x, 700.0)), value))


def _draw_values(space: ParameterSpace, fits: Sequence[FittedParameter], z: np.ndarray) -> np.ndarray:
    values = _transform(fits, range(len(fits)), z)
    for g in space.groups:
        values[:, g] = values[:, g] / values[:, g].sum(axis=1, keepdims=True)
    return values


def draw_parameters(model: BackPainModel | ParameterSpace, draws: int = 1000, seed: Any = 0) -> ParameterDraws:
    """Draw consistent parameter sets and build their tables.

    Every parameter is drawn from its fitted distribution (:func:`fit_parameter`); a parameter
    group that breaks a constraint of the network is redrawn until it satisfies it (see the
    module docstring).

    Parameters
    ----------
    model : BackPainModel or ParameterSpace
    draws : int
        Number of parameter sets.
    seed : int, optional
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same draws.

    Returns
    -------
    ParameterDraws

    Raises
    ------
    BayesNetError
        If ``draws`` is not a positive integer, or consistent sets cannot be found.

    Examples
    --------
    >>> import bayesnet
    >>> pd_ = draw_parameters(bayesnet.load_model(), draws=50, seed=3)
    >>> pd_.values.shape[0], pd_.tables.n, bool(pd_.tables.valid.all())
    (50, 50, True)
    """
    draws = check_draws(draws)
    seed = _check_seed(seed)
    space = model if isinstance(model, ParameterSpace) else model.parameter_space
    fits = _fits(space)
    rng = np.random.default_rng(seed)

    def redraw(cols: list[int], m: int) -> np.ndarray:
        return _transform(fits, cols, rng.standard_normal((m, len(cols))))

    need = draws
    rejected = 0
    redrawn: dict[str, int] = {}
    parts: list[VectorTables] = []
    for _ in range(100):
        if need <= 0:
            break
        values = _draw_values(space, fits, rng.standard_normal((need, len(space))))
        vt = build_vectorised(space, values, redraw=redraw)
        for reason, count in vt.redrawn.items():
            redrawn[reason] = redrawn.get(reason, 0) + count
        ok = np.flatnonzero(vt.valid)
        rejected += need - ok.size
        if ok.size:
            parts.append(vt if ok.size == vt.n else vt.take(ok))
            need -= ok.size
    if need > 0:
        worst = sorted(redrawn.items(), key=lambda kv: -kv[1])[:3]
        raise BayesNetError(
            f"could not draw {draws} consistent parameter sets (most common problems: "
            f"{'; '.join(f'{k} ({v})' for k, v in worst)}); check the intervals in priors/"
        )
    tables = _concat(parts)
    return ParameterDraws(space, tables.values, tables, seed, redrawn, rejected)


# --------------------------------------------------------------------------------------------
# exact evaluation on the junction-tree engine


def tables_network(engine: CompiledNetwork, tables: VectorTables, repeat: int = 1) -> CompiledNetwork:
    """``engine`` (the model's compiled network) with the tables of every parameter set of ``tables``.

    Row ``r`` of every evaluation of the result uses parameter set ``r % tables.n``; the
    network has exactly ``tables.n * repeat`` rows (see
    :meth:`~bayesnet.inference.engine.CompiledNetwork.with_tables`).
    """
    # the deterministic absence nodes keep their compiled tables (the engine runs them as a chain)
    cpts = {v: tables.cpts[v] for v in engine.variables if v in tables.cpts and v not in tables.deterministic}
    if repeat > 1:
        cpts = {v: np.tile(a, (repeat,) + (1,) * (a.ndim - 1)) for v, a in cpts.items()}
    return engine.with_tables(cpts)


def stack_likelihoods(evidence: Sequence[Evidence], states: Mapping[str, Sequence[str]]) -> dict[str, np.ndarray]:
    """Likelihood arrays ``(len(evidence), card)`` of validated evidence (ones where unobserved).

    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> lik = stack_likelihoods([m.check_evidence({"fever": "yes"}), m.check_evidence(None)], m.states)
    >>> lik["fever"].tolist()
    [[1.0, 0.0], [1.0, 1.0]]
    """
    n = len(evidence)
    out: dict[str, np.ndarray] = {}
    for i, ev in enumerate(evidence):
        for v, w in ev.likelihoods().items():
            arr = out.get(v)
            if arr is None:
                arr = out[v] = np.ones((n, len(states[v])))
            arr[i] = w
    return out


def condition_posteriors(
    net: CompiledNetwork,
    likelihoods: Mapping[str, np.ndarray],
    n_rows: int,
    conditions: Sequence[str],
) -> tuple[np.ndarray, np.ndarray]:
    """P(condition = yes) in every row of ``net``, and the log-probability of the evidence.

    Parameters
    ----------
    net : CompiledNetwork
        The model's engine, or a network of parameter sets (:func:`tables_network`).
    likelihoods : mapping
        Variable -> ``(n_rows, card)`` or ``(card,)`` (shared by every row).
    n_rows : int
    conditions : list of str

    Returns
    -------
    posteriors : ndarray
        ``(n_rows, len(conditions))``; NaN in rows whose evidence has probability zero.
    log_evidence : ndarray
        ``(n_rows,)``; ``-inf`` in those rows.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> post, logz = condition_posteriors(m.engine, {"fever": [1.0, 0.0]}, 1, ["epidural_abscess"])
    >>> bool(abs(post[0, 0] - m.diagnose({"fever": "yes"}).ranking.loc["epidural_abscess", "posterior"]) < 1e-15)
    True
    """
    probs, log_ev = net.propagate(dict(likelihoods), n_rows=n_rows, targets=list(conditions))
    offsets = np.cumsum([0] + [net.cardinality[c] for c in conditions])[:-1]
    yes = offsets + np.array([list(net.states[c]).index("yes") for c in conditions], dtype=int)
    post = probs[:, yes]
    post[~(log_ev > -np.inf)] = np.nan
    return post, log_ev


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


# --------------------------------------------------------------------------------------------
# results


def _evidence(model: BackPainModel, evidence: Any) -> Evidence:
    return evidence if isinstance(evidence, Evidence) else model.check_evidence(evidence)


def _summarise(post: np.ndarray, point: np.ndarray, level: float) -> dict[str, np.ndarray]:
    """Statistics over draws (axis 0) of ``post`` ``(draws, scenarios, conditions)``.

    Draws whose evidence was impossible (NaN) are left out and counted in ``excluded_draws``
    (per scenario); where no draw is possible every statistic but ``posterior`` is NaN, and
    ``sd`` is NaN with fewer than two possible draws.
    """
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    finite = np.isfinite(post)
    ok = finite.all(axis=2)  # (draws, scenarios): a draw is possible or not for the whole row
    excluded = (~ok).sum(axis=0)
    n_ok = ok.sum(axis=0)[:, None]
    if finite.all():
        lo, hi = np.quantile(post, q, axis=0)
        med = np.median(post, axis=0)
        mean = post.mean(axis=0)
        sd = post.std(axis=0, ddof=1) if post.shape[0] > 1 else np.full(post.shape[1:], np.nan)
    else:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices: NaN, as wanted
            lo, hi = np.nanquantile(post, q, axis=0)
            med = np.nanmedian(post, axis=0)
            mean = np.nanmean(post, axis=0)
            sd = np.nanstd(post, axis=0, ddof=1)
        sd = np.where(n_ok >= 2, sd, np.nan)
    return {
        "posterior": point,
        "low": lo,
        "high": hi,
        "median": med,
        "mean": mean,
        "sd": sd,
        "excluded_draws": np.broadcast_to(excluded[:, None], point.shape),
    }


def _warn_excluded(excluded: np.ndarray, draws: int, labels: Sequence[Any] | None = None) -> None:
    """Warn that some draws made the evidence impossible (they are left out of the intervals)."""
    excluded = np.asarray(excluded).reshape(-1)
    hit = np.flatnonzero(excluded > 0)
    if not hit.size:
        return
    none = int((excluded >= draws).sum())
    where = ""
    if labels is not None:
        shown = ", ".join(repr(labels[i]) for i in hit[:5])
        where = f" in scenario(s) {shown}{' and more' if hit.size > 5 else ''}"
    msg = (
        f"up to {int(excluded.max())} of {draws} parameter draws make the evidence impossible{where}; "
        "they are left out of the intervals (column excluded_draws)"
    )
    if none:
        msg += f"; {none} scenario(s) have no possible draw at all, so their interval is NaN"
    warnings.warn(msg, ExcludedDrawsWarning, stacklevel=3)


def _progress(progress: bool | None, work: int, total: int, unit: str):
    """A tqdm.auto bar of ``total`` units, shown when asked or when ``work`` (draws x scenarios) is large."""
    if progress is None:
        progress = work > PROGRESS_THRESHOLD
    if not progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="uncertainty", unit=unit, leave=False)


def _attrs(pd_: ParameterDraws, seed: Any, level: float, setting: str, excluded: int) -> dict:
    return {
        "draws": pd_.n,
        "seed": seed,
        "level": level,
        "setting": setting,
        "redrawn": dict(pd_.redrawn),
        "rejected": pd_.rejected,
        "excluded_draws": int(excluded),
    }


def uncertainty(
    model: BackPainModel,
    evidence: Mapping | Evidence | None = None,
    *,
    draws: int = 1000,
    seed: int | None = 0,
    level: float = 0.95,
    progress: bool | None = None,
) -> pd.DataFrame:
    """Each condition's posterior with an interval reflecting the uncertainty of the numbers.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping or Evidence, optional
        As for :meth:`~bayesnet.BackPainModel.diagnose` (hard or soft evidence).
    draws : int, default 1000
        Number of parameter sets (consistent draws; see the module docstring for the rejection
        of inconsistent ones).
    seed : int or None, default 0
        Random seed; the same seed gives identical results. ``None`` draws fresh randomness.
    level : float, default 0.95
        Level of the central interval, strictly between 0 and 1.
    progress : bool, optional
        Show a tqdm progress bar; by default only when draws is over 200,000 (one scenario is
        quick).

    Returns
    -------
    DataFrame
        Indexed by condition (every condition, ``mechanical_pain`` included; index name
        ``condition``), sorted by ``posterior`` descending, with columns ``posterior`` (under
        the point values, as in ``diagnose``), ``low``, ``high`` (the interval), ``median``,
        ``mean`` and ``sd`` of the posterior over the draws under which the evidence is
        possible, and ``excluded_draws`` (the number of the other draws, left out: 0 in
        practice; otherwise an :class:`ExcludedDrawsWarning` is issued, and with no possible
        draw at all every statistic but ``posterior`` is NaN; ``sd`` is NaN with fewer than two
        possible draws). ``attrs`` holds ``draws``, ``seed``,
        ``level``, ``setting``, ``redrawn`` (``"node: problem"`` -> number of draws in which that
        parameter group was redrawn), ``rejected`` (whole parameter sets discarded; 0 in
        practice) and ``excluded_draws`` (as the column).

    Warns
    -----
    ExcludedDrawsWarning
        Some draws make the evidence impossible (see ``excluded_draws``).

    Raises
    ------
    UnknownNameError, EvidenceError
        Bad evidence (as in ``diagnose``).
    ImpossibleEvidenceError
        The evidence has probability zero.
    BayesNetError
        ``draws`` < 1, ``level`` outside (0, 1), a bad seed.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> res = uncertainty(model, {"fever": "yes", "iv_drug_use": "yes"}, draws=100)
    >>> res.loc["epidural_abscess", ["posterior", "low", "high"]].round(3).tolist()
    [0.073, 0.006, 0.241]
    >>> res.attrs["draws"], res.index.name, int(res["excluded_draws"].max())
    (100, 'condition', 0)

    The point value sits low in a wide interval: most of the abscess probability rests on
    grade-C numbers (the share of abscesses caused by osteomyelitis, the fever sensitivity).
    """
    draws = check_draws(draws)
    level = check_level(level)
    seed = _check_seed(seed)
    ev = _evidence(model, evidence)
    conds = model.conditions
    lik = ev.likelihoods()
    keep = [*conds, *lik]  # barren findings and tests are left out (exact)
    point, _ = condition_posteriors(model.engine.restricted(keep), lik, 1, conds)
    if not np.all(np.isfinite(point)):
        raise impossible_error()
    bar = _progress(progress, draws, draws, "draw")
    try:
        pd_, post = _draw_posteriors(model, lik, draws, seed)
        if bar is not None:
            bar.update(draws)
    finally:
        if bar is not None:
            bar.close()
    stats = _summarise(post[:, None, :], point, level)
    excluded = int(stats["excluded_draws"][0, 0])
    _warn_excluded(np.array([excluded]), draws)
    df = pd.DataFrame({k: v[0] for k, v in stats.items()}, index=pd.Index(conds, name="condition"))
    # ties (equal priors, to rounding) keep the model's condition order, as in the ranking
    df = df.iloc[np.argsort(-np.round(df["posterior"].to_numpy(dtype=float), 13), kind="stable")]
    df.attrs.update(_attrs(pd_, seed, level, model.setting, excluded))
    return as_result(df, Uncertainty)


def posterior_draws(
    model: BackPainModel,
    evidence: Mapping | Evidence | None = None,
    *,
    draws: int = 1000,
    seed: int | None = 0,
) -> pd.DataFrame:
    """Each condition's posterior under every parameter draw: the draws behind :func:`uncertainty`.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping or Evidence, optional
        As for :meth:`~bayesnet.BackPainModel.diagnose`.
    draws : int, default 1000
    seed : int or None, default 0
        The same seed gives the same draws as :func:`uncertainty`.

    Returns
    -------
    DataFrame
        Index ``draw`` (0 .. draws-1), one column per condition: P(condition = yes | evidence)
        under that parameter set; NaN in a draw under which the evidence is impossible. Ready
        for ArviZ (``az.from_dict(posterior={c: df[c].to_numpy()[None] for c in df})``),
        xarray (``df.to_xarray()``) or seaborn.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> d = posterior_draws(model, {"fever": "yes", "iv_drug_use": "yes"}, draws=100)
    >>> d.shape, d.index.name
    ((100, 15), 'draw')
    >>> u = uncertainty(model, {"fever": "yes", "iv_drug_use": "yes"}, draws=100)
    >>> bool(abs(d["epidural_abscess"].quantile(0.975) - u.loc["epidural_abscess", "high"]) < 1e-12)
    True
    """
    draws = check_draws(draws)
    seed = _check_seed(seed)
    ev = _evidence(model, evidence)
    _, post = _draw_posteriors(model, ev.likelihoods(), draws, seed)
    columns = pd.Index(model.conditions, name="condition")
    return pd.DataFrame(post, index=pd.RangeIndex(draws, name="draw"), columns=columns)


def _draw_posteriors(model: BackPainModel, lik: Mapping, draws: int, seed: Any) -> tuple[ParameterDraws, np.ndarray]:
    """The parameter draws and every condition's posterior under each, shape ``(draws, conditions)``.

    Evaluated on the draws' network restricted to the conditions and the evidence (barren findings
    and tests are left out: exact).
    """
    conds = model.conditions
    pd_ = model.parameter_draws(draws, seed)
    post, _ = condition_posteriors(pd_.network(model.engine).restricted([*conds, *lik]), lik, draws, conds)
    return pd_, post


def _rows(model: BackPainModel, scenarios: Any) -> tuple[pd.Index, list[Evidence]]:
    """Validate every scenario, naming the row in any error."""
    if isinstance(scenarios, pd.DataFrame):
        index = scenarios.index
        records = scenarios.to_dict("records")
    elif isinstance(scenarios, Sequence) and not isinstance(scenarios, str | bytes):
        index = pd.RangeIndex(len(scenarios))
        records = list(scenarios)
    else:
        raise EvidenceError(
            f"scenarios must be a pandas DataFrame (one row per scenario) or a list of mappings; "
            f"got {type(scenarios).__name__}"
        )
    evs = []
    for label, rec in zip(index, records, strict=True):
        if isinstance(rec, Evidence):
            evs.append(rec)
            continue
        if isinstance(rec, Mapping):
            rec = {k: v for k, v in rec.items() if not _missing(v)}
        try:
            evs.append(model.check_evidence(rec))
        except UnknownNameError as e:
            err = UnknownNameError(e.kind, e.name, e.choices)
            err.args = (f"row {label!r}: {e}",)
            raise err from None
        except EvidenceError as e:
            raise type(e)(f"row {label!r}: {e}") from None
    return index, evs


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float | np.floating):
        return bool(np.isnan(v))
    return v is pd.NA or v is pd.NaT


def uncertainty_batch(
    model: BackPainModel,
    scenarios: pd.DataFrame | Sequence[Mapping],
    *,
    draws: int = 1000,
    seed: int | None = 0,
    level: float = 0.95,
    progress: bool | None = None,
    long: bool = False,
    chunk_size: int = 256,
) -> pd.DataFrame:
    """:func:`uncertainty` for many scenarios, with the same parameter draws for all of them.

    Parameters
    ----------
    model : BackPainModel
    scenarios : DataFrame or list of mappings
        One row per scenario; columns are variable ids, values state names (NaN/None = not
        observed) or dicts of likelihoods (soft evidence), as for ``model.posteriors``.
    draws, seed, level
        As for :func:`uncertainty`.
    progress : bool, optional
        tqdm progress bar over blocks of scenarios; by default shown when draws x scenarios
        exceeds 200,000.
    long : bool, default False
        Return the tidy long form instead (see Returns).
    chunk_size : int, default 256
        Scenarios per chunk (memory: about ``draws * block * 80`` bytes per block besides the
        tables). Within a block, scenarios go to the engine a few at a time, about
        ``ROWS_PER_CALL`` (2,048) (scenario, draw) rows per call.

    Returns
    -------
    DataFrame
        Wide (default): the scenarios' index; MultiIndex columns ``(condition, statistic)``
        with statistics ``posterior, low, high``, conditions in model order, so that
        ``res["spinal_metastasis"]`` is a three-column frame and ``res.xs("high", axis=1,
        level=1)`` one column per condition; a last column ``("excluded_draws", "")``
        (``res["excluded_draws"]``) counts the draws left out of each scenario's intervals
        because its evidence is impossible under them (see :func:`uncertainty`). Long
        (``long=True``): one row per scenario and condition, columns ``scenario, condition,
        posterior, low, high, median, mean, sd, excluded_draws``. ``attrs`` as for
        :func:`uncertainty` (``excluded_draws`` summed over scenarios).

    Warns
    -----
    ExcludedDrawsWarning
        Some draws make the evidence of some scenarios impossible (the message names them).

    Raises
    ------
    UnknownNameError, EvidenceError
        A bad row (the message names it).
    ImpossibleEvidenceError
        Some rows have probability zero; ``.rows`` lists their labels.
    BayesNetError
        Bad ``draws``, ``level`` or ``seed``.

    Examples
    --------
    >>> import bayesnet, pandas as pd
    >>> model = bayesnet.load_model()
    >>> df = pd.DataFrame({"fever": ["yes", None], "history_of_cancer": ["no", "yes"]}, index=["a", "b"])
    >>> res = uncertainty_batch(model, df, draws=50)
    >>> res.shape, list(res["dvt"].columns), res["excluded_draws"].tolist()
    ((2, 46), ['posterior', 'low', 'high'], [0, 0])
    """
    draws = check_draws(draws)
    level = check_level(level)
    seed = _check_seed(seed)
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int | np.integer) or chunk_size < 1:
        raise BayesNetError(f"chunk_size must be a positive integer; got {chunk_size!r}")
    index, evs = _rows(model, scenarios)
    conds = model.conditions
    n = len(evs)
    states = model.states
    lik = stack_likelihoods(evs, states)
    point, _ = condition_posteriors(model.engine, lik, n, conds)
    bad = np.flatnonzero(~np.isfinite(point).all(axis=1))
    if bad.size:
        raise impossible_error(list(index[bad]))
    pd_ = model.parameter_draws(draws, seed)
    per_call = max(1, ROWS_PER_CALL // draws)  # scenarios sharing one engine call
    # scenarios grouped by the variables they observe (stable order within a group): the calls of
    # a group share the draws' network restricted to the conditions and those variables (barren
    # findings and tests left out, exact); a group of fewer than 3 calls, which would not repay
    # building its network, uses the full one
    if lik:
        seen = np.stack([~np.all(a == 1.0, axis=1) for a in lik.values()], axis=1)
        _, group, counts = np.unique(seen, axis=0, return_inverse=True, return_counts=True)
        group = group.reshape(-1)
    else:
        group, counts = np.zeros(n, dtype=np.intp), np.array([n])
    order = np.argsort(group, kind="stable")
    lik = {v: a[order] for v, a in lik.items()}
    point, group = point[order], group[order]
    restrict = counts[group] >= 3 * per_call
    names = ("posterior", "low", "high", "median", "mean", "sd", "excluded_draws")
    stats = {k: np.empty((n, len(conds))) for k in names}
    bar = _progress(progress, draws * n, n, "scenario")
    try:
        for s0 in range(0, n, chunk_size):
            s1 = min(n, s0 + chunk_size)
            post = np.empty((draws, s1 - s0, len(conds)))
            for g0 in range(s0, s1, per_call):
                g1 = min(s1, g0 + per_call)
                g = min(per_call, s1 - s0)  # a short block uses a network of its own size
                part = {}
                for v, a in lik.items():
                    rows = np.ones((g, a.shape[1]))  # padding rows observe nothing
                    rows[: g1 - g0] = a[g0:g1]
                    if not np.all(rows == 1.0):
                        part[v] = np.repeat(rows, draws, axis=0)  # row s * draws + d
                net = pd_.network(model.engine, g)
                if restrict[g0] and group[g0] == group[g1 - 1]:
                    net = net.restricted([*conds, *part])
                out, _ = condition_posteriors(net, part, g * draws, conds)
                post[:, g0 - s0 : g1 - s0] = out.reshape(g, draws, -1)[: g1 - g0].transpose(1, 0, 2)
            for k, v in _summarise(post, point[s0:s1], level).items():
                stats[k][s0:s1] = v
            if bar is not None:
                bar.update(s1 - s0)
    finally:
        if bar is not None:
            bar.close()
    inverse = np.empty_like(order)
    inverse[order] = np.arange(n)
    stats = {k: v[inverse] for k, v in stats.items()}  # back to the scenarios' order
    stats["excluded_draws"] = stats["excluded_draws"].astype(int)
    per_row = stats["excluded_draws"][:, 0]
    excluded = int(per_row.sum())
    _warn_excluded(per_row, draws, list(index))
    attrs = _attrs(pd_, seed, level, model.setting, excluded)
    if long:
        rows = pd.DataFrame(
            {
                "scenario": np.repeat(np.asarray(index, dtype=object), len(conds)),
                "condition": np.tile(np.asarray(conds, dtype=object), n),
                **{k: v.reshape(-1) for k, v in stats.items()},
            }
        )
        rows.attrs.update(attrs)
        return rows
    cols = pd.MultiIndex.from_product([conds, ["posterior", "low", "high"]], names=["condition", "statistic"])
    data = np.stack([stats["posterior"], stats["low"], stats["high"]], axis=2).reshape(n, 3 * len(conds))
    out = pd.DataFrame(data, index=index, columns=cols)
    out[("excluded_draws", "")] = per_row
    out.attrs.update(attrs)
    return out
