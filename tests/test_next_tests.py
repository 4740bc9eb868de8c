"""Next best test: expected value of information (bayesnet.reasoning.next_tests)."""

from __future__ import annotations

import numpy as np
import pytest
from helpers import query
from hypothesis import given
from hypothesis import strategies as st

from bayesnet.errors import EvidenceError, UnknownNameError
from bayesnet.reasoning.next_tests import binary_entropy, outcomes

LOW_RISK_PE = {
    "dyspnoea": "yes", "pleuritic_chest_pain": "yes", "haemoptysis": "no", "unilateral_leg_swelling": "no",
    "prior_vte": "no", "history_of_cancer": "no", "age_group": "under_50",
}
INFECTION = {"iv_drug_use": "yes", "fever": "yes"}
SCENARIOS = [
    {},
    LOW_RISK_PE,
    INFECTION,
    {"history_of_cancer": "yes", "age_group": "70_plus", "night_pain": "yes"},
    {"fever": {"yes": 0.7, "no": 0.3}, "iv_drug_use": "yes"},  # soft evidence
]


@pytest.mark.parametrize("evidence", SCENARIOS)
def test_expected_posterior_is_current_posterior(model, evidence):
    out = outcomes(model, evidence)
    current = out.attrs["current"]
    for _, group in out.groupby("variable"):
        p = group["probability"].to_numpy()
        assert p.sum() == pytest.approx(1.0, abs=1e-12)
        expected = p @ group[model.conditions].to_numpy()
        np.testing.assert_allclose(expected, current.to_numpy(), rtol=0, atol=1e-12)


def test_result_probability_and_posterior_match_pgmpy(model, ve):
    out = outcomes(model, INFECTION, ["esr_crp", "mri_epidural_collection", "mri_discitis"])
    for r in out.itertuples():
        p = query(ve["primary_care"], r.variable, INFECTION)[r.state]
        assert r.probability == pytest.approx(p, abs=1e-9)
        after = query(ve["primary_care"], "epidural_abscess", {**INFECTION, r.variable: r.state})["yes"]
        assert r.epidural_abscess == pytest.approx(after, abs=1e-9)


@given(st.dictionaries(st.sampled_from(["fever", "night_pain", "dyspnoea", "history_of_cancer", "iv_drug_use",
                                        "d_dimer", "esr_crp", "neuro_deficit"]),
                       st.booleans(), max_size=5))
def test_entropy_reduction_never_negative(model, flags):
    states = model.states
    ev = {v: states[v][0 if b else 1] for v, b in flags.items()}
    nt = model.next_tests(ev, threshold=0.05)
    assert (nt["expected_entropy_reduction"] >= 0).all()
    assert (nt["expected_change"] >= 0).all()
    assert nt["p_cross"].between(0, 1).all()
    assert (nt["focus_information"] >= 0).all() and (nt["decision_value"] >= 0).all()
    assert not nt.drop(columns="results").isna().any().any()


def test_every_unobserved_finding_and_test_is_a_candidate(model):
    nt = model.next_tests(INFECTION)
    kinds = model.tables.kinds
    expected = {v for v, k in kinds.items() if k in ("finding", "test")} - set(INFECTION)
    assert set(nt.index) == expected
    with_rf = model.next_tests(INFECTION, include_risk_factors=True)
    assert "history_of_cancer" in with_rf.index and "iv_drug_use" not in with_rf.index


def test_sorted_and_attrs(model):
    nt = model.next_tests(INFECTION)
    assert nt["expected_entropy_reduction"].is_monotonic_decreasing
    assert nt.attrs["focus"] in ("epidural_abscess", "vertebral_osteomyelitis")  # spinal infection leads
    by_change = model.next_tests(INFECTION, sort_by="change")
    assert by_change["expected_change"].is_monotonic_decreasing


def test_threshold_nobody_crosses_when_result_cannot_move_it_enough(model):
    nt = model.next_tests({}, condition="spinal_metastasis", threshold=0.99, candidates=["night_pain"])
    assert nt.loc["night_pain", "p_cross"] == 0.0
    assert nt.loc["night_pain", "decision_value"] == 0.0  # the decision cannot change: nothing to gain


CANCER_OLD = {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"}


def test_focus_information_is_the_mutual_information_by_pgmpy(model, ve):
    """I(C; R) = H(C) - sum_r P(r) H(C | r), each term from pgmpy's variable elimination."""
    focus = "cauda_equina_syndrome"
    nt = model.next_tests(CANCER_OLD, condition=focus, candidates=["urinary_retention", "mri_compression"])
    for var in nt.index:
        h_now = binary_entropy(np.array([query(ve["primary_care"], focus, CANCER_OLD)["yes"]]))[0]
        expected = h_now
        for state, p in query(ve["primary_care"], var, CANCER_OLD).items():
            after = query(ve["primary_care"], focus, {**CANCER_OLD, var: state})["yes"]
            expected -= p * binary_entropy(np.array([after]))[0]
        assert nt.loc[var, "focus_information"] == pytest.approx(expected, abs=1e-9)


def test_a_chosen_focus_ranks_by_what_a_test_tells_about_it(model):
    """Focus cauda equina in an older patient with cancer: urinary retention and MRI for compression
    first (the review found urinary retention 8th when the ranking ignored the focus)."""
    nt = model.next_tests(CANCER_OLD, condition="cauda_equina_syndrome")
    assert nt.attrs["sort_by"] == "focus"
    assert nt["focus_information"].is_monotonic_decreasing
    assert set(nt.index[:2]) == {"urinary_retention", "mri_compression"}
    assert model.next_tests(CANCER_OLD).attrs["sort_by"] == "entropy"  # the default focus keeps the overall ranking


def test_a_threshold_values_big_moves_not_nudges_across_the_line(model, ve):
    """Threshold model: the expected loss at probability p is min(p (1 - t), (1 - p) t). A test
    whose results stay on one side of t is worth nothing; MRI, which moves metastasis far either
    way, ranks above tests that barely cross."""
    t = 0.05
    nt = model.next_tests(CANCER_OLD, condition="spinal_metastasis", threshold=t)
    assert nt.attrs["sort_by"] == "decision"
    assert nt.index[0] == "mri_malignancy"

    def loss(q):
        return min(q * (1 - t), (1 - q) * t)

    now = query(ve["primary_care"], "spinal_metastasis", CANCER_OLD)["yes"]
    expected = loss(now)
    for state, p in query(ve["primary_care"], "mri_malignancy", CANCER_OLD).items():
        expected -= p * loss(query(ve["primary_care"], "spinal_metastasis", {**CANCER_OLD, "mri_malignancy": state})["yes"])
    assert nt.loc["mri_malignancy", "decision_value"] == pytest.approx(expected, abs=1e-9)
    same_side = nt[nt["p_cross"] == 0]
    assert (same_side["decision_value"] == 0).all()


def test_binary_entropy():
    assert binary_entropy(np.array([0.5]))[0] == pytest.approx(1.0)
    assert binary_entropy(np.array([0.0, 1.0])).tolist() == [0.0, 0.0]


# clinical sense (the model's numbers are never tuned for these)


def test_low_risk_pe_ranks_d_dimer_near_the_top(models):
    for setting, m in models.items():
        if setting == "suspected_cauda_equina":  # these patients are tested for compression, not for PE
            continue
        nt = m.next_tests(LOW_RISK_PE)
        assert nt.attrs["focus"] == "pulmonary_embolism", setting  # the condition the evidence raised most
        if setting == "emergency":
            # a tenth of emergency back pain is pyelonephritis, unmoved by the breathlessness: the
            # renal work-up (fever, urinalysis) is as informative overall as the embolism tests
            assert "ctpa" in set(nt.index[:3]) and "d_dimer" in set(nt.index[:6]), setting
            assert set(nt.index[:6]) - {"ctpa", "d_dimer", "leg_ultrasound"} <= {"fever", "urinalysis", "flank_pain",
                                                                              "dysuria"}, setting
        else:
            assert "d_dimer" in list(nt.index[:3]), setting
            # D-dimer is the best blood test; only imaging (CT pulmonary angiography, or leg ultrasound,
            # 74% of embolisms coming with a DVT) tells more
            assert nt.index[0] == "ctpa", setting
            assert set(nt.index[:3]) - {"ctpa", "d_dimer"} <= {"leg_ultrasound"}, setting
        # ranked by how far each result moves the embolism itself, the embolism tests come first everywhere
        by_focus = m.next_tests(LOW_RISK_PE, condition="pulmonary_embolism", sort_by="change")
        assert by_focus.index[0] == "ctpa" and "d_dimer" in list(by_focus.index[:3]), setting


def test_fever_and_iv_drug_use_rank_infection_tests_above_d_dimer(models):
    for setting, m in models.items():
        nt = m.next_tests(INFECTION)
        rank = {v: i for i, v in enumerate(nt.index)}
        assert rank["esr_crp"] < rank["d_dimer"], setting
        assert rank["mri_epidural_collection"] < rank["d_dimer"], setting
        assert rank["mri_discitis"] < rank["d_dimer"], setting
        assert nt.index[0] in ("mri_epidural_collection", "mri_discitis"), setting


def test_after_positive_mri_further_tests_add_little_in_the_emergency_department(models):
    """Once MRI shows the abscess and the discitis, blood tests add little about the infection; what is
    left to ask is whether the abscess compresses the cauda equina (10% of abscesses do) and, in the
    emergency department, whether a tenth of patients' pyelonephritis is there too (the conditions are
    independent among presenters, so proving the abscess does not lower it)."""
    m = models["emergency"]
    before = m.next_tests(INFECTION)
    proven = {**INFECTION, "mri_epidural_collection": "positive", "mri_discitis": "positive"}
    after = m.next_tests(proven)
    mri_value = before.loc["mri_epidural_collection", "expected_entropy_reduction"]
    infection_tests = ["esr_crp", "blood_culture", "wbc"]
    assert after.loc[infection_tests, "expected_entropy_reduction"].max() < 0.25 * mri_value
    assert after.index[0] in {"mri_compression", "urinary_retention", "saddle_anaesthesia", "urinalysis", "dysuria",
                              "flank_pain"}
    ces = m.next_tests(proven, condition="cauda_equina_syndrome", sort_by="change")
    assert ces.index[0] in {"mri_compression", "urinary_retention", "saddle_anaesthesia"}


# bad input


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"candidates": ["d_dimmer"]}, UnknownNameError, "d_dimer"),
        ({"candidates": ["dvt"]}, EvidenceError, "is a condition"),
        ({"candidates": ["fever"]}, EvidenceError, "already observed"),
        ({"threshold": 1.5}, EvidenceError, "between 0 and 1"),
        ({"threshold": float("nan")}, EvidenceError, "between 0 and 1"),
        ({"sort_by": "cross"}, EvidenceError, "needs a threshold"),
        ({"sort_by": "entropyy"}, UnknownNameError, "entropy"),
        ({"condition": "pe"}, UnknownNameError, "condition"),
    ],
)
def test_bad_input(model, kwargs, error, match):
    with pytest.raises(error, match=match):
        model.next_tests(INFECTION, **kwargs)


@pytest.mark.parametrize("evidence", [{}, {"fever": "yes", "night_pain": "yes"}, {"fever": {"yes": 0.8, "no": 0.2}},
                                      {"epidural_abscess": "no", "fever": "yes"}])
def test_the_two_network_route_gives_the_chain_engines_table(models, evidence, monkeypatch):
    """next_tests reads mechanical_pain as P(e, every condition no) / P(e) from the batch path's two networks;
    the whole table equals the one from the chain engine (the route it replaced) in both big settings."""
    for setting in ("primary_care", "emergency"):
        model = models[setting]
        fast = model.next_tests(evidence, condition="cauda_equina_syndrome")
        with monkeypatch.context() as m:
            m.setattr(model, "_propagate_conditions",
                      lambda lik, n: model.engine.propagate(lik, n_rows=n, targets=model.conditions))
            slow = model.next_tests(evidence, condition="cauda_equina_syndrome")
        assert list(fast.index) == list(slow.index)
        num = fast.select_dtypes("number").columns
        np.testing.assert_allclose(fast[num].to_numpy(float), slow[num].to_numpy(float), rtol=0, atol=1e-12)
        out_f, out_s = fast.attrs["outcomes"], slow.attrs["outcomes"]
        np.testing.assert_allclose(out_f["mechanical_pain"].to_numpy(), out_s["mechanical_pain"].to_numpy(), atol=1e-12)
