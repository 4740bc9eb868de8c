"""CompiledNetwork.restricted: the network cut to the ancestral closure of the query variables.

References, independent of the restriction code:

* the full network (nothing removed) gives the posteriors and the log-evidence the
  restricted one must reproduce, to 1e-12, for random evidence patterns (observed
  variables drawn per pattern, values from a forward sample so that every row is
  possible) on asia, alarm and the back-pain model, with and without parameter sets;
* the closure itself is checked against ``networkx.ancestors`` of the pgmpy DAG;
* the restricted structure against a network compiled from the pgmpy sub-model built
  by hand (the closure's nodes, edges and CPDs).
"""

from __future__ import annotations

import pickle
import warnings

import networkx as nx
import numpy as np
import pandas as pd
import pytest

import bayesnet
from bayesnet.errors import UnknownNameError
from bayesnet.inference.engine import compile_network
from benchmarks.harness import forward_sample, load_reference

TOL = 1e-12


def _network(name):
    if name == "back_pain":
        model = bayesnet.load_model().network
    else:
        model = load_reference(name)
    return model, compile_network(model)


@pytest.fixture(scope="module", params=["asia", "alarm", "back_pain"])
def case(request):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return (request.param, *_network(request.param))


def _patterns(model, net, n_patterns, rng):
    """(observed variables, targets) pairs: each variable observed with a per-pattern probability."""
    out = []
    for _ in range(n_patterns):
        frac = rng.uniform(0.0, 0.6)
        observed = [v for v in net.variables if rng.random() < frac]
        targets = list(rng.choice(net.variables, size=min(3, len(net.variables)), replace=False))
        out.append((observed, targets))
    return out


def _random_tables(net, n_sets, rng, variables=None):
    """Per-row CPTs: every column a Dirichlet draw (shape (P, card, *parent cards), CPD axis order)."""
    out = {}
    for v in variables or net.variables:
        cvars, _ = net._cpd_axes[net._index[v]]
        shape = tuple(net.cardinality[u] for u in cvars)
        a = rng.gamma(1.0, size=(n_sets, *shape)) + 1e-3
        out[v] = a / a.sum(axis=1, keepdims=True)
    return out


def test_closure_is_the_ancestral_set(case):
    name, model, net = case
    rng = np.random.default_rng(1)
    for observed, targets in _patterns(model, net, 8, rng):
        keep = set(observed) | set(targets)
        expected = set(keep)
        for v in keep:
            expected |= nx.ancestors(model, v)
        small = net.restricted(keep)
        assert set(small.variables) == expected
        assert small.variables == [v for v in net.variables if v in expected]  # the network's order


def test_restricted_equals_full_network(case):
    name, model, net = case
    rng = np.random.default_rng(2)
    sample = forward_sample(model, 40, np.random.default_rng(3))
    for observed, targets in _patterns(model, net, 12, rng):
        small = net.restricted([*observed, *targets])
        ev = sample[observed] if observed else pd.DataFrame(index=sample.index)
        # some rows leave some of the pattern's variables unobserved
        ev = ev.where(rng.random(ev.shape) < 0.8)
        full = net.evaluate(ev, targets=targets)
        res = small.evaluate(ev, targets=targets)
        assert res.ok.all() and full.ok.all()
        np.testing.assert_allclose(res.posteriors.to_numpy(), full.posteriors.to_numpy(), rtol=0, atol=TOL)
        np.testing.assert_allclose(res.log_evidence.to_numpy(), full.log_evidence.to_numpy(), rtol=TOL, atol=TOL)
        assert list(res.posteriors.columns) == list(full.posteriors.columns)
        # the single-row fast path too
        row = {k: v for k, v in ev.iloc[0].items() if isinstance(v, str)}
        a = small.posteriors_dict(row, targets=targets)
        b = net.posteriors_dict(row, targets=targets)
        for t in targets:
            np.testing.assert_allclose(a[t], b[t], rtol=0, atol=TOL)
        assert abs(small.log_evidence_dict(row) - net.log_evidence_dict(row)) <= TOL * max(1, abs(net.log_evidence_dict(row)))


def test_restricted_soft_evidence(case):
    name, model, net = case
    rng = np.random.default_rng(4)
    for observed, targets in _patterns(model, net, 6, rng):
        if not observed:
            continue
        lik = {v: rng.random((7, net.cardinality[v])) + 1e-3 for v in observed}
        small = net.restricted([*observed, *targets])
        p_full, lz_full = net.propagate(lik, targets=targets)
        p_small, lz_small = small.propagate(lik, targets=targets)
        np.testing.assert_allclose(p_small, p_full, rtol=0, atol=TOL)
        np.testing.assert_allclose(lz_small, lz_full, rtol=TOL, atol=TOL)


@pytest.mark.parametrize("n_sets", [1, 6])
def test_restricted_with_tables_equals_full(case, n_sets):
    name, model, net = case
    rng = np.random.default_rng(5)
    tables = _random_tables(net, n_sets, rng)
    draws = net.with_tables(tables)
    sample = forward_sample(model, n_sets, np.random.default_rng(6))
    for observed, targets in _patterns(model, net, 8, rng):
        keep = [*observed, *targets]
        small = draws.restricted(keep)
        assert small.n_parameter_sets == n_sets
        # restricting first and giving the closure's tables is the same network
        first = net.restricted(keep)
        other = first.with_tables({v: tables[v] for v in first.variables})
        ev = sample[observed] if observed else pd.DataFrame(index=range(n_sets))
        full = draws.evaluate(ev, targets=targets)
        for candidate in (small, other):
            res = candidate.evaluate(ev, targets=targets)
            ok = full.ok.to_numpy()
            assert (res.ok.to_numpy() == ok).all()
            np.testing.assert_allclose(
                res.posteriors.to_numpy()[ok], full.posteriors.to_numpy()[ok], rtol=0, atol=TOL
            )
            np.testing.assert_allclose(res.log_evidence.to_numpy(), full.log_evidence.to_numpy(), rtol=TOL, atol=TOL)


def test_restricted_structure_matches_hand_built_submodel():
    from pgmpy.models import DiscreteBayesianNetwork

    model, net = _network("alarm")
    keep = ["HRBP", "CO", "PRESS"]
    closure = set(keep)
    for v in keep:
        closure |= nx.ancestors(model, v)
    sub = DiscreteBayesianNetwork()
    sub.add_nodes_from(closure)
    sub.add_edges_from([(u, v) for u, v in model.edges() if v in closure])
    sub.add_cpds(*[model.get_cpds(v) for v in closure])
    ref = compile_network(sub)
    small = net.restricted(keep)
    assert sorted(small.variables) == sorted(ref.variables)
    sample = forward_sample(model, 30, np.random.default_rng(7))[["CO", "PRESS"]]
    a = small.evaluate(sample, targets=["HRBP"])
    b = ref.evaluate(sample, targets=["HRBP"])
    np.testing.assert_allclose(a.posteriors.to_numpy(), b.posteriors.to_numpy(), rtol=0, atol=TOL)
    np.testing.assert_allclose(a.log_evidence.to_numpy(), b.log_evidence.to_numpy(), rtol=TOL, atol=TOL)


def test_restricted_is_cached_and_bounded():
    model, net = _network("alarm")
    a = net.restricted(["CO"])
    assert net.restricted(["CO", "CO"]) is a
    assert net.restricted(iter(["CO"])) is a  # any iterable
    assert net.restricted("CO") is a  # a single name
    # the closure decides, not the names: an ancestor of CO adds nothing
    parent = model.get_cpds("CO").variables[1]
    assert net.restricted(["CO", parent]) is a
    assert net.restricted(net.variables) is net
    leaves = [v for v in model.nodes() if model.out_degree(v) == 0]
    for v in leaves:
        net.restricted([v])
    assert len(net._restricted) <= 32
    draws = net.with_tables(_random_tables(net, 3, np.random.default_rng(8), ["CO"]))
    d = draws.restricted(["CO"])
    assert draws.restricted(["CO"]) is d and d.n_parameter_sets == 3
    for v in leaves:
        draws.restricted([v])
    assert len(draws._restricted) <= 8
    # a restricted network of parameter sets shares the structure compiled on the base network
    assert d._base is net.restricted(["CO"])


def test_restricted_errors_and_pickling():
    _, net = _network("asia")
    with pytest.raises(UnknownNameError):
        net.restricted(["lung", "nope"])
    small = net.restricted(["lung"])
    with pytest.raises(UnknownNameError):
        small.posteriors_dict({"xray": "yes"})  # xray is barren for lung: not in the network
    assert len(net._restricted) == 1
    back = pickle.loads(pickle.dumps(net))
    assert back._restricted == {}
    np.testing.assert_allclose(
        back.restricted(["lung"]).posteriors_dict({}, targets=["lung"])["lung"],
        small.posteriors_dict({}, targets=["lung"])["lung"],
        rtol=0,
        atol=TOL,
    )


def test_lazy_layout_of_parameter_sets():
    """with_tables builds no layout until the network is evaluated (restricted networks need none)."""
    _, net = _network("asia")
    draws = net.with_tables(_random_tables(net, 6, np.random.default_rng(9)))  # > small_batch: the fine layout
    assert draws._fine_layout is None
    small = draws.restricted(["lung"])
    small.posteriors_dict({}, targets=["lung"])
    assert draws._fine_layout is None
    draws.posteriors_dict({}, targets=["lung"])
    assert draws._fine_layout is not None


# ------------------------------------------------------------------ the reasoning tools on it


@pytest.fixture(scope="module")
def back_pain():
    return bayesnet.load_model()


def _full_draws_posteriors(model, lik, draws, seed):
    """P(condition = yes) per draw on the unrestricted network of draws (the reference)."""
    from bayesnet.reasoning.uncertainty import condition_posteriors

    return condition_posteriors(model.parameter_draws(draws, seed).network(model.engine), lik, draws, model.conditions)[0]


def test_uncertainty_batch_groups_equal_full_network(back_pain):
    """Groups large enough to be restricted (>= 3 calls), small ones, interleaved: every scenario's
    statistics equal quantiles of its posteriors on the full network of draws, in the input order."""
    model = back_pain
    draws = 50  # 40 scenarios per call: a group of >= 120 scenarios is restricted
    rng = np.random.default_rng(10)
    fever = rng.choice(["yes", "no"], 260)
    age = rng.choice(list(model.states["age_group"]), 260)
    rows = []
    for i in range(260):
        if i % 2:
            rows.append({"fever": fever[i], "age_group": age[i]})
        else:
            rows.append({"history_of_cancer": "yes" if i % 4 else "no"})
    rows[7] = {"fever": "yes", "night_pain": "yes"}  # a group of one: the full network
    index = pd.Index([f"s{i}" for i in range(260)], name="case")
    res = model.uncertainty_batch(pd.DataFrame(rows, index=index), draws=draws, seed=3, progress=False)
    assert list(res.index) == list(index)
    # the two large groups ran on restricted networks of draws (40 scenarios per call)
    assert len(model.parameter_draws(draws, 3).network(model.engine, 40)._restricted) == 2
    level = 0.95
    for i in [0, 1, 2, 7, 8, 129, 130, 258, 259]:
        lik = model.check_evidence(rows[i]).likelihoods()
        post = _full_draws_posteriors(model, lik, draws, 3)
        low = np.quantile(post, (1 - level) / 2, axis=0)
        high = np.quantile(post, 1 - (1 - level) / 2, axis=0)
        for j, c in enumerate(model.conditions):
            assert abs(res.loc[index[i], (c, "low")] - low[j]) < TOL
            assert abs(res.loc[index[i], (c, "high")] - high[j]) < TOL
            assert abs(res.loc[index[i], (c, "posterior")] - model.diagnose(rows[i]).ranking.loc[c, "posterior"]) < TOL


def test_uncertainty_equals_full_network(back_pain):
    model = back_pain
    ev = {"fever": "yes", "iv_drug_use": "yes"}
    res = model.uncertainty(ev, draws=60, seed=4)
    post = _full_draws_posteriors(model, model.check_evidence(ev).likelihoods(), 60, 4)
    for j, c in enumerate(model.conditions):
        assert abs(res.loc[c, "low"] - np.quantile(post[:, j], 0.025)) < TOL
        assert abs(res.loc[c, "high"] - np.quantile(post[:, j], 0.975)) < TOL
        assert abs(res.loc[c, "mean"] - post[:, j].mean()) < TOL
    d = model.posterior_draws(ev, draws=60, seed=4)
    np.testing.assert_allclose(d.to_numpy(), post, rtol=0, atol=TOL)
