"""Explanations: weights of evidence and the plain-language summary (bayesnet.reasoning.diagnosis)."""

from __future__ import annotations

import math

import pytest

from bayesnet.reasoning.diagnosis import log_odds

# findings whose only parent is pulmonary_embolism: conditionally independent given it
PE_ONLY = {"dyspnoea": "yes", "pleuritic_chest_pain": "yes", "haemoptysis": "no", "ctpa": "positive"}


def test_contributions_add_up_when_findings_are_conditionally_independent(models):
    for m in models.values():
        for f, parents in ((f, m.tables.parents[f]) for f in PE_ONLY):
            assert parents == ["pulmonary_embolism"], f
        dx = m.diagnose(PE_ONLY)
        ex = dx.explain("pulmonary_embolism")
        total = log_odds(ex.attrs["posterior"]) - log_odds(ex.attrs["prior"])
        assert ex["contribution"].sum() == pytest.approx(total, abs=1e-9)
        # each likelihood ratio is the finding's own sensitivity / false-positive ratio
        for r in ex.itertuples():
            cpt = m.tables.cpts[r.variable]
            s = m.tables.states[r.variable].index(r.state)
            assert r.likelihood_ratio == pytest.approx(cpt[s, 0] / cpt[s, 1], rel=1e-9)


def test_contribution_sign_follows_likelihood_ratio(model):
    ex = model.diagnose({"history_of_cancer": "yes", "fever": "no"}).explain("spinal_metastasis")
    for r in ex.itertuples():
        assert math.isclose(r.likelihood_ratio, math.exp(r.contribution))
    assert ex.set_index("variable").loc["history_of_cancer", "contribution"] > 0


def test_summary_names_the_strongest_finding_and_the_numbers(model):
    dx = model.diagnose({"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"})
    text = dx.summary("spinal_metastasis")
    assert text.startswith("In primary care, spinal metastasis starts at")
    assert "History of cancer = yes raised its odds" in text
    assert "%" in text and "\n" not in text
    assert dx.summary() == dx.summary(dx.leading_serious)


def test_summary_mentions_findings_that_lowered_the_odds(model):
    text = model.diagnose({"d_dimer": "negative", "dyspnoea": "yes"}).summary("pulmonary_embolism")
    assert "D dimer = negative lowered them" in text


def test_summary_without_evidence(model):
    assert "Nothing is known" in model.diagnose({}).summary("dvt")
