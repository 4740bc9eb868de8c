"""What-if helpers: scenario grids, sweeps and synthetic cohorts (bayesnet.reasoning.whatif)."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pandas as pd
import pytest

import bayesnet
from bayesnet.errors import EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.reasoning import whatif
from bayesnet.reasoning.whatif import sample_cohort, scenario_grid, sweep, what_if

EXACT = 1e-12


@pytest.fixture(scope="module")
def cohort(model):
    """A large primary-care cohort, drawn once."""
    return sample_cohort(model, 200_000, seed=11)


# ---------------------------------------------------------------------------------- grids
def test_grid_has_every_combination_once(model):
    variables = ["age_group", "sex", "fever", "d_dimer"]
    grid = scenario_grid(model, variables, evidence={"history_of_cancer": "yes"})
    assert len(grid) == math.prod(len(model.states[v]) for v in variables) == 24
    assert list(grid.columns) == [*variables, "history_of_cancer"]
    combos = set(map(tuple, grid[variables].astype(str).to_numpy()))
    assert combos == set(itertools.product(*(model.states[v] for v in variables)))
    assert not grid[variables].duplicated().any()
    assert (grid["history_of_cancer"] == "yes").all()
    # itertools.product order, categorical columns with the model's state order
    expected = [tuple(map(str, r)) for r in itertools.product(*(model.states[v] for v in variables))]
    assert [tuple(r) for r in grid[variables].astype(str).to_numpy()] == expected
    for v in variables:
        assert isinstance(grid[v].dtype, pd.CategoricalDtype)
        assert list(grid[v].cat.categories) == list(model.states[v])


def test_grid_chosen_states_and_not_observed(model):
    grid = scenario_grid(model, {"age_group": ["70_plus", "under_50"], "d_dimer": ["positive", None]})
    assert len(grid) == 4
    assert list(grid["age_group"].cat.categories) == ["70_plus", "under_50"]
    assert grid["d_dimer"].isna().sum() == 2
    post = model.posteriors(grid)
    row = grid.index[(grid["age_group"] == "70_plus") & grid["d_dimer"].isna()][0]
    assert post.loc[row, "dvt"] == pytest.approx(
        model.diagnose({"age_group": "70_plus"}).ranking.loc["dvt", "posterior"], abs=EXACT
    )
    # a single state may be given as a string; no variables at all is one empty scenario
    assert len(scenario_grid(model, {"sex": "male"})) == 1
    assert scenario_grid(model, []).shape == (1, 0)


def test_grid_through_csv_and_batch_matches_what_if(model, tmp_path):
    from bayesnet.io.batch import run_batch

    grid = scenario_grid(model, {"fever": ["yes", None], "iv_drug_use": ["yes", "no"]}, evidence={"wbc": "elevated"})
    grid.to_csv(tmp_path / "grid.csv", index=False)
    run_batch(model, tmp_path / "grid.csv", tmp_path / "out.csv", progress=False)
    out = pd.read_csv(tmp_path / "out.csv")
    wide = what_if(
        model, {"fever": ["yes", None], "iv_drug_use": ["yes", "no"]}, evidence={"wbc": "elevated"}, tidy=False
    )
    np.testing.assert_allclose(out[model.conditions].to_numpy(), wide[model.conditions].to_numpy(), rtol=0, atol=1e-12)


# ---------------------------------------------------------------------------------- what_if
def test_what_if_equals_posteriors_and_diagnose(model):
    variables = {"age_group": None, "history_of_cancer": None, "unexplained_weight_loss": ["yes", None]}
    evidence = {"night_pain": "yes"}
    res = what_if(model, variables, evidence=evidence)
    grid = scenario_grid(model, variables, evidence=evidence)
    k = len(model.conditions)
    assert list(res.columns) == [
        "setting",
        *variables,
        "condition",
        "prior",
        "posterior",
        "likelihood_ratio",
    ]
    assert len(res) == len(grid) * k
    assert (res["setting"] == "primary_care").all()
    assert res.attrs["evidence"] == evidence
    post = model.posteriors(grid)
    np.testing.assert_allclose(res["posterior"].to_numpy(), post.to_numpy().reshape(-1), rtol=0, atol=EXACT)
    for i in [0, 5, len(grid) - 1]:
        ev = {c: v for c, v in grid.iloc[i].items() if isinstance(v, str)}
        ranking = model.diagnose(ev).ranking
        block = res.iloc[i * k : (i + 1) * k].set_index("condition")
        for c in model.conditions:
            for col in ("prior", "posterior", "likelihood_ratio"):
                assert block.loc[c, col] == pytest.approx(ranking.loc[c, col], rel=1e-9, abs=EXACT), (i, c, col)


def test_what_if_wide_is_the_tidy_table_pivoted(model):
    tidy = what_if(model, ["sex", "osteoporosis"], conditions=["compression_fracture", "multiple_myeloma"])
    wide = what_if(model, ["sex", "osteoporosis"], conditions=["compression_fracture", "multiple_myeloma"], tidy=False)
    assert list(wide.columns) == ["setting", "sex", "osteoporosis", "compression_fracture", "multiple_myeloma"]
    assert len(wide) == 4 and len(tidy) == 8
    piv = tidy.pivot(index=["sex", "osteoporosis"], columns="condition", values="posterior")
    for _, row in wide.iterrows():
        for c in ("compression_fracture", "multiple_myeloma"):
            assert piv.loc[(row["sex"], row["osteoporosis"]), c] == pytest.approx(row[c], abs=EXACT)


def test_what_if_crosses_settings(model):
    res = what_if(
        model, ["age_group", "d_dimer"], evidence={"prior_vte": "yes"}, settings=["primary_care", "emergency"]
    )
    assert list(res["setting"].cat.categories) == ["primary_care", "emergency"]
    assert len(res) == 2 * 6 * len(model.conditions)
    emergency = bayesnet.load_model("emergency")
    sub = res[(res["setting"] == "emergency") & (res["age_group"] == "70_plus") & (res["d_dimer"] == "positive")]
    ranking = emergency.diagnose({"prior_vte": "yes", "age_group": "70_plus", "d_dimer": "positive"}).ranking
    for _, r in sub.iterrows():
        assert r["posterior"] == pytest.approx(ranking.loc[r["condition"], "posterior"], abs=EXACT)
        assert r["prior"] == pytest.approx(ranking.loc[r["condition"], "prior"], abs=EXACT)
    # the settings differ, so the same scenario gets different numbers
    pe = res[res["condition"] == "pulmonary_embolism"]
    assert not np.allclose(
        pe.loc[pe["setting"] == "primary_care", "posterior"], pe.loc[pe["setting"] == "emergency", "posterior"]
    )
    # a single setting name is accepted, and another setting than the model's own
    only = what_if(model, ["sex"], settings="emergency", conditions="dvt")
    assert only["setting"].tolist() == ["emergency", "emergency"]


def test_impossible_scenarios_are_named(model):
    with pytest.raises(ImpossibleEvidenceError, match="mechanical_pain=yes") as info:
        what_if(model, {"mechanical_pain": ["yes"], "spinal_metastasis": ["yes", "no"]})
    assert info.value.rows == [0]


# ---------------------------------------------------------------------------------- sweep
def test_sweep_age_raises_metastasis(model):
    s = sweep(model, "age_group", conditions="spinal_metastasis", settings=["primary_care", "emergency"])
    assert list(s.columns) == [
        "setting",
        "variable",
        "state",
        "condition",
        "prior",
        "posterior",
        "likelihood_ratio",
    ]
    assert (s["variable"] == "age_group").all()
    for setting, part in s.groupby("setting", observed=True):
        assert part["state"].tolist() == ["under_50", "50_to_69", "70_plus"]
        assert (np.diff(part["posterior"].to_numpy()) > -1e-12).all(), setting  # never falls with age
        assert part["posterior"].iloc[-1] > part["posterior"].iloc[0]
        # likelihood ratio straddles 1: young lowers the odds, old raises them
        assert part["likelihood_ratio"].iloc[0] < 1 < part["likelihood_ratio"].iloc[-1]
    with_cancer = sweep(model, "age_group", conditions="spinal_metastasis", evidence={"history_of_cancer": "yes"})
    assert (np.diff(with_cancer["posterior"].to_numpy()) > -1e-12).all()
    assert (with_cancer["posterior"].to_numpy() > s[s["setting"] == "primary_care"]["posterior"].to_numpy()).all()


def test_sweep_not_observed_row_is_the_baseline(model):
    s = sweep(model, "esr_crp", states=["elevated", None, "normal"], conditions="vertebral_osteomyelitis")
    assert s["state"].isna().tolist() == [False, True, False]
    base = s["posterior"].iloc[1]
    assert base == pytest.approx(model.prior_probabilities()["vertebral_osteomyelitis"], abs=EXACT)
    assert s["likelihood_ratio"].iloc[1] == pytest.approx(1.0, abs=1e-9)
    assert s["posterior"].iloc[0] > base > s["posterior"].iloc[2]
    stacked = pd.concat([s, sweep(model, "fever", conditions="vertebral_osteomyelitis")], ignore_index=True)
    assert stacked["variable"].tolist().count("fever") == 2


# ---------------------------------------------------------------------------------- cohort
def assert_same(a: pd.DataFrame, b: pd.DataFrame) -> None:
    """Same columns, index, categories and values (pandas' assert_frame_equal is slow on categoricals)."""
    assert list(a.columns) == list(b.columns)
    assert a.index.equals(b.index)
    assert a.equals(b)


def test_cohort_is_reproducible(model):
    a = sample_cohort(model, 5_000, seed=3)
    b = sample_cohort(model, 5_000, seed=3)
    c = sample_cohort(model, 5_000, seed=4)
    assert_same(a, b)
    assert not a.equals(c)
    assert a.attrs["seed"] == 3
    # a smaller cohort is a prefix of a larger one (blocks have their own streams)
    big = sample_cohort(model, 70_000, seed=3)
    assert_same(big.iloc[:5_000], a)
    # a column's values do not depend on which columns are asked for
    few = sample_cohort(model, 5_000, seed=3, columns=["pulmonary_embolism", "d_dimer"])
    assert list(few.columns) == ["pulmonary_embolism", "d_dimer"]
    assert_same(few, a[["pulmonary_embolism", "d_dimer"]])
    # an unseeded cohort records its seed, so it can be drawn again
    d = sample_cohort(model, 100)
    assert_same(d, sample_cohort(model, 100, seed=d.attrs["seed"]))
    # a numpy Generator works too
    e = sample_cohort(model, 100, seed=np.random.default_rng(0))
    assert_same(e, sample_cohort(model, 100, seed=np.random.default_rng(0)))


def test_cohort_shape_and_dtypes(model, cohort):
    assert cohort.shape == (200_000, len(model.states))
    assert list(cohort.columns) == list(model.states)
    for v, states in model.states.items():
        assert isinstance(cohort[v].dtype, pd.CategoricalDtype)
        assert tuple(cohort[v].cat.categories) == states
    assert not cohort.isna().any().any()
    empty = sample_cohort(model, 0, seed=0)
    assert empty.shape == (0, len(model.states))


def _within(freq: float, p: float, n: int, k: float = 4.0) -> bool:
    se = math.sqrt(max(p * (1 - p), 1e-12) / n)
    return abs(freq - p) <= k * se + 1e-12


def test_cohort_frequencies_match_exact_marginals(model, cohort):
    n = len(cohort)
    targets = [
        *model.conditions,
        "age_group",
        "sex",
        "history_of_cancer",
        "osteoporosis",
        "fever",
        "d_dimer",
        "esr_crp",
        "haemoglobin",
    ]
    exact = model.marginals(None, targets)
    for v in targets:
        counts = cohort[v].value_counts(normalize=True).reindex(list(model.states[v]), fill_value=0.0)
        for s, p in zip(model.states[v], exact[v], strict=True):
            assert _within(counts[s], p, n), (v, s, counts[s], p)


def test_cohort_mechanical_pain_is_no_modelled_condition(model, cohort):
    modelled = [c for c in model.conditions if c != "mechanical_pain"]
    some = (cohort[modelled] == "yes").any(axis=1)
    assert ((cohort["mechanical_pain"] == "yes") == ~some).all()


def test_cohort_conditional_frequency_matches_model():
    """P(d_dimer = positive | PE = yes) in a high-risk emergency cohort, against exact inference."""
    emergency = bayesnet.load_model("emergency")
    evidence = {  # root variables only (history of cancer and a past thrombosis depend on age)
        "age_group": "70_plus",
        "significant_trauma": "yes",
        "recent_surgery_or_immobilisation": "yes",
    }
    cohort = sample_cohort(emergency, 200_000, seed=5, evidence=evidence, columns=["pulmonary_embolism", "d_dimer"])
    pe = cohort[cohort["pulmonary_embolism"] == "yes"]
    exact_pe = emergency.marginals(evidence, ["pulmonary_embolism"])["pulmonary_embolism"][0]
    assert _within(len(pe) / len(cohort), exact_pe, len(cohort))  # fixing root variables is conditioning
    assert len(pe) > 1_000
    p = emergency.marginals({**evidence, "pulmonary_embolism": "yes"}, ["d_dimer"])["d_dimer"][0]
    assert _within((pe["d_dimer"] == "positive").mean(), p, len(pe))


def test_cohort_posteriors_population_question(model, cohort):
    """Feeding the cohort (truth hidden) to the model: mean posterior equals the prevalence."""
    sub = cohort.iloc[:20_000]
    post = model.posteriors(sub[["age_group", "history_of_cancer", "esr_crp", "unexplained_weight_loss"]])
    # E[P(C | observed)] = P(C): the average posterior is the prevalence, up to sampling error
    p = model.prior_probabilities()["spinal_metastasis"]
    se = post["spinal_metastasis"].std() / math.sqrt(len(sub))
    assert abs(post["spinal_metastasis"].mean() - p) < 5 * se + 1e-9


def test_bench_forward_sample_shares_the_sampler(model):
    """benchmarks.harness.forward_sample (pgmpy network, one rng stream) uses the same sampling core."""
    from benchmarks.harness import forward_sample

    full = forward_sample(model.network, 20_000, np.random.default_rng(0))
    assert set(full.columns) == set(model.states)
    assert full["age_group"].isin(model.states["age_group"]).all()
    some = (full[[c for c in model.conditions if c != "mechanical_pain"]] == "yes").any(axis=1)
    assert ((full["mechanical_pain"] == "yes") == ~some).all()
    p = model.marginals(None, ["age_group"])["age_group"]
    for s, ps in zip(model.states["age_group"], p, strict=True):
        assert _within((full["age_group"] == s).mean(), ps, len(full))


# ---------------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("call", "error", "text"),
    [
        (lambda m: scenario_grid(m, ["age_grup"]), UnknownNameError, "did you mean 'age_group'"),
        (lambda m: scenario_grid(m, {"fever": ["yse"]}), UnknownNameError, "did you mean 'yes'"),
        (lambda m: scenario_grid(m, {"fever": []}), EvidenceError, "empty list of states for 'fever'"),
        (lambda m: scenario_grid(m, {"fever": ["yes", "yes"]}), EvidenceError, "listed twice"),
        (lambda m: scenario_grid(m, {"fever": [True]}), EvidenceError, "state names"),
        (lambda m: scenario_grid(m, 3), EvidenceError, "list of variable names"),
        (lambda m: scenario_grid(m, ["fever"], evidence={"fever": "no"}), EvidenceError, "both a grid variable"),
        (lambda m: scenario_grid(m, ["fever"], evidence={"calcium": "hgih"}), UnknownNameError, "did you mean 'high'"),
        (
            lambda m: scenario_grid(m, ["sex"], evidence={"fever": {"yes": 0.8, "no": 0.2}}),
            EvidenceError,
            "hard evidence only",
        ),
        (lambda m: what_if(m, ["sex"], settings="emergncy"), UnknownNameError, "did you mean 'emergency'"),
        (lambda m: what_if(m, ["sex"], settings=[]), EvidenceError, "empty list of settings"),
        (lambda m: what_if(m, ["sex"], conditions=["dvtt"]), UnknownNameError, "did you mean 'dvt'"),
        (lambda m: sweep(m, "agegroup"), UnknownNameError, "did you mean 'age_group'"),
        (lambda m: sample_cohort(m, -1), EvidenceError, "non-negative integer"),
        (lambda m: sample_cohort(m, 2.5), EvidenceError, "non-negative integer"),
        (lambda m: sample_cohort(m, 10, seed="x"), EvidenceError, "seed"),
        (lambda m: sample_cohort(m, 10, columns=["d_dimmer"]), UnknownNameError, "did you mean 'd_dimer'"),
        (lambda m: sample_cohort(m, 10, columns=[]), EvidenceError, "empty list of variables"),
        (lambda m: sample_cohort(m, 10, evidence={"fever": "yes"}), EvidenceError, "only fix risk factors"),
        (lambda m: sample_cohort(m, 10, evidence={"age_group": "old"}), UnknownNameError, "unknown state"),
    ],
)
def test_bad_input_raises_clear_errors(model, call, error, text):
    with pytest.raises(error, match=text):
        call(model)


def test_absurd_sizes_are_refused_before_allocating(model, monkeypatch):
    every = list(model.states)  # ~2**50 combinations
    with pytest.raises(EvidenceError, match="bayesnet batch"):
        scenario_grid(model, every)
    with pytest.raises(EvidenceError, match="MAX_ROWS"):
        what_if(model, every)
    monkeypatch.setattr(whatif, "MAX_ROWS", 100)
    assert len(scenario_grid(model, ["age_group", "sex"])) == 6
    with pytest.raises(EvidenceError, match="fewer conditions"):  # 6 scenarios x 9 conditions x 2 settings
        what_if(model, ["age_group", "sex"], settings=["primary_care", "emergency"])
    with pytest.raises(EvidenceError, match="MAX_COHORT_CELLS"):
        sample_cohort(model, 10**12)
