"""Numerical faults of the engine, each checked against an independent reference.

* many children in one clique (naive-Bayes stars): exact log-space posteriors;
* soft-evidence likelihoods of any scale: pgmpy VE at scale 1, log P(e) shifted by log(scale);
* float32 (and the single-row path): log-space forward-backward on a chain.

References are computed here in log space (logsumexp), never by the engine.
"""

from __future__ import annotations

import warnings
from functools import cache

import numpy as np
import pandas as pd
import pytest
from scipy.special import logsumexp

from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD, VariableElimination
from bayesnet.errors import EvidenceError, ImpossibleEvidenceError
from bayesnet.inference.engine import NUMERIC_MESSAGE, compile_network
from benchmarks.harness import load_reference

DTYPES = [np.float64, np.float32]
#: tolerance on probabilities, and relative tolerance on log P(e), per dtype
PTOL = {np.float64: 1e-12, np.float32: 2e-4}
LTOL = {np.float64: 1e-12, np.float32: 1e-5}


# --------------------------------------------------------------------------- naive-Bayes stars


def star_tables(card: int, n: int, kind: str) -> tuple[np.ndarray, np.ndarray]:
    """Prior of the hub (card,) and child tables (n, 2, card): P(F_i = f | H = h)."""
    prior = np.linspace(1.0, 2.0, card)
    prior /= prior.sum()
    if kind == "weak":  # every finding barely informative (the reported case)
        p0 = np.tile(np.linspace(0.300, 0.302, card), (n, 1))
    elif kind == "alternating":  # strongly informative, pulling in opposite directions
        base = np.linspace(0.001, 0.999, card)
        p0 = np.where((np.arange(n) % 2)[:, None] == 0, base, base[::-1])
    else:  # random
        p0 = np.random.default_rng(n + card).uniform(0.05, 0.95, size=(n, card))
    return prior, np.stack([p0, 1.0 - p0], axis=1)


@cache
def star_structure(card: int, n: int, dtype=np.float64):
    """A compiled star with the "random" tables (compiling 2000 children takes seconds)."""
    prior, child = star_tables(card, n, "random")
    model = DiscreteBayesianNetwork([("H", f"F{i}") for i in range(n)])
    cpds = [TabularCPD("H", card, prior[:, None])]
    for i in range(n):
        cpds.append(TabularCPD(f"F{i}", 2, child[i], evidence=["H"], evidence_card=[card]))
    model.add_cpds(*cpds)
    return compile_network(model, dtype=dtype)


def star(card: int, n: int, kind: str, dtype=np.float64):
    """The star with ``kind`` tables: the compiled structure with one parameter set swapped in."""
    prior, child = star_tables(card, n, kind)
    net = star_structure(card, n, dtype)
    if kind != "random":
        net = net.with_tables({"H": prior[None], **{f"F{i}": child[i][None] for i in range(n)}})
    return net, prior, child


def star_reference(prior, child, findings: dict[int, int]):
    """Exact log P(e) and P(H | e) in log space."""
    logp = np.log(prior).copy()
    for i, f in findings.items():
        logp += np.log(child[i, f])
    lz = logsumexp(logp)
    return lz, np.exp(logp - lz)


def check_star(net, prior, child, findings, dtype):
    lz, post = star_reference(prior, child, findings)
    ev = {f"F{i}": f for i, f in findings.items()}
    # one row: dict path (coarse tree, propagate_small) and a 1-row frame
    p1 = net.posteriors_dict(ev, targets=["H"])["H"]
    np.testing.assert_allclose(p1, post, atol=PTOL[dtype], rtol=0)
    assert net.log_evidence_dict(ev) == pytest.approx(lz, rel=LTOL[dtype], abs=LTOL[dtype])
    # 100 rows (scaled propagation on the fine tree)
    res = net.evaluate(pd.DataFrame([ev] * 100), targets=["H"])
    assert res.ok.all()
    np.testing.assert_allclose(res.posteriors.to_numpy(), np.tile(post, (100, 1)), atol=PTOL[dtype], rtol=0)
    np.testing.assert_allclose(res.log_evidence.to_numpy(), lz, rtol=LTOL[dtype], atol=LTOL[dtype])
    one = net.evaluate(pd.DataFrame([ev]), targets=["H"])
    assert one.ok.all()
    np.testing.assert_allclose(one.posteriors.to_numpy()[0], post, atol=PTOL[dtype], rtol=0)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("card,n", [(2, 1200), (2, 2000), (10, 340), (10, 400)])
@pytest.mark.parametrize("kind", ["weak", "alternating", "random"])
def test_star_all_findings_observed(card, n, kind, dtype):
    net, prior, child = star(card, n, kind, dtype)
    rng = np.random.default_rng(card * n)
    findings = {i: (0 if kind == "weak" else int(rng.integers(2))) for i in range(n)}
    check_star(net, prior, child, findings, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("card,n", [(2, 1100), (2, 2000), (10, 340), (10, 400)])
def test_star_without_or_with_few_findings(card, n, dtype):
    """Barren children: P(nothing) = 1 exactly; the prior pass must not underflow."""
    net, prior, child = star(card, n, "random", dtype)
    if dtype == np.float64 and n == 2000:
        net.junction_tree.check()
    check_star(net, prior, child, {}, dtype)
    assert net.log_evidence_dict({}) == pytest.approx(0.0, abs=1e-12 if dtype == np.float64 else 1e-5)
    check_star(net, prior, child, {0: 0}, dtype)
    check_star(net, prior, child, {i: i % 2 for i in range(0, n, 7)}, dtype)


def test_star_reported_case_figures():
    """The figures of the review: P(H) = [1.48e-4, 0.99985], log P(e) = -1437.15."""
    n = 1200
    model = DiscreteBayesianNetwork([("H", f"F{i}") for i in range(n)])
    cpds = [TabularCPD("H", 2, [[0.3], [0.7]])]
    for i in range(n):
        cpds.append(TabularCPD(f"F{i}", 2, [[0.300, 0.302], [0.700, 0.698]], evidence=["H"], evidence_card=[2]))
    model.add_cpds(*cpds)
    net = compile_network(model)
    ev = {f"F{i}": 0 for i in range(n)}
    logp = np.log([0.3, 0.7]) + n * np.log([0.300, 0.302])
    ref = np.exp(logp - logsumexp(logp))
    p = net.posteriors_dict(ev, targets=["H"])["H"]
    np.testing.assert_allclose(p, ref, atol=1e-12, rtol=0)
    assert p[0] == pytest.approx(1.476159e-4, rel=1e-5)
    assert net.log_evidence_dict(ev) == pytest.approx(-1437.15, abs=0.01)


# --------------------------------------------------------------------------- soft-evidence scale


@cache
def asia(dtype=np.float64):
    model = load_reference("asia")
    return model, compile_network(model, dtype=dtype)


def asia_soft_reference(L):
    model, net = asia()
    virtual = [TabularCPD(v, 2, L[:, None], state_names={v: net.states[v]}) for v in ("asia", "tub")]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        q = VariableElimination(model).query(["lung"], virtual_evidence=virtual, show_progress=False)
    return np.array([q.values[list(q.state_names["lung"]).index(s)] for s in net.states["lung"]])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("scale", [1e-320, 1e-300, 1e-200, 1e-160, 1e-5, 1.0, 1e5, 1e160, 1e200, 1e300])
@pytest.mark.parametrize("rows", [1, 100])
def test_soft_evidence_of_any_scale(scale, rows, dtype):
    """asia and tub share a clique: both likelihoods scaled by c change nothing but log P(e) + 2 log c."""
    _, net = asia(dtype)
    given = np.array([0.3, 0.7]) * scale  # as represented (subnormal at 1e-320: a slightly different ratio)
    top = given.max()
    ref = asia_soft_reference(given / top)
    expect_lz = asia_log_evidence(given / top) + 2 * np.log(top)
    lik = {v: np.tile(given, (rows, 1)) for v in ("asia", "tub")}
    probs, lz = net.propagate(lik, targets=["lung"])
    np.testing.assert_allclose(probs, np.tile(ref, (rows, 1)), atol=PTOL[dtype], rtol=0)
    np.testing.assert_allclose(lz, expect_lz, rtol=LTOL[dtype], atol=LTOL[dtype])
    post = net.posteriors_from_likelihoods(lik, targets=["lung"])["lung"]
    np.testing.assert_allclose(post, np.tile(ref, (rows, 1)), atol=PTOL[dtype], rtol=0)
    res = net.evaluate(pd.DataFrame(index=range(rows)), targets=["lung"], likelihoods=lik)
    assert res.ok.all()
    np.testing.assert_allclose(res.log_evidence.to_numpy(), expect_lz, rtol=LTOL[dtype], atol=LTOL[dtype])
    strict = net.posteriors(pd.DataFrame({"smoke": ["yes"] * rows}), targets=["lung"], likelihoods=lik)
    assert np.isfinite(strict.to_numpy()).all()


def asia_log_evidence(L, log_scale: float = 0.0) -> float:
    """log sum_{asia, tub} P(asia) P(tub | asia) L(asia) L(tub) + 2 log_scale, in log space
    (the other variables are barren)."""
    model, net = asia()
    cpd = {c.variable: c for c in model.get_cpds()}
    pa = dict(zip(cpd["asia"].state_names["asia"], cpd["asia"].values))
    tub = cpd["tub"]
    terms = []
    for a, s_a in enumerate(net.states["asia"]):
        for t, s_t in enumerate(net.states["tub"]):
            ia = list(tub.state_names["asia"]).index(s_a)
            it = list(tub.state_names["tub"]).index(s_t)
            terms.append(np.log(pa[s_a] * tub.values[it, ia]) + 2 * log_scale + np.log(L[a]) + np.log(L[t]))
    return float(logsumexp(terms))


def test_soft_evidence_scale_log_evidence_is_exact_in_log_space():
    _, net = asia()
    L = np.array([0.3, 0.7])
    for scale in (1e-300, 1.0, 1e300):
        lz = net.propagate({"asia": L * scale, "tub": L * scale}, targets=[])[1][0]
        assert lz == pytest.approx(asia_log_evidence(L, np.log(scale)), rel=1e-12)


def test_uniform_subnormal_likelihood_is_no_evidence():
    _, net = asia()
    tiny = np.array([5e-324, 5e-324])
    post = net.posteriors_from_likelihoods({"tub": tiny}, targets=["lung"])["lung"]
    prior = net.posteriors_dict({}, targets=["lung"])["lung"]
    np.testing.assert_allclose(post[0], prior, atol=1e-15)
    assert net.propagate({"tub": tiny})[1][0] == pytest.approx(np.log(5e-324))


@pytest.mark.parametrize("path", ["numpy", "kernels"])
def test_non_finite_results_are_errors_never_successes(monkeypatch, path):
    """Whatever the cause, +inf log-evidence or NaN posteriors are reported, not returned as ok."""
    model = load_reference("asia")
    net = compile_network(model)
    if path == "numpy":
        net._kernel_sched = None  # the numpy passes (as without numba)
        target, name = net._fine, "propagate"
    else:
        if net._kernel is None:
            pytest.skip("numba not available")
        target, name = net._kernel, "run"
    real = getattr(target, name)

    def broken(*args, **kwargs):
        probs, lz = real(*args, **kwargs)
        probs[0] = np.nan
        lz[0] = np.inf
        probs[1] = np.nan  # NaN posterior with a finite log-evidence
        return probs, lz

    monkeypatch.setattr(target, name, broken)
    df = pd.DataFrame({"xray": ["yes"] * 10})
    res = net.evaluate(df)
    assert res.errors.iloc[0] == NUMERIC_MESSAGE and res.errors.iloc[1] == NUMERIC_MESSAGE
    assert not res.ok.iloc[:2].any() and res.ok.iloc[2:].all()
    with pytest.raises(EvidenceError, match="overflow"):
        net.posteriors(df)
    with pytest.raises(EvidenceError, match="overflow"):
        net.posteriors_from_likelihoods({"xray": np.tile([1.0, 0.0], (10, 1))})


def test_impossible_soft_evidence_still_impossible():
    _, net = asia()
    lik = {"either": np.array([[1e-200, 0.0]]), "tub": np.array([[0.0, 1e200]])}
    yes = net.states["either"].index("yes")
    lik["either"] = np.zeros((1, 2))
    lik["either"][0, yes] = 1e-200
    lik["tub"] = np.zeros((1, 2))
    lik["tub"][0, net.states["tub"].index("yes")] = 1e200
    lik["lung"] = np.zeros((1, 2))
    lik["lung"][0, net.states["lung"].index("yes")] = 1.0
    # either = tub OR lung; tub = yes and lung = yes and either = yes is possible; make it impossible:
    lik["either"][0] = 0.0
    lik["either"][0, 1 - yes] = 1e-200  # either = no while tub = yes
    probs, lz = net.propagate(lik)
    assert lz[0] == -np.inf
    res = net.evaluate(pd.DataFrame(index=[0]), likelihoods=lik)
    assert not res.ok.any()
    with pytest.raises(ImpossibleEvidenceError):
        net.posteriors_from_likelihoods(lik)


# --------------------------------------------------------------------------- float32 / dtype limits


@cache
def hidden_chain(n: int):
    edges = [(f"X{i}", f"X{i + 1}") for i in range(n - 1)] + [(f"X{i}", f"F{i}") for i in range(n)]
    model = DiscreteBayesianNetwork(edges)
    trans = np.array([[0.9, 0.1], [0.1, 0.9]])  # P(X_i | X_{i-1}), columns = parent state
    emit = np.array([[0.95, 0.02], [0.05, 0.98]])  # P(F_i | X_i)
    cpds = [TabularCPD("X0", 2, [[0.5], [0.5]])]
    cpds += [TabularCPD(f"X{i}", 2, trans, evidence=[f"X{i - 1}"], evidence_card=[2]) for i in range(1, n)]
    cpds += [TabularCPD(f"F{i}", 2, emit, evidence=[f"X{i}"], evidence_card=[2]) for i in range(n)]
    model.add_cpds(*cpds)
    return model, trans, emit


def chain_reference(n, trans, emit, findings):
    """log P(e) and P(X0 | e), P(X_{n-1} | e) by forward-backward in log space."""
    lt, le = np.log(trans), np.log(emit)
    alpha = np.log([0.5, 0.5]) + le[findings[0]]
    for i in range(1, n):
        alpha = logsumexp(lt + alpha[None, :], axis=1) + le[findings[i]]
    lz = logsumexp(alpha)
    beta = np.zeros(2)
    for i in range(n - 1, 0, -1):
        beta = logsumexp(lt + (le[findings[i]] + beta)[:, None], axis=0)
    first = np.log([0.5, 0.5]) + le[findings[0]] + beta
    return lz, np.exp(first - logsumexp(first)), np.exp(alpha - lz)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n", [40, 70, 200, 600])
def test_chain_single_row_and_batch_in_each_dtype(n, dtype):
    model, trans, emit = hidden_chain(n)
    net = compile_network(model, dtype=dtype)
    findings = [i % 2 for i in range(n)]  # alternate: P(e) ~ 0.05 per finding
    lz, first, last = chain_reference(n, trans, emit, findings)
    ev = {f"F{i}": f for i, f in enumerate(findings)}
    p = net.posteriors_dict(ev, targets=["X0", f"X{n - 1}"])
    np.testing.assert_allclose(p["X0"], first, atol=PTOL[dtype], rtol=0)
    np.testing.assert_allclose(p[f"X{n - 1}"], last, atol=PTOL[dtype], rtol=0)
    assert net.log_evidence_dict(ev) == pytest.approx(lz, rel=LTOL[dtype])
    for rows in (1, 3, 100):
        res = net.evaluate(pd.DataFrame([ev] * rows), targets=["X0"])
        assert res.ok.all()
        np.testing.assert_allclose(res.posteriors.to_numpy(), np.tile(first, (rows, 1)), atol=PTOL[dtype], rtol=0)
        np.testing.assert_allclose(res.log_evidence.to_numpy(), lz, rtol=LTOL[dtype])


def test_chain_70_float32_reported_case():
    model, trans, emit = hidden_chain(70)
    findings = [i % 2 for i in range(70)]
    ev = {f"F{i}": f for i, f in enumerate(findings)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = VariableElimination(model).query(["X0"], evidence=ev, show_progress=False).values
    np.testing.assert_allclose(ref, [0.951517, 0.048483], atol=1e-6)
    net32 = compile_network(model, dtype=np.float32)
    np.testing.assert_allclose(net32.posteriors_dict(ev, ["X0"])["X0"], ref, atol=1e-5)
    assert net32.log_evidence_dict(ev) == pytest.approx(chain_reference(70, trans, emit, findings)[0], rel=1e-5)


def test_float16_is_rejected():
    model, _, _ = hidden_chain(5)
    with pytest.raises(TypeError, match="float16.*too narrow"):
        compile_network(model, dtype=np.float16)
