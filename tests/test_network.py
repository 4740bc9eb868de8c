"""The built network reproduces every sourced number it was built from, in both settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import SETTINGS, query

from bayesnet.building.conversions import effect_log_odds_ratios, leak_probability, link_sensitivity
from bayesnet.building.network import build_tables

TOL = 1e-9


@pytest.mark.parametrize("setting", SETTINGS)
def test_condition_prevalences_reproduced(models, ve, priors, setting):
    for name, cond in priors.conditions.items():
        if cond.definition != "calibrated":
            continue
        p = query(ve[setting], name)["yes"]
        assert p == pytest.approx(cond.prevalence[setting].value, abs=TOL, rel=1e-9), name


@pytest.mark.parametrize("setting", SETTINGS)
def test_risk_factor_prevalences_reproduced(ve, priors, setting):
    for name, rf in priors.risk_factors.items():
        dist = query(ve[setting], name)
        for state, p in rf.prevalence[setting].items():
            assert dist[state] == pytest.approx(p.value, abs=TOL), (name, state)


@pytest.mark.parametrize("setting", SETTINGS)
def test_mechanical_pain_is_absence_of_serious_conditions(models, ve, setting):
    model = models[setting]
    p_mech = query(ve[setting], "mechanical_pain")["yes"]
    none_serious = {c: "no" for c in model.serious_conditions}
    assert query(ve[setting], "mechanical_pain", none_serious)["yes"] == pytest.approx(1.0, abs=TOL)
    assert query(ve[setting], "mechanical_pain", {"dvt": "yes"})["yes"] == pytest.approx(0.0, abs=TOL)
    assert 0.95 < p_mech < 1.0


@pytest.mark.parametrize("setting", SETTINGS)
def test_sensitivities_and_false_positive_rates_reproduced(models, ve, priors, setting):
    """P(finding | only one linked condition) = its sensitivity; with none, the leak."""
    v = ve[setting]
    for name, f in priors.findings.items():
        contexts = list(priors.risk_factors[f.leak_by].states) if f.leak_by else ["*"]
        conds = list(f.links)
        pos = f.states[0]
        for ctx in contexts:
            base = {c: "no" for c in conds}
            if f.leak_by:
                base[f.leak_by] = ctx
            leak = leak_probability(f, ctx)
            assert query(v, name, base)[pos] == pytest.approx(leak, abs=TOL), (name, ctx)
            for c in conds:
                ev = dict(base, **{c: "yes"})
                sens = link_sensitivity(f, c, leak)
                assert query(v, name, ev)[pos] == pytest.approx(sens, abs=TOL), (name, c, ctx)
                if f.links[c].kind in ("sensitivity", "proportion_of_cases"):
                    assert sens == f.links[c].value


@pytest.mark.parametrize("setting", SETTINGS)
def test_risk_factor_odds_ratios_reproduced(models, priors, setting):
    """Within the condition's table, the odds ratio between risk-factor states is the sourced one."""
    tables = models[setting].tables
    for name, cond in priors.conditions.items():
        if cond.definition != "calibrated":
            continue
        parents = tables.parents[name]
        table = tables.cpts[name][0]  # P(yes | parents)
        for eff in cond.effects:
            lor = effect_log_odds_ratios(eff, priors.risk_factors[eff.factor], setting)
            i = parents.index(eff.factor)
            for state, expected in lor.items():
                j = tables.states[eff.factor].index(state)
                # reference configuration: every other factor at its reference state, no parent condition
                idx_ref = [tables.states[p].index(tables.states[p][-1]) if p in priors.conditions else 0 for p in parents]
                for p_i, p in enumerate(parents):
                    if p in priors.risk_factors and priors.risk_factors[p].states == ("yes", "no"):
                        idx_ref[p_i] = 1  # "no"
                idx_ref[i] = 0 if len(tables.states[eff.factor]) > 2 else 1
                ref_state = tables.states[eff.factor][idx_ref[i]]
                idx_alt = list(idx_ref)
                idx_alt[i] = j
                p0, p1 = table[tuple(idx_ref)], table[tuple(idx_alt)]
                got = math.log(p1 / (1 - p1)) - math.log(p0 / (1 - p0))
                total = sum(
                    effect_log_odds_ratios(e, priors.risk_factors[e.factor], setting).get(state, 0.0)
                    for e in cond.effects
                    if e.factor == eff.factor
                )
                assert got == pytest.approx(total, abs=1e-9), (name, eff.factor, state, ref_state)
                if sum(state in e.states for e in cond.effects if e.factor == eff.factor) == 1:
                    assert got == pytest.approx(expected, abs=1e-9), (name, eff.factor, state)


@pytest.mark.parametrize("setting", SETTINGS)
def test_caused_by_probabilities_reproduced(models, priors, setting):
    """With the baseline switched off (b -> -inf), a parent condition causes the child with probability q."""
    tables = models[setting].tables
    for name, cond in priors.conditions.items():
        for cause in cond.causes:
            parents = tables.parents[name]
            table = tables.cpts[name][0]
            idx = [0] * len(parents)
            for k, p in enumerate(parents):
                idx[k] = 1 if (p in priors.conditions or tables.states[p] == ("yes", "no")) else 0
            j = parents.index(cause.condition)
            none = table[tuple(idx)]
            idx[j] = 0
            with_parent = table[tuple(idx)]
            # 1 - P(yes) factorises: (1 - base) * (1 - q)
            assert (1 - with_parent) == pytest.approx((1 - none) * (1 - cause.param.value), abs=1e-12), (name, cause.condition)


def test_tables_are_distributions(models):
    for model in models.values():
        for v, arr in model.tables.cpts.items():
            assert np.all(arr >= 0) and np.all(arr <= 1), v
            assert np.allclose(arr.sum(axis=0), 1.0, atol=1e-12), v


def test_emergency_priors_higher_for_serious_conditions(models):
    pc = models["primary_care"].prior_probabilities()
    ed = models["emergency"].prior_probabilities()
    for c in models["primary_care"].serious_conditions:
        assert ed[c] > pc[c], c
    assert ed["mechanical_pain"] < pc["mechanical_pain"]


def test_unknown_setting(priors):
    from bayesnet.errors import UnknownNameError

    with pytest.raises(UnknownNameError, match="did you mean 'emergency'"):
        build_tables(priors, "emergancy")


def test_impossible_calibration_reported(priors):
    """A prevalence below what the causing conditions already produce is a clear PriorsError."""
    from bayesnet.errors import PriorsError

    pe = priors.conditions["pulmonary_embolism"]
    bad = priors.replace_values({("pulmonary_embolism", "prevalence[primary_care]"): 1e-6})
    with pytest.raises(PriorsError, match=r"conditions.pulmonary_embolism.prevalence.primary_care: prevalence 1e-06"):
        build_tables(bad, "primary_care")
    assert pe.prevalence["primary_care"].value == 1e-4


def test_every_variable_in_contract_present(model):
    required = {
        "mechanical_pain", "dvt", "pulmonary_embolism", "spinal_metastasis", "multiple_myeloma",
        "epidural_abscess", "vertebral_osteomyelitis", "compression_fracture", "cauda_equina_syndrome",
        "age_group", "sex", "history_of_cancer", "iv_drug_use", "immunosuppression", "diabetes",
        "recent_spinal_procedure", "recent_infection", "corticosteroid_use", "osteoporosis",
        "significant_trauma", "recent_surgery_or_immobilisation", "prior_vte",
        "night_pain", "pain_unrelieved_by_rest", "failure_to_improve", "unexplained_weight_loss", "fever",
        "night_sweats", "spinal_tenderness", "neuro_deficit", "saddle_anaesthesia", "urinary_retention",
        "unilateral_leg_swelling", "dyspnoea", "pleuritic_chest_pain", "tachycardia", "haemoptysis",
        "lymphadenopathy", "haematuria",
        "d_dimer", "esr_crp", "wbc", "calcium", "haemoglobin", "paraprotein", "blood_culture",
    }
    assert required <= set(model.states)
    states = model.states
    assert states["age_group"] == ("under_50", "50_to_69", "70_plus")
    assert states["sex"] == ("female", "male")
    assert states["d_dimer"] == ("positive", "negative")
    assert states["esr_crp"] == ("elevated", "normal")
    assert states["wbc"] == ("elevated", "normal")
    assert states["calcium"] == ("high", "normal")
    assert states["haemoglobin"] == ("low", "normal")
    assert states["paraprotein"] == ("positive", "negative")
    assert states["blood_culture"] == ("positive", "negative")
    kinds = model.variables().set_index("name")["kind"]
    assert set(kinds) == {"risk_factor", "condition", "finding", "test"}
    assert kinds["fever"] == "finding" and kinds["d_dimer"] == "test" and kinds["dvt"] == "condition"
