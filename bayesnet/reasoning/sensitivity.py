"""One-way sensitivity of a posterior to every parameter across its interval (tornado data).

For one scenario and one condition, each parameter in turn is set to the low and then the high
end of its 95% interval, all others staying at their point values, and the condition's
posterior is recomputed exactly. All ``2 x n_params`` parameter sets are built at once with
:func:`bayesnet.building.parametric.build_vectorised` and evaluated in one call of the model's
junction-tree engine with one row per parameter set
(:meth:`~bayesnet.inference.engine.CompiledNetwork.with_tables`), so a full tornado takes a
fraction of a second.

Rules
-----
* Parameters without a recorded interval use the 95% interval of the default-width distribution
  of :mod:`bayesnet.reasoning.uncertainty` (column ``bounds`` says which).
* A state of a multi-state risk factor (an age band) moves with the other states rescaled in
  proportion so that they still sum to one (*proportional co-variation*, the usual scheme in
  Bayesian-network sensitivity analysis).
* A bound the network cannot use (e.g. the low end of a prevalence interval below what the
  condition's causes already produce, or a sensitivity bound below the false-positive rate) is
  moved towards the point value to the edge of the usable range (to within ``1e-9`` of the
  distance), and the value actually used is reported in ``low_used``/``high_used``; column
  ``truncated`` names the bounds so moved (``"low"``, ``"high"``, ``"low, high"`` or ``""``).
* A parameter set under which the evidence is impossible (e.g. a sensitivity bound of exactly 1
  with that finding observed absent in a patient who has the condition) has no posterior: its
  ``posterior_low``/``posterior_high`` and ``swing`` are NaN, such rows are sorted last, listed
  in ``attrs["no_posterior"]`` and announced by a :class:`NoPosteriorWarning`.

Examples
--------
>>> import bayesnet
>>> from bayesnet.reasoning.sensitivity import sensitivity
>>> model = bayesnet.load_model()
>>> tor = sensitivity(model, {"history_of_cancer": "yes", "night_pain": "yes"}, "spinal_metastasis")
>>> tor.columns[:4].tolist()
['node', 'parameter', 'kind', 'grade']
>>> bool(tor["swing"].is_monotonic_decreasing)
True
>>> dx = model.diagnose(tor.attrs["evidence"])
>>> bool(abs(tor.attrs["base"] - dx.ranking.loc["spinal_metastasis", "posterior"]) < 1e-12)
True
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesnet.building.parametric import ParameterSpace, build_vectorised
from bayesnet.errors import UnknownNameError
from bayesnet.inference.evidence import Evidence
from bayesnet.reasoning.results import Sensitivity, as_result
from bayesnet.reasoning.uncertainty import condition_posteriors, fit_parameter, impossible_error, tables_network

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["NoPosteriorWarning", "one_way_values", "parameter_bounds", "sensitivity"]


class NoPosteriorWarning(UserWarning):
    """At some parameter bound the evidence is impossible, so that row of the tornado has no posterior."""


_COLUMNS = [
    "node",
    "parameter",
    "kind",
    "grade",
    "source",
    "value",
    "low",
    "high",
    "posterior_low",
    "posterior_high",
    "swing",
    "low_used",
    "high_used",
    "truncated",
    "bounds",
]


def _select(space: ParameterSpace, parameters: Any) -> list[int]:
    """Columns named by ``parameters``: node names, ``(node, parameter)`` pairs or ``"node:parameter"``."""
    if parameters is None:
        return list(range(len(space)))
    if isinstance(parameters, str | tuple):
        parameters = [parameters]
    nodes = {k[0] for k in space.keys}
    out: list[int] = []
    for item in parameters:
        if isinstance(item, str) and ":" in item:
            item = tuple(item.split(":", 1))
        if isinstance(item, tuple):
            if item not in space.index:
                raise UnknownNameError("parameter", f"{item[0]}:{item[1]}", [f"{n}:{p}" for n, p in space.keys])
            cols = [space.index[item]]
        elif isinstance(item, str) and item in nodes:
            cols = [i for i, k in enumerate(space.keys) if k[0] == item]
        else:
            raise UnknownNameError("parameter or node", item, sorted(nodes))
        out.extend(c for c in cols if c not in out)
    return out


def parameter_bounds(space: ParameterSpace) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Low and high end of every parameter's interval, and where each comes from.

    Returns
    -------
    low, high : ndarray
    basis : list of str
        ``"published"`` or ``"default width (grade X)"``.
    """
    low = np.empty(len(space))
    high = np.empty(len(space))
    basis = []
    for i, p in enumerate(space.params):
        if p.has_interval:
            low[i], high[i] = p.low, p.high
            basis.append("published")
        else:
            low[i], high[i] = fit_parameter(p).interval(0.95)
            basis.append(f"default width (grade {p.grade})")
    return low, high, basis


def one_way_values(space: ParameterSpace, columns: Iterable[int], targets: np.ndarray) -> np.ndarray:
    """Parameter sets with one parameter moved: row ``i`` sets ``columns[i]`` to ``targets[i]``.

    Every other parameter keeps its point value, except the other states of a multi-state risk
    factor, which are rescaled in proportion so that the distribution still sums to one.

    Examples
    --------
    >>> import bayesnet
    >>> from bayesnet.building.parametric import parameter_space
    >>> space = parameter_space(bayesnet.load_model())
    >>> g = space.groups[0]
    >>> rows = one_way_values(space, [g[0]], np.array([0.5]))
    >>> round(float(rows[0, g].sum()), 12), float(rows[0, g[0]])
    (1.0, 0.5)
    """
    columns = list(columns)
    targets = np.asarray(targets, dtype=float)
    rows = np.tile(space.values, (len(columns), 1))
    group_of = {c: g for g in space.groups for c in g}
    for r, (c, t) in enumerate(zip(columns, targets, strict=True)):
        rows[r, c] = t
        g = group_of.get(c)
        if g is not None:
            others = [x for x in g if x != c]
            total = space.values[others].sum()
            if total > 0:
                rows[r, others] = space.values[others] * (1.0 - t) / total
    return rows


def _usable(space: ParameterSpace, columns: list[int], start: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """For each row, the value closest to ``bound`` along ``[start, bound]`` that gives valid tables.

    ``start`` (the point value) is valid. The valid part of the segment is an interval containing
    ``start`` (the constraints are monotone in one parameter); it is located by evaluating sixteen
    points per row per round, narrowing the bracket 17-fold each time, to 1e-9 of the distance.
    """
    out = bound.copy()
    rows = one_way_values(space, columns, bound)
    bad = np.flatnonzero(~build_vectorised(space, rows).valid)
    if not bad.size:
        return out
    lo = np.zeros(bad.size)  # fraction of the way to the bound known to be valid
    hi = np.ones(bad.size)  # known invalid
    cols = [columns[i] for i in bad]
    k = 16
    while np.max(hi - lo) > 1e-9:
        fracs = lo[:, None] + (hi - lo)[:, None] * (np.arange(1, k + 1) / (k + 1))[None, :]
        vals = start[bad][:, None] + fracs * (bound[bad] - start[bad])[:, None]
        trial = one_way_values(space, np.repeat(cols, k), vals.reshape(-1))
        ok = build_vectorised(space, trial).valid.reshape(bad.size, k)
        # the last valid point before the first invalid one
        first_bad = np.where(ok.all(axis=1), k, np.argmin(ok, axis=1))
        new_lo = np.where(first_bad > 0, fracs[np.arange(bad.size), np.maximum(first_bad - 1, 0)], lo)
        new_hi = np.where(first_bad < k, fracs[np.arange(bad.size), np.minimum(first_bad, k - 1)], hi)
        lo, hi = new_lo, new_hi
    out[bad] = start[bad] + lo * (bound[bad] - start[bad])
    return out


def sensitivity(
    model: BackPainModel,
    evidence: Mapping | Evidence | None,
    condition: str,
    *,
    parameters: Any = None,
) -> pd.DataFrame:
    """Tornado data: how much each parameter's interval moves one condition's posterior.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping or Evidence or None
        The scenario (hard or soft evidence, as for ``diagnose``).
    condition : str
        One of ``model.conditions`` (``mechanical_pain`` included).
    parameters : optional
        Restrict to some parameters: node names (all their parameters), ``(node, parameter)``
        pairs or ``"node:parameter"`` strings. Default: every parameter of the setting.

    Returns
    -------
    DataFrame
        One row per parameter, sorted by ``swing`` (descending, rows without a posterior
        last): ``node, parameter, kind, grade, source, value, low, high`` (the interval),
        ``posterior_low`` and ``posterior_high`` (P(condition = yes) with the parameter at
        ``low_used`` / ``high_used``; NaN where the evidence is impossible there),
        ``swing = |posterior_high - posterior_low|``, ``low_used``, ``high_used`` (equal to
        ``low``/``high`` unless the bound had to be moved, see the module docstring),
        ``truncated`` (which bounds were moved: ``"low"``, ``"high"``, ``"low, high"`` or
        ``""``) and ``bounds`` (``published`` or the default width used). ``attrs`` holds
        ``base`` (the posterior at the point values, as in ``diagnose``), ``condition``,
        ``setting``, ``evidence`` (as a dict) and ``no_posterior`` (``"node:parameter"`` of the
        rows without a posterior, normally empty).

    Warns
    -----
    NoPosteriorWarning
        Some rows have no posterior (see the module docstring).

    Raises
    ------
    UnknownNameError
        Unknown condition, parameter, variable or state.
    ImpossibleEvidenceError
        The evidence has probability zero.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> tor = sensitivity(model, {"fever": "yes"}, "epidural_abscess", parameters=["fever", "epidural_abscess"])
    >>> set(tor["node"]) == {"fever", "epidural_abscess"}
    True
    """
    if condition not in model.conditions:
        raise UnknownNameError("condition", condition, model.conditions)
    ev = evidence if isinstance(evidence, Evidence) else model.check_evidence(evidence)
    space = model.parameter_space
    lik = ev.likelihoods()
    engine = model.engine.restricted([condition, *lik])  # barren findings and tests left out (exact)
    base = condition_posteriors(engine, lik, 1, [condition])[0][0, 0]
    if not np.isfinite(base):
        raise impossible_error()
    cols = _select(space, parameters)
    low, high, basis = parameter_bounds(space)
    start = space.values[cols]
    m = len(cols)
    used = _usable(space, cols + cols, np.concatenate([start, start]), np.concatenate([low[cols], high[cols]]))
    low_used, high_used = used[:m], used[m:]
    rows = one_way_values(space, cols + cols, used)
    vt = build_vectorised(space, rows)
    post = condition_posteriors(tables_network(engine, vt), lik, 2 * m, [condition])[0][:, 0]
    p_low, p_high = post[:m], post[m:]
    moved_low, moved_high = low_used != low[cols], high_used != high[cols]
    truncated = [
        ", ".join(n for n, f in (("low", a), ("high", b)) if f) for a, b in zip(moved_low, moved_high, strict=True)
    ]
    params = [space.params[c] for c in cols]
    df = pd.DataFrame(
        {
            "node": [p.node for p in params],
            "parameter": [p.parameter for p in params],
            "kind": [p.kind for p in params],
            "grade": [p.grade for p in params],
            "source": [p.source for p in params],
            "value": start,
            "low": low[cols],
            "high": high[cols],
            "posterior_low": p_low,
            "posterior_high": p_high,
            "swing": np.abs(p_high - p_low),
            "low_used": low_used,
            "high_used": high_used,
            "truncated": truncated,
            "bounds": [basis[c] for c in cols],
        },
        columns=_COLUMNS,
    )
    df = df.sort_values("swing", ascending=False, kind="stable", na_position="last").reset_index(drop=True)
    none = df["swing"].isna()
    no_posterior = [f"{a}:{b}" for a, b in zip(df.loc[none, "node"], df.loc[none, "parameter"], strict=True)]
    if no_posterior:
        shown = ", ".join(no_posterior[:5]) + (f" and {len(no_posterior) - 5} more" if len(no_posterior) > 5 else "")
        warnings.warn(
            f"the evidence is impossible with {shown} at an end of its interval: no posterior there "
            "(NaN, sorted last; attrs['no_posterior'])",
            NoPosteriorWarning,
            stacklevel=2,
        )
    df.attrs.update(
        {
            "base": float(base),
            "condition": condition,
            "setting": model.setting,
            "evidence": dict(ev.items()),
            "no_posterior": no_posterior,
        }
    )
    return as_result(df, Sensitivity)
