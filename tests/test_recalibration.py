"""Recalibration (issue 16, item 2): counts and patient rows update the published numbers.

References are independent of the code under test: Beta and normal posteriors computed here by
hand with scipy, counts computed here with pandas from the sampled rows, the coverage of the
intervals checked on cohorts drawn by the model's forward sampler from models whose setting file
restates the numbers to known values (drawn from the prior: simulation-based calibration, where a
95% interval must cover the truth 95% of the time; or fixed outside the published interval, where
the expected coverage is computed by enumerating the binomial outcomes).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from scipy import stats

import bayesnet
from bayesnet.present.recalibration import main, recalibrate_command
from bayesnet.reasoning.recalibration import RecalibrationError, fit_beta, recalibrate, tabulate

SETTING = "emergency_suspected_pe"
SEX_F = f"prevalence[{SETTING}][female]"


@pytest.fixture(scope="module")
def model():
    return bayesnet.load_model(SETTING)


def _counts(*rows) -> pd.DataFrame:
    return pd.DataFrame([dict(zip(["node", "parameter", "events", "total", "events_ref", "total_ref"], r, strict=False))
                         for r in rows], columns=["node", "parameter", "events", "total", "events_ref", "total_ref"])


def _number(value, **kw) -> dict:
    return {"value": float(value), "source": "test", "setting": "test", "grade": "C", **kw}


def _truth_file(path, model, *, pe=None, female=None, ctpa_sens=None, dd_spec_50=None, ctpa_sens_interval=None):
    """A setting file based on SETTING restating some numbers to given (true) values."""
    doc = {"schema_version": 2, "description": "truth for a test", "based_on": SETTING}
    if pe is not None:
        doc["conditions"] = {"pulmonary_embolism": _number(pe)}
    if female is not None:
        doc["risk_factors"] = {"sex": {"values": {"female": float(female), "male": 1.0 - float(female)},
                                       "source": "test", "setting": "test", "grade": "C"}}
    findings = {}
    if ctpa_sens is not None:
        extra = {} if ctpa_sens_interval is None else {"low": ctpa_sens_interval[0], "high": ctpa_sens_interval[1]}
        findings["ctpa"] = {"links": {"pulmonary_embolism": _number(ctpa_sens, kind="sensitivity", **extra)}}
    if dd_spec_50 is not None:
        leak = model.priors.findings_in(SETTING)["d_dimer"].leak
        values = {s: _number(p.value, kind=p.kind) for s, p in leak.items()}
        values["50_to_69"] = _number(dd_spec_50, kind="specificity")
        findings["d_dimer"] = {"leak": {"by": "age_group", "values": values}}
    if findings:
        doc["findings"] = findings
    path.write_text(yaml.safe_dump(doc, sort_keys=False))
    return path


# ------------------------------------------------------------------------------------------ the update rule
def test_beta_fit_recovers_a_beta_whose_quantiles_are_given():
    a, b = 20.0, 80.0
    lo, med, hi = stats.beta.ppf([0.025, 0.5, 0.975], a, b)
    fa, fb = fit_beta(float(med), float(lo), float(hi))
    assert fa == pytest.approx(a, rel=1e-4) and fb == pytest.approx(b, rel=1e-4)


def test_conjugate_update_equals_the_hand_computed_beta_posterior(model, tmp_path):
    # a number whose published value and interval are exactly the median and 95% interval of Beta(12, 30)
    a, b = 12.0, 30.0
    lo, med, hi = (float(x) for x in stats.beta.ppf([0.025, 0.5, 0.975], a, b))
    path = _truth_file(tmp_path / "prior.yaml", model, ctpa_sens=med, ctpa_sens_interval=(lo, hi))
    prior_model = bayesnet.load_model(path)
    res = recalibrate(prior_model, _counts(("ctpa", "sensitivity[pulmonary_embolism]", 37, 61)), label="hand.csv")
    r = res.report.iloc[0]
    pa, pb = a + 37, b + 61 - 37
    assert (r["prior_a"], r["prior_b"]) == (pytest.approx(a, rel=1e-4), pytest.approx(b, rel=1e-4))
    want = stats.beta.ppf([0.5, 0.025, 0.975], pa, pb)
    assert [r["posterior_value"], r["posterior_low"], r["posterior_high"]] == pytest.approx(want, rel=2e-4)
    assert r["posterior_mean"] == pytest.approx(pa / (pa + pb), rel=2e-4)
    assert r["data"] == "37/61" and r["data_weight"] == pytest.approx(61 / (a + b + 61), rel=2e-4)
    assert r["grade"] == "A"  # the data carry more than half the information
    assert r["prior_quantile"] == pytest.approx(stats.beta.cdf(r["posterior_value"], a, b), rel=1e-3)
    # the new model's table holds the restated number: P(ctpa+ | PE only) = leak + link, i.e. the sensitivity
    p = res.model.parameter_space.params[res.model.parameter_space.index[("ctpa", r["restated_as"])]]
    assert p.value == r["posterior_value"] and p.source.startswith("recalibrated from hand.csv (37/61) on the prior test")


def test_dirichlet_and_ratio_updates_by_hand(model):
    rows = _counts(("sex", "prevalence[female]", 610, 1000), ("sex", "prevalence[male]", 390, 1000),
                   ("pulmonary_embolism", "relative_risk[age_group=70_plus]", 30, 200, 12, 900),
                   ("pulmonary_embolism", "odds_ratio[significant_trauma=yes]", 9, 40, 60, 1500))
    res = recalibrate(model, rows)
    t = res.report.set_index("parameter")
    alpha = t.loc[[SEX_F, f"prevalence[{SETTING}][male]"], "prior_a"].to_numpy()
    post = alpha + [610, 390]
    assert t.loc[SEX_F, "posterior_value"] == pytest.approx(post[0] / post.sum(), abs=1e-6)
    assert t.loc[[SEX_F, f"prevalence[{SETTING}][male]"], "posterior_value"].sum() == pytest.approx(1.0, abs=1e-12)
    assert alpha.sum() == pytest.approx(t.loc[SEX_F, "prior_a"] + t.loc[SEX_F, "prior_b"])
    assert t.loc[SEX_F, "posterior_low"] == pytest.approx(stats.beta.ppf(0.025, post[0], post[1]), rel=1e-5)
    for name, est, var in (
        ("relative_risk[age_group=70_plus]", math.log((30 / 200) / (12 / 900)), 1 / 30 - 1 / 200 + 1 / 12 - 1 / 900),
        ("odds_ratio[significant_trauma=yes]", math.log(9 * 1440 / (31 * 60)), 1 / 9 + 1 / 31 + 1 / 60 + 1 / 1440),
    ):
        p = model.parameter_space.params[model.parameter_space.index[("pulmonary_embolism", name)]]
        mu0 = math.log(p.value)
        sd0 = ((mu0 - math.log(p.low)) + (math.log(p.high) - mu0)) / 2 / 1.959963984540054
        prec = 1 / sd0**2 + 1 / var
        mu = (mu0 / sd0**2 + est / var) / prec
        want = [math.exp(mu), math.exp(mu - 1.959963984540054 / math.sqrt(prec)),
                math.exp(mu + 1.959963984540054 / math.sqrt(prec))]
        assert [t.loc[name, c] for c in ("posterior_value", "posterior_low", "posterior_high")] == pytest.approx(
            want, rel=1e-5)


# ------------------------------------------------------------------------------------------ recovery and coverage
def _cohort_columns(model) -> list[str]:
    parents = model.tables.parents
    return list(dict.fromkeys(["sex", "age_group", "pulmonary_embolism", "ctpa", "d_dimer", *parents["ctpa"],
                               *parents["d_dimer"]]))


NAMED = ["pulmonary_embolism:prevalence", "sex:prevalence", "ctpa:sensitivity[pulmonary_embolism]",
         "d_dimer:leak[age_group=50_to_69]"]


def test_intervals_cover_parameters_drawn_from_the_prior_at_their_nominal_rate(model, tmp_path):
    """Simulation-based calibration: truth drawn from the prior, a cohort drawn from the truth, 95% coverage."""
    seeds, n = 50, 3000
    cols = _cohort_columns(model)
    first = recalibrate(model, model.sample_cohort(200, seed=0, columns=cols), parameters=NAMED)
    prior = first.report.set_index("parameter")[["prior_a", "prior_b"]]
    names = {"pe": f"prevalence[{SETTING}]", "female": SEX_F, "ctpa": "sensitivity[pulmonary_embolism]",
             "dd": "leak[age_group=50_to_69]"}
    rng = np.random.default_rng(2026)
    truths = [{k: rng.beta(*prior.loc[name]) for k, name in names.items()} for _ in range(seeds)]
    files = [_truth_file(tmp_path / f"truth_{i}.yaml", model, pe=t["pe"], female=t["female"], ctpa_sens=t["ctpa"],
                         dd_spec_50=t["dd"]) for i, t in enumerate(truths)]
    truth_priors = bayesnet.load_priors(model.priors.directory, extra_settings=files)  # every truth file at once
    covered = dict.fromkeys(names, 0)
    for i, truth in enumerate(truths):
        cohort = bayesnet.BackPainModel(truth_priors, f"truth_{i}").sample_cohort(n, seed=i, columns=cols)
        rep = recalibrate(model, cohort, parameters=NAMED).report.set_index("parameter")
        for key, name in names.items():
            covered[key] += bool(rep.loc[name, "posterior_low"] <= truth[key] <= rep.loc[name, "posterior_high"])
    # each count ~ Binomial(50, 0.95); all four together ~ Binomial(200, 0.95): 99.9% two-sided bounds
    lo_one = stats.binom.ppf(0.0005, seeds, 0.95)
    lo_all, hi_all = stats.binom.ppf([0.0005, 0.9995], 4 * seeds, 0.95)
    assert all(c >= lo_one for c in covered.values()), covered
    assert lo_all <= sum(covered.values()) <= hi_all, covered


def test_recalibration_recovers_a_number_moved_outside_its_published_interval(model, tmp_path):
    """PE prevalence set to 0.06 (published 0.0469 [0.0386, 0.0564]): the posterior moves to it; coverage as enumerated."""
    seeds, n, truth = 25, 3000, 0.06
    cohort_model = bayesnet.load_model(_truth_file(tmp_path / "moved.yaml", model, pe=truth))
    reports = [recalibrate(model, cohort_model.sample_cohort(n, seed=s, columns=["pulmonary_embolism"])).report.iloc[0]
               for s in range(seeds)]
    a, b = reports[0]["prior_a"], reports[0]["prior_b"]
    # independent reference: over every possible count k, the Beta(a + k, b + n - k) interval and its probability
    k = np.arange(n + 1)
    lo, hi = stats.beta.ppf(0.025, a + k, b + n - k), stats.beta.ppf(0.975, a + k, b + n - k)
    coverage = float(stats.binom.pmf(k, n, truth)[(lo <= truth) & (truth <= hi)].sum())
    hits = sum(r["posterior_low"] <= truth <= r["posterior_high"] for r in reports)
    assert stats.binom.ppf(0.0005, seeds, coverage) <= hits <= stats.binom.ppf(0.9995, seeds, coverage)
    expected_median = np.mean([stats.beta.ppf(0.5, a + r["events"], b + n - r["events"]) for r in reports])
    assert np.mean([r["posterior_value"] for r in reports]) == pytest.approx(expected_median, rel=1e-5)
    assert all(r["prior_value"] < r["posterior_value"] for r in reports)  # every run moves towards the truth
    assert all(r["total"] == n for r in reports)


def test_rows_are_counted_in_the_networks_populations(model):
    cohort = model.sample_cohort(4000, seed=7)
    counts, skipped = tabulate(model, cohort, ["d_dimer:leak[age_group=70_plus]", "ctpa:sensitivity[pulmonary_embolism]",
                                               "history_of_cancer:prevalence[age_group=70_plus]", "sex:prevalence"])
    c = counts.set_index("parameter")
    linked = [v for v in model.tables.parents["d_dimer"] if v != "age_group"]
    pop = cohort[(cohort["age_group"] == "70_plus") & (cohort[linked] == "no").all(axis=1)]
    assert (c.loc["leak[age_group=70_plus]", "total"], c.loc["leak[age_group=70_plus]", "events"]) == (
        len(pop), int((pop["d_dimer"] == "negative").sum()))  # a specificity counts the negatives
    ctpa_linked = [v for v in model.tables.parents["ctpa"] if v != "pulmonary_embolism"]
    cases = cohort[(cohort["pulmonary_embolism"] == "yes") & (cohort[ctpa_linked] == "no").all(axis=1)]
    assert (c.loc["sensitivity[pulmonary_embolism]", ["events", "total"]].tolist()
            == [int((cases["ctpa"] == "positive").sum()), len(cases)])
    old = cohort[cohort["age_group"] == "70_plus"]
    assert c.loc["prevalence[age_group=70_plus]", ["events", "total"]].tolist() == [
        int((old["history_of_cancer"] == "yes").sum()), len(old)]
    assert c.loc[SEX_F, ["events", "total"]].tolist() == [int((cohort["sex"] == "female").sum()), 4000]
    assert skipped.empty


def test_default_mode_counts_only_fully_observed_populations(model):
    cohort = model.sample_cohort(1500, seed=3, columns=["sex", "pulmonary_embolism", "dvt", "ctpa"]).astype(object)
    cohort.loc[:9, "ctpa"] = None  # ten patients not imaged
    lost = int((cohort.loc[:9, "pulmonary_embolism"] == "no").sum())  # those among the leak's population
    res = recalibrate(model, cohort, label="audit")
    names = set(zip(res.report["node"], res.report["parameter"], strict=True))
    assert ("pulmonary_embolism", f"prevalence[{SETTING}]") in names and ("sex", SEX_F) in names
    assert not any(n == "ctpa" for n, _ in names)
    assert res.skipped["reason"].str.contains("not fully observed").any()
    with pytest.raises(RecalibrationError, match=rf"{lost} of the patient rows of audit have no value for 'ctpa'"):
        recalibrate(model, cohort, parameters=["ctpa:leak"], label="audit")
    dropped = recalibrate(model, cohort, parameters=["ctpa:leak"], missing="drop")
    assert dropped.counts.iloc[0]["rows_left_out"] >= 1 and "left out" in dropped.report.iloc[0]["population"]


# ------------------------------------------------------------------------------------------ the setting file
def test_saved_setting_loads_and_reproduces_the_posterior(model, tmp_path):
    rows = _counts(("pulmonary_embolism", "prevalence", 52, 800), ("ctpa", "sensitivity[pulmonary_embolism]", 40, 52),
                   ("d_dimer", "leak[age_group=under_50]", 300, 420), ("sex", "prevalence[female]", 500, 800),
                   ("sex", "prevalence[male]", 300, 800),
                   ("pulmonary_embolism", "relative_risk[age_group=70_plus]", 20, 100, 5, 300))
    res = recalibrate(model, rows, label="audit.csv")
    path = res.save(tmp_path / "our_ed.yaml")
    assert not list(tmp_path.glob(".*partial*"))  # no temporary file left
    loaded = bayesnet.load_model(path)
    assert loaded.setting == "our_ed"
    space = loaded.parameter_space
    by_origin = {}
    for p in space.params:
        by_origin[(p.node, p.parameter.replace("[our_ed]", f"[{SETTING}]"))] = p
    for r in res.report.itertuples():
        p = by_origin.get((r.node, r.restated_as))
        assert p is not None, r.restated_as
        assert (p.value, p.low, p.high) == (r.posterior_value, r.posterior_low, r.posterior_high)
        assert p.source.startswith(f"recalibrated from audit.csv ({r.data}" if r.family != "dirichlet"
                                   else "recalibrated from audit.csv (female 500/800")
    for v, t in res.model.tables.cpts.items():
        np.testing.assert_allclose(loaded.tables.cpts[v], t, rtol=0, atol=1e-12)
    dx = {"dyspnoea": "yes", "d_dimer": "positive", "age_group": "under_50"}
    assert loaded.diagnose(dx).ranking["posterior"].to_dict() == pytest.approx(
        res.model.diagnose(dx).ranking["posterior"].to_dict(), abs=1e-12)
    # recalibrated again, from the saved setting: the first round's numbers stay, the new ones join them
    again = recalibrate(loaded, _counts(("ctpa", "leak", 190, 200)), label="second.csv")
    path2 = again.save(tmp_path / "our_ed_2.yaml")
    twice = bayesnet.load_model(path2)
    assert twice.diagnose(dx).ranking["posterior"].to_dict() == pytest.approx(
        again.model.diagnose(dx).ranking["posterior"].to_dict(), abs=1e-12)
    assert yaml.safe_load(path2.read_text())["based_on"] == SETTING
    srcs = twice.sources().set_index(["node", "parameter"])["source"]
    assert srcs[("ctpa", "leak[our_ed_2]")].startswith("recalibrated from second.csv (190/200)")
    assert srcs[("pulmonary_embolism", "prevalence[our_ed_2]")].startswith("recalibrated from audit.csv (52/800)")


def test_shared_numbers_update_the_model_but_cannot_be_saved(model, tmp_path):
    res = recalibrate(model, _counts(("history_of_cancer", "prevalence[age_group=70_plus]", 60, 200)))
    r = res.report.iloc[0]
    assert not r["saveable"] and res.unsaveable == ["history_of_cancer prevalence[age_group=70_plus]"]
    table = res.model.tables.cpts["history_of_cancer"]
    assert table[0, model.states["age_group"].index("70_plus")] == r["posterior_value"]
    assert list(res.model.priors.settings) == [SETTING]  # the shared number is no longer the other settings'
    with pytest.raises(RecalibrationError, match=r"cannot restate history_of_cancer prevalence\[age_group=70_plus\]"):
        res.save(tmp_path / "x.yaml")
    assert not list(tmp_path.iterdir())


def test_numbers_that_do_not_fit_together_are_named():
    # epidural abscess's tachycardia sensitivity (0.3) is only just above what osteomyelitis's gives to its cases
    # (in the emergency setting; the suspected-PE setting restates both links as ratios over its background)
    with pytest.raises(RecalibrationError, match=r"do not fit together.*tachycardia"):
        recalibrate(bayesnet.load_model("emergency"), _counts(("tachycardia", "sensitivity[vertebral_osteomyelitis]", 400, 400)))


# ------------------------------------------------------------------------------------------ command and display
def test_command_writes_a_setting_and_prints_json(model, tmp_path):
    csv = tmp_path / "audit.csv"
    # the CT leak is stored as a specificity; this row counts false positives (10 of 200 non-cases)
    csv.write_text("node,parameter,events,total,kind\npulmonary_embolism,prevalence,52,800,\n"
                   "ctpa,leak,10,200,false_positive_rate\n")
    out = tmp_path / "our_ed.yaml"
    run = CliRunner().invoke(recalibrate_command, [str(csv), "--setting", SETTING, "-o", str(out), "--json"])
    assert run.exit_code == 0, run.output
    data = json.loads(run.output)
    assert data["output"] == str(out) and [p["data"] for p in data["parameters"]] == ["52/800", "190/200"]
    leak = data["parameters"][1]
    assert leak["kind"] == "specificity" and leak["events"] == 190  # 190 true negatives
    assert bayesnet.load_model(out).setting == "our_ed"
    text = CliRunner().invoke(recalibrate_command, [str(csv), "--setting", SETTING])
    assert text.exit_code == 0 and "52/800" in text.output and "prior centile" in text.output


def test_display(model):
    res = recalibrate(model, _counts(("ctpa", "sensitivity[pulmonary_embolism]", 40, 50)))
    assert "Recalibration of emergency_suspected_pe" in repr(res)
    html = res._repr_html_()
    assert html.count("<tr data-node=") == 1 and 'data-parameter="sensitivity[pulmonary_embolism]"' in html


BAD = [
    ("node,parameter,events,total\npulmonary_embolsm,prevalence,3,10\n", "did you mean 'pulmonary_embolism'"),
    ("node,parameter,events,total\npulmonary_embolism,prevalance,3,10\n", "unknown parameter 'prevalance'"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,3.5,10\n", "line 2: column 'events' must be a count"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,-1,10\n", "must be a count"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,abc,10\n", "got 'abc'"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,12,10\n", "events (12) exceed total (10)"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,0,0\n", "total must be at least 1"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,,10\n", "column 'events' is empty"),
    ("node,parameter,events\npulmonary_embolism,prevalence,3\n", "missing total"),
    ("node,parameter,events,total,colour\npulmonary_embolism,prevalence,3,10,red\n", "unknown column 'colour'"),
    ("node,parameter,events,total\npulmonary_embolism,prevalence,3,10\npulmonary_embolism,prevalence,4,10\n",
     "line 3: pulmonary_embolism prevalence is given twice"),
    ("node,parameter,events,total\npulmonary_embolism,odds_ratio[significant_trauma=yes],3,10\n",
     "is a ratio (odds_ratio): counts update it as two groups; give events_ref and total_ref"),
    ("node,parameter,events,total,events_ref,total_ref\npulmonary_embolism,prevalence,3,10,1,5\n",
     "events_ref/total_ref go with a ratio"),
    ("node,parameter,events,total\nsex,prevalence[female],3,10\n", "sex needs a row for every state; missing male"),
    ("node,parameter,events,total\nsex,prevalence[female],3,10\nsex,prevalence[male],3,10\n",
     "the events of sex's states sum to 6, not to their total 10"),
    ("node,parameter,events,total,kind\nctpa,leak,3,10,sensitivity\n", "unknown kind 'sensitivity'"),
    ("node,parameter,events,total\nmechanical_pain,prevalence,3,10\n", "has no numbers of its own"),
    ("sex,fever\nfemale,yes\nmale,maybe\n", "unknown state 'maybe' of 'fever' (rows.csv, line 3, column 'fever')"),
    ("sex,fevr\nfemale,yes\n", "unknown variable 'fevr'"),
    ("", "the file is empty"),
]


@pytest.mark.parametrize(("text", "message"), BAD, ids=[m[:30] for _, m in BAD])
def test_bad_files_give_one_line_naming_the_culprit(tmp_path, capsys, text, message):
    path = tmp_path / ("rows.csv" if not text.startswith("node") else "counts.csv")
    path.write_text(text)
    assert main([str(path), "--setting", SETTING]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err


def test_bad_invocations(tmp_path, capsys):
    path = tmp_path / "c.csv"
    path.write_bytes(b"node,parameter,events,total\n\xff\xfe,prevalence,1,2\n")
    assert main([str(path)]) == 2 and "not a UTF-8 text file" in capsys.readouterr().err
    assert main([str(tmp_path / "none.csv")]) == 2 and "file not found" in capsys.readouterr().err
    good = tmp_path / "g.csv"
    good.write_text("node,parameter,events,total\npulmonary_embolism,prevalence,3,100\n")
    assert main([str(good), "--setting", SETTING, "-o", str(tmp_path / "primary_care.yaml")]) == 2
    assert "name of a shipped setting" in capsys.readouterr().err
    assert main([str(good), "-o", str(tmp_path / "x.txt")]) == 2 and ".yaml" in capsys.readouterr().err
    assert main([str(good), "--parameter", "ctpa:leak"]) == 2 and "patient rows" in capsys.readouterr().err
    assert not (tmp_path / "primary_care.yaml").exists()
