"""The built network reproduces every sourced number it was built from, in both settings."""

from __future__ import annotations

import math

import numpy as np
import pytest
from helpers import SETTINGS, query

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
        if rf.parents:  # by age and sex: see test_clinical_structure
            continue
        dist = query(ve[setting], name)
        for state, p in rf.prevalence[setting].items():
            assert dist[state] == pytest.approx(p.value, abs=TOL), (name, state)


@pytest.mark.parametrize("setting", SETTINGS)
def test_mechanical_pain_is_absence_of_every_modelled_condition(models, ve, setting):
    """mechanical_pain = none of the modelled conditions, serious or not (renal colic is not serious)."""
    model = models[setting]
    others = [c for c in model.conditions if c != "mechanical_pain"]
    assert set(model.serious_conditions) < set(others)  # a non-serious condition explains pain too
    p_mech = query(ve[setting], "mechanical_pain")["yes"]
    assert query(ve[setting], "mechanical_pain", {c: "no" for c in others})["yes"] == pytest.approx(1.0, abs=TOL)
    for c in ("dvt", "renal_colic"):
        assert query(ve[setting], "mechanical_pain", {c: "yes"})["yes"] == pytest.approx(0.0, abs=TOL)
    p = [query(ve[setting], c)["yes"] for c in others]
    assert 1.0 - sum(p) <= p_mech <= 1.0 - max(p)


def _odds(p: float) -> float:
    return p / (1.0 - p)


def _related(priors) -> dict[str, set[str]]:
    """Condition -> the conditions that come with it: one causes the other, or a third causes both."""
    import networkx as nx

    g = nx.DiGraph()
    g.add_nodes_from(priors.conditions)
    g.add_edges_from((k.condition, n) for n, c in priors.conditions.items() for k in c.causes)
    anc = {n: nx.ancestors(g, n) | {n} for n in g}
    return {a: {b for b in g if anc[a] & anc[b]} for a in g}


@pytest.mark.parametrize("setting", SETTINGS)
def test_sourced_finding_numbers_reproduced(ve, priors, setting):
    """Every sourced number of a finding, read back from the network with pgmpy (no conversion code).

    ``fpr`` = P(finding | no linked condition) and, findings.yaml being schema 2, ``sens(c)`` =
    P(finding | ``c`` present, the linked conditions unrelated to ``c`` absent): the share among
    the cases of ``c`` whatever the conditions that come with it (an abscess with or without the
    osteomyelitis it arose from). In each context of the leak: a sensitivity or proportion of cases
    is ``sens(c)``, a false-positive rate or prevalence is ``fpr``, a specificity ``1 - fpr``, an
    odds ratio ``odds(sens) / odds(fpr)``, LR+ ``sens / fpr`` and LR- ``(1 - sens) / (1 - fpr)``.
    Every setting uses its own accuracies where it restates them.
    """
    v = ve[setting]
    related = _related(priors)
    seen: set[tuple[str, str]] = set()
    for name, f in priors.findings_in(setting).items():
        assert f.marginal_links
        contexts = list(priors.risk_factors[f.leak_by].states) if f.leak_by else ["*"]
        conds = list(f.links)
        pos = f.states[0]
        for ctx in contexts:
            base = {c: "no" for c in conds}
            if f.leak_by:
                base[f.leak_by] = ctx
            fpr = query(v, name, base)[pos]
            sens = {}
            for c in conds:
                ev = {k: x for k, x in base.items() if k not in related[c]}
                sens[c] = query(v, name, dict(ev, **{c: "yes"}))[pos]
            p = f.leak[ctx]
            seen.add(("leak", p.kind))
            where = (name, ctx, p.kind)
            if p.kind in ("false_positive_rate", "prevalence"):
                assert fpr == pytest.approx(p.value, abs=TOL), where
            elif p.kind == "specificity":
                assert 1.0 - fpr == pytest.approx(p.value, abs=TOL), where
            elif p.kind == "odds_ratio":
                assert _odds(sens[f.leak_relative_to[ctx]]) / _odds(fpr) == pytest.approx(p.value, rel=1e-7), where
            elif p.kind == "lr_positive":
                assert sens[f.leak_relative_to[ctx]] / fpr == pytest.approx(p.value, rel=1e-7), where
            else:  # lr_negative
                assert (1.0 - sens[f.leak_relative_to[ctx]]) / (1.0 - fpr) == pytest.approx(p.value, rel=1e-7), where
            for c in conds:
                lp = f.links[c]
                seen.add(("link", lp.kind))
                where = (name, c, ctx, lp.kind)
                if lp.kind in ("sensitivity", "proportion_of_cases"):
                    assert sens[c] == pytest.approx(lp.value, abs=TOL), where
                elif lp.kind == "odds_ratio":
                    assert _odds(sens[c]) / _odds(fpr) == pytest.approx(lp.value, rel=1e-7), where
                else:  # lr_positive
                    assert sens[c] / fpr == pytest.approx(lp.value, rel=1e-7), where
    # the priors exercise these kinds
    assert {("leak", k) for k in ("prevalence", "false_positive_rate", "specificity", "odds_ratio")} <= seen
    assert {("link", k) for k in ("sensitivity", "odds_ratio")} <= seen


def _table_odds_ratio(tables, priors, name: str, factor: str, state: str) -> float:
    """Odds ratio of ``name`` between ``state`` of ``factor`` and its reference state, in the table.

    The reference is the first state of ``factor`` that no effect of the condition covers; every
    other parent is held at its last state ("no" for a yes/no factor or a parent condition, so
    that no causing condition is present).
    """
    parents = tables.parents[name]
    table = tables.cpts[name][0]  # P(yes | parents)
    covered = {s for e in priors.conditions_in(tables.setting)[name].effects if e.factor == factor for s in e.states}
    idx_ref = [len(tables.states[p]) - 1 for p in parents]
    idx_ref[parents.index(factor)] = next(i for i, s in enumerate(tables.states[factor]) if s not in covered)
    idx_alt = list(idx_ref)
    idx_alt[parents.index(factor)] = tables.states[factor].index(state)
    p0, p1 = table[tuple(idx_ref)], table[tuple(idx_alt)]
    return _odds(p1) / _odds(p0)


@pytest.mark.parametrize("setting", SETTINGS)
def test_sourced_odds_ratios_and_relative_risks_reproduced(models, priors, setting):
    """Within a condition's table, a sourced odds ratio or relative risk is the odds ratio between the states."""
    tables = models[setting].tables
    n = 0
    for name, cond in priors.conditions_in(setting).items():
        if cond.definition != "calibrated":
            continue
        for eff in cond.effects:
            for state in eff.states:
                covering = [e for e in cond.effects if e.factor == eff.factor and state in e.states]
                if any(e.param.kind not in ("odds_ratio", "relative_risk") for e in covering):
                    continue
                expected = math.prod(e.param.value for e in covering)  # ratios multiply on the odds scale
                got = _table_odds_ratio(tables, priors, name, eff.factor, state)
                assert got == pytest.approx(expected, rel=1e-9), (name, eff.factor, state)
                n += 1
    assert n >= 10


def test_derived_odds_ratios_in_the_tables(models, priors):
    """Risk-factor effects reported as shares of cases give the hand-computed odds ratios."""
    pc = models["primary_care"].tables
    # spinal metastasis: 31% of cases have a history of cancer, 2% of controls (specificity 0.98):
    # (0.31 * 0.98) / (0.69 * 0.02) = 0.3038 / 0.0138 = 22.0144927536...
    for setting in SETTINGS:
        t = models[setting].tables
        got = _table_odds_ratio(t, priors, "spinal_metastasis", "history_of_cancer", "yes")
        assert got == pytest.approx(22.014492753623188, rel=1e-9), setting
    # 80% of metastasis cases are over 50, against 0.29 + 0.03 = 0.32 of primary-care presenters:
    # (0.8 / 0.2) / (0.32 / 0.68) = 8.5, for both states over 50 (one effect covers them)
    for state in ("50_to_69", "70_plus"):
        assert _table_odds_ratio(pc, priors, "spinal_metastasis", "age_group", state) == pytest.approx(8.5, rel=1e-9)
    # compression fracture: LR+ 6.2 for significant trauma, 5% of primary-care presenters:
    # share among cases 6.2 * 0.05 = 0.31; (0.31 * 0.95) / (0.69 * 0.05) = 0.2945 / 0.0345 = 8.5362318840...
    got = _table_odds_ratio(pc, priors, "compression_fracture", "significant_trauma", "yes")
    assert got == pytest.approx(8.536231884057971, rel=1e-9)


@pytest.mark.parametrize("setting", SETTINGS)
def test_caused_by_probabilities_reproduced(models, ve, priors, setting):
    """A parent condition causes the child with probability q, the table factorising as (1 - base)(1 - q).

    A ``probability`` is q itself; a ``proportion_of_cases`` a is the share of the child's
    cases that the parent causes: P(parent) q = a P(child), read back with pgmpy.
    """
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
            q = cause.param.value
            if cause.param.kind == "proportion_of_cases":
                q = q * query(ve[setting], name)["yes"] / query(ve[setting], cause.condition)["yes"]
            assert 0 < q <= 1
            # 1 - P(yes) factorises: (1 - base) * (1 - q)
            assert (1 - with_parent) == pytest.approx((1 - none) * (1 - q), abs=1e-12), (name, cause.condition)


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

    ces = priors.conditions["cauda_equina_syndrome"]
    bad = priors.replace_values({("cauda_equina_syndrome", "prevalence[primary_care]"): 1e-7})
    with pytest.raises(PriorsError, match=r"settings/primary_care.yaml: conditions.cauda_equina_syndrome: prevalence 1e-07"):
        build_tables(bad, "primary_care")
    assert ces.prevalence["primary_care"].value == 0.00085


def test_share_of_cases_needing_more_of_the_cause_than_there_is(priors):
    """74% of embolisms from a DVT needs DVT in at least 0.742 P(PE) of patients: named, with the numbers."""
    from bayesnet.errors import PriorsError

    bad = priors.replace_values({("pulmonary_embolism", "prevalence[primary_care]"): 0.001})
    with pytest.raises(PriorsError, match=r"caused_by\[0\]: a share of 0.742 of the cases of pulmonary_embolism "
                       r"caused by dvt needs dvt in at least 0.000742 of patients; it is in 0.0002"):
        build_tables(bad, "primary_care")


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
