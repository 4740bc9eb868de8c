"""Clinical validation set (priors/validation/) and `bayesnet validate`."""

from __future__ import annotations

import dataclasses
import itertools
import json
import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from helpers import query

from bayesnet.cli import cli as bayesnet_cli
from bayesnet.data.scenarios import (
    Published,
    Target,
    ValidationFileError,
    default_validation_path,
    exact_interval,
    load_validation,
)
from bayesnet.errors import BayesNetError, PriorsError
from bayesnet.present.display import validation_summary_line as summary_line
from bayesnet.present.plots import calibration_plot
from bayesnet.reasoning.validation import event_probability, validate

validate_command = bayesnet_cli.commands["validate"]

DRAWS = 20  # few draws keep the tests quick; the command's default is 500


def _model_of(s, models):
    """The model a scenario runs in: a shipped setting's, or its study-population setting file's."""
    if s.setting_file:
        import bayesnet

        return bayesnet.load_model(setting=s.setting_file)
    return models[s.setting]


@pytest.fixture(scope="module")
def scenarios(priors):
    return load_validation(priors=priors)


@pytest.fixture(scope="module")
def result(models, scenarios):
    return validate(models["primary_care"], scenarios=scenarios, draws=DRAWS, seed=0)


def _raw() -> dict:
    return yaml.safe_load(default_validation_path().read_text(encoding="utf-8"))


def _write(tmp_path: Path, data, name: str = "bad.yaml") -> Path:
    p = tmp_path / name
    p.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    return p


# --------------------------------------------------------------------------------------------
# the shipped file


def test_shipped_file_loads(scenarios):
    assert 12 <= len(scenarios) <= 80
    ids = [s.id for s in scenarios]
    assert len(ids) == len(set(ids))
    for s in scenarios:
        assert s.source and s.population and s.mapping and s.setting_reason
        assert isinstance(s.independent, bool)
        if not s.independent:
            assert s.independence, s.id
        p = s.published
        assert p.low <= p.value <= p.high
        assert p.interval in ("reported", "exact"), s.id
        if p.events is not None:  # counts: the exact interval, or a published one at least as wide
            lo, hi = exact_interval(p.events, p.total)
            if p.interval == "exact":
                assert (p.low, p.high) == pytest.approx((lo, hi))
            assert p.low <= lo + 1e-3 and p.high >= hi - 1e-3, s.id
    # prefer independent scenarios: at least 40% (a scenario whose cohort also gives a prior says so)
    assert sum(s.independent for s in scenarios) >= 0.4 * len(scenarios), "prefer independent scenarios"


def test_every_scenario_maps_to_existing_variables(scenarios, models):
    for s in scenarios:
        model = _model_of(s, models)
        for var, states in [*s.evidence.items(), *s.tests.items(), *s.target.items]:
            assert var in model.states, (s.id, var)
            assert set(states) <= set(model.states[var]), (s.id, var, states)
        if s.target.label in model.conditions:
            assert s.target.items == ((s.target.label, ("yes",)),)


def test_independent_sources_are_not_prior_sources(scenarios, priors):
    """A scenario marked independent must not cite a paper (surname and year) used by a prior."""
    prior_sources = {p.source for p in priors.params}
    for s in scenarios:
        if not s.independent:
            continue
        m = re.match(r"([A-Z][A-Za-z'-]+)\b[^,]*?\b((?:19|20)\d\d)", s.source)
        if m is None:  # e.g. a study cited by journal only
            continue
        surname, year = m.groups()
        clash = [src for src in prior_sources if surname in src and year in src]
        assert not clash, (s.id, clash)


# --------------------------------------------------------------------------------------------
# validate()


def test_validate_one_row_per_scenario_finite(result, scenarios):
    assert list(result["id"]) == [s.id for s in scenarios]
    num = result[["published", "low", "high", "model", "model_low", "model_high"]].astype(float)
    assert np.isfinite(num.to_numpy()).all()
    # model / published: infinite only where the published value is 0 (no event among the counted)
    ratio = result["ratio"].astype(float)
    assert (np.isfinite(ratio) | (result["published"] == 0)).all() and not ratio.isna().any()
    prob = result["measure"] == "probability"
    assert result.loc[prob, ["model", "model_low", "model_high"]].apply(lambda c: c.between(0, 1)).all().all()
    assert (result["model_low"] <= result["model_high"]).all()
    assert (result["excluded_draws"] == 0).all()
    assert result["inside"].dtype == bool and result["overlap"].dtype == bool
    assert (result["overlap"] | ~result["inside"]).all()  # a point inside the interval: the intervals overlap
    s = result.attrs["summary"]
    assert s["scenarios"] == len(result) and s["inside"] == int(result["inside"].sum())
    assert summary_line(result).startswith(f"{s['inside']} of {s['scenarios']} scenarios")


def test_inside_and_overlap_on_intervals_placed_around_the_pgmpy_value(scenarios, models, ve):
    """Published intervals placed by hand around the model's value (from pgmpy) give known verdicts."""
    s = next(s for s in scenarios if s.id == "fracture_corticosteroids")
    cond = s.target.label
    m = query(ve[s.setting], cond, {k: v[0] for k, v in s.evidence.items()})["yes"]
    base = validate(models[s.setting], scenarios=[s], draws=DRAWS, seed=0).iloc[0]
    lo, hi = base["model_low"], base["model_high"]
    assert base["model"] == pytest.approx(m, abs=1e-12)
    assert 0 < lo < m < hi < 0.9  # a real spread, away from 1 (preconditions of the cases below)
    cases = {  # id: (low, high, inside, overlap)
        "around": (m / 2, (m + 1) / 2, True, True),
        "just_above_point_within_model_interval": ((m + hi) / 2, 1.0, False, True),
        "just_below_point_within_model_interval": (0.0, (lo + m) / 2, False, True),
        "far_above": ((hi + 1) / 2, 1.0, False, False),
        "far_below": (0.0, lo / 2, False, False),
    }
    variants = [
        dataclasses.replace(s, id=k, published=Published((a + b) / 2, a, b)) for k, (a, b, _, _) in cases.items()
    ]
    res = validate(models[s.setting], scenarios=variants, draws=DRAWS, seed=0).set_index("id")
    for k, (_, _, inside, overlap) in cases.items():
        assert (bool(res.loc[k, "inside"]), bool(res.loc[k, "overlap"])) == (inside, overlap), k
        assert (res.loc[k, "model_low"], res.loc[k, "model_high"]) == (lo, hi)
    # without draws there is no model interval: only the point can meet the published interval
    res0 = validate(models[s.setting], scenarios=variants, draws=0).set_index("id")
    assert {k: bool(res0.loc[k, "overlap"]) for k in cases} == {k: c[2] for k, c in cases.items()}


def test_single_condition_matches_diagnose_and_uncertainty(scenarios, result, models):
    checked = 0
    for s in scenarios:
        if s.measure != "probability" or s.setting_file or s.target.label not in models[s.setting].conditions:
            continue
        if any(len(v) > 1 for v in s.evidence.values()):
            continue
        model = models[s.setting]
        ev = {k: v[0] for k, v in s.evidence.items()}
        row = result.set_index("id").loc[s.id]
        assert row["model"] == pytest.approx(model.diagnose(ev).ranking.loc[s.target.label, "posterior"], abs=1e-12)
        unc = model.uncertainty(ev, draws=DRAWS, seed=0)
        assert row["model_low"] == pytest.approx(unc.loc[s.target.label, "low"], abs=1e-12)
        assert row["model_high"] == pytest.approx(unc.loc[s.target.label, "high"], abs=1e-12)
        checked += 1
    assert checked >= 3


def _ve_joint(ve, variables, evidence):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ve.query(variables, evidence=evidence or None, joint=True, show_progress=False)


def test_any_of_conditions_matches_pgmpy(models, ve):
    model = models["emergency"]
    ev = {"dyspnoea": "yes", "age_group": "under_50", "tachycardia": "no"}
    t = Target("any", (("pulmonary_embolism", ("yes",)), ("dvt", ("yes",))), "vte")
    p = event_probability(model.engine, {k: [v] for k, v in ev.items()}, t)[0]
    f = _ve_joint(ve["emergency"], ["pulmonary_embolism", "dvt"], ev)
    expected = 1.0 - f.get_value(pulmonary_embolism="no", dvt="no")
    assert p == pytest.approx(expected, rel=1e-9, abs=1e-15)


def test_all_of_and_state_sets_match_pgmpy(models, ve):
    model = models["emergency"]
    vt = model.engine
    t = Target("all", (("fever", ("yes",)), ("neuro_deficit", ("yes",))), "triad")
    p = event_probability(vt, {"epidural_abscess": ["yes"]}, t)[0]
    f = _ve_joint(ve["emergency"], ["fever", "neuro_deficit"], {"epidural_abscess": "yes"})
    assert p == pytest.approx(f.get_value(fever="yes", neuro_deficit="yes"), rel=1e-9)
    # a set of states ("one of") equals the sum over its members
    t2 = Target("all", (("compression_fracture", ("yes",)),), "fracture")
    both = event_probability(vt, {"age_group": ["50_to_69", "70_plus"]}, t2)[0]
    f2 = _ve_joint(ve["emergency"], ["compression_fracture", "age_group"], {})
    num = sum(f2.get_value(compression_fracture="yes", age_group=a) for a in ("50_to_69", "70_plus"))
    den = sum(f2.get_value(compression_fracture=c, age_group=a) for c in ("yes", "no") for a in ("50_to_69", "70_plus"))
    assert both == pytest.approx(num / den, rel=1e-9)


def test_any_of_rare_event_keeps_its_digits(models):
    """Summing disjoint pieces: no cancellation when the event is very rare."""
    model = models["primary_care"]
    vt = model.engine
    ev = {"d_dimer": ["negative"], "age_group": ["under_50"], "unilateral_leg_swelling": ["no"]}
    single = event_probability(vt, ev, Target("all", (("pulmonary_embolism", ("yes",)),), "pe"))[0]
    both = event_probability(vt, ev, Target("any", (("pulmonary_embolism", ("yes",)), ("dvt", ("yes",))), "vte"))[0]
    assert 0 < single < both < 1e-4
    ranking = model.diagnose({k: v[0] for k, v in ev.items()}).ranking
    assert single == pytest.approx(ranking.loc["pulmonary_embolism", "posterior"], rel=1e-12)


def test_likelihood_ratio_is_the_bayes_factor_of_the_tests_from_pgmpy(scenarios, result, ve):
    """LR = P(tests | target, evidence) / P(tests | not target, evidence), from pgmpy's joint."""
    s = next(s for s in scenarios if s.measure == "likelihood_ratio")
    (cond, (state,)), = s.target.items
    variables = [cond, *s.evidence, *s.tests]
    f = _ve_joint(ve[s.setting], variables, {})

    def total(cond_states, with_tests):
        chosen = {**s.evidence, **(s.tests if with_tests else {})}
        return sum(
            f.get_value(**dict(zip(variables, combo)))
            for combo in itertools.product(*[
                cond_states if v == cond else chosen.get(v, f.state_names[v]) for v in variables
            ])
        )

    others = [x for x in f.state_names[cond] if x != state]
    p_tests_yes = total([state], True) / total([state], False)
    p_tests_no = total(others, True) / total(others, False)
    assert result.set_index("id").loc[s.id, "model"] == pytest.approx(p_tests_yes / p_tests_no, rel=1e-9)


def test_draws_zero_gives_no_intervals(models, scenarios):
    df = validate(models["primary_care"], scenarios=scenarios[:3], draws=0)
    assert df["model_low"].isna().all() and df["model_high"].isna().all()
    assert (df["overlap"] == df["inside"]).all()
    assert "not computed" in summary_line(df)


def test_validate_accepts_a_model_and_rejects_bad_arguments(models, scenarios):
    df = validate(models["emergency"], scenarios=scenarios[:2], draws=0)
    assert len(df) == 2
    for bad in (-1, 1.5, True, "10"):
        with pytest.raises(BayesNetError, match="draws"):
            validate(models["emergency"], scenarios=scenarios[:1], draws=bad)
    with pytest.raises(BayesNetError, match="seed"):
        validate(models["emergency"], scenarios=scenarios[:1], draws=2, seed=-3)
    with pytest.raises(BayesNetError, match="expected a BackPainModel"):
        validate(42, scenarios=scenarios[:1], draws=0)


def test_calibration_plot(result):
    ax = calibration_plot(result)
    # probabilities on logit axes (disagreement near 1 shows), likelihood ratios on a log panel of their own
    assert ax.get_xscale() == "logit" and ax.get_yscale() == "logit"
    assert "inside" in ax.get_title()
    prob = result[result["measure"] != "likelihood_ratio"]
    lo, hi = ax.get_xlim()
    # zero bounds (a published 0 of 14) are drawn at the floor of the axis
    assert 0 < lo < prob.loc[prob["low"] > 0, "low"].min() and prob["high"].max() < hi < 1
    lr_ax = ax.figure.axes[1]
    assert lr_ax.get_xscale() == "log" and "likelihood" in lr_ax.get_title()
    # points are numbered in table order and listed in a key: no scenario id is written on the axes
    texts = [t.get_text() for t in ax.texts]
    assert set(texts) <= {str(i + 1) for i in range(len(result))}
    key = "\n".join(t.get_text() for a in ax.figure.axes for t in a.texts if "\n" in t.get_text())
    assert all(f"{i + 1:>2}  {sid}" in key for i, sid in enumerate(result["id"]))


# --------------------------------------------------------------------------------------------
# faulty validation files


def _one(**changes) -> dict:
    """The shipped file reduced to its 'sea_classic_triad' scenario, with changes."""
    data = _raw()
    sc = next(s for s in data["scenarios"] if s["id"] == "sea_classic_triad")
    sc = {**sc, **changes}
    return {"schema_version": 2, "scenarios": [sc]}


@pytest.mark.parametrize(
    ("data", "fragments"),
    [
        (_one(evidence={"fevr": "yes"}), ["(sea_classic_triad).evidence", "unknown variable 'fevr'", "did you mean 'fever'"]),
        (_one(evidence={"fever": "maybe"}), ["evidence.fever", "unknown state 'maybe' of variable 'fever'"]),
        (_one(evidence={"age_group": "under_5O"}), ["did you mean 'under_50'"]),
        (_one(target={"condition": "spinal_metastasys"}), ["target.condition", "did you mean 'spinal_metastasis'"]),
        (_one(target={"condition": "fever"}), ["'fever' is not a condition"]),
        (_one(target={"any": ["dvt"]}), ["unknown key 'any'", "did you mean 'any_of'"]),
        (_one(target={"any_of": ["dvt", "fever"]}), ["target.any_of[1]", "not a condition"]),
        (_one(target={"all_of": {"epidural_abscess": "yes"}}), ["both observed and the target"]),
        (_one(source=""), ["source", "non-empty"]),
        (_one(source=None), ["missing required key 'source'"]),
        (_one(published={"value": 0.2, "low": 0.3, "high": 0.1}), ["published", "must contain the value", "low > high"]),
        (_one(published={"value": 1.4, "low": 0.1, "high": 1.5}), ["published.value", "must lie in [0, 1]"]),
        (_one(published={"value": float("nan"), "low": 0.1, "high": 0.5}), ["published.value", "finite"]),
        (_one(published={"value": "13%", "low": 0.1, "high": 0.5}), ["published.value", "must be a number"]),
        (_one(published={"value": 0.2, "events": 8, "total": 63, "interval": "exact"}), ["does not match the counts 8/63"]),
        (_one(published={"value": 0.127, "events": 8, "total": 63, "interval": "exact", "low": 0.01}),
         ["published.low", "not the exact bound"]),
        (_one(published={"value": 0.127, "interval": "exact"}), ["exact interval is computed from 'events'"]),
        (_one(published={"value": 0.127, "events": 8, "total": 63, "interval": "wilson"}),
         ["(sea_classic_triad).published.interval", "'interval: wilson' is refused", "write 'interval: exact'"]),
        (_one(published={"value": 0.127, "events": 8, "total": 63, "low": 0.07, "high": 0.2}),
         ["narrower than the exact binomial interval", "use 'interval: exact'"]),
        (_one(published={"value": 0.127, "events": 80, "total": 63}), ["0 <= events <= total"]),
        (_one(published={"value": 0.127, "lo": 0.1, "high": 0.2}), ["unknown key 'lo'", "did you mean 'low'"]),
        (_one(independent=False, independence=None), ["independence", "independent: false needs a note"]),
        (_one(independent="yes"), ["independent", "true or false"]),
        (_one(setting="emergancy"), ["setting", "did you mean 'emergency'"]),
        (_one(setting="settings/nowhere.yaml"), ["(sea_classic_triad).setting", "setting file 'settings/nowhere.yaml' not found"]),
        (_one(measure="likelihood_ratio"), ["tests", "needs 'tests'"]),
        (_one(measure="odds"), ["unknown measure 'odds'"]),
        (_one(id="Bad Id"), ["id", "lower-case"]),
        (_one(colour="red"), ["unknown key 'colour'"]),
        (_one(evidence={"fever": ["yes", "no"]}), ["every state of 'fever' is listed"]),
        ({"schema_version": 1, "scenarios": []}, ["scenarios", "non-empty list"]),
        ({"schema_version": 3, "scenarios": [1]}, ["unsupported version 3"]),
        ({"scenario": []}, ["unknown key 'scenario'", "did you mean 'scenarios'"]),
        ({"schema_version": 1, "scenarios": ["text"]}, ["scenarios[0]", "must be a mapping"]),
        ("", ["file is empty"]),
        ("- a\n- b\n", ["top level must be a mapping"]),
        ("scenarios: [\n", ["not valid YAML"]),
        ("a: 1\na: 2\n", ["duplicate key 'a'"]),
        ("!!python/object/apply:os.system ['echo pwned']\n", ["not valid YAML"]),
        ("x: !!python/name:os.system\n", ["not valid YAML"]),
    ],
)
def test_faulty_files_name_file_and_entry(tmp_path, priors, data, fragments):
    path = _write(tmp_path, data)
    with pytest.raises(ValidationFileError) as info:
        load_validation(path, priors)
    msg = str(info.value)
    assert msg.startswith("bad.yaml"), msg
    assert "\n" not in msg
    for frag in fragments:
        assert frag in msg, (frag, msg)
    assert isinstance(info.value, PriorsError) and isinstance(info.value, BayesNetError)


def test_duplicate_ids(tmp_path, priors):
    data = _one()
    data["scenarios"].append(dict(data["scenarios"][0]))
    with pytest.raises(ValidationFileError, match=r"id 'sea_classic_triad' is used twice"):
        load_validation(_write(tmp_path, data), priors)


def test_binary_and_missing_files(tmp_path, priors):
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00scenarios")
    with pytest.raises(ValidationFileError, match="not a UTF-8 text file"):
        load_validation(p, priors)
    with pytest.raises(ValidationFileError, match="file not found"):
        load_validation(tmp_path / "nope.yaml", priors)
    with pytest.raises(ValidationFileError, match="not a file"):
        load_validation(tmp_path, priors)


def test_bare_yes_no_are_accepted(tmp_path, priors):
    import shutil

    shutil.copytree(default_validation_path().parent / "settings", tmp_path / "settings")  # the study populations
    text = default_validation_path().read_text(encoding="utf-8").replace('"yes"', "yes").replace('"no"', "no")
    loaded = load_validation(_write(tmp_path, text), priors)
    assert [s.evidence for s in loaded] == [s.evidence for s in load_validation(priors=priors)]


def test_priors_copy_uses_its_own_validation_file(priors_copy):
    from bayesnet.data.priors import load_priors

    ps = load_priors(priors_copy)
    path = priors_copy / "validation" / "scenarios.yaml"
    data = _one()
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    assert [s.id for s in load_validation(priors=ps)] == ["sea_classic_triad"]


# --------------------------------------------------------------------------------------------
# the command


def _run(capsys, args):
    rv = validate_command.main(args, standalone_mode=False)
    out, err = capsys.readouterr()
    return rv, out, err


def test_command_json_shape(capsys, scenarios):
    rv, out, err = _run(capsys, ["--json", "--draws", "5", "--seed", "3"])
    assert rv is None and err == ""
    d = json.loads(out)
    assert {"draws", "seed", "level", "summary", "scenarios"} <= set(d)
    assert d["draws"] == 5 and d["seed"] == 3
    assert {"scenarios", "inside", "overlap", "independent", "line"} <= set(d["summary"])
    assert d["summary"]["scenarios"] == len(d["scenarios"]) == len(scenarios)
    rec = d["scenarios"][0]
    assert {"id", "setting", "target", "measure", "published", "low", "high", "model", "model_low", "model_high",
            "inside", "overlap", "ratio", "independent", "source"} <= set(rec)
    assert all(isinstance(r["inside"], bool) and isinstance(r["model"], float) for r in d["scenarios"])


def test_command_table_summary_and_figure(capsys, tmp_path, scenarios):
    fig = tmp_path / "cal.png"
    rv, out, _ = _run(capsys, ["--draws", "5", "--figure", str(fig)])
    assert rv is None
    lines = out.strip().splitlines()
    assert re.match(rf"\d+ of {len(scenarios)} scenarios: model value inside the published 95% interval; "
                    rf"\d+ of {len(scenarios)} intervals overlap", lines[-2])
    assert lines[-1] == f"wrote the calibration figure to {fig}"
    assert fig.stat().st_size > 10_000
    assert "sea_classic_triad" in out and "published [95% CI]" in out


def test_command_draws_zero_json_has_nulls(capsys):
    _, out, _ = _run(capsys, ["--json", "--draws", "0"])
    d = json.loads(out)
    assert all(r["model_low"] is None for r in d["scenarios"])


def test_command_errors_are_bad_input(tmp_path, capsys, monkeypatch):
    """Through bayesnet's main(): exit 2 and one stderr line (the lead registers the command)."""
    from bayesnet import cli as cli_mod

    bad = _write(tmp_path, _one(evidence={"fevr": "yes"}))
    for args, frag in [
        (["validate", "--file", str(bad)], "did you mean 'fever'"),
        (["validate", "--file", str(tmp_path / "missing.yaml")], "file not found"),
        (["validate", "--draws", "-2"], "--draws"),
        (["validate", "--figure", str(tmp_path / "x.gif")], "unsupported figure type"),
        (["validate", "--figure", str(tmp_path / "no" / "x.png")], "does not exist"),
        (["validate", "--priors", str(tmp_path / "nowhere")], "priors directory not found"),
    ]:
        code = cli_mod.main(args)
        out, err = capsys.readouterr()
        assert code == 2, (args, err)
        assert len(err.strip().splitlines()) == 1 and frag in err, (args, err)
    code = cli_mod.main(["validate", "--draws", "0"])
    out, err = capsys.readouterr()
    assert code == 0 and "scenarios: model value inside" in out


def test_result_columns_are_documented(result):
    assert list(result.columns) == ["id", "setting", "target", "measure", "published", "low", "high", "model",
                                    "model_low", "model_high", "inside", "overlap", "ratio", "independent",
                                    "source", "excluded_draws"]
    assert isinstance(result, pd.DataFrame) and not math.isnan(result["ratio"].iloc[0])


def test_event_probability_names_unknown_variables(models):
    vt = models["primary_care"].engine
    t = Target("all", (("dvt", ("yes",)),), "dvt")
    with pytest.raises(BayesNetError, match="did you mean 'fever'"):
        event_probability(vt, {"fevr": ["yes"]}, t)
    with pytest.raises(BayesNetError, match="unknown state 'maybe'"):
        event_probability(vt, {"fever": "maybe"}, t)
    assert event_probability(vt, {"fever": "yes"}, t)[0] == pytest.approx(
        event_probability(vt, {"fever": ["yes"]}, t)[0], rel=1e-15)


def test_bayesnet_validate_command_runs(capsys):
    """`bayesnet validate` itself (as registered in the CLI) runs and prints the summary line."""
    from bayesnet.cli import main

    assert main(["validate", "--draws", "20"]) == 0
    out = capsys.readouterr().out
    assert "scenarios: model value inside the published 95% interval" in out
