"""Explanations: weights of evidence and the plain-language summary (bayesnet.reasoning.diagnosis)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from bayesnet.reasoning.diagnosis import log_odds
from helpers import query

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


def test_likelihood_ratio_is_bayes_factor_of_the_finding_from_pgmpy(model, ve):
    """Each finding's LR is P(finding | condition, rest) / P(finding | no condition, rest), by pgmpy.

    This is Bayes' rule read the other way from the code (which compares posterior odds with and
    without the finding), on an independent inference (pgmpy's variable elimination).
    """
    ev = {"history_of_cancer": "yes", "fever": "no", "age_group": "70_plus"}
    cond = "spinal_metastasis"
    ex = model.diagnose(ev).explain(cond)
    assert sorted(ex["variable"]) == sorted(ev)
    for r in ex.itertuples():
        rest = {k: v for k, v in ev.items() if k != r.variable}
        p_yes = query(ve["primary_care"], r.variable, {**rest, cond: "yes"})[r.state]
        p_no = query(ve["primary_care"], r.variable, {**rest, cond: "no"})[r.state]
        assert r.likelihood_ratio == pytest.approx(p_yes / p_no, rel=1e-9), r.variable
        assert r.contribution == pytest.approx(math.log(p_yes / p_no), abs=1e-9), r.variable


def test_a_finding_with_lr_above_one_raises_its_condition(model):
    ex = model.diagnose({"history_of_cancer": "yes", "fever": "no", "d_dimer": "negative"}).explain("spinal_metastasis")
    post = ex.attrs["posterior"]
    for r in ex.itertuples():
        # removing a finding that multiplied the odds by more than 1 lowers the posterior, and vice versa
        assert (r.likelihood_ratio > 1) == (post > r.posterior_without), r.variable
        assert (r.contribution > 0) == (r.likelihood_ratio > 1), r.variable
    assert ex.set_index("variable").loc["history_of_cancer", "likelihood_ratio"] > 1


def test_log_odds_is_exact_at_certainty():
    assert log_odds(1.0) == math.inf and log_odds(0.0) == -math.inf
    assert log_odds(0.5) == 0.0
    assert log_odds(0.2) == pytest.approx(math.log(0.25), abs=1e-15)
    # near certainty it is the true value, not a clip at 1e-15 (log(1e15) = 34.5)
    assert log_odds(1e-300) == pytest.approx(math.log(1e-300), rel=1e-12)
    with pytest.raises(ValueError):
        log_odds(1.5)


@pytest.mark.parametrize("state, contribution, lr, posterior", [("yes", math.inf, math.inf, 1.0),
                                                               ("no", -math.inf, 0.0, 0.0)])
def test_explaining_an_observed_condition_reports_infinity_not_a_clipped_number(model, ve, state, contribution, lr,
                                                                                 posterior):
    """Observing dvt makes it certain: its weight is infinite, and fever's (certain either way) undefined."""
    dx = model.diagnose({"dvt": state, "fever": "yes"})
    ex = dx.explain("dvt")
    assert ex.attrs["posterior"] == posterior
    by = ex.set_index("variable")
    assert by.loc["dvt", "contribution"] == contribution
    assert by.loc["dvt", "likelihood_ratio"] == lr
    assert by.loc["dvt", "posterior_without"] == pytest.approx(query(ve["primary_care"], "dvt", {"fever": "yes"})["yes"],
                                                               abs=1e-12)
    assert math.isnan(by.loc["fever", "contribution"]) and math.isnan(by.loc["fever", "likelihood_ratio"])
    assert list(ex["variable"]) == ["dvt", "fever"]  # the undefined weight last
    note = ex.attrs["note"]
    assert "dvt is observed" in note and "fever" in note and "undefined" in note
    text = dx.summary("dvt")
    assert ("Deep vein thrombosis (DVT) = yes made it certain" if state == "yes"
            else "Deep vein thrombosis (DVT) = no ruled it out") in text
    assert "could not change it" in text and "inf" not in text


def test_other_conditions_keep_finite_weights_and_no_note(model, ve):
    ev = {"dvt": "yes", "fever": "yes"}
    ex = model.diagnose(ev).explain("pulmonary_embolism")
    assert ex.attrs["note"] == ""
    assert ex["contribution"].map(math.isfinite).all()
    by = ex.set_index("variable")
    # dvt's weight for pulmonary embolism, from pgmpy: P(dvt | PE, fever) / P(dvt | no PE, fever)
    p_yes = query(ve["primary_care"], "dvt", {"pulmonary_embolism": "yes", "fever": "yes"})["yes"]
    p_no = query(ve["primary_care"], "dvt", {"pulmonary_embolism": "no", "fever": "yes"})["yes"]
    assert by.loc["dvt", "likelihood_ratio"] == pytest.approx(p_yes / p_no, rel=1e-9)


def test_summary_names_the_strongest_finding_and_the_numbers(model):
    dx = model.diagnose({"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"})
    text = dx.summary("spinal_metastasis")
    assert text.startswith("In primary care, spinal metastasis starts at")
    assert "History of cancer = yes raised its odds" in text
    assert "%" in text and "\n" not in text
    assert dx.summary() == dx.summary(dx.leading_serious)


def test_summary_mentions_findings_that_lowered_the_odds(model):
    text = model.diagnose({"d_dimer": "negative", "dyspnoea": "yes"}).summary("pulmonary_embolism")
    assert "d-dimer = negative lowered them" in text.lower()


def test_summary_without_evidence(model):
    assert "Nothing is known" in model.diagnose({}).summary("dvt")


def test_summary_reuses_a_given_explanation_and_refuses_another_conditions():
    import bayesnet

    dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "unexplained_weight_loss": "yes"})
    ex = dx.explain("spinal_metastasis")
    assert dx.summary("spinal_metastasis", explanation=ex) == dx.summary("spinal_metastasis")
    with pytest.raises(ValueError, match="not of 'dvt'"):
        dx.summary("dvt", explanation=ex)


def test_first_and_repeated_queries_agree_with_pgmpy(model):
    """The same query gives the same floats every time (no history-dependent path), equal to pgmpy."""
    ev = {"history_of_cancer": "yes", "age_group": "70_plus", "pet_ct": "positive", "fever": {"yes": 0.7, "no": 0.3}}
    ref = model.marginals(ev, method="pgmpy")
    first = model.marginals(ev)
    for _ in range(3):
        got = model.marginals(ev)
        for c in model.conditions:
            np.testing.assert_allclose(got[c], ref[c], atol=1e-12)
            assert np.array_equal(got[c], first[c])


def test_summary_of_a_single_finding_reads_as_one(model):
    """One finding: no "rest of the evidence", no "together", no "other finding" (review item 1)."""
    text = model.diagnose({"fever": "yes"}).summary()
    assert "Fever = yes raised its odds" in text and "That brings it up to" in text
    assert "rest of the evidence" not in text and "Together" not in text and "other finding" not in text
