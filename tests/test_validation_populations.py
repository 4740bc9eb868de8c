"""Validation scenarios in their studies' populations: exact intervals and study-population setting files."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy.stats import beta

import bayesnet
from bayesnet.data.scenarios import ValidationFileError, default_validation_path, exact_interval, load_validation
from bayesnet.errors import BayesNetError
from bayesnet.reasoning.validation import event_probability, validate

SHIPPED = default_validation_path()


def _triad(**changes) -> dict:
    data = yaml.safe_load(SHIPPED.read_text(encoding="utf-8"))
    sc = next(s for s in data["scenarios"] if s["id"] == "sea_classic_triad")
    return {"schema_version": 2, "scenarios": [{**sc, **changes}]}


def _write(folder: Path, data: dict, name: str = "scenarios.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    p = folder / name
    p.write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


# --------------------------------------------------------------------------------------------
# exact intervals


@pytest.mark.parametrize(("k", "n"), [(0, 14), (1, 126), (8, 63), (12, 61), (15, 1666), (62, 63), (37, 37)])
def test_exact_interval_is_clopper_pearson_from_scipy(k, n):
    lo = 0.0 if k == 0 else beta.ppf(0.025, k, n - k + 1)
    hi = 1.0 if k == n else beta.ppf(0.975, k + 1, n - k)
    assert exact_interval(k, n) == pytest.approx((lo, hi), abs=1e-12)
    assert exact_interval(k, n, level=0.9)[0] >= lo  # a lower level: a narrower interval


def test_exact_interval_refuses_bad_counts():
    for k, n in [(5, 3), (-1, 10), (1, 0), (True, 5)]:
        with pytest.raises(BayesNetError, match="events <= total"):
            exact_interval(k, n)


def test_shipped_counts_carry_their_exact_interval(priors):
    with_counts = 0
    for s in load_validation(priors=priors):
        p = s.published
        assert p.interval != "wilson", s.id
        if p.events is None:
            continue
        with_counts += 1
        lo = 0.0 if p.events == 0 else beta.ppf(0.025, p.events, p.total - p.events + 1)
        hi = 1.0 if p.events == p.total else beta.ppf(0.975, p.events + 1, p.total - p.events)
        assert p.low <= lo + 1e-3 and p.high >= hi - 1e-3, s.id  # never narrower than the counts allow
        if p.interval == "exact":
            assert (p.low, p.high) == pytest.approx((lo, hi), abs=1e-12), s.id
    assert with_counts >= 10


def test_exact_interval_is_computed_from_the_counts(tmp_path, priors):
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "interval": "exact"})
    (s,) = load_validation(_write(tmp_path, data), priors)
    assert (s.published.low, s.published.high) == pytest.approx(
        (beta.ppf(0.025, 8, 56), beta.ppf(0.975, 9, 55)), abs=1e-12)


def test_wilson_is_refused_naming_the_scenario(tmp_path, priors):
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "interval": "wilson"})
    with pytest.raises(ValidationFileError) as info:
        load_validation(_write(tmp_path, data), priors)
    msg = str(info.value)
    assert msg.startswith("scenarios.yaml: scenarios[0] (sea_classic_triad).published.interval: "), msg
    assert "'interval: wilson' is refused" in msg and "exact (Clopper-Pearson)" in msg
    assert "write 'interval: exact'" in msg


def test_a_file_without_version_is_read_as_the_current_format(tmp_path, priors):
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "interval": "wilson"})
    del data["schema_version"]
    with pytest.raises(ValidationFileError, match="'interval: wilson' is refused"):
        load_validation(_write(tmp_path, data), priors)


def test_version_1_files_keep_their_wilson_intervals(tmp_path, priors):
    """Old files (the golden copy) are read as they were written: Wilson bounds, not exact ones."""
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "interval": "wilson"})
    data["schema_version"] = 1
    (s,) = load_validation(_write(tmp_path, data), priors)
    assert (round(s.published.low, 4), round(s.published.high, 4)) == (0.0658, 0.2311)
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "interval": "exact"})
    data["schema_version"] = 1
    with pytest.raises(ValidationFileError, match="'interval: exact' needs schema_version: 2"):
        load_validation(_write(tmp_path, data), priors)


def test_a_reported_interval_narrower_than_its_counts_is_refused(tmp_path, priors):
    data = _triad(published={"value": 0.127, "events": 8, "total": 63, "low": 0.066, "high": 0.231})
    with pytest.raises(ValidationFileError, match=r"narrower than the exact binomial interval \[0.0565, 0.2350\]"):
        load_validation(_write(tmp_path, data), priors)
    wide = _triad(published={"value": 0.127, "events": 8, "total": 63, "low": 0.05, "high": 0.24})
    (s,) = load_validation(_write(tmp_path, wide), priors)
    assert (s.published.low, s.published.high) == (0.05, 0.24)


# --------------------------------------------------------------------------------------------
# study-population setting files

_STUDY = {
    "schema_version": 2,
    "description": "A test cohort of patients tested for pulmonary embolism, prevalence 20%.",
    "based_on": "emergency_suspected_pe",
    "conditions": {
        "pulmonary_embolism": {"value": 0.2, "low": 0.15, "high": 0.25, "source": "Test cohort 2026",
                               "setting": "test cohort, n=400", "grade": "A"},
        "dvt": {"value": 0.17, "low": 0.15, "high": 0.2, "source": "Expert derivation (test)",
                "setting": "test cohort", "grade": "C"},
    },
}


def _pe_scenario(setting: str) -> dict:
    return {
        "id": "pe_study_population", "title": "PE among PERC-negative patients of a test cohort",
        "setting": setting, "setting_reason": "the test cohort",
        "evidence": {"age_group": "under_50", "tachycardia": "no", "unilateral_leg_swelling": "no"},
        "target": {"condition": "pulmonary_embolism"},
        "published": {"value": 0.05, "events": 5, "total": 100, "interval": "exact"},
        "source": "Test cohort 2026", "population": "a test cohort", "independent": True,
        "mapping": "the PERC items the network has",
    }


def test_scenario_with_a_setting_file_runs_in_that_population(tmp_path, priors):
    folder = tmp_path / "validation"
    (folder / "settings").mkdir(parents=True)
    (folder / "settings" / "test_cohort.yaml").write_text(yaml.safe_dump(_STUDY, sort_keys=False), encoding="utf-8")
    path = _write(folder, {"schema_version": 2, "scenarios": [_pe_scenario("settings/test_cohort.yaml")]})
    (s,) = load_validation(path, priors)
    assert s.setting == "settings/test_cohort.yaml"
    assert Path(s.setting_file) == (folder / "settings" / "test_cohort.yaml").resolve()
    model = bayesnet.load_model()
    res = validate(model, path=path, draws=10, seed=0).iloc[0]
    assert res["setting"] == "settings/test_cohort.yaml"
    study = bayesnet.load_model(setting=s.setting_file)
    assert study.diagnose({}).ranking.loc["pulmonary_embolism", "prior"] == pytest.approx(0.2, abs=1e-9)
    expected = event_probability(study.engine, s.evidence, s.target)[0]
    assert res["model"] == pytest.approx(expected, rel=1e-12)
    # the study population changes the answer: the shipped base setting gives a lower value
    base = event_probability(model.with_setting("emergency_suspected_pe").engine, s.evidence, s.target)[0]
    assert base < 0.5 * expected
    assert np.isfinite(res["model_low"]) and res["model_low"] <= res["model"] <= res["model_high"]


def test_unknown_setting_file_names_the_scenario(tmp_path, priors):
    path = _write(tmp_path, {"schema_version": 2, "scenarios": [_pe_scenario("settings/nowhere.yaml")]})
    with pytest.raises(ValidationFileError) as info:
        load_validation(path, priors)
    msg = str(info.value)
    assert msg.startswith("scenarios.yaml: scenarios[0] (pe_study_population).setting: "), msg
    assert "setting file 'settings/nowhere.yaml' not found" in msg and "relative to the validation file's folder" in msg


def test_unknown_setting_name_suggests_and_mentions_files(tmp_path, priors):
    path = _write(tmp_path, {"schema_version": 2, "scenarios": [_pe_scenario("emergency_suspected_p")]})
    with pytest.raises(ValidationFileError, match=r"\(pe_study_population\).setting: unknown setting .*did you mean"):
        load_validation(path, priors)


def test_malformed_setting_file_names_the_scenario_at_validate(tmp_path, priors):
    folder = tmp_path / "validation"
    (folder / "settings").mkdir(parents=True)
    bad = {**_STUDY, "conditions": {"pulmonary_embolism": {"value": 0.2, "grade": "A"}}}
    (folder / "settings" / "bad_cohort.yaml").write_text(yaml.safe_dump(bad), encoding="utf-8")
    path = _write(folder, {"schema_version": 2, "scenarios": [_pe_scenario("settings/bad_cohort.yaml")]})
    with pytest.raises(ValidationFileError) as info:
        validate(bayesnet.load_model(), path=path, draws=0)
    msg = str(info.value)
    assert "(pe_study_population)" in msg and "setting file 'settings/bad_cohort.yaml'" in msg, msg
    assert "\n" not in msg


def test_setting_file_removed_after_loading_names_the_scenario(tmp_path, priors):
    folder = tmp_path / "validation"
    (folder / "settings").mkdir(parents=True)
    f = folder / "settings" / "gone.yaml"
    f.write_text(yaml.safe_dump(_STUDY, sort_keys=False), encoding="utf-8")
    scenarios = load_validation(_write(folder, {"schema_version": 2, "scenarios": [_pe_scenario("settings/gone.yaml")]}),
                                priors)
    f.unlink()
    with pytest.raises(ValidationFileError, match=r"\(pe_study_population\).*setting file 'settings/gone.yaml' not found"):
        validate(bayesnet.load_model(), scenarios=scenarios, draws=0)


def test_shipped_study_population_files(priors):
    """Every study-population file loads, is based on a shipped setting and sources its numbers."""
    folder = SHIPPED.parent / "settings"
    files = sorted(folder.glob("*.yaml"))
    assert files
    used = {Path(s.setting_file).name for s in load_validation(priors=priors) if s.setting_file}
    assert used == {f.name for f in files}, "every study-population file is used by a scenario, and only those"
    for f in files:
        raw = yaml.safe_load(f.read_text(encoding="utf-8"))
        assert raw["based_on"] in priors.settings, f.name
        for name, number in raw.get("conditions", {}).items():
            assert number["source"] and number["setting"] and number["grade"] in "ABC", (f.name, name)
        model = bayesnet.load_model(setting=f)
        prior = model.diagnose({}).ranking["prior"]
        for name, number in raw.get("conditions", {}).items():
            assert prior[name] == pytest.approx(number["value"], abs=1e-9), (f.name, name)


def test_shipped_scenarios_run_in_their_studies_populations(priors):
    """Scenarios of patients tested for PE or referred for suspected CES do not run in unselected settings."""
    by_id = {s.id: s for s in load_validation(priors=priors)}
    for sid in ("vte_perc_negative_low_gestalt", "pe_wells_low", "pe_wells_high"):
        assert by_id[sid].setting == "emergency_suspected_pe", sid
    for sid in ("ces_urinary_retention", "ces_clinical_urinary_retention"):
        assert by_id[sid].setting == "suspected_cauda_equina", sid
    assert by_id["pe_primary_care_wells_ddimer_rule_out"].setting == "settings/geersing_2012.yaml"
    for s in by_id.values():
        if any(v in ("pulmonary_embolism", "dvt") for v in s.target.variables):
            assert s.setting not in ("primary_care", "emergency"), s.id


def test_priors_copy_reads_its_own_study_population_files(priors_copy):
    """A copied priors directory resolves setting files next to its own validation file."""
    from bayesnet.data.priors import load_priors

    ps = load_priors(priors_copy)
    scenarios = load_validation(priors=ps)
    files = {s.setting_file for s in scenarios if s.setting_file}
    assert files and all(Path(f).is_relative_to(priors_copy.resolve()) for f in files)
    shutil.rmtree(priors_copy / "validation" / "settings")
    with pytest.raises(ValidationFileError, match="not found"):
        load_validation(priors=ps)
