"""Matplotlib figures of results: ranking, explanation waterfall, next tests, tornado, intervals, network.

Every function takes the DataFrame (or result) the analysis returned, draws on ``ax`` when given
(a new figure otherwise) and returns the ``Axes``, so figures compose in notebooks and scripts.
Nothing here computes probabilities (:func:`network`, given evidence as a mapping, asks
``model.diagnose`` for them).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import bayesnet
>>> from bayesnet.present import plots
>>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "age_group": "70_plus"})
>>> ax = plots.waterfall(dx.explain("spinal_metastasis"))
>>> ax.get_title()
'Why spinal metastasis: 0.320% -> 7.62%'
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.formatting import format_probability
from bayesnet.present.display import inline_label as _inline
from bayesnet.present.display import label as _label
from bayesnet.reasoning.validation import summary

__all__ = ["calibration_plot", "intervals", "network", "next_tests", "ranking", "sweep", "tornado", "waterfall",
           "what_if_heatmap"]

UP, DOWN, NEUTRAL = "#c0392b", "#2471a3", "#7f8c8d"


def _axes(ax: Any, size: tuple[float, float]) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=size, layout="constrained")
    return ax


def _logit(p: float) -> float:
    p = min(max(float(p), 1e-12), 1 - 1e-12)
    return math.log(p / (1 - p))


def _prob_ticks(ax: Any, lo: float, hi: float, axis: str = "x", most: int = 8) -> None:
    """Label a log-odds axis in probabilities (every decade below 1%, thinned to at most ``most``)."""
    cands = [1e-6, 1e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 0.8, 0.9, 0.95, 0.99,
             0.999]
    gap = (hi - lo) / most  # labels at least this far apart on the log-odds axis, so none collide
    ticks: list[float] = []
    for p in cands:
        if lo <= _logit(p) <= hi and (not ticks or _logit(p) - _logit(ticks[-1]) >= gap):
            ticks.append(p)
    ticks = ticks or [0.5]
    pos = [_logit(p) for p in ticks]
    (ax.set_xticks if axis == "x" else ax.set_yticks)(pos, [format_probability(p) for p in ticks])


def ranking(dx: Any, ax: Any = None, serious_only: bool = False) -> Any:
    """Horizontal bars of prior and posterior for every condition of a :class:`~bayesnet.reasoning.diagnosis.Diagnosis`."""
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
    if not (0.0 < prior < 1.0 and 0.0 < post < 1.0 and np.isfinite(ex["contribution"].to_numpy(float)).all()):
        # a certain condition has infinite log-odds: there is no waterfall to draw, say why instead
        note = ex.attrs.get("note") or f"P({cond}) is 0 or 1, so its log-odds are infinite."
        ax.text(0.5, 0.5, f"{format_probability(prior)} -> {format_probability(post)}\n{note}", ha="center",
                va="center", wrap=True, fontsize=9, transform=ax.transAxes)
        ax.set_axis_off()
        ax.set_title(f"Why {_inline(cond)}: no waterfall (certain)")
        return ax
    start = _logit(prior)
    rows = list(ex.itertuples())
    contributions = [r.contribution for r in rows]
    labels = ["prior", *(f"{_label(r.variable)} = {r.state}" for r in rows), "posterior"]
    lefts = [0.0, *list(itertools.accumulate(contributions, initial=start))[:-1], 0.0]
    widths = [start, *contributions, _logit(post)]
    colours = [NEUTRAL, *(UP if c >= 0 else DOWN for c in contributions), NEUTRAL]
    y = np.arange(len(labels))[::-1]
    # the prior and the posterior are points on the probability axis (a bar from an arbitrary left edge
    # of a log-odds axis would have a meaningless length); each finding's bar is its log likelihood ratio
    ends = [start, _logit(post), *(lf + w for lf, w in zip(lefts[1:-1], widths[1:-1], strict=True)), *lefts[1:-1]]
    lo, hi = min(ends) - 0.6, max(ends) + 1.2
    ax.barh(y[1:-1], widths[1:-1], left=lefts[1:-1], color=colours[1:-1], height=0.6)
    ax.scatter([start, _logit(post)], [y[0], y[-1]], marker="D", s=36, color=NEUTRAL, zorder=3)
    ax.axvline(start, color="0.75", lw=0.8, ls=":", zorder=0)
    for yy, v in ((y[0], prior), (y[-1], post)):
        ax.annotate(f" {format_probability(v)}", (_logit(v), yy), xytext=(4, 0), textcoords="offset points",
                    va="center", fontsize=8)
    for yy, lf, w, r in zip(y[1:-1], lefts[1:-1], widths[1:-1], ex.itertuples(), strict=True):
        ax.text(lf + w, yy, f" x{r.likelihood_ratio:.3g}" if w >= 0 else f"x{r.likelihood_ratio:.3g} ",
                va="center", ha="left" if w >= 0 else "right", fontsize=8)
    ax.set_yticks(y, labels)
    ax.set_xlim(lo, hi)
    _prob_ticks(ax, lo, hi)
    ax.set_xlabel("probability (log-odds scale)")
    ax.set_title(f"Why {_inline(cond)}: {format_probability(prior)} -> {format_probability(post)}")
    return ax


def next_tests(table: pd.DataFrame, ax: Any = None, top: int = 12, metric: str | None = None) -> Any:
    """Bar chart of :meth:`~bayesnet.model.BackPainModel.next_tests` (best at the top).

    ``metric`` defaults to the column the table is sorted by, so the bars are in order.
    """
    if metric is None:
        metric = {"entropy": "expected_entropy_reduction", "focus": "focus_information", "change": "expected_change",
                  "cross": "p_cross", "decision": "decision_value"}.get(table.attrs.get("sort_by", "entropy"),
                                                                         "expected_entropy_reduction")
    t = table.head(top)
    ax = _axes(ax, (7, 0.4 * len(t) + 1.2))
    y = np.arange(len(t))[::-1]
    colours = [UP if k == "test" else DOWN if k == "finding" else NEUTRAL for k in t["kind"]]
    ax.barh(y, t[metric], color=colours, height=0.6)
    ax.set_yticks(y, [_label(v) for v in t.index])
    xlabel = {
        "expected_entropy_reduction": "expected entropy reduction over the serious conditions (bits)",
        "focus_information": f"expected information about {_inline(table.attrs.get('focus', ''))} (bits)",
        "expected_change": f"expected change in P({_inline(table.attrs.get('focus', ''))})",
        "p_cross": f"probability of crossing {table.attrs.get('threshold')}",
        "decision_value": f"expected value for the decision at {table.attrs.get('threshold')} (cases per patient)",
    }.get(metric, metric)
    ax.set_xlabel(xlabel)
    focus = table.attrs.get("focus")
    ax.set_title(f"Next best observations (focus: {_inline(focus)})" if focus else "Next best observations")
    from matplotlib.patches import Patch

    ax.legend(handles=[Patch(color=UP, label="test"), Patch(color=DOWN, label="finding")], fontsize=8,
              loc="lower right")
    return ax


def tornado(table: pd.DataFrame, ax: Any = None, top: int = 12) -> Any:
    """Tornado plot of one-way sensitivity (the result of ``model.sensitivity``).

    Each bar spans the posterior obtained with the parameter at the low and the high end of its
    interval; the vertical line is the posterior with every parameter at its estimate.
    """
    swing = table["swing"].abs()
    small = swing <= max(1e-9, 0.005 * float(swing.max() if len(swing) else 0.0))
    t = table[~small].head(top)  # a number that (almost) does not move the posterior is not drawn
    base = float(table.attrs.get("base", np.nan))
    ax = _axes(ax, (8, 0.42 * max(len(t), 1) + 1.6))
    y = np.arange(len(t))[::-1]
    lo = np.minimum(t["posterior_low"], t["posterior_high"]).to_numpy(float)
    hi = np.maximum(t["posterior_low"], t["posterior_high"]).to_numpy(float)
    ax.barh(y, hi - lo, left=lo, color=NEUTRAL, height=0.6)
    ax.scatter(t["posterior_low"], y, color=DOWN, zorder=3, s=18, label="parameter at low end")
    ax.scatter(t["posterior_high"], y, color=UP, zorder=3, s=18, label="parameter at high end")
    if np.isfinite(base):
        ax.axvline(base, color="black", lw=1, label=f"every number at its estimate: {format_probability(base)}")
    labels = [f"{_label(r.node)}: {_label(r.parameter)} [{r.grade}]" for r in t.itertuples()]
    ax.set_yticks(y, labels, fontsize=8)
    values = np.concatenate([lo, hi, [base] if np.isfinite(base) else []])
    if values.size:  # the whole of every bar in view, with a margin
        span = max(float(values.max() - values.min()), 1e-12)
        ax.set_xlim(max(0.0, float(values.min()) - 0.08 * span), min(1.0, float(values.max()) + 0.08 * span))
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(5))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_probability(v)))
    cond = table.attrs.get("condition", "")
    ax.set_xlabel(f"P({_inline(cond)} | evidence)")
    dropped = int(small.sum())
    ax.set_title(f"Which published numbers matter: {_inline(cond)}"
                 + (f"\n({dropped} numbers with a swing under 0.5% of the largest not shown)"
                    if dropped else ""), fontsize=10)
    ax.legend(fontsize=8, loc="best")
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


# ---------------------------------------------------------------------------------- network drawing
#: fill and border colour of each layer of the back-pain network
LAYER_COLOURS = {
    "risk_factor": ("#d5e8d4", "#5a8f4e"),
    "condition": ("#f8cecc", "#b85450"),
    "finding": ("#dae8fc", "#6c8ebf"),
    "test": ("#fff2cc", "#b59b3a"),
}
_LAYER_TITLES = {"risk_factor": "risk factors", "condition": "conditions", "finding": "findings", "test": "tests"}
_GENERIC_COLOURS = [("#d5e8d4", "#5a8f4e"), ("#f8cecc", "#b85450"), ("#dae8fc", "#6c8ebf"), ("#fff2cc", "#b59b3a"),
                    ("#e1d5e7", "#9673a6"), ("#ffe6cc", "#d79b00")]


def _network_layers(model: Any) -> tuple[Any, list[str], list[list[Any]]]:
    """The DAG, a title per layer and the nodes of each layer (model order)."""
    import networkx as nx

    tables = getattr(model, "tables", None)
    if tables is not None and hasattr(tables, "kinds"):
        kinds = list(_LAYER_TITLES)
        layers = [[v for v, k in tables.kinds.items() if k == kind] for kind in kinds]
        graph = nx.DiGraph([(p, v) for v in tables.kinds for p in tables.parents[v]])
        graph.add_nodes_from(tables.kinds)
        return graph, kinds, layers
    graph = nx.DiGraph(model.network.edges() if hasattr(model, "network") else model.edges())
    graph.add_nodes_from(model.network.nodes() if hasattr(model, "network") else model.nodes())
    layers = [sorted(g, key=str) for g in nx.topological_generations(graph)]
    return graph, [f"layer {i}" for i in range(len(layers))], layers


def _crossings(graph: Any, layer_of: dict, pos: dict) -> int:
    """Cost of an ordering: crossing pairs of edges between layers (straight segments), plus, for each
    edge within a layer, the number of nodes it has to pass."""
    segs = np.array([(layer_of[u], pos[u], layer_of[v], pos[v]) for u, v in graph.edges() if layer_of[u] != layer_of[v]])
    cost = 0
    for u, v in graph.edges():
        if layer_of[u] == layer_of[v]:
            lo_, hi_ = sorted((pos[u], pos[v]))
            cost += sum(1 for w, i in layer_of.items() if i == layer_of[u] and lo_ < pos[w] < hi_)
    if len(segs) < 2:
        return cost
    x1, y1, x2, y2 = segs.T
    # two segments cross when their x-ranges overlap and the order of their heights swaps over the overlap
    lo, hi = np.maximum.outer(x1, x1), np.minimum.outer(x2, x2)
    ok = hi > lo

    def height(x: np.ndarray) -> np.ndarray:
        t = (x - x1[:, None]) / (x2 - x1)[:, None]
        return y1[:, None] + t * (y2 - y1)[:, None]

    a_lo, a_hi = height(lo), height(hi)
    d_lo, d_hi = a_lo - a_lo.T, a_hi - a_hi.T
    cross = ok & (d_lo * d_hi < -1e-12)
    return cost + int(np.triu(cross, 1).sum())


def _order_layers(graph: Any, layers: list[list[Any]], sweeps: int = 12) -> list[list[Any]]:
    """Reorder the nodes of each layer to reduce edge crossings.

    Barycentre sweeps (each node moves to the mean height of its neighbours in the previous
    layers, then in the next ones), keeping the best ordering seen, then swaps of neighbouring
    nodes while they lower the cost. Deterministic.
    """
    layer_of = {v: i for i, layer in enumerate(layers) for v in layer}

    def positions(order: list[list[Any]]) -> dict:
        return {v: (j + 0.5) / len(layer) for layer in order for j, v in enumerate(layer)}

    def cost(order: list[list[Any]]) -> int:
        return _crossings(graph, layer_of, positions(order))

    order = [list(layer) for layer in layers]
    best, best_cost = [list(layer) for layer in order], cost(order)
    for sweep in range(sweeps):
        down = sweep % 2 == 0
        idx = range(1, len(order)) if down else range(len(order) - 2, -1, -1)
        for i in idx:
            pos = positions(order)

            def key(v: Any, i: int = i, pos: dict = pos, down: bool = down) -> float:
                nbrs = graph.predecessors(v) if down else graph.successors(v)
                ys = [pos[u] for u in nbrs if (layer_of[u] < i if down else layer_of[u] > i)]
                return float(np.mean(ys)) if ys else pos[v]

            order[i] = sorted(order[i], key=key)
        c = cost(order)
        if c < best_cost:
            best, best_cost = [list(layer) for layer in order], c
    improved = True
    while improved:
        improved = False
        for layer in best:
            for j in range(len(layer) - 1):
                layer[j], layer[j + 1] = layer[j + 1], layer[j]
                c = cost(best)
                if c < best_cost:
                    best_cost, improved = c, True
                else:
                    layer[j], layer[j + 1] = layer[j + 1], layer[j]
    return best


def _wrap(text: str, width: int) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width, break_on_hyphens=False, break_long_words=False)) or text


def network(
    model: Any,
    evidence: Any = None,
    ax: Any = None,
    *,
    posteriors: bool = True,
    title: str | None = None,
    fontsize: float = 8,
    wrap: int = 18,
) -> Any:
    """Draw the network in layers, left to right: risk factors, conditions, findings, tests.

    Each layer has its own colour and the nodes of each layer are ordered to reduce edge
    crossings (barycentre heuristic). Given a scenario, observed nodes get a thick border and
    their state, and each condition gets a bar of its posterior probability (with the prior).

    Parameters
    ----------
    model : BackPainModel or pgmpy.models.DiscreteBayesianNetwork
        Another pgmpy network is drawn in its topological generations (no posteriors).
    evidence : mapping or Diagnosis, optional
        A scenario: ``{variable: state}`` (``model.diagnose`` is called for the posteriors) or a
        :class:`~bayesnet.reasoning.diagnosis.Diagnosis` already computed.
    ax : matplotlib Axes, optional
    posteriors : bool, default True
        Draw the posterior bars on the condition nodes when a scenario is given.
    title : str, optional
    fontsize : float, default 8
    wrap : int, default 18
        Node labels are wrapped at this many characters.

    Returns
    -------
    matplotlib.axes.Axes
        Node labels carry ``gid`` ``"node:<name>"`` and posterior bars ``"posterior:<condition>"``.

    Examples
    --------
    >>> import bayesnet
    >>> from bayesnet.present import plots
    >>> model = bayesnet.load_model()
    >>> ax = plots.network(model, {"history_of_cancer": "yes", "age_group": "70_plus"})
    >>> sum(1 for t in ax.texts if (t.get_gid() or "").startswith("node:")) == len(model.network.nodes())
    True
    """
    from matplotlib.patches import Rectangle

    graph, kinds, layers = _network_layers(model)
    layers = _order_layers(graph, layers)
    height = max(len(layer) for layer in layers)
    size = (3.6 * len(layers) + 0.4, 0.42 * height + 1.4)
    ax = _axes(ax, size)

    dx = None
    observed: dict[Any, str] = {}
    if evidence is not None:
        if hasattr(evidence, "ranking") and hasattr(evidence, "evidence"):
            dx = evidence
        elif hasattr(model, "diagnose"):
            dx = model.diagnose(evidence)
        else:
            observed = {k: str(v) for k, v in dict(evidence).items()}
        if dx is not None:
            observed = {k: str(v) for k, v in dx.evidence.hard.items()}
            for k, w in dx.evidence.soft_dicts.items():
                observed[k] = "~" + ", ".join(f"{s} {p:.2g}" for s, p in w.items())

    xy: dict[Any, tuple[float, float]] = {}
    for i, layer in enumerate(layers):
        for j, v in enumerate(layer):
            xy[v] = (float(i), height * (1 - (j + 0.5) / len(layer)))

    texts = {}
    for i, (kind, layer) in enumerate(zip(kinds, layers, strict=True)):
        fill, border = LAYER_COLOURS.get(kind, _GENERIC_COLOURS[i % len(_GENERIC_COLOURS)])
        ax.text(i, height + 0.35, _LAYER_TITLES.get(kind, kind), ha="center", va="bottom",
                fontsize=fontsize + 3, fontweight="bold", color=border)
        for v in layer:
            label = _wrap(_label(v), wrap)
            seen = v in observed
            if seen:
                label += f"\n= {observed[v]}" if not observed[v].startswith("~") else f"\n{observed[v]}"
            t = ax.text(*xy[v], label, ha="center", va="center", fontsize=fontsize, zorder=3,
                        fontweight="bold" if seen else "normal", linespacing=1.1,
                        bbox={"boxstyle": "round,pad=0.3", "facecolor": fill,
                              "edgecolor": "black" if seen else border, "linewidth": 2.2 if seen else 0.8,
                              "linestyle": "--" if seen and observed[v].startswith("~") else "-"})
            t.set_gid(f"node:{v}")
            texts[v] = t

    layer_of = {v: i for i, layer in enumerate(layers) for v in layer}
    for u, v in graph.edges():
        same = layer_of[u] == layer_of[v]
        skip = abs(layer_of[v] - layer_of[u]) > 1
        rad = 0.0
        if same:  # bow edges within a layer to the left of the column so they do not run through the boxes
            rad = 0.45 if xy[v][1] < xy[u][1] else -0.45
        lit = u in observed or v in observed
        ax.annotate(
            "", xy=xy[v], xytext=xy[u], zorder=1,
            arrowprops={
                "arrowstyle": "-|>", "mutation_scale": 8, "shrinkA": 0, "shrinkB": 0,
                "patchA": texts[u].get_bbox_patch(), "patchB": texts[v].get_bbox_patch(),
                "connectionstyle": f"arc3,rad={rad}",
                "color": "#333333" if lit else "#9a9a9a",
                "alpha": 0.9 if lit else (0.35 if skip else 0.55),
                "linewidth": 1.0 if lit else 0.7,
                "linestyle": ":" if skip else "-",
            },
        )

    if dx is not None and posteriors:
        width = 0.42
        r = dx.ranking
        for c in r.index:
            if c not in xy:
                continue
            x, y = xy[c]
            post, prior = float(r.loc[c, "posterior"]), float(r.loc[c, "prior"])
            by = y - 0.62
            colour = UP if bool(r.loc[c, "serious"]) else NEUTRAL
            ax.add_patch(Rectangle((x - width / 2, by), width, 0.22, facecolor="white", edgecolor="#555555",
                                   linewidth=0.6, zorder=4))
            bar = Rectangle((x - width / 2, by), width * min(max(post, 0.0), 1.0), 0.22, facecolor=colour,
                            edgecolor="none", zorder=5)
            bar.set_gid(f"posterior:{c}")
            ax.add_patch(bar)
            ax.plot([x - width / 2 + width * prior] * 2, [by - 0.05, by + 0.27], color="black", lw=1.0, zorder=6)
            ax.text(x + width / 2 + 0.03, by + 0.11, f"{format_probability(post)}", ha="left", va="center",
                    fontsize=fontsize - 0.5, zorder=6, color=colour, fontweight="bold")

    notes = ["dotted: links that skip a layer", "curved: links within a layer"]
    if dx is not None and posteriors:
        notes.insert(0, "bar: posterior (linear scale), tick: prior")
    if "mechanical_pain" in xy:
        definition = getattr(getattr(model, "priors", None), "conditions", {}).get("mechanical_pain")
        serious_only = definition is not None and definition.definition == "no_serious_condition"
        notes.append("mechanical pain = none of the " + ("serious" if serious_only else "modelled") + " conditions")
    ax.text(len(layers) - 1 + 0.6, -0.7 if dx is not None else -0.25, "; ".join(notes), ha="right", va="top",
            fontsize=fontsize - 1, color="#555555")
    ax.set_xlim(-0.62, len(layers) - 1 + 0.62)
    ax.set_ylim(-1.1 if dx is not None else -0.6, height + 1.0)
    ax.set_axis_off()
    if title is None and dx is not None:
        title = f"Scenario ({_label(dx.setting)}): observed nodes in bold"
    if title:
        ax.set_title(title, fontsize=fontsize + 4)
    return ax


def calibration_plot(df: pd.DataFrame, ax: Any = None) -> Any:
    """Published against model value, with both intervals and the identity line.

    Probabilities are drawn on logit axes, which spread disagreement near 0 and near 1 alike
    (20% against 84% is far apart, as it should be); likelihood-ratio scenarios are drawn apart,
    on log axes of their own (a second panel, or an inset when ``ax`` is given). Points carry a
    number and the key (number: scenario id) is printed beside the axes, so no label overlaps.

    Parameters
    ----------
    df : DataFrame
        The result of :func:`bayesnet.reasoning.validation.validate`.
    ax : matplotlib Axes, optional
        Drawn on when given (the likelihood-ratio scenarios go to an inset); otherwise a new
        figure (no pyplot state is touched).

    Returns
    -------
    matplotlib Axes
        The probability panel; the likelihood-ratio panel, when there is one, is
        ``ax.figure.axes[1]`` (a new figure) or ``ax.child_axes[0]`` (an inset).

    Examples
    --------
    >>> import bayesnet
    >>> ax = calibration_plot(bayesnet.load_model().validate(draws=0))
    >>> ax.get_xscale(), ax.get_yscale()
    ('logit', 'logit')
    """
    measure = df["measure"].astype(str)
    prob, lr = df[measure != "likelihood_ratio"], df[measure == "likelihood_ratio"]
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(10.5, 7.5), layout="constrained")
        if len(lr):
            grid = fig.add_gridspec(2, 2, width_ratios=[3, 1], height_ratios=[1, 2])
            ax = fig.add_subplot(grid[:, 0])
            lr_ax = fig.add_subplot(grid[0, 1])
            key_ax = fig.add_subplot(grid[1, 1])
        else:
            grid = fig.add_gridspec(1, 2, width_ratios=[3, 1])
            ax, lr_ax, key_ax = fig.add_subplot(grid[0, 0]), None, fig.add_subplot(grid[0, 1])
    else:
        lr_ax = ax.inset_axes([0.66, 0.06, 0.3, 0.3]) if len(lr) else None
        key_ax = None
    numbers = {sid: i + 1 for i, sid in enumerate(df["id"])}
    _calibration_panel(ax, prob, numbers, scale="logit")
    if lr_ax is not None:
        _calibration_panel(lr_ax, lr, numbers, scale="log")
        lr_ax.set_title("likelihood ratios", fontsize=7 if key_ax is None else 9)
    s = summary(df)
    ax.set_title(f"Clinical validation: {s['inside']} of {s['scenarios']} inside, "
                 f"{s['overlap']} of {s['scenarios']} overlap\n(hollow markers: not independent of the priors; "
                 "green: model value inside the published interval)", fontsize=10)
    ax.set_xlabel("published value (95% interval)")
    ax.set_ylabel("model value (interval over parameter draws)")
    key = [f"{n:>2}  {sid}" for sid, n in numbers.items()]
    if key_ax is not None:
        key_ax.axis("off")
        key_ax.text(0.0, 1.0, "\n".join(key), va="top", ha="left", family="monospace", fontsize=6.5,
                    transform=key_ax.transAxes)
    else:
        ax.text(1.02, 1.0, "\n".join(key), va="top", ha="left", family="monospace", fontsize=5.5,
                transform=ax.transAxes, clip_on=False)
    return ax


def _calibration_panel(ax: Any, d: pd.DataFrame, numbers: dict, scale: str) -> None:
    """One panel of :func:`calibration_plot`: points with both intervals, numbered, identity line."""
    cols = ["published", "low", "high", "model", "model_low", "model_high"]
    data = d[cols].astype(float).to_numpy()
    if scale == "logit":
        floor, ceil = 1e-4, 1 - 1e-4
        inner = data[np.isfinite(data) & (data > floor) & (data < ceil)]
        lo_lim = max(float(inner.min()) / 2.0, floor / 2) if inner.size else floor
        hi_lim = min(1.0 - (1.0 - float(inner.max())) / 2.0, 1 - floor / 2) if inner.size else ceil
    else:
        positive = data[np.isfinite(data) & (data > 0)]
        lo_lim = float(positive.min()) / 2.0 if positive.size else 1e-2
        hi_lim = float(positive.max()) * 2.0 if positive.size else 1e2
    floor_v, ceil_v = lo_lim, hi_lim

    def clip(a: np.ndarray) -> np.ndarray:
        return np.where(np.isfinite(a), np.clip(a, floor_v, ceil_v), np.nan)

    ax.plot([lo_lim, hi_lim], [lo_lim, hi_lim], color="0.6", lw=1, ls="--", zorder=0)
    for inside, colour in ((True, "#1e8449"), (False, "#c0392b")):
        sel = d["inside"].astype(bool) == inside
        if not sel.any():
            continue
        e = d[sel]
        x, y = clip(e["published"].to_numpy(float)), clip(e["model"].to_numpy(float))
        xerr = np.maximum(np.vstack([x - clip(e["low"].to_numpy(float)), clip(e["high"].to_numpy(float)) - x]), 0.0)
        ylo, yhi = clip(e["model_low"].to_numpy(float)), clip(e["model_high"].to_numpy(float))
        # with few draws the point value can fall outside the draws' interval: no negative bars
        yerr = np.maximum(np.vstack([np.nan_to_num(y - ylo), np.nan_to_num(yhi - y)]), 0.0)
        hollow = ~e["independent"].astype(bool).to_numpy()
        for mask, face in ((~hollow, colour), (hollow, "white")):
            if mask.any():
                ax.errorbar(x[mask], y[mask], xerr=xerr[:, mask], yerr=yerr[:, mask], fmt="o", ms=5,
                            color=colour, mfc=face, ecolor=colour, elinewidth=0.8, capsize=2)
        for xi, yi, sid in zip(x, y, e["id"], strict=True):
            ax.annotate(str(numbers[sid]), (xi, yi), fontsize=6, xytext=(3, 2), textcoords="offset points",
                        color="0.2")
    ax.set_xscale(scale)
    ax.set_yscale(scale)
    ax.set_xlim(lo_lim, hi_lim)
    ax.set_ylim(lo_lim, hi_lim)
    if scale == "logit":
        ticks = [t for t in (1e-4, 1e-3, 0.01, 0.05, 0.2, 0.5, 0.8, 0.95, 0.99, 0.999) if lo_lim <= t <= hi_lim]
        labels = [format_probability(t) for t in ticks]
        ax.set_xticks(ticks, labels, fontsize=7)
        ax.set_yticks(ticks, labels, fontsize=7)
    else:
        ticks = [m * 10.0**k for k in range(-4, 5) for m in (1, 3) if lo_lim <= m * 10.0**k <= hi_lim]
        ax.set_xticks(ticks, [f"{t:g}" for t in ticks], fontsize=7)
        ax.set_yticks(ticks, [f"{t:g}" for t in ticks], fontsize=7)
    ax.minorticks_off()
    ax.grid(True, which="major", lw=0.3, color="0.85")


def what_if_heatmap(grid: pd.DataFrame, rows: Sequence[str], columns: Sequence[str], *, value: str = "posterior",
                    condition: str | None = None, ax: Any = None) -> Any:
    """Heatmap of a :meth:`~bayesnet.model.BackPainModel.what_if` grid, one panel per setting.

    Parameters
    ----------
    grid : DataFrame
        The tidy result of ``model.what_if``.
    rows, columns : sequence of str
        Grid variables along the rows and the columns of each panel.
    value : {"posterior", "prior", "likelihood_ratio"}, default "posterior"
    condition : str, optional
        The condition shown (needed when the grid holds several).
    ax : matplotlib Axes or array of Axes, optional
        One Axes per setting of the grid; a new figure otherwise.

    Returns
    -------
    numpy array of Axes

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> g = m.what_if(["history_of_cancer", "age_group"], settings=["primary_care", "emergency"],
    ...               conditions="spinal_metastasis")
    >>> axes = what_if_heatmap(g, rows=["history_of_cancer"], columns=["age_group"])
    >>> [a.get_title() for a in axes]
    ['Primary care', 'Emergency department']
    """
    from matplotlib.colors import LogNorm, Normalize

    g = grid
    conds = list(pd.unique(g["condition"])) if "condition" in g else []
    if condition is None:
        if len(conds) > 1:
            raise ValueError(f"the grid holds several conditions {conds}; name one with condition=")
        condition = conds[0] if conds else ""
    elif conds and condition not in conds:
        raise ValueError(f"condition {condition!r} is not in the grid; it holds {conds}")
    g = g[g["condition"] == condition] if conds else g
    settings = list(pd.unique(g["setting"])) if "setting" in g else [None]
    if ax is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(4.2 * len(settings) + 1.5, 0.45 * max(len(g) // max(len(settings), 1), 4) + 1.5),
                     layout="constrained")
        axes = np.atleast_1d(fig.subplots(1, len(settings), sharey=True, squeeze=False)[0])
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    vals = g[value].astype(float)
    positive = vals[vals > 0]
    log = value != "prior" and len(positive) and positive.max() / positive.min() > 20
    norm = LogNorm(positive.min(), positive.max()) if log else Normalize(vals.min(), vals.max())
    im = None
    for a, setting in zip(axes, settings, strict=True):
        sub = g[g["setting"] == setting] if setting is not None else g
        table = sub.pivot_table(index=list(rows), columns=list(columns), values=value, observed=True)
        data = table.to_numpy(float)
        im = a.imshow(data, cmap="Reds", norm=norm, aspect="auto")
        for (i, j), v in np.ndenumerate(data):
            text = format_probability(v) if value != "likelihood_ratio" else f"{v:.3g}"
            a.text(j, i, text, ha="center", va="center", fontsize=8, color="white" if norm(v) > 0.6 else "black")
        a.set_xticks(range(data.shape[1]), [" / ".join(map(str, c)) if isinstance(c, tuple) else str(c)
                                            for c in table.columns], fontsize=8)
        a.set_xlabel(", ".join(_label(c) for c in columns))
        a.set_title(_label(setting) if setting is not None else "")
    first = axes[0]
    first.set_yticks(range(len(table)), [", ".join(f"{_label(n)} {v}" for n, v in zip(rows, idx if isinstance(idx, tuple)
                                                                                     else (idx,), strict=True))
                                         for idx in table.index], fontsize=8)
    label = {"posterior": f"P({_inline(condition)} | scenario)", "prior": f"P({_inline(condition)})",
             "likelihood_ratio": "likelihood ratio of the scenario"}.get(value, value)
    fig.colorbar(im, ax=list(axes), label=label)
    return axes


def sweep(table: pd.DataFrame, ax: Any = None, *, log: bool = True) -> Any:
    """Line plot of a :meth:`~bayesnet.model.BackPainModel.sweep`: each condition's posterior per state.

    One line per condition (and setting, when the sweep holds several), states along the x axis
    in the order swept; a log scale by default (``log=False`` for a linear one).

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model()
    >>> ax = sweep(m.sweep("age_group", evidence={"history_of_cancer": "yes"},
    ...                    conditions=["spinal_metastasis", "multiple_myeloma"]))
    >>> len(ax.get_lines())
    2
    """
    ax = _axes(ax, (7.5, 4.2))
    t = table
    states = list(pd.unique(t["state"]))
    x = np.arange(len(states))
    several = "setting" in t and t["setting"].nunique() > 1
    keys = ["condition", "setting"] if several else ["condition"]
    for key, part in t.groupby(keys, sort=False, observed=True):
        key = key if isinstance(key, tuple) else (key,)
        part = part.set_index("state").reindex(states)
        name = _label(key[0]) + (f" ({_label(key[1])})" if several else "")
        ax.plot(x, part["posterior"].to_numpy(float), marker="o", label=name)
    ax.set_xticks(x, [str(s) for s in states])
    variable = str(t["variable"].iloc[0]) if "variable" in t and len(t) else ""
    ax.set_xlabel(_label(variable))
    if log:
        ax.set_yscale("log")
    from matplotlib.ticker import FuncFormatter

    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _pos: format_probability(v)))
    ax.set_ylabel("posterior" + (" (log scale)" if log else ""))
    ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax
