"""Matplotlib figures of results: ranking, explanation waterfall, next tests, tornado, intervals.

Every function takes the DataFrame (or result) the analysis returned, draws on ``ax`` when given
(a new figure otherwise) and returns the ``Axes``, so figures compose in notebooks and scripts.
Nothing here computes probabilities.

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import bayesnet
>>> from bayesnet import plots
>>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "age_group": "70_plus"})
>>> ax = plots.waterfall(dx.explain("spinal_metastasis"))
>>> ax.get_title()
'Why spinal metastasis: 0.320% -> 9.04%'
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from .display import format_probability

__all__ = ["ranking", "waterfall", "next_tests", "tornado", "intervals"]

UP, DOWN, NEUTRAL = "#c0392b", "#2471a3", "#7f8c8d"


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _label(name: str) -> str:
    return str(name).replace("_", " ")


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _prob_ticks(ax: Any, lo: float, hi: float, axis: str = "x") -> None:
    """Label a log-odds axis in probabilities."""
    cands = [1e-6, 1e-5, 1e-4, 1e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99, 0.999]
    ticks = [p for p in cands if lo - 0.3 <= _logit(p) <= hi + 0.3] or [0.5]
    pos = [_logit(p) for p in ticks]
    labels = [format_probability(p) for p in ticks]
    if axis == "x":
        ax.set_xticks(pos, labels)
    else:
        ax.set_yticks(pos, labels)


def ranking(dx: Any, ax: Any = None, serious_only: bool = False) -> Any:
    """Horizontal bars of prior and posterior for every condition of a :class:`~bayesnet.diagnosis.Diagnosis`."""
    r = dx.ranking
    if serious_only:
        r = r[r["serious"]]
    ax = _axes(ax, (7, 0.4 * len(r) + 1.2))
    y = np.arange(len(r))[::-1]
    ax.barh(y, r["posterior"], height=0.6, color=[UP if s else NEUTRAL for s in r["serious"]], label="posterior")
    ax.scatter(r["prior"], y, marker="|", s=200, color="black", label="prior", zorder=3)
    ax.set_yticks(y, [_label(c) for c in r.index])
    ax.set_xscale("log")
    ax.set_xlim(max(1e-6, float(r[["prior", "posterior"]].min().min()) / 2), 1.0)
    for yy, p in zip(y, r["posterior"], strict=True):
        ax.text(p, yy, " " + format_probability(p), va="center", fontsize=8)
    ax.set_xlabel("probability (log scale)")
    ax.set_title(f"Differential diagnosis ({_label(dx.setting)})")
    ax.legend(loc="lower right", fontsize=8)
    return ax


def waterfall(explanation: pd.DataFrame, ax: Any = None) -> Any:
    """Waterfall of one condition's log-odds: prior, each finding's contribution, posterior.

    Parameters
    ----------
    explanation : DataFrame
        The result of :meth:`Diagnosis.explain` (``attrs`` must hold ``condition``, ``prior`` and
        ``posterior``).

    Notes
    -----
    Each bar is the finding's leave-one-out weight of evidence (its effect when added last). The
    bars stack up exactly to the posterior when the findings are conditionally independent given
    the condition; otherwise the end of the last bar and the posterior bar differ, and the gap
    shows how much the findings overlap.
    """
    ex = explanation
    prior, post = ex.attrs["prior"], ex.attrs["posterior"]
    cond = ex.attrs.get("condition", "condition")
    ax = _axes(ax, (7.5, 0.45 * (len(ex) + 2) + 1.2))
    start = _logit(prior)
    labels, lefts, widths, colours = ["prior"], [0.0], [start], [NEUTRAL]
    level = start
    for r in ex.itertuples():
        labels.append(f"{_label(r.variable)} = {r.state}")
        lefts.append(level)
        widths.append(r.contribution)
        colours.append(UP if r.contribution >= 0 else DOWN)
        level += r.contribution
    labels.append("posterior")
    lefts.append(0.0)
    widths.append(_logit(post))
    colours.append(NEUTRAL)
    y = np.arange(len(labels))[::-1]
    # the prior and posterior bars start at the left edge of the plot, not at log-odds 0
    edges = [lefts[i] + widths[i] for i in range(len(labels))] + [start, _logit(post)]
    lo, hi = min(edges + lefts[1:-1]) - 0.5, max(edges + lefts[1:-1]) + 1.5
    lefts[0], widths[0] = lo, start - lo
    lefts[-1], widths[-1] = lo, _logit(post) - lo
    ax.barh(y, widths, left=lefts, color=colours, height=0.6)
    for yy, lf, w, r in zip(y[1:-1], lefts[1:-1], widths[1:-1], ex.itertuples(), strict=True):
        ax.text(lf + w, yy, f" x{r.likelihood_ratio:.3g}" if w >= 0 else f"x{r.likelihood_ratio:.3g} ",
                va="center", ha="left" if w >= 0 else "right", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlim(lo, hi)
    _prob_ticks(ax, lo, hi)
    ax.set_xlabel("probability (log-odds scale)")
    ax.set_title(f"Why {_label(cond)}: {format_probability(prior)} -> {format_probability(post)}")
    return ax


def next_tests(table: pd.DataFrame, ax: Any = None, top: int = 12,
               metric: str = "expected_entropy_reduction") -> Any:
    """Bar chart of :meth:`~bayesnet.model.BackPainModel.next_tests` (best at the top)."""
    t = table.head(top)
    ax = _axes(ax, (7, 0.4 * len(t) + 1.2))
    y = np.arange(len(t))[::-1]
    colours = [UP if k == "test" else DOWN if k == "finding" else NEUTRAL for k in t["kind"]]
    ax.barh(y, t[metric], color=colours, height=0.6)
    ax.set_yticks(y, [_label(v) for v in t.index])
    xlabel = {
        "expected_entropy_reduction": "expected entropy reduction over the serious conditions (bits)",
        "expected_change": f"expected change in P({_label(table.attrs.get('focus', ''))})",
        "p_cross": f"probability of crossing {table.attrs.get('threshold')}",
    }.get(metric, metric)
    ax.set_xlabel(xlabel)
    focus = table.attrs.get("focus")
    ax.set_title(f"Next best observations (focus: {_label(focus)})" if focus else "Next best observations")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=UP, label="test"), Patch(color=DOWN, label="finding")], fontsize=8,
              loc="lower right")
    return ax


def tornado(table: pd.DataFrame, ax: Any = None, top: int = 12) -> Any:
    """Tornado plot of one-way sensitivity (the result of ``model.sensitivity``).

    Each bar spans the posterior obtained with the parameter at the low and the high end of its
    interval; the vertical line is the posterior with every parameter at its estimate.
    """
    t = table.head(top)
    base = float(table.attrs.get("base", np.nan))
    ax = _axes(ax, (8, 0.42 * len(t) + 1.4))
    y = np.arange(len(t))[::-1]
    lo = np.minimum(t["posterior_low"], t["posterior_high"]).to_numpy()
    hi = np.maximum(t["posterior_low"], t["posterior_high"]).to_numpy()
    ax.barh(y, hi - lo, left=lo, color=NEUTRAL, height=0.6)
    ax.scatter(t["posterior_low"], y, color=DOWN, zorder=3, s=18, label="parameter at low end")
    ax.scatter(t["posterior_high"], y, color=UP, zorder=3, s=18, label="parameter at high end")
    if np.isfinite(base):
        ax.axvline(base, color="black", lw=1)
    labels = [f"{_label(r.node)}: {_label(r.parameter)} [{r.grade}]" for r in t.itertuples()]
    ax.set_yticks(y, labels, fontsize=8)
    cond = table.attrs.get("condition", "")
    ax.set_xlabel(f"P({_label(cond)} | evidence)")
    ax.set_title(f"Which published numbers matter: {_label(cond)}")
    ax.legend(fontsize=8, loc="lower right")
    return ax


def intervals(table: pd.DataFrame, ax: Any = None) -> Any:
    """Posterior of each condition with its interval from parameter uncertainty (log scale)."""
    t = table.sort_values("posterior", ascending=True)
    ax = _axes(ax, (7, 0.4 * len(t) + 1.2))
    y = np.arange(len(t))
    lo = (t["posterior"] - t["low"]).clip(lower=0)
    hi = (t["high"] - t["posterior"]).clip(lower=0)
    ax.errorbar(t["posterior"], y, xerr=[lo, hi], fmt="o", color=UP, ecolor="black", capsize=3)
    ax.set_yticks(y, [_label(c) for c in t.index])
    ax.set_xscale("log")
    level = table.attrs.get("level", 0.95)
    ax.set_xlabel(f"posterior probability with its {level:.0%} interval (log scale)")
    ax.set_title("How sure: uncertainty from the published numbers")
    return ax
