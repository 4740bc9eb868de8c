"""The priors loader: every number sourced, and every defect reported with file and entry."""

from __future__ import annotations

import math

import pytest

from bayesnet.data.priors import GRADES, load_priors
from bayesnet.errors import PriorsError


def test_every_parameter_is_sourced(priors):
    assert len(priors.params) > 100
    for p in priors.params:
        assert p.source.strip(), p
        assert p.setting.strip(), p
        assert p.grade in GRADES, p
        assert math.isfinite(p.value), p
        if p.has_interval:
            assert p.low <= p.value <= p.high, p


def test_every_setting_gives_every_prevalence(priors):
    assert list(priors.settings)[:2] == ["primary_care", "emergency"]
    assert priors.default_setting == "primary_care"
    for c in priors.conditions.values():
        if c.definition == "calibrated":
            assert set(c.prevalence) == set(priors.settings)
    for rf in priors.risk_factors.values():
        assert set(rf.prevalence) == (set() if rf.parents else set(priors.settings))


def test_distributions_sum_to_one(priors):
    for rf in priors.risk_factors.values():
        for setting, dist in rf.prevalence.items():
            assert sum(p.value for p in dist.values()) == pytest.approx(1.0, abs=1e-9), (rf.name, setting)


def _edit(path, old, new):
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize(
    ("file", "old", "new", "match"),
    [
        # missing source
        ("findings.yaml", '      source: "Harding IJ 2005, Spine 30:1985"\n', "", r"findings.yaml: findings.night_pain.leak: has no source"),
        # probability out of range
        ("findings.yaml", "      value: 0.44\n", "      value: 1.44\n", r"findings.night_pain.leak.value: is a probability .* got 1.44"),
        # wrong type
        ("findings.yaml", "      value: 0.44\n", "      value: high\n", r"findings.night_pain.leak.value: must be a number; got 'high'"),
        # distribution not summing to one
        ("settings/primary_care.yaml", "values: {female: 0.452, male: 0.548}", "values: {female: 0.452, male: 0.56}", r"settings/primary_care.yaml: risk_factors.sex.values: probabilities must sum to 1"),
        # unknown key with suggestion
        ("findings.yaml", "      value: 0.44\n", "      valeu: 0.44\n", r"unknown key 'valeu'; did you mean 'value'\?"),
        # unknown condition in a link
        ("findings.yaml", "      spinal_metastasis: &night_or", "      spinal_metastasys: &night_or", r"unknown condition 'spinal_metastasys'; did you mean 'spinal_metastasis'\?"),
        # interval not containing the value
        ("findings.yaml", "      low: 0.397\n", "      low: 0.45\n", r"interval \[0.45, 0.488\] must contain the value 0.44"),
        # bad grade
        ("findings.yaml", "      grade: A\n", "      grade: D\n", r"grade: must be one of A, B, C"),
        # unquoted yes/no state names
        ("findings.yaml", 'states: ["elevated", "normal"]', "states: [yes, no]", r"state names must be quoted text"),
    ],
)
def test_faulty_priors_name_file_and_entry(priors_copy, file, old, new, match):
    _edit(priors_copy / file, old, new)
    with pytest.raises(PriorsError, match=match):
        load_priors(priors_copy)


def test_missing_file(priors_copy):
    (priors_copy / "conditions.yaml").unlink()
    with pytest.raises(PriorsError, match=r"conditions.yaml: file not found"):
        load_priors(priors_copy)


def test_missing_directory(tmp_path):
    with pytest.raises(PriorsError, match="priors directory not found"):
        load_priors(tmp_path / "nowhere")


def test_empty_file(priors_copy):
    (priors_copy / "settings" / "emergency.yaml").write_text("")
    with pytest.raises(PriorsError, match=r"settings/emergency.yaml: file is empty"):
        load_priors(priors_copy)


def test_invalid_yaml(priors_copy):
    (priors_copy / "findings.yaml").write_text("findings: {night_pain: [\n")
    with pytest.raises(PriorsError, match=r"findings.yaml: .*not valid YAML"):
        load_priors(priors_copy)


def test_unsafe_yaml_is_not_executed(priors_copy):
    (priors_copy / "settings" / "emergency.yaml").write_text("description: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(PriorsError, match="not valid YAML"):
        load_priors(priors_copy)


def test_bare_number_rejected(priors_copy):
    _edit(
        priors_copy / "conditions.yaml",
        """      - condition: compression_fracture
        value: 0.02
        low: 0.005
        high: 0.05
        source: "Murugan T 2022, J Orthop Joint Surg 4:14 (doi 10.5005/jp-journals-10079-1080)"
        setting: osteoporotic vertebral fractures (statement of the article's introduction; the primary study not seen)
        grade: B""",
        """      - condition: compression_fracture
        value: 0.02""",
    )
    with pytest.raises(PriorsError, match=r"caused_by\[2\]: has no source"):
        load_priors(priors_copy)


def test_sensitivity_below_false_positive_rate_is_reported(priors_copy):
    from bayesnet.building.network import build_tables

    _edit(priors_copy / "findings.yaml", "        value: 0.906\n", "        value: 0.02\n        low: 0.01\n        high: 0.03\n        # was\n")
    text = (priors_copy / "findings.yaml").read_text().replace(
        "        # was\n        low: 0.83\n        high: 0.93\n", ""
    )
    (priors_copy / "findings.yaml").write_text(text)
    ps = load_priors(priors_copy)
    with pytest.raises(PriorsError, match=r"findings.mri_malignancy.links.spinal_metastasis: sensitivity 0.02 is below"):
        build_tables(ps, "primary_care")


# --------------------------------------------------------------------------------------------
# settings as data: one file per population, and a researcher's own file


_OWN = """\
description: A clinic of our own, with more patients who inject drugs.
based_on: primary_care
risk_factors:
  iv_drug_use: {value: 0.10, low: 0.08, high: 0.12, source: "Clinic audit 2026", setting: "our clinic, n=900", grade: A}
findings:
  fever:
    leak: {kind: false_positive_rate, value: 0.05, source: "Clinic audit 2026", setting: "our clinic", grade: A}
"""


def test_a_setting_file_of_ones_own(tmp_path):
    import bayesnet

    path = tmp_path / "our_clinic.yaml"
    path.write_text(_OWN)
    model = bayesnet.load_model(setting=str(path))
    assert model.setting == "our_clinic"
    src = model.sources().set_index(["node", "parameter"])
    assert src.loc[("iv_drug_use", "prevalence[our_clinic]"), "value"] == 0.10
    # a number left out is taken from the base setting, and says so; sources list it once
    assert "our_clinic" in src.loc[("spinal_metastasis", "prevalence[primary_care]"), "settings"].split()
    taken = {p.parameter: p for p in model.priors.params_for("our_clinic") if p.node == "spinal_metastasis"}
    taken = taken["prevalence[our_clinic]"]
    assert taken.value == src.loc[("spinal_metastasis", "prevalence[primary_care]"), "value"]
    assert "taken unchanged from setting 'primary_care'" in taken.note and taken.origin == "prevalence[primary_care]"
    # the network reads the setting's own numbers: P(injection drug use) and fever's false-positive rate
    assert model.tables.cpts["iv_drug_use"][0] == pytest.approx(0.10)
    base = bayesnet.load_model("primary_care")
    assert model.priors.findings_in("our_clinic")["fever"].leak["*"].value == 0.05
    assert base.priors.findings_in("primary_care")["fever"].leak["*"].value == 0.023
    none = (0,) + (1,) * len(model.tables.parents["fever"])  # P(fever = yes | no linked condition)
    assert model.tables.cpts["fever"][none] == pytest.approx(0.05)
    assert base.tables.cpts["fever"][none] == pytest.approx(0.023)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("description: x\n", r"risk_factors: no prevalence for 'age_group'.*based_on"),
        ("description: x\nbased_on: elsewhere\n", r"based_on: unknown setting 'elsewhere'"),
        ("description: x\nbased_on: primary_care\nconditions:\n  mechanical_pain: {value: 0.9, source: s, setting: s, grade: C}\n",
         r"conditions.mechanical_pain: unknown condition with a prevalence 'mechanical_pain'"),
        ("description: x\nbased_on: primary_care\nfindings:\n  fever:\n    links:\n      dvt: {kind: sensitivity, value: 0.5, source: s, setting: s, grade: C}\n",
         r"findings.fever.links.dvt: unknown linked condition 'dvt' of this finding \(a setting cannot add links\)"),
        ("description: x\nbased_on: primary_care\nrisk_factors:\n  sex: {value: 0.5, source: s, setting: s, grade: C}\n",
         r"risk_factors.sex: give 'values' for every state: female, male"),
        ("description: x\nbased_on: primary_care\nrisk_factors:\n  iv_drug_use: {values: {'yes': 0.5, 'no': 0.5}, source: s, setting: s, grade: C}\n",
         r"risk_factors.iv_drug_use: a yes/no risk factor takes one 'value'"),
        ("description: x\nbased_on: primary_care\nfindings:\n  fevre: {}\n", r"unknown finding 'fevre'; did you mean 'fever'\?"),
    ],
)
def test_bad_setting_files_are_named_errors(tmp_path, text, match):
    path = tmp_path / "clinic.yaml"
    path.write_text(text)
    with pytest.raises(PriorsError, match=match) as exc:
        load_priors(extra_settings=[path])
    assert str(path) in str(exc.value)


def test_setting_file_errors_name_the_file(tmp_path, priors_copy):
    with pytest.raises(PriorsError, match="setting file not found"):
        load_priors(extra_settings=[tmp_path / "missing.yaml"])
    (priors_copy / "settings" / "emergency.yaml").write_text(
        (priors_copy / "settings" / "emergency.yaml").read_text() + "default: true\n")
    with pytest.raises(PriorsError, match="exactly one setting file must say 'default: true'; found emergency, primary_care"):
        load_priors(priors_copy)


def test_settings_based_on_each_other_in_a_cycle(priors_copy):
    for a, b in (("x", "y"), ("y", "x")):
        (priors_copy / "settings" / f"{a}.yaml").write_text(f"description: {a}\nbased_on: {b}\n")
    with pytest.raises(PriorsError, match="settings are based on each other in a cycle"):
        load_priors(priors_copy)


# --------------------------------------------------------------------------------------------
# the second edition's data rules: counts, factors by age and sex, effects restated in a setting


def test_an_interval_narrower_than_its_counts_allow_is_refused(priors_copy):
    path = priors_copy / "settings" / "suspected_cauda_equina.yaml"
    text = path.read_text()
    assert "        low: 0.387\n" in text
    path.write_text(text.replace("        low: 0.387\n", "        low: 0.45\n", 1))
    from scipy.stats import beta

    lo, hi = beta.ppf(0.025, 15, 11), beta.ppf(0.975, 16, 10)  # Clopper-Pearson for 15/25, from scipy directly
    with pytest.raises(PriorsError, match=rf"narrower than the exact binomial interval of its counts 15/25: "
                       rf"\[{lo:.4g}, {hi:.4g}\]"):
        load_priors(priors_copy)


@pytest.mark.parametrize("counts, match", [("15 of 25", "counts must be 'events/total'"), ("26/25", "events <= total"),
                                           ("0/0", "total > 0")])
def test_malformed_counts_are_refused(priors_copy, counts, match):
    path = priors_copy / "settings" / "suspected_cauda_equina.yaml"
    path.write_text(path.read_text().replace("counts: 15/25", f"counts: {counts}", 1))
    with pytest.raises(PriorsError, match=match):
        load_priors(priors_copy)


def test_counts_need_an_interval(priors_copy):
    path = priors_copy / "settings" / "suspected_cauda_equina.yaml"
    text = path.read_text().replace("        low: 0.387\n        high: 0.789\n", "", 1)
    path.write_text(text)
    with pytest.raises(PriorsError, match=r"counts 15/25 are given: give the interval too"):
        load_priors(priors_copy)


@pytest.mark.parametrize(
    ("old", "new", "match"),
    [
        ("      - when: {age_group: under_50}\n        value: 0.01\n", "      - when: {age_group: 50_to_69}\n        value: 0.01\n",
         r"covered twice"),
        ("      - when: {age_group: 70_plus, sex: male}\n", "      - when: {age_group: 70_plus, sex: mail}\n",
         r"unknown state 'mail' of 'sex'; did you mean 'male'\?"),
        ("    depends_on: [age_group, sex]\n", "    depends_on: [age_group, sexx]\n", r"unknown risk factor 'sexx'"),
        ("      - when: {age_group: 70_plus, sex: male}\n", "      - when: {age_group: 70_plus, sex: male, diabetes: 'yes'}\n",
         r"unknown parent 'diabetes'"),
    ],
)
def test_factor_by_age_and_sex_errors_name_the_entry(priors_copy, old, new, match):
    path = priors_copy / "risk_factors.yaml"
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new, 1))
    with pytest.raises(PriorsError, match=match) as exc:
        load_priors(priors_copy)
    assert "risk_factors.yaml" in str(exc.value) and "osteoporosis" in str(exc.value)


def test_a_combination_left_out_is_named(priors_copy):
    path = priors_copy / "risk_factors.yaml"
    text = path.read_text()
    start = text.index("      - when: {age_group: 70_plus, sex: male}\n")
    end = text.index("  significant_trauma:")
    path.write_text(text[:start] + text[end:])
    with pytest.raises(PriorsError, match=r"no prevalence for \{'age_group': '70_plus', 'sex': 'male'\}"):
        load_priors(priors_copy)


def test_a_setting_cannot_give_a_prevalence_to_a_factor_by_age_and_sex(tmp_path):
    path = tmp_path / "clinic.yaml"
    path.write_text("description: x\nbased_on: primary_care\nrisk_factors:\n"
                    "  osteoporosis: {value: 0.1, source: s, setting: s, grade: C}\n")
    with pytest.raises(PriorsError, match=r"'osteoporosis' depends on age_group, sex"):
        load_priors(extra_settings=[path])


def test_a_setting_restates_effects_it_measured_but_adds_none(tmp_path):
    import bayesnet

    good = tmp_path / "tested.yaml"
    good.write_text("description: x\nbased_on: emergency\neffects:\n  pulmonary_embolism:\n"
                    "    - {factor: prior_vte, kind: odds_ratio, value: 1.2, source: s, setting: s, grade: C}\n")
    m = bayesnet.load_model(setting=str(good))
    eff = [e for e in m.priors.conditions_in("tested")["pulmonary_embolism"].effects if e.factor == "prior_vte"]
    assert eff[0].param.value == 1.2 and eff[0].param.parameter == "odds_ratio[prior_vte=yes][tested]"
    bad = tmp_path / "bad.yaml"
    bad.write_text("description: x\nbased_on: emergency\neffects:\n  pulmonary_embolism:\n"
                   "    - {factor: diabetes, kind: odds_ratio, value: 1.2, source: s, setting: s, grade: C}\n")
    with pytest.raises(PriorsError, match=r"pulmonary_embolism has no effect of diabetes=yes in conditions.yaml"):
        load_priors(extra_settings=[bad])


def test_a_share_of_cases_must_leave_room_for_other_causes(priors_copy):
    path = priors_copy / "conditions.yaml"
    text = path.read_text()
    old = "        value: 0.8\n        low: 0.3\n        high: 0.932\n        counts: 20/25\n"
    assert old in text
    path.write_text(text.replace(old, "        value: 0.8\n        low: 0.3\n        high: 1.0\n        counts: 20/25\n", 1))
    ps = load_priors(priors_copy)  # loads: the rule is checked when a network is built
    from bayesnet.building.network import build_tables

    bad = ps.replace_values({("epidural_abscess", "caused_by[vertebral_osteomyelitis]"): 1.0})
    with pytest.raises(PriorsError, match=r"shares of cases caused by other conditions|sum to 1"):
        build_tables(bad, "primary_care")
