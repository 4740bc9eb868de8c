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


def test_both_settings_present(priors):
    assert set(priors.settings) == {"primary_care", "emergency"}
    for c in priors.conditions.values():
        if c.definition == "calibrated":
            assert set(c.prevalence) == {"primary_care", "emergency"}


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
        ("risk_factors.yaml", "values: {female: 0.452, male: 0.548}", "values: {female: 0.452, male: 0.56}", r"risk_factors.sex.prevalence.primary_care.values: probabilities must sum to 1"),
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
    (priors_copy / "settings.yaml").write_text("")
    with pytest.raises(PriorsError, match=r"settings.yaml: file is empty"):
        load_priors(priors_copy)


def test_invalid_yaml(priors_copy):
    (priors_copy / "findings.yaml").write_text("findings: {night_pain: [\n")
    with pytest.raises(PriorsError, match=r"findings.yaml: .*not valid YAML"):
        load_priors(priors_copy)


def test_unsafe_yaml_is_not_executed(priors_copy):
    (priors_copy / "settings.yaml").write_text("settings: !!python/object/apply:os.system ['echo hacked']\n")
    with pytest.raises(PriorsError, match="not valid YAML"):
        load_priors(priors_copy)


def test_bare_number_rejected(priors_copy):
    _edit(
        priors_copy / "conditions.yaml",
        """      - condition: compression_fracture
        value: 0.01
        low: 0.002
        high: 0.05
        source: Expert estimate (retropulsion of fragments into the canal is uncommon in compression fractures)
        setting: vertebral compression fracture
        grade: C""",
        """      - condition: compression_fracture
        value: 0.01""",
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
