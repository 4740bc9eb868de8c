"""The whole differential: the visceral, vascular and haematological causes of back pain.

Each new condition against the published figures it rests on, read back with pgmpy's
VariableElimination (``ve``) on the built network in the setting the source measured; the
expected values are the papers' own or Bayes' rule worked by hand from them, never the builder's
formulas.
"""

from __future__ import annotations

import pytest
from helpers import SETTINGS, query

TOL = 1e-9
NEW = ("pyelonephritis", "renal_colic", "aortic_aneurysm", "renal_vein_thrombosis", "lymphoma", "primary_spinal_tumour")


def _odds(p: float) -> float:
    return p / (1.0 - p)


def test_new_conditions_are_in_every_setting_with_their_seriousness(models):
    for setting, model in models.items():
        assert set(NEW) <= set(model.conditions), setting
        assert "renal_colic" not in model.serious_conditions  # a specific cause, not a red-flag one
        assert set(NEW) - {"renal_colic"} <= set(model.serious_conditions)


# -------------------------------------------------------------------------- renal causes


def test_emergency_prevalences_of_the_renal_causes(ve):
    """Pyelonephritis in 10 of 95 emergency truncal back pains (Nagayama 2014)."""
    assert query(ve["emergency"], "pyelonephritis")["yes"] == pytest.approx(0.105, abs=TOL)


@pytest.mark.parametrize("setting", SETTINGS)
def test_pyelonephritis_presentation_as_in_the_admitted_series(ve, setting):
    """Piccoli 2011 (119 admitted women): pain in 82%, urinary symptoms in 47%, each among the cases."""
    alone = {c: "no" for c in ("renal_colic", "renal_vein_thrombosis")}
    flank = query(ve[setting], "flank_pain", {"pyelonephritis": "yes", **alone})["yes"]
    assert flank == pytest.approx(0.82, abs=TOL)
    assert query(ve[setting], "dysuria", {"pyelonephritis": "yes"})["yes"] == pytest.approx(0.47, abs=TOL)
    # pyuria in 303 of 391 cases (Song 2022)
    assert query(ve[setting], "urinalysis", {"pyelonephritis": "yes"})["positive"] == pytest.approx(303 / 391, abs=1e-3)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_women_have_four_times_the_odds_of_pyelonephritis(ve, setting):
    """Annual rates 15-17 against 3-5 per 10,000 (Czaja 2007): a ratio of 4, applied on the odds scale."""
    f = query(ve[setting], "pyelonephritis", {"sex": "female", "diabetes": "no"})["yes"]
    m = query(ve[setting], "pyelonephritis", {"sex": "male", "diabetes": "no"})["yes"]
    assert _odds(f) / _odds(m) == pytest.approx(4.0, rel=1e-6)


def test_ct_for_a_stone_by_bayes_rule_in_the_emergency_department(ve):
    """CT KUB sensitivity 0.966 and specificity 0.949 (Niemann 2008) at the 30% of colic in the setting."""
    prior, sens, spec = 0.30, 0.966, 0.949
    ppv = prior * sens / (prior * sens + (1 - prior) * (1 - spec))
    npv_miss = prior * (1 - sens) / (prior * (1 - sens) + (1 - prior) * spec)
    assert query(ve["emergency"], "renal_colic", {"ct_abdomen_stone": "positive"})["yes"] == pytest.approx(ppv, abs=TOL)
    assert query(ve["emergency"], "renal_colic", {"ct_abdomen_stone": "negative"})["yes"] == pytest.approx(npv_miss, abs=TOL)


@pytest.mark.parametrize("setting", SETTINGS)
def test_haematuria_in_nine_of_ten_stones(ve, setting):
    """Dipstick haematuria in 90% of confirmed urolithiasis (Minotti 2020 meta-analysis); it raises colic."""
    alone = {c: "no" for c in ("spinal_metastasis", "dvt", "renal_vein_thrombosis", "pyelonephritis")}
    assert query(ve[setting], "haematuria", {"renal_colic": "yes", **alone})["yes"] == pytest.approx(0.90, abs=TOL)
    assert query(ve[setting], "renal_colic", {"haematuria": "yes"})["yes"] > query(ve[setting], "renal_colic")["yes"]


@pytest.mark.parametrize("setting", SETTINGS)
def test_renal_vein_thrombosis_is_mostly_a_complication_of_cancer(ve, setting):
    """Malignancy in 66% of 218 renal vein thromboses (Wysokinski 2008)."""
    p = query(ve[setting], "history_of_cancer", {"renal_vein_thrombosis": "yes"})["yes"]
    # the share becomes an odds ratio against the factor's prevalence in the setting; cancer history
    # varies with age, so the share holds to within a thousandth, not exactly
    assert p == pytest.approx(0.661, abs=1e-3)
    # gross haematuria in 18 of 87 and flank pain in 16 of 87 (Nefrologia cohort)
    alone = {c: "no" for c in ("pyelonephritis", "renal_colic")}
    flank = query(ve[setting], "flank_pain", {"renal_vein_thrombosis": "yes", **alone})["yes"]
    assert flank == pytest.approx(0.184, abs=TOL)


# -------------------------------------------------------------------------- aortic disease


def test_emergency_prevalence_of_aortic_disease(ve):
    """One leaking aneurysm graft in 329 emergency back pains (Thiruganasambandamoorthy 2014)."""
    assert query(ve["emergency"], "aortic_aneurysm")["yes"] == pytest.approx(0.003, abs=TOL)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_aortic_disease_and_sex_as_in_the_screening_cohorts(ve, setting):
    """Odds ratio 0.18 for women in 126,196 veterans screened (Lederle 2000): men 5.6 times the odds."""
    m = query(ve[setting], "aortic_aneurysm", {"sex": "male", "age_group": "70_plus"})["yes"]
    f = query(ve[setting], "aortic_aneurysm", {"sex": "female", "age_group": "70_plus"})["yes"]
    assert _odds(m) / _odds(f) == pytest.approx(5.6, rel=1e-6)


def test_sudden_onset_and_syncope_raise_aortic_disease(ve):
    """Abrupt onset in 84% of dissections (Klompas 2002), syncope in 28% of ruptured aneurysms (Fernando 2022)."""
    ed = ve["emergency"]
    base = query(ed, "aortic_aneurysm")["yes"]
    sudden = query(ed, "aortic_aneurysm", {"sudden_onset": "yes"})["yes"]
    both = query(ed, "aortic_aneurysm", {"sudden_onset": "yes", "syncope": "yes"})["yes"]
    assert base < sudden < both
    # the aorta is sudden onset's only cause in the network, so its likelihood ratio is sensitivity / leak
    assert _odds(sudden) / _odds(base) == pytest.approx(0.84 / 0.15, rel=1e-9)
    assert query(ed, "sudden_onset", {"aortic_aneurysm": "yes"})["yes"] == pytest.approx(0.84, abs=TOL)


def test_syncope_among_patients_tested_for_embolism(ve, models):
    """Syncope: LR+ 2.38 among patients tested for embolism (West 2007), in 24% of embolisms (Miniati 2012)."""
    tested = ve["emergency_suspected_pe"]
    assert query(tested, "syncope", {"pulmonary_embolism": "yes", "aortic_aneurysm": "no"})["yes"] == pytest.approx(
        0.241, abs=TOL)
    leak = query(tested, "syncope", {"pulmonary_embolism": "no", "aortic_aneurysm": "no"})["yes"]
    assert 0.241 / leak == pytest.approx(2.38, rel=1e-9)


# -------------------------------------------------------------------------- lymphoma and primary tumours


@pytest.mark.parametrize("setting", SETTINGS)
def test_lymphadenopathy_odds_ratio_for_lymphoma(ve, setting):
    """Odds ratio 263 for lymphadenopathy in non-Hodgkin lymphoma (Shephard 2015)."""
    others = {c: "no" for c in ("spinal_metastasis", "multiple_myeloma")}
    case = query(ve[setting], "lymphadenopathy", {"lymphoma": "yes", **others})["yes"]
    leak = query(ve[setting], "lymphadenopathy", {"lymphoma": "no", **others})["yes"]
    assert _odds(case) / _odds(leak) == pytest.approx(263.0, rel=1e-6)


@pytest.mark.parametrize("setting", SETTINGS)
def test_neurological_involvement_in_half_of_primary_spinal_tumours(ve, setting):
    """Neurological involvement in 52% of malignant primary spinal bone tumours (Kelley 2007)."""
    others = {c: "no" for c in ("spinal_metastasis", "epidural_abscess", "vertebral_osteomyelitis",
                                "cauda_equina_syndrome")}
    p = query(ve[setting], "neuro_deficit", {"primary_spinal_tumour": "yes", **others})["yes"]
    assert p == pytest.approx(0.52, abs=TOL)


# -------------------------------------------------------------------------- the top of the ranking


def test_renal_colic_leads_the_ranking_but_not_the_serious_list(models):
    """A positive CT for a stone puts colic first; leading_serious still names a serious condition."""
    dx = models["emergency"].diagnose({"ct_abdomen_stone": "positive", "haematuria": "yes"})
    assert dx.ranking.index[0] == "renal_colic" and not dx.ranking.loc["renal_colic", "serious"]
    assert dx.leading_serious != "renal_colic"
    assert bool(dx.ranking.loc[dx.leading_serious, "serious"])
    # mechanical_pain (no modelled condition) falls when colic is found
    assert dx.ranking.loc["mechanical_pain", "posterior"] < dx.ranking.loc["mechanical_pain", "prior"]


def test_the_emergency_department_is_not_mostly_mechanical_pain(models):
    """Only 43.8% of 22,655 emergency back-pain presentations were muscular or non-specific (Lovegrove 2011);
    with renal causes in the model, no modelled condition is far below the first edition's 96.5%."""
    p = models["emergency"].diagnose({}).ranking.loc["mechanical_pain", "posterior"]
    assert 0.4 < p < 0.75


# -------------------------------------------------------------------------- the engine's chain


# -------------------------------------------------------------------------- site of the pain, the leg, PET-CT


def _others_absent(model, keep: str) -> dict[str, str]:
    return {c: "no" for c in model.conditions if c not in (keep, "mechanical_pain")}


def test_leg_pain_below_the_knee_in_primary_care(ve):
    """474 of 1247 UK primary-care consulters had pain below the knee (Konstantinou 2011): the
    network's share among all presenters lies in its exact interval (the serious causes add little)."""
    p = query(ve["primary_care"], "radiating_leg_pain")["yes"]
    assert 0.353 <= p <= 0.408
    assert p == pytest.approx(474 / 1247, abs=0.005)


def test_leg_pain_hardly_separates_referrals_for_suspected_cauda_equina(ve, models):
    """Leg pain in 88% of syndromes (review of 334 MRI referrals) and in at least 53 of 65 other urgent
    referrals (Balasubramanian 2010): a likelihood ratio near one, so the posterior hardly moves."""
    model = models["suspected_cauda_equina"]
    alone = _others_absent(model, "cauda_equina_syndrome")
    with_ces = query(ve["suspected_cauda_equina"], "radiating_leg_pain", {**alone, "cauda_equina_syndrome": "yes"})
    none = query(ve["suspected_cauda_equina"], "radiating_leg_pain", {**alone, "cauda_equina_syndrome": "no"})
    assert with_ces["yes"] / none["yes"] == pytest.approx(0.88 / 0.815, abs=1e-9)
    prior = query(ve["suspected_cauda_equina"], "cauda_equina_syndrome")["yes"]
    post = query(ve["suspected_cauda_equina"], "cauda_equina_syndrome", {"radiating_leg_pain": "yes"})["yes"]
    assert prior < post < prior * 1.1


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_thoracic_site_of_vertebral_osteomyelitis(ve, setting):
    """Thoracic infection in 8 of 56 pyogenic spinal infections (Bettini 2009), among the cases."""
    alone = {c: "no" for c in ("aortic_aneurysm", "spinal_metastasis")}
    p = query(ve[setting], "interscapular_pain", {"vertebral_osteomyelitis": "yes", **alone})["yes"]
    assert p == pytest.approx(8 / 56, abs=1e-3)


def test_warm_leg_carries_its_likelihood_ratio_among_the_tested(ve, models):
    """Warmth or erythema: LR+ 1.29 for DVT in suspected-DVT cohorts (Goodacre 2005, via ICM-VTE)."""
    model = models["emergency_suspected_pe"]
    alone = _others_absent(model, "dvt")
    yes = query(ve["emergency_suspected_pe"], "warm_or_discoloured_leg", {**alone, "dvt": "yes"})["yes"]
    no = query(ve["emergency_suspected_pe"], "warm_or_discoloured_leg", {**alone, "dvt": "no"})["yes"]
    assert yes / no == pytest.approx(1.29, rel=1e-9)


@pytest.mark.parametrize("setting", SETTINGS)
def test_pet_ct_accuracy_for_spinal_infection(ve, setting):
    """FDG PET-CT in suspected spinal infection: sensitivity 0.948, specificity 0.914 (Treglia 2020)."""
    # the other conditions PET-CT detects, absent; abscesses come with osteomyelitis, so the sensitivity
    # holds among all its cases, with or without one (as in the pooled studies)
    alone = {c: "no" for c in ("spinal_metastasis", "multiple_myeloma", "lymphoma")}
    pos = query(ve[setting], "pet_ct", {**alone, "vertebral_osteomyelitis": "yes"})["positive"]
    assert pos == pytest.approx(0.948, abs=1e-9)
    none = query(ve[setting], "pet_ct", {**alone, "epidural_abscess": "no", "vertebral_osteomyelitis": "no"})["positive"]
    assert none == pytest.approx(1 - 0.914, abs=1e-9)


def test_pet_ct_after_a_cancer_history_by_bayes_rule(ve, models):
    """Bone metastases, FDG-PET sensitivity 0.897 (Yang 2011) against the 0.086 false-positive rate:
    among primary-care patients with only metastasis or no condition, Bayes' rule by hand."""
    model = models["primary_care"]
    others = {c: "no" for c in model.conditions if c not in ("spinal_metastasis", "mechanical_pain")}
    prior = query(ve["primary_care"], "spinal_metastasis", {**others, "history_of_cancer": "yes"})["yes"]
    sens, fpr = 0.897, 1 - 0.914
    expected = prior * sens / (prior * sens + (1 - prior) * fpr)
    got = query(ve["primary_care"], "spinal_metastasis", {**others, "history_of_cancer": "yes", "pet_ct": "positive"})
    assert got["yes"] == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_lymphoma_compresses_the_cord_in_one_of_fifty(ve, setting):
    """Cord compression at presentation in 10 of 453 untreated non-Hodgkin lymphomas: the chance that
    lymphoma, when present, causes the compression (noisy-OR, other causes absent)."""
    others = {c: "no" for c in ("spinal_metastasis", "epidural_abscess", "compression_fracture")}
    with_l = query(ve[setting], "cauda_equina_syndrome", {**others, "lymphoma": "yes"})["yes"]
    without = query(ve[setting], "cauda_equina_syndrome", {**others, "lymphoma": "no"})["yes"]
    assert 1 - (1 - with_l) / (1 - without) == pytest.approx(10 / 453, abs=1e-3)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_engine_chain_of_mechanical_pain_is_the_one_table_node(models, ve, setting):
    """The engine runs mechanical_pain as a chain of two-parent nodes; pgmpy runs the one-table
    node of model.network: every posterior agrees, with evidence on mechanical_pain itself too."""
    model = models[setting]
    engine = model.engine
    assert len(engine.variables) > len(model.network.nodes())  # the internal chain nodes
    assert len(model.engine_network.get_parents("mechanical_pain")) == 2
    assert len(model.network.get_parents("mechanical_pain")) == len(model.conditions) - 1
    # one table for mechanical_pain would make a clique of 2**15 entries; the chain keeps every clique
    # an order of magnitude below (1,536 entries with PET-CT, which links five conditions)
    assert engine.max_clique_size <= 2**11
    for ev in ({}, {"mechanical_pain": "no"}, {"mechanical_pain": "yes", "fever": "yes"},
               {"mechanical_pain": "no", "fever": "yes", "flank_pain": "yes", "age_group": "70_plus"}):
        targets = [c for c in model.conditions if c not in ev]
        post = model.marginals(ev, targets=targets)
        for c in targets:
            assert post[c][0] == pytest.approx(query(ve[setting], c, ev)["yes"], abs=TOL), (ev, c)
