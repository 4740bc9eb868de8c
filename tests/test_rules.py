"""Red-flag rules on synthetic cohorts (bayesnet.reasoning.rules, bayesnet.present.rules).

References: pgmpy's variable elimination for the exact cells; forward-sampled cohorts (the
model's sampler, and an ancestral sampler written here on drawn parameter sets) for the sampled
metrics and for the coverage of the intervals.
"""

from __future__ import annotations

import itertools
import json
import warnings

import numpy as np
import pytest
from click.testing import CliRunner

from bayesnet.errors import BayesNetError, UnknownNameError
from bayesnet.present import rules as rules_view
from bayesnet.reasoning.rules import (
    ANY_SERIOUS,
    METRICS,
    RuleFileError,
    evaluate_rule,
    load_rule,
    parse_rule,
    rule_cubes,
    shipped_rules,
)

SMALL = {
    "name": "small",
    "rule": {"any": [
        {"history_of_cancer": "yes"},
        {"all": [{"age_group": ["50_to_69", "70_plus"]}, {"unexplained_weight_loss": "yes"},
                 {"not": {"fever": "yes"}}]},
    ]},
}


def _fires_small(h: str, a: str, w: str, f: str) -> bool:
    return h == "yes" or (a != "under_50" and w == "yes" and f != "yes")


# ------------------------------------------------------------------------------------ exactness
def test_cells_equal_pgmpy_variable_elimination(model, ve):
    """TP, FP, FN, TN of a nested rule (any, all, not, a multi-state test) by brute force over pgmpy's joint tables."""
    ve = ve["primary_care"]
    res = evaluate_rule(model, SMALL, draws=0)
    rv = ["history_of_cancer", "age_group", "unexplained_weight_loss", "fever"]
    configs = list(itertools.product(*[model.states[v] for v in rv]))
    serious = model.serious_conditions
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for c in ["spinal_metastasis", "compression_fracture", "epidural_abscess", "pyelonephritis"]:
            joint = ve.query([*rv, c], joint=True, show_progress=False)
            cells = np.zeros(4)
            for x in configs:
                fires = _fires_small(*x)
                for yes in (True, False):
                    p = joint.get_value(**dict(zip(rv, x, strict=True)), **{c: "yes" if yes else "no"})
                    cells[(0 if yes else 1) if fires else (2 if yes else 3)] += p
            ours = res.cells.loc[("small", c), ["true_positive", "false_positive", "false_negative",
                                                "true_negative"]].to_numpy(dtype=float)
            np.testing.assert_allclose(ours, cells, rtol=1e-9, atol=1e-15)
        # any serious: P(x, no serious condition) = P(x | none) P(none), P(none) by the chain rule
        p_none, given = 1.0, {}
        for c in serious:
            p_none *= float(ve.query([c], evidence=given or None, show_progress=False).get_value(**{c: "no"}))
            given[c] = "no"
        cond = ve.query(rv, evidence=given, joint=True, show_progress=False)
        marg = ve.query(rv, joint=True, show_progress=False)
    fire_all = sum(marg.get_value(**dict(zip(rv, x, strict=True))) for x in configs if _fires_small(*x))
    fire_none = sum(cond.get_value(**dict(zip(rv, x, strict=True))) for x in configs if _fires_small(*x)) * p_none
    tp, fp, fn, tn = res.cells.loc[("small", ANY_SERIOUS), ["true_positive", "false_positive", "false_negative",
                                                             "true_negative"]]
    assert tp == pytest.approx(fire_all - fire_none, rel=1e-9)
    assert fp == pytest.approx(fire_none, rel=1e-9)
    assert tp + fn == pytest.approx(1.0 - p_none, rel=1e-9)
    assert fp + tn == pytest.approx(p_none, rel=1e-12)
    m = res.table.loc[("small", ANY_SERIOUS)]
    assert m[("sensitivity", "value")] == pytest.approx((fire_all - fire_none) / (1.0 - p_none), rel=1e-9)
    assert m[("ppv", "value")] == pytest.approx((fire_all - fire_none) / fire_all, rel=1e-9)
    assert m[("flagged_per_case", "value")] == pytest.approx(fire_all / (fire_all - fire_none), rel=1e-9)


def test_cubes_equal_enumerated_configurations(models):
    """The disjoint cubes give the numbers of one row per joint state (every shipped rule, two settings)."""
    for setting in ("primary_care", "emergency_suspected_pe"):
        m = models[setting]
        names = [*shipped_rules(), SMALL]
        a = evaluate_rule(m, names, draws=0)
        b = evaluate_rule(m, names, draws=0, enumeration="configurations")
        np.testing.assert_allclose(a.cells.to_numpy(), b.cells.to_numpy(), rtol=1e-10, atol=1e-16)
        assert all(a.cubes[r.name] <= b.cubes[r.name] for r in a.rules)


def test_cube_cover_is_a_partition(model):
    rule = parse_rule(SMALL, model.states, model.tables.kinds)
    fire, quiet = rule_cubes(rule, model.states)
    cards = [len(model.states[v]) for v in rule.variables]
    seen = np.zeros(cards, dtype=int)
    for cubes, expect in ((fire, True), (quiet, False)):
        for cube in cubes:
            for codes in itertools.product(*[[i for i in range(c) if m >> i & 1] for m, c in zip(cube, cards, strict=True)]):
                seen[codes] += 1
                x = [model.states[v][i] for v, i in zip(rule.variables, codes, strict=True)]
                assert _fires_small(*x) is expect
    assert (seen == 1).all()


def test_large_sampled_cohort_equals_exact_within_sampling_error(model):
    res = evaluate_rule(model, ["acp_aps_2007", "downie_2013"], draws=0, cohort=600_000, seed=3)
    exact = res.metrics.set_index(["rule", "condition", "metric"])["value"]
    z2 = []
    for rec in res.cohort.to_dict("records"):
        if rec["metric"] == "flagged_per_case" or rec["denominator"] < 200:
            continue
        p = exact[(rec["rule"], rec["condition"], rec["metric"])]
        se = np.sqrt(p * (1 - p) / rec["denominator"])
        if se == 0:
            continue
        z = (rec["value"] - p) / se
        assert abs(z) < 4.5, rec
        z2.append(z * z)
    assert len(z2) >= 20 and 0.3 < np.mean(z2) < 2.5


# ------------------------------------------------------------------------------------ intervals
def _ancestors(model, keep):
    out, stack = set(), list(keep)
    while stack:
        v = stack.pop()
        if v not in out:
            out.add(v)
            stack.extend(model.tables.parents[v])
    return [v for v in model.tables.parents if v in out]  # tables are in topological order


def _forward_sample(model, tables, keep, n, rng):
    """Ancestral sampling of ``n`` patients under each parameter set of ``tables`` (rows: set k, patient i)."""
    k_sets = tables.n
    draw = np.repeat(np.arange(k_sets), n)
    codes = {}
    for v in _ancestors(model, keep):
        cpt = tables.cpts[v]
        probs = cpt[(draw, slice(None), *[codes[p] for p in tables.parents[v]])]  # (k_sets * n, card)
        u = rng.random(draw.size)[:, None] * probs.sum(axis=1, keepdims=True)
        codes[v] = (u >= np.cumsum(probs, axis=1)[:, :-1]).sum(axis=1)
    return codes, k_sets


def _simple_metrics(cells):
    tp, fp, fn, tn = (cells[..., i] for i in range(4))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {"sensitivity": tp / (tp + fn), "specificity": tn / (tn + fp), "ppv": tp / (tp + fp),
                "npv": tn / (tn + fn), "flagged": (tp + fp) / (tp + fp + fn + tn)}


def _block(draws, start, stop):
    """Parameter sets ``start:stop`` of one large draw (disjoint blocks are independent i.i.d. samples)."""
    from bayesnet.reasoning.uncertainty import ParameterDraws

    idx = np.arange(start, stop)
    return ParameterDraws(draws.space, draws.values[idx], draws.tables.take(idx), None)


def test_intervals_cover_the_truth_at_their_nominal_rate(model):
    """95% intervals against parameter sets drawn afresh: exact metrics (no study), and a study of n patients.

    Each replicate: a fresh parameter set (the truth), and an interval from 150 other draws; the
    truth's metric is its exact value (parameter uncertainty), or the one counted in n patients
    forward-sampled here under that parameter set (with ``cohort_size=n``).
    """
    rule = load_rule("deyo_diehl_1988", model)
    seeds, size, n = 30, 60, 2000
    big = model.parameter_draws(seeds * (size + 1), seed=10_000)
    truth_sets = _block(big, 0, seeds)  # one fresh parameter set per replicate
    replicates = [_block(big, seeds + s * size, seeds + (s + 1) * size) for s in range(seeds)]
    exact_truth = _simple_metrics(evaluate_rule(model, rule, draws=truth_sets).cell_draws[0])  # (seeds, D)
    serious = model.serious_conditions
    codes, _ = _forward_sample(model, truth_sets.tables, [*rule.variables, *serious], n, np.random.default_rng(5))
    import pandas as pd

    frame = pd.DataFrame({v: np.asarray(model.states[v], dtype=object)[codes[v]] for v in rule.variables})
    flag = rule.fires(frame).reshape(seeds, n)[:, :, None]
    sick = np.stack([codes[c] == model.states[c].index("yes") for c in serious], axis=1).reshape(seeds, n, -1)
    sick = np.concatenate([sick, sick.any(axis=2, keepdims=True)], axis=2)  # (seeds, n, D)
    counts = np.stack([(flag & sick).sum(1), (flag & ~sick).sum(1), (~flag & sick).sum(1), (~flag & ~sick).sum(1)],
                      axis=2)
    study_truth = _simple_metrics(counts.astype(float))
    hits = {"exact": [], "study": []}
    assert len(replicates) == seeds
    for s, block in enumerate(replicates):
        a = evaluate_rule(model, rule, draws=block, seed=s).metrics
        b = evaluate_rule(model, rule, draws=block, seed=s, cohort_size=n).metrics
        for kind, res, tru in (("exact", a, exact_truth), ("study", b, study_truth)):
            for metric in ("sensitivity", "specificity", "ppv", "npv", "flagged"):
                rows = res[res["metric"] == metric]
                for j, (lo, hi) in enumerate(zip(rows["low"], rows["high"], strict=True)):
                    t = tru[metric][s, j]
                    if np.isfinite(t) and np.isfinite(lo):
                        hits[kind].append(lo <= t <= hi)
    exact_cov, study_cov = np.mean(hits["exact"]), np.mean(hits["study"])
    print(f"coverage: exact {exact_cov:.3f} ({len(hits['exact'])}), study {study_cov:.3f} ({len(hits['study'])})")
    assert 0.90 <= exact_cov <= 0.99, exact_cov
    assert 0.90 <= study_cov <= 0.995, study_cov  # discrete counts: ties at the bounds cover a little more


def test_intervals_contain_point_and_study_widens_them(model):
    a = evaluate_rule(model, "perc_kline_2004", draws=300, seed=1)
    b = evaluate_rule(model, "perc_kline_2004", draws=300, seed=1, cohort_size=500)
    ta, tb = a.table.xs(ANY_SERIOUS, level="condition"), b.table.xs(ANY_SERIOUS, level="condition")
    for m in ("sensitivity", "specificity", "ppv", "flagged"):
        assert (ta[(m, "low")] <= ta[(m, "value")]).all() and (ta[(m, "value")] <= ta[(m, "high")]).all()
        width_a = float((ta[(m, "high")] - ta[(m, "low")]).iloc[0])
        width_b = float((tb[(m, "high")] - tb[(m, "low")]).iloc[0])
        assert width_b > width_a
    # the same seed gives the same numbers; flagged per case is the reciprocal of the PPV
    again = evaluate_rule(model, "perc_kline_2004", draws=300, seed=1, cohort_size=500)
    assert again.metrics.equals(b.metrics)
    t = b.table.loc[("PERC (Kline 2004)", ANY_SERIOUS)]
    assert t[("flagged_per_case", "low")] == pytest.approx(1 / t[("ppv", "high")])
    assert t[("flagged_per_case", "value")] == pytest.approx(1 / t[("ppv", "value")])


def test_decision_curve(model):
    res = evaluate_rule(model, ["deyo_diehl_1988", "downie_2013"], draws=100, seed=0)
    ppv = res.table.xs(ANY_SERIOUS, level="condition")[("ppv", "value")]
    prev = float(res.cells.loc[("Downie 2013 informative red flags", ANY_SERIOUS), "prevalence"])
    pts = [0.0, prev, *ppv.tolist(), 0.2]
    dc = res.decision_curve(thresholds=pts)
    assert set(dc["strategy"]) == {*ppv.index, "flag everyone", "flag no one"}
    for name, p in ppv.items():
        part = dc[dc["strategy"] == name].set_index("threshold")
        assert part.loc[p, "net_benefit"] == pytest.approx(0.0, abs=1e-15)  # crosses zero at its PPV
        assert part.loc[0.0, "net_benefit"] == pytest.approx(res.cells.loc[(name, ANY_SERIOUS), "true_positive"])
        assert (part["low"] <= part["high"]).all()
    everyone = dc[dc["strategy"] == "flag everyone"].set_index("threshold")
    assert everyone.loc[prev, "net_benefit"] == pytest.approx(0.0, abs=1e-15)
    assert (dc[dc["strategy"] == "flag no one"]["net_benefit"] == 0).all()
    with pytest.raises(BayesNetError, match="thresholds"):
        res.decision_curve(thresholds=[0.5, 1.0])


# ------------------------------------------------------------------------------------ bad rules
def _write(tmp_path, name, text):
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize("text, match", [
    ("name: x\nrule:\n  any:\n    - fevr: 'yes'\n", r"bad\.yaml: rule\.any\[0\]: unknown variable 'fevr'; did you mean 'fever'\?"),
    ("name: x\nrule:\n  fever: maybe\n", r"rule\.fever: unknown state 'maybe' of variable 'fever'; states are yes, no$"),
    ("name: x\nrule:\n  age_group: [under50]\n", r"unknown state 'under50' .*did you mean 'under_50'"),
    ("name: x\nrule:\n  spinal_metastasis: 'yes'\n", r"'spinal_metastasis' is a condition; a rule tests what can be observed"),
    ("name: x\nrule:\n  any: {fever: 'yes'}\n", r"rule\.any: any: takes a list of expressions"),
    ("name: x\nrule:\n  all: []\n", r"rule\.all: all: takes a non-empty list"),
    ("name: x\nrule:\n  any: [{fever: 'yes'}]\n  sex: male\n", r"'any' must be alone in its mapping"),
    ("name: x\nrule:\n  not: [{fever: 'yes'}]\n", r"rule\.not: not: takes one expression, not a list"),
    ("name: x\nrule:\n  any: [fever]\n", r"rule\.any\[0\]: an expression must be a mapping .*got str 'fever'"),
    ("name: x\nrule:\n  fever: []\n", r"empty list of states of 'fever'"),
    ("name: x\nrul:\n  fever: 'yes'\n", r"bad\.yaml: rul: unknown field 'rul'; did you mean 'rule'\?"),
    ("rule:\n  fever: 'yes'\n", r"name: the field 'name' is required"),
    ("name: x\n", r"rule: the field 'rule' is required"),
    ("name: x\nschema_version: 2\nrule: {fever: 'yes'}\n", r"schema_version must be 1"),
    ("name: x\nrule: {fever: 'yes'}\nitems:\n  - item: Fever\n", r"items\[0\]: say what the item maps to"),
    ("name: x\nrule: {fever: 'yes', fever: 'no'}\n", r"duplicate key 'fever'"),
    ("name: x\nrule: [fever\n", r"bad\.yaml: line \d+: not valid YAML"),
    ("", r"bad\.yaml: file is empty"),
])
def test_bad_rule_files_name_the_culprit(model, tmp_path, text, match):
    path = _write(tmp_path, "bad.yaml", text)
    with pytest.raises(RuleFileError, match=match):
        evaluate_rule(model, str(path), draws=0)


def test_json_rules_and_other_sources(model, tmp_path):
    good = _write(tmp_path, "r.json", json.dumps({"name": "j", "rule": {"any": [{"fever": "yes"}, {"sex": "male"}]}}))
    res = evaluate_rule(model, [str(good), {"fever": "yes"}], draws=0)
    assert [r.name for r in res.rules] == ["j", "rule"]
    bad = _write(tmp_path, "b.json", '{"name": "j", "name": "k", "rule": {}}')
    with pytest.raises(RuleFileError, match=r"b\.json: not valid JSON: duplicate key 'name'"):
        evaluate_rule(model, str(bad), draws=0)
    with pytest.raises(RuleFileError, match=r"not valid JSON"):
        evaluate_rule(model, str(_write(tmp_path, "c.json", "{")), draws=0)
    with pytest.raises(RuleFileError, match=r"missing\.yaml: file not found"):
        evaluate_rule(model, str(tmp_path / "missing.yaml"), draws=0)
    with pytest.raises(UnknownNameError, match=r"unknown rule 'deyo' \(neither a file nor a shipped rule\); valid rules are: acp_aps_2007, deyo"):
        evaluate_rule(model, "deyo", draws=0)
    with pytest.raises(BayesNetError, match="two rules are named"):
        evaluate_rule(model, ["downie_2013", "downie_2013"], draws=0)
    for bad_arg in ({"draws": -1}, {"cohort_size": 0}, {"seed": -2}, {"level": 1.0}, {"cohort": 1.5}):
        with pytest.raises(BayesNetError):
            evaluate_rule(model, "downie_2013", **{"draws": 0, **bad_arg})


def test_shipped_rules_are_cited_and_load_in_every_setting(models):
    assert len(shipped_rules()) >= 3
    for name in shipped_rules():
        for m in models.values():
            r = load_rule(name, m)
            assert r.citation and r.population and r.items and r.setting in m.priors.settings
        mapped = " ".join(i["maps_to"] or "" for i in r.items)
        assert all(v in mapped for v in r.variables), name  # every variable tested is an item's mapping
        assert all(i["note"] for i in r.items if i["maps_to"] is None), name  # what has no variable says why


# ------------------------------------------------------------------------------------ presentation
def test_text_html_and_plot(model):
    import matplotlib

    matplotlib.use("Agg")
    res = evaluate_rule(model, ["deyo_diehl_1988", "acp_aps_2007"], draws=50, cohort_size=300, cohort=5000)
    text = repr(res)
    assert text.startswith("Red-flag rules in primary_care: 50 parameter draws") and "Sampled cohort: 5,000" in text
    html = res._repr_html_()
    assert html.count('data-metric="sensitivity"') == 2 + 2 * len(res.conditions)
    ax = rules_view.decision_curve_plot(res, condition="spinal_metastasis")
    assert len(ax.get_lines()) >= 4 and "Spinal metastasis" in ax.get_title()
    assert set(METRICS) == set(res.metrics["metric"])


def test_rule_command(model, tmp_path):
    out = CliRunner().invoke(rules_view.rule_command, ["downie_2013", "perc_kline_2004", "--draws", "20", "--json",
                                                       "--cohort-size", "400", "--figure", str(tmp_path / "dc.png")])
    assert out.exit_code == 0, out.output
    data = json.loads(out.output)
    assert data["draws"] == 20 and data["cohort_size"] == 400 and len(data["rules"]) == 2
    assert (tmp_path / "dc.png").stat().st_size > 0
    bad = _write(tmp_path, "bad.yaml", "name: x\nrule: {fevr: 'yes'}\n")
    err = CliRunner().invoke(rules_view.rule_command, [str(bad), "--draws", "0"], standalone_mode=False)
    assert isinstance(err.exception, RuleFileError) and "did you mean 'fever'" in str(err.exception)


def test_rule_command_exit_status(capsys, tmp_path):
    bad = _write(tmp_path, "bad.yaml", "name: x\nrule: {fever: maybe}\n")
    assert rules_view.main([str(bad), "--draws", "0"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "bad.yaml" in err[0] and "unknown state 'maybe'" in err[0]
    assert rules_view.main(["downie_2013", "--draws", "0", "--condition", "fevr"]) == 2
