"""``make_figures`` regenerates every figure; ``bayesnet figures`` is its command (bayesnet.present.figures)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from bayesnet.present.figures import FIGURES, figures_command, make_figures, speed_figure

EXPECTED = [
    "network.png", "network_cancer.png", "ranking_cancer.png", "ranking_infection.png", "ranking_clot.png",
    "waterfall_metastasis.png", "next_tests_infection.png", "tornado_pe.png", "uncertainty_cancer.png",
    "whatif_heatmap.png", "validation.png", "engine_speed.png",
]


SHIPPED_SPEED = Path(__file__).resolve().parents[1] / "figures" / "engine_speed.json"


@pytest.fixture(scope="module")
def quick(tmp_path_factory):
    """Every figure, the speed one drawn from saved benchmark numbers (timings are never run here)."""
    out = tmp_path_factory.mktemp("figures")
    shutil.copy(SHIPPED_SPEED, out / "engine_speed.json")
    return out, make_figures(out, quick=True)


def test_every_figure_is_written(quick):
    out, paths = quick
    assert [f"{stem}.png" for stem in FIGURES] == EXPECTED
    assert [p.name for p in paths] == EXPECTED
    for name in EXPECTED:
        path = out / name
        assert path.exists() and path.stat().st_size > 10_000, name
        assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_no_saved_numbers_no_speed_figure(tmp_path):
    paths = make_figures(tmp_path, quick=True)
    assert "engine_speed.png" not in [p.name for p in paths]


def test_saved_benchmark_is_redrawn():
    saved = json.loads(SHIPPED_SPEED.read_text())
    fig = speed_figure(saved["results"], saved["machine"])
    ax = fig.axes[0]
    names = [r["network"].replace("_", " ") for r in saved["results"]]
    ticks = sorted(ax.get_yticklabels(), key=lambda t: -t.get_position()[1])  # one row per network, top down
    assert [t.get_text().split(" (")[0] for t in ticks] == names


def test_figures_are_deterministic(tmp_path):
    from bayesnet.model import load_model
    from bayesnet.present import figures

    model = load_model()
    first = figures._save(figures._whatif(model), tmp_path, "a", ("png",))[0].read_bytes()
    second = figures._save(figures._whatif(model), tmp_path, "b", ("png",))[0].read_bytes()
    assert first == second


def test_command_rejects_a_bad_benchmark_file_before_drawing(tmp_path):
    bad = tmp_path / "bench.json"
    bad.write_text('{"results": [{"no network": 1}]}')
    out = tmp_path / "out"
    res = CliRunner().invoke(figures_command, ["--outdir", str(out), "--bench-json", str(bad)])
    assert res.exit_code == 2
    assert "bayesnet bench --json" in res.output
    assert not out.exists()
    bad.write_text("{not json")
    res = CliRunner().invoke(figures_command, ["--outdir", str(out), "--bench-json", str(bad)])
    assert res.exit_code == 2 and "is not JSON" in res.output


def test_command_help_lists_its_options():
    res = CliRunner().invoke(figures_command, ["--help"])
    assert res.exit_code == 0
    for option in ("--outdir", "--quick", "--bench-json", "--format"):
        assert option in res.output


def test_a_measured_zero_keeps_its_bar_and_a_missing_number_has_none():
    """A rate of 0 is a result (a bar, labelled 0); only an absent or null number has no bar."""
    import matplotlib.pyplot as plt

    results = [
        {"network": "a", "nodes": 3, "engine_rows_per_s": 500.0, "pyagrum_rows_per_s": 0, "pgmpy_rows_per_s": None},
        {"network": "b", "nodes": 4, "engine_rows_per_s": 0.0, "pyagrum_rows_per_s": 20.0},
    ]
    fig = speed_figure(results)
    ax = fig.axes[0]
    by_tool = {c.get_label(): [b.get_width() for b in c.patches] for c in ax.containers}
    try:
        assert by_tool["bayesnet engine (batch)"] == [500.0, 0.0]
        assert by_tool["pyAgrum LazyPropagation (row by row)"] == [0.0, 20.0]
        assert "pgmpy VariableElimination (row by row)" not in by_tool  # no number at all: no bar
        labels = sorted(t.get_text() for t in ax.texts)
        assert labels == sorted(["500", "0", "0", "20"])
    finally:
        plt.close(fig)
