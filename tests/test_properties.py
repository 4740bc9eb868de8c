"""Property-based checks (hypothesis) against pgmpy's exact inference."""

from __future__ import annotations

import warnings

import pytest
from helpers import SETTINGS
from hypothesis import given
from hypothesis import strategies as st

OBSERVABLE_KINDS = ("risk_factor", "finding", "test")


@st.composite
def evidence_strategy(draw, model):
    """Random evidence over risk factors, findings and tests (always possible: leaks are > 0)."""
    names = [v for v, k in model.tables.kinds.items() if k in OBSERVABLE_KINDS]
    chosen = draw(st.lists(st.sampled_from(names), unique=True, max_size=12))
    return {v: draw(st.sampled_from(model.states[v])) for v in chosen}


@pytest.mark.parametrize("setting", SETTINGS)
def test_random_evidence_matches_pgmpy(models, ve, setting):
    model = models[setting]

    @given(evidence_strategy(model))
    def check(ev):
        r = model.diagnose(ev).ranking
        assert ((r["posterior"] >= 0) & (r["posterior"] <= 1)).all()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = ve[setting].query(model.conditions, evidence=ev or None, joint=False, show_progress=False)
        for c in model.conditions:
            f = res[c]
            expected = f.values[f.state_names[c].index("yes")]
            assert abs(r.loc[c, "posterior"] - expected) <= 1e-9, (c, ev)

    check()


@pytest.mark.parametrize("setting", SETTINGS)
def test_positive_finding_never_lowers_its_condition(models, ve, priors, setting):
    """With no other evidence, observing a linked finding present cannot lower its condition."""
    model = models[setting]
    prior = model.prior_probabilities()
    for name, f in priors.findings.items():
        dx = model.diagnose({name: f.states[0]})
        for cond in f.links:
            assert dx.ranking.loc[cond, "posterior"] >= prior[cond] - 1e-12, (name, cond)
            if f.links[cond].kind != "odds_ratio" or f.links[cond].value > 1:
                assert dx.ranking.loc[cond, "posterior"] > prior[cond], (name, cond)


@pytest.mark.parametrize("setting", SETTINGS)
def test_negative_test_never_raises_its_condition(models, priors, setting):
    model = models[setting]
    prior = model.prior_probabilities()
    for name, f in priors.findings.items():
        dx = model.diagnose({name: f.states[1]})
        for cond in f.links:
            assert dx.ranking.loc[cond, "posterior"] <= prior[cond] + 1e-12, (name, cond)


@pytest.mark.parametrize("setting", SETTINGS)
def test_every_marginal_is_a_distribution(models, setting):
    """All 52 posterior marginals lie in [0, 1] and sum to 1, for random evidence."""
    model = models[setting]

    @given(evidence_strategy(model))
    def check(ev):
        for v, dist in model.marginals(ev, targets=list(model.states)).items():
            assert ((dist >= 0) & (dist <= 1)).all(), v
            assert dist.sum() == pytest.approx(1.0, abs=1e-12), v

    check()
