"""Tests of the compiled junction-tree engine (bayesnet.inference.engine) against pgmpy.

Reference networks are pgmpy's bundled BIF files, with their CPT columns
renormalised (the files carry ~1e-7 rounding; exact answers then no longer
depend on which barren nodes an algorithm prunes).  Evidence is drawn by
forward-sampling full configurations with numpy and observing random subsets,
so it always has non-zero probability.
"""

from __future__ import annotations

import math
import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD, VariableElimination
from bayesnet.errors import BayesNetError, EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.inference.engine import IMPOSSIBLE_MESSAGE, CompiledNetwork, EngineResult, compile_network
from bayesnet.inference.junction_tree import build_junction_tree, merge_cliques
from benchmarks.harness import forward_sample, load_reference

TOL = 1e-9

#: networks this engine claims exact agreement with pgmpy on
SMALL = ["asia", "cancer", "earthquake", "survey", "sachs", "child"]
BIG = ["alarm", "insurance", "hepar2", "win95pts", "hailfinder", "water", "andes", "pathfinder", "pigs"]
CLAIMED = SMALL + BIG


@cache
def load(name: str) -> DiscreteBayesianNetwork:
    """Load a bundled BIF network with renormalised CPDs (cached per session)."""
    return load_reference(name, normalize=True)


@cache
def compiled(name: str) -> CompiledNetwork:
    return compile_network(load(name))


@pytest.fixture(scope="module")
def nets():
    """Accessor for (model, compiled network) pairs, loaded lazily and cached."""
    return lambda name: (load(name), compiled(name))


def make_evidence(model, n: int, seed: int) -> pd.DataFrame:
    """Rows of evidence: row 0 empty, row 1 all but one observed, the rest random subsets."""
    rng = np.random.default_rng(seed)
    full = forward_sample(model, n, rng)
    frac = rng.random((n, 1))
    mask = rng.random(full.shape) < frac
    mask[0, :] = False
    mask[1, :] = True
    mask[1, rng.integers(full.shape[1])] = False
    return full.where(mask)


def ve_marginal(ve, model, var, evidence, states):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = ve.query([var], evidence=evidence, show_progress=False)
    names = list(q.state_names[var])
    return np.array([q.values[names.index(s)] for s in states])


def row_evidence(df: pd.DataFrame, label) -> dict:
    row = df.loc[label]
    return {k: v for k, v in row.items() if isinstance(v, str)}


# --------------------------------------------------------------------------- exactness


@pytest.mark.parametrize("name", CLAIMED)
def test_agrees_with_pgmpy_variable_elimination(nets, name):
    model, net = nets(name)
    n_rows, n_targets = (24, 8) if name in SMALL else (12, 3)
    df = make_evidence(model, n_rows, seed=len(name))
    post = net.posteriors(df)
    ve = VariableElimination(model)
    rng = np.random.default_rng(1)
    multi = [v for v in net.variables if net.cardinality[v] > 2]
    worst = 0.0
    checked_multi = False
    for label in df.index:
        ev = row_evidence(df, label)
        free = [v for v in net.variables if v not in ev]
        # prefer multi-state variables, then random others
        pick = [v for v in free if v in multi][: n_targets // 2]
        rest = [v for v in free if v not in pick]
        pick += list(rng.choice(rest, size=min(len(rest), n_targets - len(pick)), replace=False)) if rest else []
        for v in pick:
            ref = ve_marginal(ve, model, v, ev, net.states[v])
            got = post.loc[label, v].to_numpy()
            worst = max(worst, float(np.abs(got - ref).max()))
            checked_multi |= net.cardinality[v] > 2
        # observed targets are one-hot
        for v, s in list(ev.items())[:3]:
            expect = np.array([1.0 if x == s else 0.0 for x in net.states[v]])
            np.testing.assert_array_equal(post.loc[label, v].to_numpy(), expect)
    assert worst <= TOL, f"{name}: max abs diff {worst:.3g}"
    assert checked_multi or not multi


@pytest.mark.parametrize("name", ["asia", "alarm", "hepar2"])
def test_single_row_dict_path_matches_batch(nets, name):
    model, net = nets(name)
    df = make_evidence(model, 10, seed=3)
    post = net.posteriors(df)
    for label in df.index:
        one = net.posteriors_dict(row_evidence(df, label))
        flat = np.concatenate([one[v] for v in net.variables])
        np.testing.assert_allclose(flat, post.loc[label].to_numpy(), rtol=0, atol=1e-12)
        # a one-row DataFrame takes the small-batch path too
        single = net.posteriors(df.loc[[label]])
        np.testing.assert_allclose(single.to_numpy()[0], post.loc[label].to_numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", CLAIMED)
def test_junction_tree_is_valid(nets, name):
    _, net = nets(name)
    jt = net.junction_tree
    jt.check()
    coarse = merge_cliques(jt, 256)
    coarse.check()
    assert len(coarse.cliques) <= len(jt.cliques)
    # every family lies in some clique
    model = load(name)
    cliques = [set(c) for c in net.cliques]
    for v in model.nodes():
        fam = {v, *model.get_parents(v)}
        assert any(fam <= c for c in cliques)
    assert net.max_clique_size == max(math.prod(net.cardinality[u] for u in c) for c in net.cliques)


# --------------------------------------------------------------------------- batching


def test_chunking_invariance(nets):
    model, net = nets("alarm")
    df = make_evidence(model, 40, seed=7)
    results = [net.evaluate(df, chunk_size=cs) for cs in (1, 7, 10_000, None)]
    base = results[2]
    for res in results:
        np.testing.assert_allclose(res.posteriors.to_numpy(), base.posteriors.to_numpy(), rtol=0, atol=1e-13)
        np.testing.assert_allclose(res.log_evidence.to_numpy(), base.log_evidence.to_numpy(), rtol=1e-13, atol=1e-13)
        assert (res.errors == "").all()


def test_row_order_invariance_and_index(nets):
    model, net = nets("child")
    df = make_evidence(model, 30, seed=11)
    df.index = [f"case-{i}" for i in range(len(df))]
    post = net.posteriors(df)
    assert list(post.index) == list(df.index)
    assert post.columns.names == ["variable", "state"]
    perm = np.random.default_rng(0).permutation(len(df))
    shuffled = net.posteriors(df.iloc[perm])
    assert list(shuffled.index) == list(df.index[perm])
    np.testing.assert_allclose(shuffled.loc[post.index].to_numpy(), post.to_numpy(), rtol=0, atol=1e-13)


def test_result_layout_and_targets(nets):
    _, net = nets("asia")
    df = pd.DataFrame({"smoke": ["yes", None, "no"], "dysp": [None, "yes", "no"]}, index=[10, 20, 30])
    post = net.posteriors(df, targets=["lung", "bronc"])
    assert list(post.columns) == [("lung", s) for s in net.states["lung"]] + [
        ("bronc", s) for s in net.states["bronc"]
    ]
    assert list(post.index) == [10, 20, 30]
    np.testing.assert_allclose(post.T.groupby(level=0).sum().T.to_numpy(), 1.0, atol=1e-12)
    full = net.posteriors(df)
    assert len(full.columns) == sum(net.cardinality.values())
    # a single string target and duplicates are accepted
    assert list(net.posteriors(df, targets="lung").columns.get_level_values(0).unique()) == ["lung"]
    assert net.posteriors(df, targets=["lung", "lung"]).shape == (3, 2)
    # empty frames work
    empty = net.posteriors(df.iloc[:0], targets=["lung"])
    assert empty.shape == (0, 2)
    # no columns at all: the priors
    prior = net.posteriors(pd.DataFrame(index=range(2)), targets=["tub"])
    np.testing.assert_allclose(prior.to_numpy(), [[0.0104, 0.9896]] * 2, atol=1e-12)
    assert net.variables == list(load("asia").nodes())
    assert net.states["smoke"] == ["yes", "no"] and net.cardinality["smoke"] == 2


def test_str_matching_of_values():
    model = DiscreteBayesianNetwork([("a", "b")])
    model.add_cpds(
        TabularCPD("a", 2, [[0.3], [0.7]], state_names={"a": ["0", "1"]}),
        TabularCPD(
            "b", 3, [[0.2, 0.5], [0.3, 0.25], [0.5, 0.25]], evidence=["a"], evidence_card=[2],
            state_names={"b": ["1", "2", "3"], "a": ["0", "1"]},
        ),
    )
    net = compile_network(model)
    as_str = net.posteriors(pd.DataFrame({"b": ["2", "3"]}), targets=["a"])
    as_int = net.posteriors(pd.DataFrame({"b": [2, 3]}), targets=["a"])
    as_float = net.posteriors(pd.DataFrame({"b": [2.0, np.nan, 3.0]}), targets=["a"])  # as read from a CSV
    np.testing.assert_array_equal(as_str.to_numpy(), as_int.to_numpy())
    np.testing.assert_array_equal(as_float.to_numpy()[[0, 2]], as_int.to_numpy())
    np.testing.assert_allclose(as_float.to_numpy()[1], [0.3, 0.7])
    np.testing.assert_allclose(as_str.to_numpy()[0], np.array([0.3 * 0.3, 0.7 * 0.25]) / (0.09 + 0.175))
    assert net.posteriors_dict({"b": 2})["a"].tolist() == pytest.approx(as_str.to_numpy()[0].tolist())


# --------------------------------------------------------------------------- errors


def test_impossible_evidence(nets):
    _, net = nets("asia")
    df = pd.DataFrame(
        {"either": ["no", "no", None, "no"], "tub": ["yes", None, "yes", "yes"], "smoke": [None, "yes", None, "no"]},
        index=["bad1", "ok1", "ok2", "bad2"],
    )
    with pytest.raises(ImpossibleEvidenceError) as info:
        net.posteriors(df)
    assert info.value.rows == ["bad1", "bad2"]
    assert "'bad1'" in str(info.value) and "impossible" in str(info.value)
    assert isinstance(info.value, BayesNetError)

    res = net.evaluate(df)
    assert isinstance(res, EngineResult)
    assert res.errors.to_dict() == {"bad1": IMPOSSIBLE_MESSAGE, "ok1": "", "ok2": "", "bad2": IMPOSSIBLE_MESSAGE}
    assert res.log_evidence["bad1"] == -np.inf and res.log_evidence["bad2"] == -np.inf
    assert res.posteriors.loc[["bad1", "bad2"]].isna().all().all()
    assert list(res.ok) == [False, True, True, False]
    good = net.posteriors(df.loc[["ok1", "ok2"]])
    np.testing.assert_array_equal(res.posteriors.loc[["ok1", "ok2"]].to_numpy(), good.to_numpy())
    assert np.isfinite(res.log_evidence[["ok1", "ok2"]]).all()

    with pytest.raises(ImpossibleEvidenceError):
        net.posteriors_dict({"either": "no", "tub": "yes"})
    assert net.log_evidence_dict({"either": "no", "tub": "yes"}) == -np.inf
    with pytest.raises(ImpossibleEvidenceError):
        net.posteriors_from_likelihoods({"either": [0.0, 1.0], "tub": [1.0, 0.0]})


def test_unknown_names(nets):
    _, net = nets("asia")
    with pytest.raises(UnknownNameError, match="did you mean 'smoke'"):
        net.posteriors(pd.DataFrame({"smok": ["yes"]}))
    with pytest.raises(UnknownNameError, match="did you mean 'smoke'"):
        net.evaluate(pd.DataFrame({"smok": ["yes"]}))
    with pytest.raises(UnknownNameError, match="did you mean 'lung'"):
        net.posteriors(pd.DataFrame({"smoke": ["yes"]}), targets=["lungs"])
    with pytest.raises(UnknownNameError) as info:
        net.posteriors(pd.DataFrame({"smoke": ["yes", "yess"]}, index=["a", "b"]))
    msg = str(info.value)
    assert "'yess'" in msg and "'smoke'" in msg and "row 'b'" in msg and "did you mean 'yes'" in msg
    assert info.value.kind == "state" and info.value.suggestions == ["yes"]
    with pytest.raises(UnknownNameError, match="did you mean 'no'"):
        net.posteriors_dict({"smoke": "noo"})
    with pytest.raises(UnknownNameError, match="did you mean 'xray'"):
        net.posteriors_dict({"x-ray": "yes"})

    # evaluate: a bad value spoils only its own row
    df = pd.DataFrame({"smoke": ["yes", "yess", None], "xray": ["no", "yes", "qqq"]}, index=["a", "b", "c"])
    res = net.evaluate(df)
    assert res.errors["a"] == ""
    for label, col, value, hint in [("b", "smoke", "yess", "'yes'"), ("c", "xray", "qqq", "")]:
        err = res.errors[label]
        assert f"row {label!r}" in err and f"column {col!r}" in err and repr(value) in err and hint in err
        assert "\n" not in err
    assert "valid states are: yes, no" in res.errors["c"]
    assert res.posteriors.loc[["b", "c"]].isna().all().all()
    assert res.log_evidence[["b", "c"]].isna().all()
    np.testing.assert_allclose(
        res.posteriors.loc["a"].to_numpy(), net.posteriors(df.loc[["a"]]).to_numpy()[0], rtol=0, atol=1e-13
    )

    with pytest.raises(EvidenceError):
        net.posteriors([{"smoke": "yes"}])
    with pytest.raises(EvidenceError, match="duplicate"):
        net.posteriors(pd.DataFrame([["yes", "no"]], columns=["smoke", "smoke"]))


def test_likelihood_validation(nets):
    _, net = nets("asia")
    with pytest.raises(EvidenceError, match="shape"):
        net.posteriors_from_likelihoods({"smoke": np.ones((3, 3))})
    with pytest.raises(EvidenceError, match="negative"):
        net.posteriors_from_likelihoods({"smoke": np.array([[0.5, -0.1]])})
    with pytest.raises(EvidenceError, match="NaN"):
        net.posteriors_from_likelihoods({"smoke": np.array([[np.nan, 1.0]])})
    with pytest.raises(EvidenceError, match="infinite"):
        net.posteriors_from_likelihoods({"smoke": np.array([[np.inf, 1.0]])})
    with pytest.raises(EvidenceError, match="all zeros"):
        net.posteriors_from_likelihoods({"smoke": np.array([[1.0, 1.0], [0.0, 0.0]])})
    with pytest.raises(EvidenceError, match="rows"):
        net.posteriors_from_likelihoods({"smoke": np.ones((3, 2)), "xray": np.ones((4, 2))})
    with pytest.raises(EvidenceError, match="n_rows"):
        net.posteriors_from_likelihoods({})
    with pytest.raises(UnknownNameError):
        net.posteriors_from_likelihoods({"smokes": np.ones((1, 2))})
    with pytest.raises(EvidenceError):
        net.evaluate(pd.DataFrame({"smoke": ["yes"] * 2}), likelihoods={"xray": np.ones((3, 2))})
    # all ones = unobserved; one-hot = hard evidence
    prior = net.posteriors_from_likelihoods({}, n_rows=2, targets=["lung"])["lung"]
    ones = net.posteriors_from_likelihoods({"xray": np.ones((2, 2))}, targets=["lung"])["lung"]
    np.testing.assert_allclose(prior, ones, atol=1e-15)
    hard = net.posteriors_from_likelihoods({"xray": [[1.0, 0.0]]}, targets=["lung"])["lung"]
    np.testing.assert_allclose(hard[0], net.posteriors_dict({"xray": "yes"}, targets=["lung"])["lung"], atol=1e-14)


# --------------------------------------------------------------------------- virtual evidence


@pytest.mark.parametrize("name", ["asia", "alarm"])
def test_virtual_evidence_matches_pgmpy(nets, name):
    model, net = nets(name)
    rng = np.random.default_rng(5)
    df = make_evidence(model, 8, seed=21)
    df = df.where(rng.random(df.shape) < 0.4)  # lighter hard evidence
    n = len(df)
    soft_vars = [str(v) for v in rng.choice(net.variables, size=2, replace=False)]
    df[soft_vars] = None
    lik = {v: rng.uniform(0.05, 1.0, size=(n, net.cardinality[v])) for v in soft_vars}
    res = net.evaluate(df, likelihoods=lik)
    assert res.ok.all()
    # the pure-array API, with hard evidence as one-hot likelihoods
    arrays = dict(lik)
    for v in net.variables:
        col = df[v]
        if col.notna().any() and v not in lik:
            arr = np.ones((n, net.cardinality[v]))
            for r, s in enumerate(col):
                if isinstance(s, str):
                    arr[r] = [1.0 if x == s else 0.0 for x in net.states[v]]
            arrays[v] = arr
    via_arrays = net.posteriors_from_likelihoods(arrays, targets=net.variables)
    worst = 0.0
    for r, label in enumerate(df.index):
        ev = row_evidence(df, label)
        virtual = [
            TabularCPD(v, net.cardinality[v], lik[v][r][:, None], state_names={v: net.states[v]}) for v in soft_vars
        ]
        free = [v for v in net.variables if v not in ev]
        for v in list(rng.choice(free, size=min(4, len(free)), replace=False)):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = VariableElimination(model).query([v], evidence=ev, virtual_evidence=virtual, show_progress=False)
            ref = np.array([q.values[list(q.state_names[v]).index(s)] for s in net.states[v]])
            worst = max(worst, float(np.abs(res.posteriors.loc[label, v].to_numpy() - ref).max()))
            worst = max(worst, float(np.abs(via_arrays[v][r] - ref).max()))
    assert worst <= TOL
    # log-evidence: soft evidence scaled by c adds log(c)
    scaled = net.evaluate(df, likelihoods={v: 3.0 * a for v, a in lik.items()})
    np.testing.assert_allclose(
        scaled.log_evidence.to_numpy(), res.log_evidence.to_numpy() + len(lik) * math.log(3.0), rtol=1e-12
    )
    np.testing.assert_allclose(scaled.posteriors.to_numpy(), res.posteriors.to_numpy(), atol=1e-13)


# --------------------------------------------------------------------------- log evidence / underflow


def _log_joint(model, config: dict) -> float:
    total = 0.0
    for cpd in model.get_cpds():
        idx = tuple(list(cpd.state_names[u]).index(config[u]) for u in cpd.variables)
        value = float(np.asarray(cpd.values)[idx])
        total += math.log(value) if value > 0 else -math.inf
    return total


@pytest.mark.parametrize("name", ["hepar2", "win95pts", "andes"])
def test_all_observed_log_evidence_does_not_underflow(nets, name):
    model, net = nets(name)
    full = forward_sample(model, 6, np.random.default_rng(2))
    res = net.evaluate(full)
    assert res.ok.all()
    for label in full.index:
        config = full.loc[label].to_dict()
        assert res.log_evidence[label] == pytest.approx(_log_joint(model, config), rel=1e-10, abs=1e-10)
        assert net.log_evidence_dict(config) == pytest.approx(_log_joint(model, config), rel=1e-10, abs=1e-10)
    # all but one observed: posterior of the hidden one is proportional to the joint
    v = net.variables[len(net.variables) // 2]
    config = full.iloc[0].to_dict()
    logs = np.array([_log_joint(model, {**config, v: s}) for s in net.states[v]])
    expect = np.exp(logs - logs.max())
    expect /= expect.sum()
    del config[v]
    np.testing.assert_allclose(net.posteriors_dict(config, targets=[v])[v], expect, atol=1e-12)


def test_long_chain_scaling():
    """800 observed nodes: P(e) ~ e^-500 underflows float64, the log does not."""
    n = 800
    model = DiscreteBayesianNetwork([(f"x{i}", f"x{i + 1}") for i in range(n - 1)])
    sn = ["a", "b"]
    cpds = [TabularCPD("x0", 2, [[0.4], [0.6]], state_names={"x0": sn})]
    for i in range(1, n):
        cpds.append(
            TabularCPD(
                f"x{i}", 2, [[0.3, 0.6], [0.7, 0.4]], evidence=[f"x{i - 1}"], evidence_card=[2],
                state_names={f"x{i}": sn, f"x{i - 1}": sn},
            )
        )
    model.add_cpds(*cpds)
    net = compile_network(model)
    rng = np.random.default_rng(0)
    config = {f"x{i}": sn[int(rng.integers(2))] for i in range(n)}
    expected = _log_joint(model, config)
    assert expected < -500
    hidden = "x400"
    ev = {k: v for k, v in config.items() if k != hidden}
    df = pd.DataFrame([config, ev, ev])
    res = net.evaluate(df, targets=[hidden, "x0"])
    assert res.ok.all()
    assert res.log_evidence[0] == pytest.approx(expected, rel=1e-12)
    logs = np.array([_log_joint(model, {**ev, hidden: s}) for s in sn])
    assert res.log_evidence[1] == pytest.approx(np.logaddexp(*logs), rel=1e-12)
    post = np.exp(logs - np.logaddexp(*logs))
    np.testing.assert_allclose(res.posteriors.loc[1, hidden].to_numpy(), post, atol=1e-12)
    # the single-row fast path falls back to scaled propagation
    assert net.log_evidence_dict(config) == pytest.approx(expected, rel=1e-12)
    np.testing.assert_allclose(net.posteriors_dict(ev, targets=[hidden])[hidden], post, atol=1e-12)


def test_log_evidence_matches_brute_force(nets):
    model, net = nets("asia")
    # enumerate the joint distribution of asia (2^8 configurations)
    import itertools

    names = net.variables
    configs = list(itertools.product(*[net.states[v] for v in names]))
    joint = np.array([math.exp(_log_joint(model, dict(zip(names, c)))) for c in configs])
    frame = pd.DataFrame(configs, columns=names)
    df = make_evidence(model, 20, seed=9)
    res = net.evaluate(df)
    for label in df.index:
        ev = row_evidence(df, label)
        sel = np.ones(len(frame), dtype=bool)
        for k, s in ev.items():
            sel &= (frame[k] == s).to_numpy()
        assert res.log_evidence[label] == pytest.approx(math.log(joint[sel].sum()), rel=1e-12, abs=1e-12)


def test_float32_dtype(nets):
    model, net = nets("alarm")
    net32 = compile_network(model, dtype=np.float32)
    df = make_evidence(model, 10, seed=4)
    np.testing.assert_allclose(net32.posteriors(df).to_numpy(), net.posteriors(df).to_numpy(), atol=1e-4)
    with pytest.raises(TypeError):
        compile_network(model, dtype=np.int64)


def test_small_junction_tree_builder():
    jt = build_junction_tree({0: [], 1: [0], 2: [0], 3: [1, 2], 4: []}, [2, 3, 2, 2, 4])
    jt.check()
    assert sorted(map(set, jt.cliques), key=sorted) == [{0, 1, 2}, {1, 2, 3}, {4}]
    assert jt.max_clique_size == 12


# --------------------------------------------------------------------------- properties


@pytest.mark.parametrize("name", ["asia", "alarm"])
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_posteriors_are_distributions(nets, name, data):
    _, net = nets(name)
    n_rows = data.draw(st.integers(1, 4))
    rows = []
    for _ in range(n_rows):
        observed = data.draw(st.lists(st.sampled_from(net.variables), max_size=6, unique=True))
        rows.append({v: data.draw(st.sampled_from(net.states[v])) for v in observed})
    df = pd.DataFrame(rows, index=[f"r{i}" for i in range(n_rows)], columns=net.variables)
    res = net.evaluate(df)
    values = res.posteriors.to_numpy()
    for r, label in enumerate(df.index):
        if res.errors[label]:
            assert res.errors[label] == IMPOSSIBLE_MESSAGE
            assert res.log_evidence[label] == -np.inf
            assert np.isnan(values[r]).all()
            with pytest.raises(ImpossibleEvidenceError):
                net.posteriors_dict(rows[r])
            continue
        assert np.all(values[r] >= 0) and np.all(values[r] <= 1 + 1e-12)
        sums = res.posteriors.loc[label].groupby(level=0).sum()
        np.testing.assert_allclose(sums.to_numpy(), 1.0, atol=1e-12)
        assert res.log_evidence[label] <= 1e-12
        one = net.posteriors_dict(rows[r])
        np.testing.assert_allclose(np.concatenate([one[v] for v in net.variables]), values[r], atol=1e-12)
