"""Figures draw from result tables without error (bayesnet.plots)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from bayesnet import plots  # noqa: E402

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
    assert len(ax.patches) == len(EVIDENCE) + 2  # prior, one bar per finding, posterior
    ax.figure.savefig(tmp_path / "w.png")
    assert (tmp_path / "w.png").stat().st_size > 1000


def test_waterfall_without_evidence(model):
    ax = plots.waterfall(model.diagnose({}).explain("dvt"))
    assert len(ax.patches) == 2


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
