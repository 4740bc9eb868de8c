"""Relevance reasoning: the evidence-sliced propagator and barren-node pruning, against independent references.

* pgmpy ``VariableElimination`` on bundled networks read as the files give them (CPT columns
  rounded to ~1e-7, nothing renormalised): both engine paths (sliced and dense) agree to 1e-9;
* brute force (``numpy.einsum`` over every CPT of the ancestral closure of the targets and the
  evidence, pgmpy's pruning) on random networks whose CPT columns do not sum to 1 at all;
* log-space references (logsumexp) for a naive-Bayes star with thousands of observed findings,
  for CPT entries near the bottom of the float range (rows the sliced pass hands to the dense,
  rescaled one) and for float32;
* impossible evidence, chunking and the likelihood paths.
"""

from __future__ import annotations

import warnings
from functools import cache

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD, VariableElimination
from bayesnet.errors import ImpossibleEvidenceError
from bayesnet.inference.engine import IMPOSSIBLE_MESSAGE, compile_network
from benchmarks.harness import forward_sample, load_reference, mixed_scenarios, pick_targets

#: the relevance path with its compiled first stage (per-row elimination), the same path with the numpy
#: sliced pass only, and the dense pass
MODES = ["always", "sliced", "never"]


def set_mode(net, mode: str) -> None:
    """``relevance`` of ``net``; "sliced" is the relevance path without the compiled per-row elimination."""
    net.relevance = "always" if mode == "sliced" else mode
    net._eliminator = None if mode == "sliced" else False


@cache
def raw(name: str):
    return load_reference(name, normalize=False)


def _rows(frame: pd.DataFrame) -> list[dict]:
    return [{k: v for k, v in r.items() if not pd.isna(v)} for r in frame.to_dict("records")]


@pytest.mark.parametrize("name", ["alarm", "hepar2", "insurance"])
def test_rounded_bif_matches_pgmpy_on_both_paths(name):
    model = raw(name)
    dev = max(float(np.abs(np.asarray(c.values).reshape(c.values.shape[0], -1).sum(0) - 1).max())
              for c in model.get_cpds())
    net = compile_network(model)  # by default: the CPTs as given
    targets = pick_targets(model)
    scen = mixed_scenarios(model, 12, seed=3, max_fraction=0.6)[net.variables]
    ve = VariableElimination(model)
    got = {}
    for mode in MODES:
        set_mode(net, mode)
        got[mode] = net.posteriors(scen, targets=targets)
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r, ev in enumerate(_rows(scen)):
            wanted = [t for t in targets if t not in ev]
            if not wanted:
                continue
            res = ve.query(wanted, evidence=ev, joint=False, show_progress=False)
            for t, q in res.items():
                ref = np.array([q.values[list(q.state_names[t]).index(s)] for s in net.states[t]])
                for mode in MODES:
                    worst = max(worst, float(np.abs(got[mode].iloc[r][t].to_numpy() - ref).max()))
    assert worst < 1e-9
    if name != "insurance":
        assert dev > 1e-8  # the check bites: these files' columns are rounded
    # the single-row dict path too
    ev = _rows(scen)[1]
    wanted = [t for t in targets if t not in ev]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = ve.query(wanted[:1], evidence=ev, show_progress=False)
    d = net.posteriors_dict(ev, targets=wanted[:1])[wanted[0]]
    ref = np.array([q.values[list(q.state_names[wanted[0]]).index(s)] for s in net.states[wanted[0]]])
    np.testing.assert_allclose(d, ref, atol=1e-9, rtol=0)


# --------------------------------------------------------------------------- brute force


def random_network(seed: int, n: int = 8, normalised: bool = False):
    """A random DAG (up to 3 parents) with cards 2-4 and positive CPT columns summing to anything."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(2, 5, size=n)
    edges = [(f"v{p}", f"v{c}") for c in range(1, n) for p in rng.choice(c, size=min(c, rng.integers(0, 4)),
                                                                          replace=False)]
    model = DiscreteBayesianNetwork()
    model.add_nodes_from([f"v{i}" for i in range(n)])
    model.add_edges_from(edges)
    cpds = []
    for i in range(n):
        pa = sorted(model.get_parents(f"v{i}"), key=lambda x: int(x[1:]))
        pc = [int(cards[int(p[1:])]) for p in pa]
        vals = rng.uniform(0.05, 1.0, size=(int(cards[i]), int(np.prod(pc)) if pc else 1))
        vals /= vals.sum(axis=0) if normalised else rng.uniform(0.7, 1.3) * vals.sum(axis=0)
        cpds.append(TabularCPD(f"v{i}", int(cards[i]), vals, evidence=pa or None, evidence_card=pc or None))
    model.add_cpds(*cpds)
    return model


def brute(model, evidence: dict, targets: list) -> tuple[dict, float]:
    """Posteriors and log P(e) by one einsum over the ancestral closure of targets and evidence."""
    keep = set(targets) | set(evidence)
    for v in list(keep):
        keep |= nx.ancestors(model, v)
    names = sorted(keep, key=lambda x: int(x[1:]))
    letter = {v: chr(97 + k) for k, v in enumerate(names)}
    ops, subs = [], []
    for v in names:
        cpd = model.get_cpds(v)
        ops.append(np.asarray(cpd.values))
        subs.append("".join(letter[u] for u in cpd.variables))
    for v, k in evidence.items():
        onehot = np.zeros(model.get_cardinality(v))
        onehot[k] = 1.0
        ops.append(onehot)
        subs.append(letter[v])
    joint = np.einsum(",".join(subs) + "->" + "".join(letter[v] for v in names), *ops)
    total = joint.sum()
    post = {t: joint.sum(axis=tuple(k for k, v in enumerate(names) if v != t)) / total for t in targets}
    return post, float(np.log(total))


@pytest.mark.parametrize("seed", range(6))
def test_unnormalised_cpts_match_brute_force(seed):
    model = random_network(seed)
    net = compile_network(model)
    rng = np.random.default_rng(seed)
    full = forward_sample(model, 25, rng)
    mask = rng.random(full.shape) < 0.4
    scen = full.where(mask)[net.variables]
    targets = [v for v in net.variables if rng.random() < 0.4] or [net.variables[0]]
    for mode in MODES:
        set_mode(net, mode)
        res = net.evaluate(scen, targets=targets)
        assert res.ok.all()
        for r, ev in enumerate(_rows(scen)):
            codes = {v: net.states[v].index(s) for v, s in ev.items()}
            post, logz = brute(model, codes, targets)
            assert res.log_evidence.iloc[r] == pytest.approx(logz, abs=1e-12, rel=1e-12)
            for t in targets:
                np.testing.assert_allclose(res.posteriors.iloc[r][t].to_numpy(), post[t], atol=1e-12, rtol=0)


def test_chunks_patterns_and_paths_agree():
    """Many rows with shared and distinct patterns, any chunk size, and the likelihood API."""
    model = random_network(11, n=10, normalised=True)
    net = compile_network(model)
    scen = mixed_scenarios(model, 200, seed=4, max_fraction=0.7)[net.variables]
    scen = pd.concat([scen, scen.iloc[:50]], ignore_index=True)  # repeated patterns share groups
    net.relevance = "never"
    ref = net.evaluate(scen)
    net.relevance = "always"
    for chunk in (None, 7, 1):
        got = net.evaluate(scen, chunk_size=chunk)
        np.testing.assert_allclose(got.posteriors.to_numpy(), ref.posteriors.to_numpy(), atol=1e-12, rtol=0)
        np.testing.assert_allclose(got.log_evidence.to_numpy(), ref.log_evidence.to_numpy(), atol=1e-12, rtol=0)
    # soft evidence goes through the dense pass, with the same answer for one-hot likelihoods
    v = net.variables[3]
    codes = scen[v].map(lambda s: net.states[v].index(s) if not pd.isna(s) else -1).to_numpy()
    lik = np.ones((len(scen), net.cardinality[v]))
    lik[codes >= 0] = np.eye(net.cardinality[v])[codes[codes >= 0]]
    only = scen[[v]]
    a = net.posteriors(only)
    b = net.posteriors_from_likelihoods({v: lik})
    for t in net.variables:
        np.testing.assert_allclose(a[t].to_numpy(), b[t], atol=1e-12, rtol=0)


def test_impossible_rows_are_reported():
    model = DiscreteBayesianNetwork([("a", "b"), ("b", "c")])
    model.add_cpds(
        TabularCPD("a", 2, [[0.5], [0.5]]),
        TabularCPD("b", 2, [[1.0, 0.0], [0.0, 1.0]], evidence=["a"], evidence_card=[2]),
        TabularCPD("c", 2, [[0.3, 0.6], [0.7, 0.4]], evidence=["b"], evidence_card=[2]),
    )
    net = compile_network(model)
    net.relevance = "always"
    df = pd.DataFrame({"a": [0, 0, None], "b": [1, 0, 1], "c": [None, 1, 0]})
    res = net.evaluate(df, targets=["c", "a"])
    assert res.errors.tolist() == [IMPOSSIBLE_MESSAGE, "", ""]
    assert res.log_evidence.iloc[0] == -np.inf and res.posteriors.iloc[0].isna().all()
    np.testing.assert_allclose(res.posteriors.iloc[2]["a"].to_numpy(), [0.0, 1.0], atol=1e-15)
    with pytest.raises(ImpossibleEvidenceError):
        net.posteriors(df)


# --------------------------------------------------------------------------- numerics


@pytest.mark.parametrize("path", ["always", "sliced"])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_star_with_thousands_of_findings(dtype, path):
    """A hub with 1500 observed children in one clique: log P(e) ~ -1000, far below float range."""
    n, card = 1500, 3
    rng = np.random.default_rng(5)
    prior = np.array([0.2, 0.3, 0.5])
    p0 = rng.uniform(0.05, 0.95, size=(n, card))
    model = DiscreteBayesianNetwork([("H", f"F{i}") for i in range(n)])
    cpds = [TabularCPD("H", card, prior[:, None])]
    for i in range(n):
        cpds.append(TabularCPD(f"F{i}", 2, np.stack([p0[i], 1 - p0[i]]), evidence=["H"], evidence_card=[card]))
    model.add_cpds(*cpds)
    net = compile_network(model, dtype=dtype)
    set_mode(net, path)
    obs = rng.integers(0, 2, size=(3, n))
    obs[1, : n // 2] = -1  # half observed
    df = pd.DataFrame(np.where(obs >= 0, obs, np.nan), columns=[f"F{i}" for i in range(n)]).astype(object)
    df = df.where(df.notna(), None)
    res = net.evaluate(df, targets=["H"])
    assert res.ok.all()
    for r in range(3):
        seen = obs[r] >= 0
        logl = np.log(prior) + np.where(obs[r][seen, None] == 0, np.log(p0[seen]), np.log(1 - p0[seen])).sum(axis=0)
        ref_z = logsumexp(logl)
        ref_p = np.exp(logl - ref_z)
        tol = 1e-12 if dtype == np.float64 else 2e-4
        assert res.log_evidence.iloc[r] == pytest.approx(ref_z, rel=tol)
        np.testing.assert_allclose(res.posteriors.iloc[r]["H"].to_numpy(), ref_p, atol=tol, rtol=0)


@pytest.mark.parametrize("path", ["always", "sliced"])
def test_tiny_probabilities_fall_back_to_the_rescaled_pass(path):
    """Findings of probability 1e-200 each: P(e) = 1e-400 underflows; the answer is still exact."""
    k = 3
    model = DiscreteBayesianNetwork([("H", f"F{i}") for i in range(k)])
    cpds = [TabularCPD("H", 2, [[0.4], [0.6]])]
    for i in range(k):
        cpds.append(TabularCPD(f"F{i}", 2, [[1 - 1e-200, 1 - 2e-200], [1e-200, 2e-200]],
                               evidence=["H"], evidence_card=[2]))
    model.add_cpds(*cpds)
    net = compile_network(model)
    set_mode(net, path)
    df = pd.DataFrame({f"F{i}": [1, 0] for i in range(k)})
    res = net.evaluate(df, targets=["H"])
    assert res.ok.all()
    logl = np.log([0.4, 0.6]) + k * np.log([1e-200, 2e-200])
    assert res.log_evidence.iloc[0] == pytest.approx(logsumexp(logl), rel=1e-12)
    np.testing.assert_allclose(res.posteriors.iloc[0]["H"].to_numpy(), np.exp(logl - logsumexp(logl)),
                               atol=1e-12, rtol=0)


def test_with_tables_does_not_reuse_the_old_propagator():
    model = random_network(2, normalised=True)
    net = compile_network(model)
    scen = mixed_scenarios(model, 30, seed=1, max_fraction=0.6)[net.variables]
    net.relevance = "always"
    net.evaluate(scen)  # builds the propagator of the compiled tables
    v = net.variables[-1]
    cvars = list(model.get_cpds(v).variables)
    shape = tuple(net.cardinality[u] for u in cvars)
    table = np.random.default_rng(0).uniform(0.1, 1.0, size=(1, *shape))
    new = net.with_tables({v: table})
    new.relevance = "always"
    a = new.evaluate(scen)
    new.relevance = "never"
    b = new.evaluate(scen)
    np.testing.assert_allclose(a.posteriors.to_numpy(), b.posteriors.to_numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(a.log_evidence.to_numpy(), b.log_evidence.to_numpy(), atol=1e-12, rtol=0)


def test_pickled_network_and_threads_give_the_same_answers():
    """A pickled network rebuilds its propagator; concurrent calls on one network are serialised, not mixed."""
    import pickle
    from concurrent.futures import ThreadPoolExecutor

    model = random_network(7, n=9)
    net = compile_network(model)
    net.relevance = "always"
    scen = mixed_scenarios(model, 60, seed=2, max_fraction=0.6)[net.variables]
    ref = net.evaluate(scen)
    again = pickle.loads(pickle.dumps(net)).evaluate(scen)
    np.testing.assert_array_equal(again.posteriors.to_numpy(), ref.posteriors.to_numpy())
    parts = [scen.iloc[k::4] for k in range(4)]
    with ThreadPoolExecutor(4) as pool:
        outs = list(pool.map(lambda df: net.evaluate(df), parts * 3))
    for k, out in enumerate(outs):
        exp = ref.posteriors.iloc[k % 4 :: 4].to_numpy()
        np.testing.assert_allclose(out.posteriors.to_numpy(), exp, atol=1e-14, rtol=0)
