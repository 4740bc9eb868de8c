"""Figures draw from result tables without error (bayesnet.present.plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from bayesnet.present import plots
from bayesnet.present.display import label as display_label

EVIDENCE = {"history_of_cancer": "yes", "age_group": "70_plus", "fever": "no"}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def test_ranking_and_waterfall(model, tmp_path):
    dx = model.diagnose(EVIDENCE)
    ax = plots.ranking(dx)
    assert len(ax.get_yticklabels()) == len(model.conditions)
    ax = plots.waterfall(dx.explain("spinal_metastasis"))
    assert len(ax.patches) == len(EVIDENCE)  # one bar per finding; the prior and posterior are points
    assert len(ax.collections[0].get_offsets()) == 2
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert any(lab.startswith("0.") for lab in labels)  # ticks below 1% so the prior can be read
    ax.figure.savefig(tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 1000


def test_waterfall_without_evidence(model):
    ax = plots.waterfall(model.diagnose({}).explain("dvt"))
    assert len(ax.patches) == 0 and len(ax.collections[0].get_offsets()) == 2  # prior and posterior points


def test_next_tests_bars(model):
    nt = model.next_tests(EVIDENCE, threshold=0.05)
    for metric in ("expected_entropy_reduction", "expected_change", "p_cross"):
        ax = plots.next_tests(nt, metric=metric, top=5)
        assert len(ax.patches) == 5


def test_tornado_and_intervals(model):
    tor = model.sensitivity({"dyspnoea": "yes", "d_dimer": "negative"}, "pulmonary_embolism")
    ax = plots.tornado(tor, top=8)
    assert len(ax.get_yticklabels()) == 8
    unc = model.uncertainty({"history_of_cancer": "yes"}, draws=100, seed=0)
    ax = plots.intervals(unc)
    assert len(ax.get_yticklabels()) == len(model.conditions)


def test_tornado_drops_still_rows_labels_its_line_and_clips_no_bar(model):
    tor = model.sensitivity({"dyspnoea": "yes", "d_dimer": "negative"}, "pulmonary_embolism")
    swing = tor["swing"].abs()
    moving = int((swing > max(1e-9, 0.005 * swing.max())).sum())
    assert moving < len(tor)  # the case has numbers that do not move the posterior
    ax = plots.tornado(tor, top=len(tor))
    assert len(ax.get_yticklabels()) == moving  # only the numbers that move it are drawn
    assert f"{len(tor) - moving} numbers" in ax.get_title()
    lo, hi = ax.get_xlim()
    for bar in ax.patches:  # every bar wholly inside the axes
        assert lo <= bar.get_x() and bar.get_x() + bar.get_width() <= hi
    legend = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any(text.startswith("every number at its estimate") for text in legend)


@pytest.mark.parametrize("sort_by", ["entropy", "focus", "change"])
def test_next_test_bars_are_in_the_order_of_the_table(model, sort_by):
    nt = model.next_tests(EVIDENCE, condition="spinal_metastasis", sort_by=sort_by)
    ax = plots.next_tests(nt, top=8)
    widths = [bar.get_width() for bar in sorted(ax.patches, key=lambda b: -b.get_y())]  # top bar first
    assert widths == sorted(widths, reverse=True)


# ---------------------------------------------------------------------------------- network drawing
def _nodes(ax) -> dict:
    return {t.get_gid()[5:]: t for t in ax.texts if (t.get_gid() or "").startswith("node:")}


def test_network_layers_colours_and_labels(model):
    ax = plots.network(model)
    nodes = _nodes(ax)
    assert set(nodes) == set(model.tables.kinds)
    order = list(plots.LAYER_COLOURS)
    for v, t in nodes.items():
        kind = model.tables.kinds[v]
        x, _ = t.get_position()
        assert x == order.index(kind)  # risk factors -> conditions -> findings -> tests, left to right
        assert matplotlib.colors.same_color(t.get_bbox_patch().get_facecolor(), plots.LAYER_COLOURS[kind][0])
        assert " ".join(t.get_text().split()) == display_label(v)  # the clinical label, wrapped, not cut
    n_edges = sum(len(p) for p in model.tables.parents.values())
    arrows = [c for c in ax.get_children() if type(c).__name__ == "Annotation" and c.arrow_patch is not None]
    assert len(arrows) == n_edges
    assert not any((t.get_gid() or "").startswith("posterior:") for t in ax.patches)


def test_network_labels_fit_inside_the_figure(model, tmp_path):
    ax = plots.network(model)
    fig = ax.figure
    fig.savefig(tmp_path / "network.png", dpi=60)
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    for t in _nodes(ax).values():
        ext = t.get_bbox_patch().get_window_extent(renderer)
        assert box.x0 <= ext.x0 and ext.x1 <= box.x1 and box.y0 <= ext.y0 and ext.y1 <= box.y1, t.get_text()


def test_network_ordering_reduces_crossings(model):
    graph, _, layers = plots._network_layers(model)
    layer_of = {v: i for i, layer in enumerate(layers) for v in layer}

    def cost(order):
        pos = {v: (j + 0.5) / len(layer) for layer in order for j, v in enumerate(layer)}
        return plots._crossings(graph, layer_of, pos)

    ordered = plots._order_layers(graph, layers)
    assert [sorted(a) for a in ordered] == [sorted(b) for b in layers]
    assert cost(ordered) < 0.6 * cost(layers)
    assert plots._order_layers(graph, layers) == ordered  # deterministic


def test_network_crossings_counts_a_simple_cross():
    import networkx as nx

    g = nx.DiGraph([("a", "d"), ("b", "c")])
    layer_of = {"a": 0, "b": 0, "c": 1, "d": 1}
    assert plots._crossings(g, layer_of, {"a": 0.25, "b": 0.75, "c": 0.25, "d": 0.75}) == 1
    assert plots._crossings(g, layer_of, {"a": 0.25, "b": 0.75, "c": 0.75, "d": 0.25}) == 0


def test_network_scenario_marks_evidence_and_posteriors(model):
    evidence = {"saddle_anaesthesia": "yes", "urinary_retention": "yes", "fever": {"yes": 0.8, "no": 0.2}}
    dx = model.diagnose(evidence)
    ax = plots.network(model, evidence)
    nodes = _nodes(ax)
    for v in evidence:
        assert nodes[v].get_fontweight() == "bold"
        assert nodes[v].get_bbox_patch().get_linewidth() > 2
    assert "= yes" in nodes["saddle_anaesthesia"].get_text()
    assert "~" in nodes["fever"].get_text() and nodes["fever"].get_bbox_patch().get_linestyle() == "--"
    assert nodes["dvt"].get_fontweight() == "normal"
    bars = {p.get_gid()[10:]: p for p in ax.patches if (p.get_gid() or "").startswith("posterior:")}
    assert set(bars) == set(model.conditions)
    widths = {c: b.get_width() for c, b in bars.items()}
    top = max(widths, key=widths.get)
    assert top == dx.ranking.index[0] == "cauda_equina_syndrome"
    ratio = widths["cauda_equina_syndrome"] / dx.ranking.loc["cauda_equina_syndrome", "posterior"]
    for c in model.conditions:  # linear in the posterior
        assert widths[c] == pytest.approx(ratio * dx.ranking.loc[c, "posterior"])
    # a Diagnosis gives the same drawing without recomputing
    ax2 = plots.network(model, dx, posteriors=False)
    assert not [p for p in ax2.patches if (p.get_gid() or "").startswith("posterior:")]


def test_network_of_any_pgmpy_network():
    from benchmarks.harness import load_reference

    net = load_reference("asia")
    ax = plots.network(net, {"smoke": "yes"})
    nodes = _nodes(ax)
    assert set(nodes) == set(net.nodes())
    assert nodes["smoke"].get_fontweight() == "bold"
    assert nodes["asia"].get_position()[0] == 0 and nodes["dysp"].get_position()[0] == 3


# ---------------------------------------------------------------------------------- HTML tables (display)
def _check_html(text: str) -> None:
    from html.parser import HTMLParser

    class Balanced(HTMLParser):
        def __init__(self):
            super().__init__()
            self.stack = []

        def handle_starttag(self, tag, attrs):
            self.stack.append(tag)

        def handle_endtag(self, tag):
            assert self.stack and self.stack[-1] == tag, (tag, self.stack)
            self.stack.pop()

    p = Balanced()
    p.feed(text)
    assert not p.stack


def test_html_tables_are_well_formed(model):
    from bayesnet.present import display

    ev = {"iv_drug_use": "yes", "fever": "yes", "esr_crp": "normal"}
    dx = model.diagnose(ev)
    ex = dx.explain("epidural_abscess")
    text = display.explanation_html(ex)
    _check_html(text)
    assert text.count("<tr data-variable=") == len(ex)
    assert 'data-variable="esr_crp"' in text and "bn-fill bn-down" in text and "bn-fill bn-up" in text  # both ways
    _check_html(display.explanation_html(model.diagnose({}).explain("dvt")))
    nt = model.next_tests(ev, threshold=0.05)
    text = display.next_tests_html(nt, top=5)
    _check_html(text)
    assert text.count("<tr data-variable=") == 5 and "P(cross 5.00%)" in text
    unc = model.uncertainty(ev, draws=50, seed=0)
    text = display.uncertainty_html(unc)
    _check_html(text)
    assert text.count("<tr data-condition=") == len(model.conditions)
    tor = model.sensitivity(ev, "epidural_abscess")
    text = display.sensitivity_html(tor, top=4)
    _check_html(text)
    assert text.count("<tr data-node=") == 4
    # the results are DataFrames (the contract) whose Jupyter display is the renderer's table
    assert [type(r).__name__ for r in (ex, nt, unc, tor)] == ["Explanation", "NextTests", "Uncertainty", "Sensitivity"]
    assert all(isinstance(r, pd.DataFrame) for r in (ex, nt, unc, tor))
    assert ex._repr_html_() == display.explanation_html(ex) and tor._repr_html_() == display.sensitivity_html(tor)


def test_waterfall_of_a_certain_condition_says_why_instead_of_drawing_infinities():
    import bayesnet
    from bayesnet.present import plots

    ex = bayesnet.load_model().diagnose({"dvt": "yes", "fever": "yes"}).explain("dvt")
    ax = plots.waterfall(ex)
    assert "certain" in ax.get_title()
    assert any("observed" in t.get_text() for t in ax.texts)


def test_what_if_heatmap_prints_the_grid_values(model):
    grid = model.what_if(["history_of_cancer", "unexplained_weight_loss", "age_group"],
                         settings=["primary_care", "emergency"], conditions="spinal_metastasis")
    axes = plots.what_if_heatmap(grid, rows=["history_of_cancer", "unexplained_weight_loss"], columns=["age_group"])
    assert len(axes) == 2
    from bayesnet.formatting import format_probability

    for ax, setting in zip(axes, ["primary_care", "emergency"], strict=True):
        shown = {t.get_text() for t in ax.texts}
        expected = {format_probability(v) for v in grid.loc[grid["setting"] == setting, "posterior"]}
        assert shown == expected
    two = model.what_if(["fever"], conditions=["epidural_abscess", "pyelonephritis"])
    with pytest.raises(ValueError, match="several conditions"):
        plots.what_if_heatmap(two, rows=["fever"], columns=["fever"])


def test_sweep_draws_one_line_per_condition_through_the_posteriors(model):
    sw = model.sweep("age_group", evidence={"history_of_cancer": "yes"},
                     conditions=["spinal_metastasis", "multiple_myeloma"])
    ax = plots.sweep(sw)
    assert len(ax.get_lines()) == 2
    line = ax.get_lines()[0]
    want = sw[sw["condition"] == "spinal_metastasis"]["posterior"].to_numpy(float)
    np.testing.assert_allclose(line.get_ydata(), want)


def test_every_probability_bar_says_it_is_on_a_log_scale(model):
    """One bar convention (review item 10): ranking bars are log-scaled in the figure, the HTML table and the
    terminal, and each says so."""
    from bayesnet.present import display

    dx = model.diagnose(EVIDENCE)
    ax = plots.ranking(dx)
    assert ax.get_xscale() == "log" and "log scale" in ax.get_xlabel()
    assert "log scale 0.01% to 100%" in display.ranking_html(dx, style=False)
    assert "posterior on a log scale from 0.01% to 100%" in display.ranking_text(dx)
