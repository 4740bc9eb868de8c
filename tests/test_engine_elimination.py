"""The relevance path's compiled first stage (per-row variable elimination), against independent references.

* brute force (``numpy.einsum`` over every CPT of the ancestral closure of the targets and the
  evidence) on random networks with many states, whose CPT columns do not sum to 1;
* pyAgrum ``LazyPropagation`` on mildew rows whose cliques run to millions of entries (the rows
  that try several elimination orders and restarts);
* the numpy sliced pass for rows over the memory budget (handed on, same answer);
* one row alone, in a batch and split over threads; the single-row dict path.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import pandas as pd
import pytest

from bayesnet.inference import kernels
from bayesnet.inference.elimination import EliminationPropagator
from bayesnet.inference.engine import compile_network
from benchmarks.harness import forward_sample, load_reference, mixed_scenarios, pick_targets, to_pyagrum
from tests.test_engine_relevance import brute, random_network

pytestmark = pytest.mark.skipif(not kernels.available(), reason="the compiled kernels need numba")


def _codes(net, frame: pd.DataFrame) -> np.ndarray:
    codes = np.full((len(frame), len(net.variables)), -1, dtype=np.int64)
    for j, v in enumerate(net.variables):
        names = [str(s) for s in net.states[v]]
        for r, x in enumerate(frame[v].to_numpy(dtype=object)):
            if not pd.isna(x):
                codes[r, j] = names.index(str(x))
    return codes


def _prop(net, budget: int = 2**24) -> EliminationPropagator:
    return EliminationPropagator(net._tables, net._families, net._cards, budget=budget)


@pytest.mark.parametrize("seed", range(4))
def test_random_networks_match_brute_force(seed):
    model = random_network(seed + 20, n=9)
    net = compile_network(model)
    rng = np.random.default_rng(seed)
    full = forward_sample(model, 40, rng)
    scen = full.where(rng.random(full.shape) < 0.35)[net.variables]
    targets = [v for v in net.variables if rng.random() < 0.5] or [net.variables[0]]
    ti = tuple(net._var_index(t) for t in targets)
    codes = _codes(net, scen)
    assert (codes >= 0).sum() > 50
    probs, logz, status = _prop(net).run(codes, ti)
    assert (status == 0).all()
    starts = np.concatenate([[0], np.cumsum([net._cards[t] for t in ti])])
    for r, ev in enumerate(scen.to_dict("records")):
        codes = {v: [str(x) for x in net.states[v]].index(str(s)) for v, s in ev.items() if not pd.isna(s)}
        post, ref_z = brute(model, codes, targets)
        assert logz[r] == pytest.approx(ref_z, abs=1e-12, rel=1e-12)
        for k, t in enumerate(targets):
            np.testing.assert_allclose(probs[r, starts[k]:starts[k + 1]], post[t], atol=1e-12, rtol=0)


@cache
def _mildew():
    model = load_reference("mildew")
    net = compile_network(model)
    scen = mixed_scenarios(model, 100, seed=0, max_fraction=0.6)[net.variables]
    return model, net, scen


def test_rows_of_millions_of_entries_match_pyagrum():
    """Rows 68, 7 and 93 of this draw need 1.5 to 5 million clique entries: the rows that try other orders."""
    gum = pytest.importorskip("pyagrum")
    model, net, scen = _mildew()
    rows = scen.iloc[[68, 7, 93, 0, 1, 2]]
    targets = pick_targets(model)
    got = net.posteriors(rows, targets=targets)
    ie = gum.LazyPropagation(to_pyagrum(model))
    for r, ev in enumerate(rows.to_dict("records")):
        ie.eraseAllEvidence()
        ie.setEvidence({k: v for k, v in ev.items() if isinstance(v, str)})
        ie.makeInference()
        for t in targets:
            np.testing.assert_allclose(got.iloc[r][t].to_numpy(), ie.posterior(t).toarray(), atol=1e-9, rtol=0)


def test_rows_over_the_budget_are_handed_on_with_the_same_answer():
    model = random_network(31, n=10)
    net = compile_network(model)
    scen = mixed_scenarios(model, 60, seed=5, max_fraction=0.5)[net.variables]
    codes = _codes(net, scen)
    ti = tuple(range(len(net.variables)))
    for budget in (2**k for k in range(4, 20)):
        _, _, status = _prop(net, budget=budget).run(codes, ti)
        if (status == 2).any() and (status == 0).any():  # the budget bites on some rows only
            break
    else:
        pytest.fail("no budget splits the rows")
    net.relevance = "always"
    ref = net.evaluate(scen)
    net._eliminator = _prop(net, budget=budget)
    got = net.evaluate(scen)
    np.testing.assert_allclose(got.posteriors.to_numpy(), ref.posteriors.to_numpy(), atol=1e-12, rtol=0)
    np.testing.assert_allclose(got.log_evidence.to_numpy(), ref.log_evidence.to_numpy(), atol=1e-12, rtol=0)


def test_a_row_alone_in_a_batch_and_over_threads_agrees():
    _, net, scen = _mildew()
    prop = _prop(net)
    codes = _codes(net, scen.iloc[:40])
    ti = tuple(range(len(net.variables)))
    one, lz1, _ = prop.run(codes, ti, threads=1)
    many, lz2, _ = prop.run(codes, ti, threads=2)
    np.testing.assert_array_equal(one, many)  # a row's answer depends on that row only
    np.testing.assert_array_equal(lz1, lz2)
    for r in (0, 7, 39):
        alone, lz, _ = prop.run(codes[r:r + 1], ti)
        np.testing.assert_array_equal(alone[0], one[r])
        assert lz[0] == lz1[r]


def test_single_row_dict_path_takes_the_relevance_path():
    _, net, scen = _mildew()
    assert net._sliced_wanted(1, (0,))
    ev = {k: v for k, v in scen.iloc[3].items() if isinstance(v, str)}
    batch = net.posteriors(scen.iloc[[3]])
    single = net.posteriors_dict(ev)
    for t, p in single.items():
        np.testing.assert_allclose(p, batch.iloc[0][t].to_numpy(), atol=1e-14, rtol=0)
