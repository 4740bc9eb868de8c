"""Clinical validation: the model's posteriors against published post-test probabilities.

:func:`validate` runs every scenario of a validation file (:mod:`bayesnet.data.scenarios`) in the
model of its setting and reports the published value and interval beside the model's value and
the interval that the uncertainty of the priors gives it (the same parameter draws as
:meth:`bayesnet.BackPainModel.uncertainty`), whether the model's point value lies inside the
published interval and whether the two intervals overlap.

Every probability is computed exactly from the probability of evidence ``Z``:
``P(A | e) = Z(e, A) / Z(e)``; "any of" is summed over disjoint pieces,
``P(A1 or A2 | e) = P(A1 | e) + P(not A1, A2 | e)``, so no subtraction loses digits for rare
events. The same formula runs on the model's junction-tree engine for the point values and, with one row
per parameter draw, on the engine with the draws' tables (``ParameterDraws.network``).

Examples
--------
>>> import bayesnet
>>> res = validate(bayesnet.load_model(), draws=0)
>>> list(res.columns[:4])
['id', 'setting', 'target', 'measure']
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesnet.data.scenarios import MEASURES, Scenario, Target, load_validation
from bayesnet.errors import BayesNetError, ImpossibleEvidenceError

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["MEASURES", "event_probability", "summary", "validate"]

# --------------------------------------------------------------------------------------------
# computing


def _indicator(states: tuple[str, ...], allowed: Sequence[str]) -> np.ndarray:
    return np.array([1.0 if s in allowed else 0.0 for s in states])


def _evidence_probabilities(net: Any, n_rows: int, rows: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """log Z of every row of likelihoods in every row of ``net``: shape ``(n_rows, len(rows))``.

    ``net`` is the model's engine (``n_rows`` 1) or a network of parameter draws (one row per
    draw); ``-inf`` where the evidence of a row is impossible (also when a likelihood is all
    zero, i.e. the event itself is empty).
    """
    out = np.empty((n_rows, len(rows)))
    for j, row in enumerate(rows):
        lik = {v: w for v, w in row.items() if not np.all(w == 1.0)}
        if any(not np.any(w > 0) for w in lik.values()):
            out[:, j] = -np.inf
            continue
        _, out[:, j] = net.propagate(lik, n_rows=n_rows, targets=[])
    return out


def event_probability(
    net: Any, evidence: Mapping[str, Sequence[str]], target: Target, n_rows: int | None = None
) -> np.ndarray:
    """P(target | evidence) in every row of ``net`` (exact; see the module docstring).

    Parameters
    ----------
    net : bayesnet.inference.engine.CompiledNetwork
        The model's engine (``model.engine``, one row), or a network of parameter draws
        (``model.parameter_draws(n).network(model.engine)``, one row per draw).
    evidence : mapping
        Variable -> the states it is known to be in (one state, or several meaning "one of"),
        entered as 0/1 likelihoods.
    target : Target
    n_rows : int, optional
        Rows to evaluate; default ``net.n_parameter_sets`` (1 for the model's engine, the
        number of draws for a network of draws).

    Returns
    -------
    ndarray
        Shape ``(n_rows,)``: ``exp(log Z(e, target) - log Z(e))`` (summed over the disjoint
        pieces of an "any of" target); NaN in a row under which the evidence is impossible.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> t = Target("all", (("spinal_metastasis", ("yes",)),), "spinal_metastasis")
    >>> p = event_probability(m.engine, {"history_of_cancer": ["yes"]}, t)
    >>> bool(abs(p[0] - m.diagnose({"history_of_cancer": "yes"}).ranking.loc["spinal_metastasis", "posterior"]) < 1e-12)
    True
    """
    from bayesnet.errors import UnknownNameError

    states = {v: tuple(s) for v, s in net.states.items()}
    for v, s in [*evidence.items(), *target.items]:
        if v not in states:
            raise UnknownNameError("variable", v, states)
        for x in [s] if isinstance(s, str) else s:
            if x not in states[v]:
                raise UnknownNameError("state", x, states[v], context=f"of variable {v!r}")
    evidence = {v: (s,) if isinstance(s, str) else tuple(s) for v, s in evidence.items()}
    base = {v: _indicator(states[v], s) for v, s in evidence.items()}
    rows: list[dict[str, np.ndarray]] = [base]
    if target.mode == "all":
        row = dict(base)
        for v, s in target.items:
            row[v] = row.get(v, np.ones(len(states[v]))) * _indicator(states[v], s)
        rows.append(row)
    else:  # disjoint pieces: A1, (not A1) A2, (not A1)(not A2) A3, ...
        for i, (v, s) in enumerate(target.items):
            row = dict(base)
            for u, t in target.items[:i]:
                row[u] = row.get(u, np.ones(len(states[u]))) * (1.0 - _indicator(states[u], t))
            row[v] = row.get(v, np.ones(len(states[v]))) * _indicator(states[v], s)
            rows.append(row)
    n_rows = net.n_parameter_sets if n_rows is None else int(n_rows)
    net = net.restricted([*evidence, *(v for v, _ in target.items)])  # barren variables left out (exact)
    log_z = _evidence_probabilities(net, n_rows, rows)
    z0 = log_z[:, :1]
    possible = z0[:, 0] > -np.inf
    with np.errstate(invalid="ignore"):
        p = np.exp(log_z[:, 1:] - np.where(possible[:, None], z0, 0.0)).sum(axis=1)
    p = np.where(possible, p, np.nan)
    return np.clip(p, 0.0, 1.0)


def _measure(net: Any, sc: Scenario, n_rows: int | None = None) -> np.ndarray:
    if sc.measure == "probability":
        return event_probability(net, sc.evidence, sc.target, n_rows)
    p0 = event_probability(net, sc.evidence, sc.target, n_rows)
    p1 = event_probability(net, {**sc.evidence, **sc.tests}, sc.target, n_rows)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = (p1 / (1.0 - p1)) / (p0 / (1.0 - p0))
    return np.where(np.isfinite(lr) & (lr > 0), lr, np.nan)




def _setting_model(model: BackPainModel, sc: Scenario) -> BackPainModel:
    """The model of a scenario's setting: a shipped one (same priors), or a study-population setting file."""
    if not sc.setting_file:
        if sc.setting not in model.priors.settings:
            from bayesnet.errors import UnknownNameError

            raise UnknownNameError("setting", sc.setting, model.priors.settings,
                                   context=f"(scenario {sc.id!r})")
        return model.with_setting(sc.setting)
    from pathlib import Path

    from bayesnet.data.priors import load_priors
    from bayesnet.data.scenarios import ValidationFileError
    from bayesnet.errors import PriorsError

    where = {"file": sc.file or None, "entry": sc.entry or f"scenario {sc.id!r}"}
    if not os.path.isfile(sc.setting_file):
        raise ValidationFileError(f"setting file {sc.setting!r} not found ({sc.setting_file})", **where)
    try:
        priors = load_priors(model.priors.directory, extra_settings=[sc.setting_file])
        return type(model)(priors, Path(sc.setting_file).stem)
    except PriorsError as exc:
        raise ValidationFileError(f"setting file {sc.setting!r}: {exc}", **where) from exc


_COLUMNS = ["id", "setting", "target", "measure", "published", "low", "high", "model", "model_low", "model_high",
            "inside", "overlap", "ratio", "independent", "source", "excluded_draws"]


def validate(
    model: BackPainModel,
    *,
    scenarios: Sequence[Scenario] | None = None,
    path: str | os.PathLike | None = None,
    draws: int = 500,
    seed: int = 0,
    level: float = 0.95,
) -> pd.DataFrame:
    """Run every validation scenario through the model of its setting.

    Parameters
    ----------
    model : BackPainModel
        The model to validate; a scenario in another setting runs on
        ``model.with_setting(setting)`` (the same priors), and a scenario whose setting is a
        study-population setting file (``setting: settings/<study>.yaml``) on
        ``bayesnet.load_model(setting=<that file>, priors=model.priors.directory)``.
    scenarios : list of Scenario, optional
        Default: :func:`bayesnet.data.scenarios.load_validation` of ``path``.
    path : path-like, optional
        A validation file (default: the shipped one).
    draws : int, default 500
        Parameter draws for the model's interval (the same draws, for the same seed, as
        :meth:`~bayesnet.BackPainModel.uncertainty`); 0 skips the intervals (NaN), and
        ``overlap`` then equals ``inside``.
    seed : int, default 0
    level : float, default 0.95
        Level of the model's interval.

    Returns
    -------
    DataFrame
        One row per scenario: ``id, setting, target, measure, published, low, high`` (the
        published value and 95% interval), ``model, model_low, model_high`` (the model's value
        under the point estimates and its interval over draws), ``inside`` (the model's value lies
        in the published interval), ``overlap`` (the two intervals overlap; False when no draw
        gives a model value, so that there is no model interval), ``ratio`` (model /
        published), ``independent``, ``source`` and ``excluded_draws`` (draws under which the
        value does not exist, e.g. the evidence is impossible; 0 in practice, and an
        :class:`~bayesnet.reasoning.uncertainty.ExcludedDrawsWarning` names the scenarios
        otherwise). ``attrs`` holds ``draws``, ``seed``, ``level``
        and ``summary`` (see :func:`summary`).

    Raises
    ------
    ValidationFileError
        A bad validation file, or a scenario's setting file missing or malformed (naming the
        scenario).
    ImpossibleEvidenceError
        A scenario whose evidence has probability zero under the model.
    BayesNetError
        Bad ``draws``, ``seed`` or ``level``.

    Examples
    --------
    >>> import bayesnet
    >>> res = validate(bayesnet.load_model(), draws=0)
    >>> bool(res["model"].between(0, 1).all() | (res["measure"] == "likelihood_ratio").any())
    True
    """
    from bayesnet.reasoning.uncertainty import ExcludedDrawsWarning, check_level

    if not hasattr(model, "with_setting") or not hasattr(model, "priors"):
        raise BayesNetError(f"expected a BackPainModel (bayesnet.load_model()); got {type(model).__name__}")
    if isinstance(draws, bool) or not isinstance(draws, int | np.integer) or draws < 0:
        raise BayesNetError(f"draws must be a non-negative integer; got {draws!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise BayesNetError(f"seed must be a non-negative integer; got {seed!r}")
    level = check_level(level)
    ps = model.priors
    if scenarios is None:
        scenarios = load_validation(path, ps)
    models: dict[str, BackPainModel] = {model.setting: model}
    rows = []
    with_excluded: list[str] = []
    no_interval: list[str] = []
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    for sc in scenarios:
        key = sc.setting_file or sc.setting
        if key not in models:
            models[key] = _setting_model(model, sc)
        m = models[key]
        point = float(_measure(m.engine, sc)[0])
        if not math.isfinite(point):
            raise ImpossibleEvidenceError(
                f"scenario {sc.id!r}: the evidence has probability zero under the model, so no value exists"
            )
        lo = hi = math.nan
        excluded = 0
        if draws:
            pd_ = m.parameter_draws(int(draws), int(seed))
            vals = _measure(pd_.network(m.engine), sc, pd_.n)
            ok = np.isfinite(vals)
            excluded = int((~ok).sum())
            if ok.any():
                lo, hi = (float(x) for x in np.quantile(vals[ok], q))
        pub = sc.published
        inside = pub.low <= point <= pub.high
        if not draws:
            overlap = inside
        elif math.isnan(lo):  # no possible draw: no model interval, so no overlap to claim
            overlap = False
            no_interval.append(sc.id)
        else:
            overlap = max(pub.low, lo) <= min(pub.high, hi)
        if excluded:
            with_excluded.append(sc.id)
        rows.append(
            {
                "id": sc.id,
                "setting": sc.setting,
                "target": sc.target.label,
                "measure": sc.measure,
                "published": pub.value,
                "low": pub.low,
                "high": pub.high,
                "model": point,
                "model_low": lo,
                "model_high": hi,
                "inside": bool(inside),
                "overlap": bool(overlap),
                "ratio": point / pub.value if pub.value > 0 else math.inf,
                "independent": sc.independent,
                "source": sc.source,
                "excluded_draws": excluded,
            }
        )
    if with_excluded:
        import warnings

        msg = (
            f"some parameter draws make the evidence of scenario(s) {', '.join(with_excluded)} impossible; "
            "they are left out of the model intervals (column excluded_draws)"
        )
        if no_interval:
            msg += f"; {', '.join(no_interval)} have no possible draw: no model interval, overlap False"
        warnings.warn(msg, ExcludedDrawsWarning, stacklevel=2)
    df = pd.DataFrame(rows, columns=_COLUMNS)
    df.attrs.update({"draws": int(draws), "seed": int(seed), "level": level})
    df.attrs["summary"] = summary(df)
    return df


def summary(df: pd.DataFrame) -> dict[str, int]:
    """Counts: ``scenarios``, ``inside``, ``overlap`` and the same for the independent scenarios."""
    ind = df[df["independent"].astype(bool)]
    return {
        "scenarios": len(df),
        "inside": int(df["inside"].sum()),
        "overlap": int(df["overlap"].sum()),
        "independent": len(ind),
        "independent_inside": int(ind["inside"].sum()),
        "independent_overlap": int(ind["overlap"].sum()),
    }
