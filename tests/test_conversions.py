"""The conversions from reported numbers, against values computed by hand (bayesnet.building.conversions).

Every expected value is a literal worked out from the published numbers (the arithmetic is in
the comment), not recomputed with the functions under test. The entries come from
``priors/*.yaml``; the last tests check that the priors still hold those numbers and that the
built network uses the hand-computed values.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import query

from bayesnet.building import conversions as cv

TOL = 1e-12


# ------------------------------------------------------------------- elementary transforms


def test_odds_logit_expit_by_hand():
    assert cv.odds(0.2) == pytest.approx(0.25, abs=TOL)  # 0.2 / 0.8
    assert cv.from_odds(0.25) == pytest.approx(0.2, abs=TOL)  # 0.25 / 1.25
    assert cv.logit(0.2) == pytest.approx(math.log(0.25), abs=TOL)  # log(0.2 / 0.8)
    assert cv.expit(math.log(3.0)) == pytest.approx(0.75, abs=TOL)  # 3 / (1 + 3)


# ------------------------------------------------------------------- risk-factor effects


def test_sensitivity_and_specificity_to_odds_ratio():
    # conditions.yaml, spinal_metastasis <- history_of_cancer: proportion_of_cases 0.31 (the
    # sensitivity of a history of cancer, Deyo & Diehl 1988), controls 0.02 (1 - specificity 0.98)
    # OR = (0.31 / 0.69) / (0.02 / 0.98) = (0.31 * 0.98) / (0.69 * 0.02) = 0.3038 / 0.0138 = 22.0144927536...
    lor = cv.effect_log_odds_ratio("proportion_of_cases", 0.31, 0.02)
    assert math.exp(lor) == pytest.approx(22.014492753623188, rel=1e-12)


def test_proportion_of_cases_against_the_setting_prevalence():
    # spinal_metastasis <- age_group 50_to_69 + 70_plus: 80% of cases are over 50 (Deyo & Diehl);
    # in primary care 0.29 + 0.03 = 0.32 of presenters are over 50.
    # OR = (0.8 / 0.2) / (0.32 / 0.68) = 4 * 2.125 = 8.5
    assert math.exp(cv.effect_log_odds_ratio("proportion_of_cases", 0.8, 0.32)) == pytest.approx(8.5, rel=1e-12)


def test_lr_positive_effect_to_odds_ratio():
    # compression_fracture <- significant_trauma: LR+ 6.2 (Enthoven 2016), trauma in 0.05 of
    # primary-care presenters: share among cases 6.2 * 0.05 = 0.31
    # OR = (0.31 / 0.69) / (0.05 / 0.95) = (0.31 * 0.95) / (0.69 * 0.05) = 0.2945 / 0.0345 = 8.5362318840...
    assert cv.case_share("lr_positive", 6.2, 0.05) == pytest.approx(0.31, abs=TOL)
    lor = cv.effect_log_odds_ratio("lr_positive", 6.2, 0.05)
    assert math.exp(lor) == pytest.approx(8.536231884057971, rel=1e-12)


@pytest.mark.parametrize("kind", ["odds_ratio", "relative_risk"])
def test_ratios_are_used_as_odds_ratios(kind):
    # compression_fracture <- osteoporosis: relative risk 3.5; <- age 70+: odds ratio 5.3
    assert cv.effect_log_odds_ratio(kind, 3.5) == pytest.approx(1.252762968495368, abs=TOL)  # ln 3.5
    assert cv.effect_log_odds_ratio(kind, 5.3) == pytest.approx(1.667706820558076, abs=TOL)  # ln 5.3


# ------------------------------------------------------------------- leaks


def test_specificity_to_leak():
    # findings.yaml, d_dimer: specificity 0.725 (under 50), 0.485 (50-69), 0.245 (70+)
    got = cv.leak_from("specificity", np.array([0.725, 0.485, 0.245]))
    np.testing.assert_allclose(got, [0.275, 0.515, 0.755], rtol=0, atol=TOL)  # 1 - specificity


@pytest.mark.parametrize("kind", ["false_positive_rate", "prevalence"])
def test_false_positive_rate_and_prevalence_are_the_leak(kind):
    # night_pain: prevalence 0.44 among patients without serious pathology (Harding 2005, 213/482)
    assert cv.leak_from(kind, 0.44) == pytest.approx(0.44, abs=TOL)


def test_lr_negative_to_leak():
    # d_dimer for dvt: sensitivity 0.96, specificity 0.725 -> LR- = (1 - 0.96) / 0.725 = 0.0551724137931...
    # leak = 1 - (1 - sens) / LR- = 1 - 0.04 / 0.0551724137931 = 1 - 0.725 = 0.275
    assert cv.leak_from("lr_negative", 0.04 / 0.725, 0.96) == pytest.approx(0.275, abs=TOL)
    # LR- 0.2 with sensitivity 0.9: 1 - 0.1 / 0.2 = 0.5
    assert cv.leak_from("lr_negative", 0.2, 0.9) == pytest.approx(0.5, abs=TOL)


def test_odds_ratio_leak_relative_to_a_sensitivity():
    # calcium: odds ratio 11.4 (Shephard 2015) relative to the myeloma sensitivity 0.13 (Kyle 2003)
    # leak odds = (0.13 / 0.87) / 11.4 = 0.13 / 9.918; leak = 0.13 / (9.918 + 0.13) = 0.13 / 10.048
    #           = 0.0129378980891...
    assert cv.leak_from("odds_ratio", 11.4, 0.13) == pytest.approx(0.012937898089171975, abs=TOL)
    # a sensitivity of 1 has infinite odds: the leak is 1 (the builder then rejects it)
    assert cv.leak_from("odds_ratio", 11.4, 1.0) == 1.0


# ------------------------------------------------------------------- links


def test_odds_ratio_link_to_sensitivity():
    # night_pain: leak 0.44, odds ratio 4.3 for serious pathology (Thiruganasambandamoorthy 2014)
    # odds = 0.44 / 0.56 * 4.3 = 1.892 / 0.56; sensitivity = 1.892 / (0.56 + 1.892) = 1.892 / 2.452
    #      = 0.771615008156...
    assert cv.sensitivity_from("odds_ratio", 4.3, 0.44) == pytest.approx(0.7716150081566069, abs=TOL)


def test_lr_positive_link_to_sensitivity():
    # LR+ 6.2 times a false-positive rate of 0.05: 0.31
    assert cv.sensitivity_from("lr_positive", 6.2, 0.05) == pytest.approx(0.31, abs=TOL)


@pytest.mark.parametrize("kind", ["sensitivity", "proportion_of_cases"])
def test_sensitivity_is_used_as_is(kind):
    assert cv.sensitivity_from(kind, 0.96, 0.275) == pytest.approx(0.96, abs=TOL)  # d_dimer for dvt


def test_noisy_or_link():
    # pain_unrelieved_by_rest: leak 0.5; sensitivity 0.9 (metastasis) -> 1 - 0.1 / 0.5 = 0.8,
    # 0.8 (myeloma) -> 1 - 0.2 / 0.5 = 0.6
    np.testing.assert_allclose(cv.noisy_or_link(np.array([0.9, 0.8]), 0.5), [0.8, 0.6], rtol=0, atol=TOL)
    # d_dimer for dvt: sensitivity 0.96, leak 0.275 (under 50) -> 1 - 0.04 / 0.725 = 0.685 / 0.725
    #   = 0.944827586206...; leak 0.755 (70+) -> 1 - 0.04 / 0.245 = 0.205 / 0.245 = 0.836734693877...
    np.testing.assert_allclose(
        cv.noisy_or_link(0.96, np.array([0.275, 0.755])), [0.9448275862068966, 0.8367346938775511], rtol=0, atol=TOL
    )
    # calcium for spinal_metastasis: sensitivity 0.1, leak 0.13 / 10.048 (above):
    # 1 - 0.9 / (9.918 / 10.048) = (9.918 - 9.0432) / 9.918 = 0.8748 / 9.918 = 0.0882032667876...
    assert cv.noisy_or_link(0.1, 0.012937898089171975) == pytest.approx(0.08820326678765881, abs=TOL)
    # a sensitivity equal to the leak needs no link
    assert cv.noisy_or_link(0.3, 0.3) == 0.0


def test_conversions_work_elementwise():
    # the same hand values as above, as one array per draw
    lor = cv.effect_log_odds_ratio("proportion_of_cases", np.array([0.31, 0.8]), np.array([0.02, 0.32]))
    np.testing.assert_allclose(np.exp(lor), [22.014492753623188, 8.5], rtol=1e-12)
    sens = cv.sensitivity_from("odds_ratio", np.array([4.3, 1.0]), np.array([0.44, 0.44]))
    np.testing.assert_allclose(sens, [0.7716150081566069, 0.44], rtol=0, atol=TOL)


# ------------------------------------------------------------------- the priors hold these numbers


def test_priors_hold_the_numbers_used_above(priors):
    sm = priors.conditions["spinal_metastasis"]
    hoc = next(e for e in sm.effects if e.factor == "history_of_cancer")
    assert (hoc.param.kind, hoc.param.value, hoc.controls.value) == ("proportion_of_cases", 0.31, 0.02)
    age = next(e for e in sm.effects if e.factor == "age_group")
    assert (age.param.kind, age.param.value, tuple(age.states)) == ("proportion_of_cases", 0.8, ("50_to_69", "70_plus"))
    ages = priors.risk_factors["age_group"].prevalence["primary_care"]
    assert (ages["50_to_69"].value, ages["70_plus"].value) == (0.29, 0.03)
    cf = priors.conditions["compression_fracture"]
    trauma = next(e for e in cf.effects if e.factor == "significant_trauma")
    assert (trauma.param.kind, trauma.param.value) == ("lr_positive", 6.2)
    assert priors.risk_factors["significant_trauma"].prevalence["primary_care"]["yes"].value == 0.05
    calcium = priors.findings["calcium"]
    assert (calcium.leak["*"].kind, calcium.leak["*"].value) == ("odds_ratio", 11.4)
    assert calcium.leak_relative_to["*"] == "multiple_myeloma"
    assert calcium.links["multiple_myeloma"].value == 0.13 and calcium.links["spinal_metastasis"].value == 0.1
    night = priors.findings["night_pain"]
    assert (night.leak["*"].kind, night.leak["*"].value) == ("prevalence", 0.44)
    assert (night.links["spinal_metastasis"].kind, night.links["spinal_metastasis"].value) == ("odds_ratio", 4.3)
    dd = priors.findings["d_dimer"]
    assert [dd.leak[a].value for a in ("under_50", "50_to_69", "70_plus")] == [0.725, 0.485, 0.245]
    assert dd.links["dvt"].value == 0.96


def test_built_tables_use_the_hand_computed_values(models, ve):
    t = models["primary_care"].tables
    # calcium: P(high | no linked condition) is the leak 0.13 / 10.048; P(high | metastasis only) = 0.1
    cal = t.cpts["calcium"][0]  # parents multiple_myeloma, spinal_metastasis ("no" is index 1)
    assert t.parents["calcium"] == ["multiple_myeloma", "spinal_metastasis"]
    assert cal[1, 1] == pytest.approx(0.012937898089171975, abs=TOL)
    assert cal[1, 0] == pytest.approx(0.1, abs=TOL)
    assert cal[0, 1] == pytest.approx(0.13, abs=TOL)
    # night pain with metastasis alone: the odds-ratio sensitivity 1.892 / 2.452
    np_t = t.cpts["night_pain"][0]
    idx = tuple(0 if p == "spinal_metastasis" else 1 for p in t.parents["night_pain"])
    assert np_t[idx] == pytest.approx(0.7716150081566069, abs=TOL)
    # d-dimer in a DVT, 70+: the sensitivity 0.96 holds among all DVTs, those with an embolism
    # included (the two come together: 74% of embolisms arise from a DVT). With q_dvt and q_pe the
    # links and r = P(PE | DVT, 70+) from pgmpy: 1 - (1 - leak)(1 - q_dvt)(1 - r q_pe) = 0.96
    dd = t.cpts["d_dimer"][0]
    assert t.parents["d_dimer"] == ["age_group", "dvt", "pulmonary_embolism"]
    leak = dd[2, 1, 1]
    q_dvt = 1 - (1 - dd[2, 0, 1]) / (1 - leak)
    q_pe = 1 - (1 - dd[2, 1, 0]) / (1 - leak)
    assert 1 - (1 - dd[2, 0, 0]) == pytest.approx(1 - (1 - leak) * (1 - q_dvt) * (1 - q_pe), abs=TOL)  # noisy-OR
    r = query(ve["primary_care"], "pulmonary_embolism", {"dvt": "yes", "age_group": "70_plus"})["yes"]
    assert 1 - (1 - leak) * (1 - q_dvt) * (1 - r * q_pe) == pytest.approx(0.96, abs=TOL)
