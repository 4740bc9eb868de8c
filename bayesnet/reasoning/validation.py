"""Clinical validation: the model's posteriors against published post-test probabilities.

:func:`validate` runs every scenario of a validation file (:mod:`bayesnet.data.scenarios`) in the
model of its setting and reports the published value and interval beside the model's value and
the interval that the uncertainty of the priors gives it (the same parameter draws as
:meth:`bayesnet.BackPainModel.uncertainty`), whether the model's point value lies inside the
published interval and whether the two intervals overlap.

Every probability is computed exactly from the probability of evidence ``Z``:
``P(A | e) = Z(e, A) / Z(e)``; "any of" is summed over disjoint pieces,
``P(A1 or A2 | e) = P(A1 | e) + P(not A1, A2 | e)``, so no subtraction loses digits for rare
events. The same formula runs on the point tables and on every parameter draw.

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


def _evidence_probabilities(vt: Any, rows: Sequence[Mapping[str, np.ndarray]]) -> np.ndarray:
    """Z of every row of likelihoods under every draw of ``vt``: shape ``(n_draws, n_rows)``."""
    from bayesnet.inference.parametric_ve import EvidenceBatch, iter_condition_posteriors

    n = len(rows)
    lik: dict[str, np.ndarray] = {}
    for i, row in enumerate(rows):
        for v, w in row.items():
            if v not in lik:
                lik[v] = np.ones((n, len(vt.states[v])))
            lik[v][i] = w
    lik = {v: a for v, a in lik.items() if not np.all(a == 1.0)}
    batch = EvidenceBatch(n, lik)
    out = np.empty((vt.n, n))
    anchor = vt.calibrated_conditions[:1]
    for idx, d0, d1, _, z in iter_condition_posteriors(vt, batch, anchor):
        out[d0:d1, idx] = z
    return out


def event_probability(vt: Any, evidence: Mapping[str, Sequence[str]], target: Target) -> np.ndarray:
    """P(target | evidence) for every draw of ``vt`` (exact; see the module docstring).

    Parameters
    ----------
    vt : bayesnet.building.parametric.VectorTables
        Tables of one or more parameter draws (``VectorTables.from_tables(model.tables)`` for
        the point values).
    evidence : mapping
        Variable -> the states it is known to be in (one state, or several meaning "one of").
    target : Target

    Returns
    -------
    ndarray
        Shape ``(vt.n,)``; NaN for a draw under which the evidence is impossible.

    Examples
    --------
    >>> import bayesnet
    >>> from bayesnet.building.parametric import VectorTables
    >>> m = bayesnet.load_model()
    >>> t = Target("all", (("spinal_metastasis", ("yes",)),), "spinal_metastasis")
    >>> p = event_probability(VectorTables.from_tables(m.tables), {"history_of_cancer": ["yes"]}, t)
    >>> bool(abs(p[0] - m.diagnose({"history_of_cancer": "yes"}).ranking.loc["spinal_metastasis", "posterior"]) < 1e-12)
    True
    """
    from bayesnet.errors import UnknownNameError

    for v, s in [*evidence.items(), *target.items]:
        if v not in vt.states:
            raise UnknownNameError("variable", v, vt.states)
        for x in [s] if isinstance(s, str) else s:
            if x not in vt.states[v]:
                raise UnknownNameError("state", x, vt.states[v], context=f"of variable {v!r}")
    evidence = {v: (s,) if isinstance(s, str) else tuple(s) for v, s in evidence.items()}
    base = {v: _indicator(vt.states[v], s) for v, s in evidence.items()}
    rows: list[dict[str, np.ndarray]] = [base]
    if target.mode == "all":
        row = dict(base)
        for v, s in target.items:
            row[v] = row.get(v, np.ones(len(vt.states[v]))) * _indicator(vt.states[v], s)
        rows.append(row)
    else:  # disjoint pieces: A1, (not A1) A2, (not A1)(not A2) A3, ...
        for i, (v, s) in enumerate(target.items):
            row = dict(base)
            for u, t in target.items[:i]:
                row[u] = row.get(u, np.ones(len(vt.states[u]))) * (1.0 - _indicator(vt.states[u], t))
            row[v] = row.get(v, np.ones(len(vt.states[v]))) * _indicator(vt.states[v], s)
            rows.append(row)
    z = _evidence_probabilities(vt, rows)
    z0 = z[:, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        p = z[:, 1:].sum(axis=1) / z0
    p = np.where(z0 > 0, p, np.nan)
    return np.clip(p, 0.0, 1.0)


def _measure(vt: Any, sc: Scenario) -> np.ndarray:
    if sc.measure == "probability":
        return event_probability(vt, sc.evidence, sc.target)
    p0 = event_probability(vt, sc.evidence, sc.target)
    p1 = event_probability(vt, {**sc.evidence, **sc.tests}, sc.target)
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = (p1 / (1.0 - p1)) / (p0 / (1.0 - p0))
    return np.where(np.isfinite(lr) & (lr > 0), lr, np.nan)




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
        ``model.with_setting(setting)`` (the same priors).
    scenarios : list of Scenario, optional
        Default: :func:`load_validation` of ``path``.
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
        in the published interval), ``overlap`` (the two intervals overlap), ``ratio`` (model /
        published), ``independent``, ``source`` and ``excluded_draws`` (draws under which the
        evidence was impossible; 0 in practice). ``attrs`` holds ``draws``, ``seed``, ``level``
        and ``summary`` (see :func:`summary`).

    Raises
    ------
    ValidationFileError
        A bad validation file.
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
    from bayesnet.reasoning.uncertainty import _state, check_level

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
    q = [(1.0 - level) / 2.0, (1.0 + level) / 2.0]
    for sc in scenarios:
        if sc.setting not in models:
            if sc.setting not in ps.settings:
                from bayesnet.errors import UnknownNameError

                raise UnknownNameError("setting", sc.setting, ps.settings)
            models[sc.setting] = model.with_setting(sc.setting)
        st = _state(models[sc.setting])
        point = float(_measure(st.point, sc)[0])
        if not math.isfinite(point):
            raise ImpossibleEvidenceError(
                f"scenario {sc.id!r}: the evidence has probability zero under the model, so no value exists"
            )
        lo = hi = math.nan
        excluded = 0
        if draws:
            vals = _measure(st.get_draws(int(draws), int(seed)).tables, sc)
            ok = np.isfinite(vals)
            excluded = int((~ok).sum())
            if ok.any():
                lo, hi = (float(x) for x in np.quantile(vals[ok], q))
        pub = sc.published
        inside = pub.low <= point <= pub.high
        overlap = inside if not draws else bool(max(pub.low, lo) <= min(pub.high, hi))
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
