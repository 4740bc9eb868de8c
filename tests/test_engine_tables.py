"""CompiledNetwork.with_tables: CPTs that vary per row (parameter draws).

Every row of a network made by ``with_tables`` must equal an independently
compiled network (and pgmpy's VariableElimination) built from that row's tables.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD, VariableElimination
from bayesnet.errors import EvidenceError, UnknownNameError
from bayesnet.inference.engine import compile_network
from benchmarks.harness import forward_sample, load_reference

TOL = 1e-12


def random_network(seed: int = 3, n: int = 8) -> DiscreteBayesianNetwork:
    """A small random DAG with 2-4 states per variable and random CPTs."""
    rng = np.random.default_rng(seed)
    names = [f"v{i}" for i in range(n)]
    cards = {v: int(rng.integers(2, 5)) for v in names}
    parents = {v: [names[j] for j in range(i) if rng.random() < 0.35][:3] for i, v in enumerate(names)}
    model = DiscreteBayesianNetwork()
    model.add_nodes_from(names)
    model.add_edges_from([(p, v) for v in names for p in parents[v]])
    sn = {v: [f"s{k}" for k in range(cards[v])] for v in names}
    for v in names:
        pc = [cards[p] for p in parents[v]]
        vals = rng.dirichlet(np.ones(cards[v]), size=int(np.prod(pc))).T
        model.add_cpds(
            TabularCPD(v, cards[v], vals, evidence=parents[v] or None, evidence_card=pc or None,
                       state_names={u: sn[u] for u in [v, *parents[v]]})
        )
    model.check_model()
    return model


def models():
    return {"asia": load_reference("asia"), "random": random_network()}


def draw_tables(model, net, p: int, rng, skip=()) -> dict:
    """Random tables of shape (P, card, *parent cards) for every variable not in ``skip``."""
    out = {}
    for cpd in model.get_cpds():
        v = cpd.variable
        if v in skip:
            continue
        shape = [net.cardinality[u] for u in cpd.variables]
        raw = rng.dirichlet(np.ones(shape[0]), size=(p, *shape[1:]))  # (P, *parents, card)
        out[v] = np.moveaxis(raw, -1, 1)
    return out


def fresh_model(model, net, tables: dict, row: int) -> DiscreteBayesianNetwork:
    """A pgmpy model whose CPDs are ``tables[v][row]`` (states in the network's order)."""
    m = DiscreteBayesianNetwork()
    m.add_nodes_from(model.nodes())
    m.add_edges_from(model.edges())
    for cpd in model.get_cpds():
        v = cpd.variable
        ev = list(cpd.variables[1:])
        cards = [net.cardinality[u] for u in ev]
        if v in tables:
            vals = tables[v][row].reshape(net.cardinality[v], -1)
            names = {u: net.states[u] for u in [v, *ev]}
        else:
            vals = cpd.get_values()
            names = {u: list(cpd.state_names[u]) for u in [v, *ev]}
        m.add_cpds(TabularCPD(v, net.cardinality[v], vals, evidence=ev or None, evidence_card=cards or None,
                              state_names=names))
    return m


def hard_evidence(model, p: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    full = forward_sample(model, p, rng)
    df = full.where(rng.random(full.shape) < 0.4)
    df.iloc[0] = None  # one row without evidence
    return df


@pytest.mark.parametrize("name", ["asia", "random"])
@pytest.mark.parametrize("chunk_size", [None, 1, 3])
def test_rows_equal_freshly_compiled_networks(name, chunk_size):
    model = models()[name]
    net = compile_network(model)
    rng = np.random.default_rng(11)
    p = 7
    first = net.variables[0]
    tables = draw_tables(model, net, p, rng, skip=[first])  # one variable keeps its compiled table
    tnet = net.with_tables(tables)
    assert tnet.n_parameter_sets == p
    assert tnet.junction_tree is net.junction_tree
    df = hard_evidence(model, p, seed=5)
    soft_vars = [str(v) for v in rng.choice(net.variables, size=2, replace=False)]
    lik = {v: rng.uniform(0.01, 1.0, size=(p, net.cardinality[v])) * 10.0 ** rng.integers(-50, 50) for v in soft_vars}
    hard_res = tnet.evaluate(df, chunk_size=chunk_size)
    soft_probs, soft_lz = tnet.propagate(lik, chunk_size=chunk_size)
    none_post = tnet.posteriors_from_likelihoods({}, chunk_size=chunk_size)
    both = tnet.posteriors(df.drop(columns=soft_vars), likelihoods=lik, chunk_size=chunk_size)
    assert hard_res.ok.all()
    for r in range(p):
        ref = compile_network(fresh_model(model, net, tables, r))
        one = ref.evaluate(df.iloc[[r]])
        np.testing.assert_allclose(hard_res.posteriors.iloc[r].to_numpy(), one.posteriors.iloc[0].to_numpy(),
                                   atol=TOL, rtol=0)
        assert hard_res.log_evidence.iloc[r] == pytest.approx(one.log_evidence.iloc[0], rel=TOL, abs=TOL)
        rp, rlz = ref.propagate({v: a[r] for v, a in lik.items()})
        np.testing.assert_allclose(soft_probs[r], rp[0], atol=TOL, rtol=0)
        assert soft_lz[r] == pytest.approx(rlz[0], rel=TOL, abs=TOL)
        rn = ref.posteriors_from_likelihoods({}, n_rows=1)
        for v in net.variables:
            np.testing.assert_allclose(none_post[v][r], rn[v][0], atol=TOL, rtol=0)
        rb = ref.posteriors(df.drop(columns=soft_vars).iloc[[r]], likelihoods={v: a[r] for v, a in lik.items()})
        np.testing.assert_allclose(both.iloc[r].to_numpy(), rb.iloc[0].to_numpy(), atol=TOL, rtol=0)


@pytest.mark.parametrize("name", ["asia", "random"])
def test_rows_equal_pgmpy_variable_elimination(name):
    """Independent of the engine: pgmpy VE on each row's tables, hard and soft evidence."""
    model = models()[name]
    net = compile_network(model)
    rng = np.random.default_rng(2)
    p = 4
    tables = draw_tables(model, net, p, rng)
    tnet = net.with_tables(tables)
    df = hard_evidence(model, p, seed=8)
    soft = str(rng.choice([v for v in net.variables]))
    df[soft] = None
    lik = {soft: rng.uniform(0.05, 1.0, size=(p, net.cardinality[soft]))}
    post = tnet.posteriors(df, likelihoods=lik)
    for r in range(p):
        m = fresh_model(model, net, tables, r)
        ev = {k: v for k, v in df.iloc[r].items() if isinstance(v, str)}
        virtual = [TabularCPD(soft, net.cardinality[soft], lik[soft][r][:, None], state_names={soft: net.states[soft]})]
        for v in net.variables:
            if v in ev:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                q = VariableElimination(m).query([v], evidence=ev, virtual_evidence=virtual, show_progress=False)
            refv = np.array([q.values[list(q.state_names[v]).index(s)] for s in net.states[v]])
            np.testing.assert_allclose(post.iloc[r][v].to_numpy(), refv, atol=TOL, rtol=0)


def test_broadcast_of_one_row_and_dict_paths():
    model = models()["random"]
    net = compile_network(model)
    rng = np.random.default_rng(4)
    p = 6
    tables = draw_tables(model, net, p, rng)
    tnet = net.with_tables(tables)
    v = net.variables[-1]
    state = net.states[v][1]
    ev = {v: state}
    post = tnet.posteriors(pd.DataFrame([ev]))
    assert post.shape[0] == p and list(post.index) == list(range(p))
    d = tnet.posteriors_dict(ev)
    lz = tnet.log_evidence_dict(ev)
    assert lz.shape == (p,)
    lik1 = np.array([0.2, 0.7] + [0.1] * (net.cardinality[v] - 2))
    soft_a = tnet.posteriors_from_likelihoods({v: lik1})
    soft_b = tnet.posteriors_from_likelihoods({v: lik1[None, :]})
    for r in range(p):
        ref = compile_network(fresh_model(model, net, tables, r))
        one = ref.posteriors_dict(ev)
        for u in net.variables:
            np.testing.assert_allclose(d[u][r], one[u], atol=TOL, rtol=0)
            np.testing.assert_allclose(post.iloc[r][u].to_numpy(), one[u], atol=TOL, rtol=0)
        assert lz[r] == pytest.approx(ref.log_evidence_dict(ev), rel=TOL, abs=TOL)
        s1 = ref.posteriors_from_likelihoods({v: lik1})
        for u in net.variables:
            np.testing.assert_allclose(soft_a[u][r], s1[u][0], atol=TOL, rtol=0)
            np.testing.assert_allclose(soft_b[u][r], s1[u][0], atol=TOL, rtol=0)
    # exactly P rows (or one)
    with pytest.raises(EvidenceError, match="parameter sets"):
        tnet.posteriors(pd.DataFrame([ev] * 2))
    with pytest.raises(EvidenceError, match="parameter sets"):
        tnet.propagate({v: np.ones((p + 1, net.cardinality[v]))})
    with pytest.raises(EvidenceError, match="parameter sets"):
        tnet.propagate({}, n_rows=3)


def test_one_parameter_set_behaves_like_the_compiled_network():
    model = models()["asia"]
    net = compile_network(model)
    tables = {cpd.variable: cpd.get_values().reshape([net.cardinality[u] for u in cpd.variables])[None]
              for cpd in model.get_cpds()}
    # states of the network's order: asia's CPDs already use them
    one = net.with_tables(tables)
    assert one.n_parameter_sets == 1
    df = hard_evidence(model, 30, seed=1)
    np.testing.assert_allclose(one.posteriors(df).to_numpy(), net.posteriors(df).to_numpy(), atol=TOL, rtol=0)
    np.testing.assert_allclose(one.evaluate(df).log_evidence, net.evaluate(df).log_evidence, atol=TOL, rtol=0)
    assert one.posteriors_dict({"xray": "yes"})["lung"].shape == (2,)
    assert one.log_evidence_dict({"xray": "yes"}) == pytest.approx(net.log_evidence_dict({"xray": "yes"}))


def test_renormalised_and_nested():
    model = models()["random"]
    net = compile_network(model)
    rng = np.random.default_rng(9)
    tables = draw_tables(model, net, 3, rng)
    scaled = {v: a * rng.uniform(0.5, 2.0) for v, a in tables.items()}  # columns no longer sum to 1
    a = net.with_tables(tables).posteriors_from_likelihoods({})
    b = net.with_tables(scaled).posteriors_from_likelihoods({})
    for v in net.variables:
        np.testing.assert_allclose(a[v], b[v], atol=TOL, rtol=0)
    # with_tables of a network with tables: the others keep their per-row tables
    first = net.variables[0]
    part = {k: t for k, t in tables.items() if k != first}
    nested = net.with_tables({first: tables[first]}).with_tables(part).posteriors_from_likelihoods({})
    for v in net.variables:
        np.testing.assert_allclose(nested[v], a[v], atol=TOL, rtol=0)


def test_validation_errors_name_the_variable():
    model = models()["asia"]
    net = compile_network(model)
    good = np.full((2, 2, 2), 0.5)  # xray | either
    with pytest.raises(ValueError, match="'xray'.*shape"):
        net.with_tables({"xray": np.full((2, 2), 0.5)})
    with pytest.raises(ValueError, match="'xray'.*negative"):
        net.with_tables({"xray": good - 1.0})
    bad = good.copy()
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="'xray'.*NaN"):
        net.with_tables({"xray": bad})
    bad[0, 0, 0] = np.inf
    with pytest.raises(ValueError, match="'xray'.*infinite"):
        net.with_tables({"xray": bad})
    with pytest.raises(ValueError, match="'smoke'.*parameter sets"):
        net.with_tables({"xray": good, "smoke": np.full((3, 2), 0.5)})
    with pytest.raises(ValueError, match="P = 0"):
        net.with_tables({"xray": np.zeros((0, 2, 2))})
    with pytest.raises(UnknownNameError):
        net.with_tables({"xrays": good})
    with pytest.raises(ValueError, match="already has 2"):
        net.with_tables({"xray": good}).with_tables({"smoke": np.full((3, 2), 0.5)})


@pytest.mark.parametrize("n_sets", [1, 150])
def test_chunk_workspace_reused_across_chunks(monkeypatch, n_sets):
    """With every array in the per-call workspace (threshold 0), chunks of 64 rows and a short
    last chunk (new buffer shapes) give exactly what fresh arrays give, with and without
    parameter sets; a second call starts from a fresh workspace."""
    import bayesnet.inference.engine as engine

    model = load_reference("alarm")
    net = compile_network(model)
    if n_sets > 1:
        rng = np.random.default_rng(11)
        tables = {}
        for v in ("HYPOVOLEMIA", "LVFAILURE", "CO"):
            cvars, _ = net._cpd_axes[net._index[v]]
            a = rng.random((n_sets, *(net.cardinality[u] for u in cvars))) + 0.05
            tables[v] = a / a.sum(axis=1, keepdims=True)
        net = net.with_tables(tables)
    ev = forward_sample(model, 150, np.random.default_rng(12))
    ev = ev.where(np.random.default_rng(13).random(ev.shape) < 0.3)
    fresh = net.evaluate(ev, chunk_size=64)
    monkeypatch.setattr(engine, "_BUFFER_MIN", 0)
    for _ in range(2):
        reused = net.evaluate(ev, chunk_size=64)
        np.testing.assert_array_equal(reused.posteriors.to_numpy(), fresh.posteriors.to_numpy())
        np.testing.assert_array_equal(reused.log_evidence.to_numpy(), fresh.log_evidence.to_numpy())
