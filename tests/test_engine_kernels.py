"""The compiled kernels (numba) behind the dense paths, against independent references.

* brute force (the joint table over the ancestral closure of the targets and the evidence,
  pgmpy's pruning, by ``numpy.einsum``) on small random networks, with normalised and
  unnormalised CPTs, hard and soft evidence, single rows (row kernel) and batches (block
  kernel), float64 and float32;
* pgmpy ``VariableElimination`` on the back-pain model;
* log-space references (logsumexp) for a clique receiving a hundred messages and for
  likelihoods near the ends of the float range;
* determinism (bit-identical repeats whatever was asked before, whatever the threads), the
  single-row and batch paths agreeing, pickling, impossible rows, and the numpy fallback.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD, VariableElimination
from bayesnet.errors import ImpossibleEvidenceError
from bayesnet.inference import kernels
from bayesnet.inference.engine import IMPOSSIBLE_MESSAGE, compile_network

pytestmark = pytest.mark.skipif(not kernels.available(), reason="numba not available")


def random_network(seed: int, n: int = 8, normalised: bool = True, max_parents: int = 3):
    """A random DAG with cards 2-4 and positive CPTs (columns summing to 1, or to anything)."""
    rng = np.random.default_rng(seed)
    cards = rng.integers(2, 5, size=n)
    model = DiscreteBayesianNetwork()
    model.add_nodes_from([f"v{i}" for i in range(n)])
    for c in range(1, n):
        k = int(rng.integers(0, max_parents + 1))
        for p in rng.choice(c, size=min(c, k), replace=False):
            model.add_edge(f"v{p}", f"v{c}")
    cpds = []
    for i in range(n):
        pa = sorted(model.get_parents(f"v{i}"), key=lambda x: int(x[1:]))
        pc = [int(cards[int(p[1:])]) for p in pa]
        vals = rng.uniform(0.02, 1.0, size=(int(cards[i]), int(np.prod(pc)) if pc else 1))
        vals /= vals.sum(axis=0) if normalised else rng.uniform(0.6, 1.4) * vals.sum(axis=0)
        cpds.append(TabularCPD(f"v{i}", int(cards[i]), vals, evidence=pa or None, evidence_card=pc or None))
    model.add_cpds(*cpds)
    return model


def brute(model, hard: dict, soft: dict, targets: list) -> tuple[dict, float]:
    """Posteriors and log P(e) from the joint over the ancestral closure of targets and evidence."""
    keep = set(targets) | set(hard) | set(soft)
    for v in list(keep):
        keep |= nx.ancestors(model, v)
    names = sorted(keep, key=lambda x: int(x[1:]))
    if not names:
        return {}, 0.0
    letter = {v: chr(97 + k) for k, v in enumerate(names)}
    ops, subs = [], []
    for v in names:
        cpd = model.get_cpds(v)
        ops.append(np.asarray(cpd.values, dtype=np.float64))
        subs.append("".join(letter[u] for u in cpd.variables))
    for v, k in hard.items():
        onehot = np.zeros(model.get_cardinality(v))
        onehot[k] = 1.0
        ops.append(onehot)
        subs.append(letter[v])
    for v, w in soft.items():
        ops.append(np.asarray(w, dtype=np.float64))
        subs.append(letter[v])
    joint = np.einsum(",".join(subs) + "->" + "".join(letter[v] for v in names), *ops)
    total = joint.sum()
    post = {t: joint.sum(axis=tuple(k for k, v in enumerate(names) if v != t)) / total for t in targets}
    return post, float(np.log(total))


def random_rows(model, n: int, rng, frac: float = 0.35) -> list[dict]:
    """Hard evidence rows: each variable observed with probability ``frac``, in a random state."""
    rows = []
    for _ in range(n):
        rows.append({v: int(rng.integers(model.get_cardinality(v))) for v in model.nodes() if rng.random() < frac})
    return rows


def frame(model, rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{v: r.get(v) for v in model.nodes()} for r in rows], dtype=object)


@pytest.mark.parametrize("normalised", [True, False])
@pytest.mark.parametrize("seed", range(4))
def test_random_networks_match_brute_force_on_both_kernels(seed, normalised):
    model = random_network(seed, n=9, normalised=normalised)
    net = compile_network(model)
    assert net._kernel is not None
    rng = np.random.default_rng(100 + seed)
    rows = random_rows(model, 40, rng)
    targets = [f"v{i}" for i in rng.choice(9, size=4, replace=False)]
    res = net.evaluate(frame(model, rows), targets=targets)  # 40 rows: the block kernel
    for r, ev in enumerate(rows):
        post, logz = brute(model, ev, {}, targets)
        one = net.posteriors_dict(ev, targets=targets)  # the row kernel
        for t in targets:
            np.testing.assert_allclose(one[t], post[t], rtol=0, atol=1e-12)
            np.testing.assert_allclose(res.posteriors.iloc[r][t].to_numpy(dtype=float), post[t], rtol=0, atol=1e-12)
        assert res.log_evidence.iloc[r] == pytest.approx(logz, abs=1e-11)
        assert net.log_evidence_dict(ev) == pytest.approx(brute(model, ev, {}, [])[1], abs=1e-11)


@pytest.mark.parametrize("seed", range(3))
def test_soft_evidence_matches_brute_force(seed):
    model = random_network(10 + seed, n=8, normalised=seed != 1)
    net = compile_network(model)
    rng = np.random.default_rng(seed)
    n = 24
    observed = ["v2", "v5", "v7"]
    lik = {}
    for v in observed:
        card = model.get_cardinality(v)
        lik[v] = rng.uniform(0, 1, size=(n, card)) * 10.0 ** rng.integers(-200, 200, size=(n, 1))
        lik[v][rng.random(n) < 0.3] = 1.0  # unobserved in some rows
    targets = ["v0", "v3", "v7"]
    probs, logz = net.propagate(lik, targets=targets)
    ends = np.cumsum([model.get_cardinality(t) for t in targets])
    for r in range(n):
        soft = {v: lik[v][r] for v in observed if not np.all(lik[v][r] == 1.0)}
        scale = sum(np.log(w.max()) for w in soft.values())
        post, lz = brute(model, {}, {v: w / w.max() for v, w in soft.items()}, targets)
        for t, e in zip(targets, ends):
            np.testing.assert_allclose(probs[r, e - model.get_cardinality(t) : e], post[t], rtol=0, atol=1e-12)
        assert logz[r] == pytest.approx(lz + scale, rel=1e-12, abs=1e-10)
    # one row through the row kernel gives the same as in the batch, to rounding
    one, _ = net.propagate({v: a[:1] for v, a in lik.items()}, targets=targets)
    np.testing.assert_allclose(one[0], probs[0], rtol=0, atol=1e-13)


def test_float32_network_matches_brute_force():
    model = random_network(3, n=8)
    net = compile_network(model, dtype=np.float32)
    assert net._kernel is not None and net._kernel.F.dtype == np.float32
    rng = np.random.default_rng(5)
    rows = random_rows(model, 30, rng, frac=0.5)
    targets = ["v0", "v4", "v6"]
    res = net.evaluate(frame(model, rows), targets=targets)
    assert res.posteriors.to_numpy().dtype == np.float32
    for r, ev in enumerate(rows):
        post, logz = brute(model, ev, {}, targets)
        one = net.posteriors_dict(ev, targets=targets)
        for t in targets:
            np.testing.assert_allclose(one[t], post[t], rtol=0, atol=2e-6)
            np.testing.assert_allclose(res.posteriors.iloc[r][t].to_numpy(dtype=float), post[t], rtol=0, atol=2e-6)
        assert res.log_evidence.iloc[r] == pytest.approx(logz, abs=1e-4)


def star(n: int, card: int = 3, dtype=np.float64):
    """A root with ``n`` children: a hundred messages (or evidence vectors) meet in one clique."""
    rng = np.random.default_rng(n)
    prior = rng.dirichlet(np.ones(card))
    cpts = [rng.dirichlet(np.ones(card) * 0.3, size=card).T + 1e-12 for _ in range(n)]
    cpts = [c / c.sum(axis=0) for c in cpts]
    model = DiscreteBayesianNetwork([("h", f"f{i}") for i in range(n)])
    model.add_cpds(TabularCPD("h", card, prior[:, None]),
                   *[TabularCPD(f"f{i}", card, c, evidence=["h"], evidence_card=[card]) for i, c in enumerate(cpts)])
    return model, prior, cpts, compile_network(model, dtype=dtype)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_many_factors_in_one_clique_in_log_space(dtype):
    n = 120
    _, prior, cpts, net = star(n, dtype=dtype)
    rng = np.random.default_rng(1)
    rows = []
    for _ in range(12):
        rows.append({f"f{i}": int(rng.integers(3)) for i in range(n) if rng.random() < 0.9})
    res = net.evaluate(pd.DataFrame([{f"f{i}": r.get(f"f{i}") for i in range(n)} for r in rows], dtype=object),
                       targets=["h"])
    tol = 1e-10 if dtype == np.float64 else 1e-4
    for r, ev in enumerate(rows):
        logp = np.log(prior) + sum(np.log(cpts[int(f[1:])][k]) for f, k in ev.items())
        ref = np.exp(logp - logsumexp(logp))
        np.testing.assert_allclose(res.posteriors.iloc[r].to_numpy(dtype=float), ref, atol=tol, rtol=0)
        np.testing.assert_allclose(net.posteriors_dict(ev, targets=["h"])["h"], ref, atol=tol, rtol=0)
        assert res.log_evidence.iloc[r] == pytest.approx(logsumexp(logp), rel=1e-6 if dtype == np.float32 else 1e-12)


def test_tiny_and_huge_likelihoods_keep_the_log_evidence():
    _, prior, cpts, net = star(40)
    lik = {f"f{i}": np.array([[1e-300, 1e-290, 1e-295]]) for i in range(40)}
    probs, logz = net.propagate(lik, targets=["h"])
    logl = np.log(np.array([1e-300, 1e-290, 1e-295]))
    logp = np.log(prior) + sum(logsumexp(np.log(c) + logl[:, None], axis=0) for c in cpts)
    # (the log-space reference itself carries ~4e-12: logp is about -28,000, where one ulp is 3.6e-12)
    np.testing.assert_allclose(probs[0], np.exp(logp - logsumexp(logp)), atol=1e-10, rtol=0)
    assert logz[0] == pytest.approx(logsumexp(logp), rel=1e-12)
    big = {f"f{i}": np.array([[1e300, 1e290, 3e299]]) for i in range(5)}
    probs, logz = net.propagate(big, targets=["h"])
    assert np.isfinite(logz[0]) and np.all(np.isfinite(probs))


def test_back_pain_model_matches_pgmpy_on_both_kernels():
    import bayesnet

    m = bayesnet.load_model()
    net = m.engine
    conds = m.conditions
    rng = np.random.default_rng(7)
    observable = [v for v in m.tables.states if v not in conds and v in net.states]
    rows = [{v: net.states[v][int(rng.integers(len(net.states[v])))] for v in observable if rng.random() < 0.3}
            for _ in range(20)]
    res = net.evaluate(pd.DataFrame([{v: r.get(v) for v in observable} for r in rows], dtype=object), targets=conds)
    ve = VariableElimination(m.engine_network)
    worst = 0.0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r, ev in enumerate(rows[:6]):
            if not res.ok.iloc[r]:
                continue
            q = ve.query(conds, evidence=ev, joint=False, show_progress=False)
            one = net.posteriors_dict(ev, targets=conds)
            for c in conds:
                ref = np.array([q[c].values[list(q[c].state_names[c]).index(s)] for s in net.states[c]])
                worst = max(worst, float(np.abs(one[c] - ref).max()),
                            float(np.abs(res.posteriors.iloc[r][c].to_numpy(dtype=float) - ref).max()))
    assert worst < 1e-9


def test_bit_identical_whatever_came_before_and_whatever_the_threads(monkeypatch):
    model = random_network(21, n=10)
    net = compile_network(model)
    rng = np.random.default_rng(3)
    rows = random_rows(model, 300, rng)
    df = frame(model, rows)
    targets = ["v1", "v8"]
    first = net.posteriors_dict(rows[0], targets=targets)
    a = net.evaluate(df, targets=targets)
    for ev in rows[1:50]:  # other queries in between
        net.posteriors_dict(ev)
    net.evaluate(df.iloc[::-1], targets=["v0"])
    again = net.posteriors_dict(rows[0], targets=targets)
    for t in targets:
        assert np.array_equal(first[t], again[t])
    monkeypatch.setenv("BAYESNET_THREADS", "1")
    b = net.evaluate(df, targets=targets)
    monkeypatch.setenv("BAYESNET_THREADS", "3")
    c = net.evaluate(df, targets=targets)
    assert np.array_equal(a.posteriors.to_numpy(), b.posteriors.to_numpy())
    assert np.array_equal(a.posteriors.to_numpy(), c.posteriors.to_numpy())
    assert np.array_equal(a.log_evidence.to_numpy(), c.log_evidence.to_numpy())
    # single rows and batch rows agree to rounding
    worst = max(float(np.abs(np.concatenate([net.posteriors_dict(ev, targets=targets)[t] for t in targets])
                             - a.posteriors.iloc[r].to_numpy(dtype=float)).max()) for r, ev in enumerate(rows[:40]))
    assert worst < 1e-12
    # a pickled network answers with the same bits
    copy = pickle.loads(pickle.dumps(net))
    d = copy.evaluate(df, targets=targets)
    assert np.array_equal(a.posteriors.to_numpy(), d.posteriors.to_numpy())


def test_impossible_rows():
    model = DiscreteBayesianNetwork([("a", "b"), ("b", "c")])
    model.add_cpds(TabularCPD("a", 2, [[1.0], [0.0]]),
                   TabularCPD("b", 2, [[1.0, 0.5], [0.0, 0.5]], evidence=["a"], evidence_card=[2]),
                   TabularCPD("c", 2, [[0.3, 0.6], [0.7, 0.4]], evidence=["b"], evidence_card=[2]))
    net = compile_network(model)
    df = pd.DataFrame({"a": [1, 0, None] * 10, "b": [None, 1, 0] * 10, "c": [0, 1, 1] * 10}, dtype=object)
    res = net.evaluate(df)
    assert (res.errors.iloc[0::3] == IMPOSSIBLE_MESSAGE).all() and (res.errors.iloc[1::3] == IMPOSSIBLE_MESSAGE).all()
    assert res.ok.iloc[2::3].all()
    assert np.isneginf(res.log_evidence.iloc[0]) and res.posteriors.iloc[0].isna().all()
    np.testing.assert_allclose(res.posteriors.iloc[2][("a", 0)], 1.0)
    with pytest.raises(ImpossibleEvidenceError):
        net.posteriors_dict({"a": 1})
    assert net.log_evidence_dict({"a": 1}) == -np.inf


def test_numpy_fallback_without_numba():
    """With the kernels turned off (BAYESNET_NUMBA=0) the numpy passes answer, to rounding the same."""
    code = (
        "import numpy as np, pandas as pd\n"
        "from bayesnet.inference import kernels\n"
        "from tests.test_engine_kernels import random_network, random_rows, frame\n"
        "from bayesnet.inference.engine import compile_network\n"
        "m = random_network(4, n=9); net = compile_network(m)\n"
        "assert not kernels.available() and net._kernel is None\n"
        "rows = random_rows(m, 30, np.random.default_rng(0))\n"
        "p = net.posteriors(frame(m, rows)).to_numpy()\n"
        "d = np.concatenate(list(net.posteriors_dict(rows[0]).values()))\n"
        "np.save(__import__('sys').argv[1], np.vstack([p, d[None]]))\n"
    )
    import os
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.npy")
        env = dict(os.environ, BAYESNET_NUMBA="0")
        root = Path(__file__).resolve().parents[1]
        res = subprocess.run([sys.executable, "-c", code, path], env=env, cwd=root, capture_output=True, text=True,
                             timeout=120, check=False)
        assert res.returncode == 0, res.stderr[-2000:]
        fallback = np.load(path)
    model = random_network(4, n=9)
    net = compile_network(model)
    rows = random_rows(model, 30, np.random.default_rng(0))
    p = net.posteriors(frame(model, rows)).to_numpy()
    d = np.concatenate(list(net.posteriors_dict(rows[0]).values()))
    np.testing.assert_allclose(np.vstack([p, d[None]]), fallback, rtol=0, atol=1e-13)


@pytest.mark.skipif(not hasattr(__import__("os"), "fork"), reason="needs fork")
def test_batches_in_a_forked_child():
    """A child forked after a threaded batch gets its own thread pool (the parent's threads are not there)."""
    import multiprocessing as mp

    model = random_network(2, n=8)
    net = compile_network(model)
    df = frame(model, random_rows(model, 600, np.random.default_rng(1)))
    want = net.posteriors(df).to_numpy()  # threads started in the parent
    ctx = mp.get_context("fork")
    with ctx.Pool(1) as pool:
        got = pool.apply_async(_posteriors_in_child, (net, df)).get(timeout=60)
    assert np.array_equal(want, got)


def _posteriors_in_child(net, df):
    import os

    os.environ["BAYESNET_THREADS"] = "2"
    return net.posteriors(df).to_numpy()
