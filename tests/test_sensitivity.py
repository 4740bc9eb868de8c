"""One-way sensitivity / tornado data (bayesnet.reasoning.sensitivity)."""

from __future__ import annotations

import numpy as np
import pytest

import bayesnet
from bayesnet.building.network import build_tables
from bayesnet.building.parametric import parameter_space
from bayesnet.errors import ImpossibleEvidenceError, PriorsError, UnknownNameError
from bayesnet.reasoning.sensitivity import NoPosteriorWarning, one_way_values, sensitivity

PE_NEGATIVE_DDIMER = {"pleuritic_chest_pain": "yes", "dyspnoea": "yes", "tachycardia": "yes", "d_dimer": "negative"}


@pytest.fixture(scope="module")
def pe_tornado(model):
    return sensitivity(model, PE_NEGATIVE_DDIMER, "pulmonary_embolism")


def test_tornado_frame(model, pe_tornado):
    tor = pe_tornado
    assert list(tor.columns[:11]) == [
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
    ]
    assert len(tor) == len(parameter_space(model))
    assert tor["swing"].is_monotonic_decreasing
    assert np.allclose(tor["swing"], (tor["posterior_high"] - tor["posterior_low"]).abs())
    assert not tor[["posterior_low", "posterior_high", "swing"]].isna().any().any()
    base = model.diagnose(PE_NEGATIVE_DDIMER).ranking.loc["pulmonary_embolism", "posterior"]
    assert tor.attrs["base"] == pytest.approx(base, abs=1e-12)
    assert tor.attrs["condition"] == "pulmonary_embolism" and tor.attrs["setting"] == model.setting


def test_negative_d_dimer_sensitivity_ranks_near_the_top(pe_tornado):
    top = list(zip(pe_tornado["node"], pe_tornado["parameter"], strict=True))[:5]
    assert ("d_dimer", "sensitivity[pulmonary_embolism]") in top


def test_parameters_off_the_evidence_path_do_not_matter(model):
    tor = sensitivity(model, {"unilateral_leg_swelling": "yes", "prior_vte": "yes"}, "dvt")
    by = tor.set_index(["node", "parameter"])["swing"]
    # an unobserved test of another condition, and a condition with no observed descendant
    assert by[("mri_malignancy", "sensitivity[spinal_metastasis]")] < 1e-12
    assert by[("multiple_myeloma", "prevalence[primary_care]")] < 1e-12
    assert by[("unilateral_leg_swelling", "sensitivity[dvt]")] > 1e-3


@pytest.mark.parametrize(
    "key",
    [
        ("d_dimer", "sensitivity[pulmonary_embolism]"),
        ("dvt", "odds_ratio[prior_vte=yes]"),
        ("age_group", "prevalence[primary_care][70_plus]"),  # moves the other age bands in proportion
        ("history_of_cancer", "prevalence[age_group=70_plus]"),  # a factor by age: the same in every setting
        ("pulmonary_embolism", "prevalence[primary_care]"),  # high end clipped: it needs more DVT than there is
    ],
)
def test_posteriors_at_the_bounds_equal_a_rebuilt_model(model, pe_tornado, key):
    space = parameter_space(model)
    row = pe_tornado.set_index(["node", "parameter"]).loc[key]
    j = space.index[key]
    for used, post in ((row["low_used"], row["posterior_low"]), (row["high_used"], row["posterior_high"])):
        values = one_way_values(space, [j], np.array([used]))[0]
        rebuilt = bayesnet.BackPainModel(space.priors_for(values), model.setting)
        ref = rebuilt.marginals(PE_NEGATIVE_DDIMER, ["pulmonary_embolism"], method="pgmpy")
        assert post == pytest.approx(ref["pulmonary_embolism"][0], abs=1e-9)


def test_unusable_bounds_are_moved_to_the_edge(model, pe_tornado):
    """PE prevalence 0.0005 with 74% of embolisms from a DVT needs more DVT than its 0.0002: moved, and said."""
    space = parameter_space(model)
    row = pe_tornado.set_index(["node", "parameter"]).loc[("pulmonary_embolism", "prevalence[primary_care]")]
    assert row["value"] < row["high_used"] < row["high"]
    assert row["truncated"] == "high"
    moved = (pe_tornado["low_used"] != pe_tornado["low"]) | (pe_tornado["high_used"] != pe_tornado["high"])
    assert ((pe_tornado["truncated"] != "") == moved).all()
    j = space.index[("pulmonary_embolism", "prevalence[primary_care]")]
    with pytest.raises(PriorsError, match="needs dvt in at least"):
        build_tables(space.priors_for(one_way_values(space, [j], np.array([row["high"]]))[0]), model.setting)
    just_inside = one_way_values(space, [j], np.array([row["high_used"]]))[0]
    build_tables(space.priors_for(just_inside), model.setting)  # usable
    assert row["high"] - row["high_used"] > 1e-6
    moved = pe_tornado[(pe_tornado["low_used"] != pe_tornado["low"]) | (pe_tornado["high_used"] != pe_tornado["high"])]
    assert len(moved) < len(pe_tornado) // 4


def test_parameter_selection_and_errors(model):
    tor = sensitivity(model, {"fever": "yes"}, "epidural_abscess", parameters=["fever", "dvt:prevalence[primary_care]"])
    assert set(tor["node"]) == {"fever", "dvt"}
    assert len(tor) == 1 + len([k for k in parameter_space(model).keys if k[0] == "fever"])
    with pytest.raises(UnknownNameError, match="condition"):
        sensitivity(model, {}, "pulmonary_embolsm")
    with pytest.raises(UnknownNameError):
        sensitivity(model, {}, "dvt", parameters=["fevr"])
    with pytest.raises(ImpossibleEvidenceError):
        sensitivity(model, {"mechanical_pain": "yes", "dvt": "yes"}, "dvt")
    soft = sensitivity(model, {"fever": {"yes": 0.9, "no": 0.3}}, "mechanical_pain", parameters=["fever"])
    assert soft.attrs["base"] == pytest.approx(
        model.diagnose({"fever": {"yes": 0.9, "no": 0.3}}).ranking.loc["mechanical_pain", "posterior"], abs=1e-12
    )


def test_a_bound_that_makes_the_evidence_impossible_is_reported(model):
    # a D-dimer sensitivity of 1 (the top of its interval) rules out a negative test with a PE
    ev = {"pulmonary_embolism": "yes", "d_dimer": "negative"}
    with pytest.warns(NoPosteriorWarning, match="d_dimer:sensitivity\\[pulmonary_embolism\\]"):
        tor = sensitivity(model, ev, "dvt", parameters=["d_dimer"])
    assert tor.attrs["no_posterior"] == ["d_dimer:sensitivity[pulmonary_embolism]"]
    last = tor.iloc[-1]
    assert (last["node"], last["parameter"]) == ("d_dimer", "sensitivity[pulmonary_embolism]")
    assert np.isnan(last["posterior_high"]) and np.isnan(last["swing"]) and np.isfinite(last["posterior_low"])
    assert tor["swing"].iloc[:-1].notna().all()
