"""Vectorised tables (bayesnet.building.parametric), their exact evaluation on the engine with one row per
parameter set (CompiledNetwork.with_tables through bayesnet.reasoning.uncertainty), and most_probable."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from helpers import SETTINGS, query

from bayesnet._pgmpy import VariableElimination
from bayesnet.building.network import build_network, build_tables
from bayesnet.building.parametric import build_vectorised, parameter_space, replace_parameters
from bayesnet.errors import BayesNetError, ImpossibleEvidenceError, PriorsError, UnknownNameError
from bayesnet.inference.reference import ReferenceInference
from bayesnet.reasoning.joint import NONE_LABEL, most_probable
from bayesnet.reasoning.uncertainty import condition_posteriors, draw_parameters, stack_likelihoods, tables_network


def random_evidence(model, rng: np.random.Generator, *, soft: bool = True, conditions: bool = True) -> dict:
    """A random scenario: risk factors, findings and tests, sometimes a condition, some soft entries."""
    kinds = model.tables.kinds
    states = model.tables.states
    names = [v for v, k in kinds.items() if k != "condition"]
    ev: dict = {}
    for v in rng.choice(names, size=rng.integers(0, 12), replace=False):
        if soft and rng.random() < 0.2:
            w = rng.random(len(states[v])) + 0.05
            ev[str(v)] = dict(zip(states[v], map(float, w), strict=True))
        else:
            ev[str(v)] = str(rng.choice(states[v]))
    if conditions and rng.random() < 0.3:
        c = str(rng.choice(model.serious_conditions))
        ev[c] = str(rng.choice(["yes", "no"]))
    return ev


def tables_close(a, b, tol=1e-10) -> float:
    worst = 0.0
    for v, arr in b.cpts.items():
        worst = max(worst, float(np.max(np.abs(np.asarray(a.cpts[v]) - arr))))
    assert worst < tol, worst
    return worst


@pytest.mark.parametrize("setting", SETTINGS)
def test_model_tables_are_the_point_draw(models, setting):
    model = models[setting]
    space = parameter_space(model)
    vt = build_vectorised(space, space.values)
    assert vt.valid.all() and not vt.problems
    tables_close(vt.draw(0), model.tables, tol=1e-300)  # identical
    assert model.tables.descriptions["dvt"] == model.priors.conditions["dvt"].description
    # only this setting's numbers are parameters
    other = next(s for s in SETTINGS if s != setting)
    assert not any(f"[{other}]" in p for _, p in space.keys)


@pytest.mark.parametrize("setting", SETTINGS)
def test_each_draw_equals_its_parameter_set_built_alone(models, setting):
    """Vectorising mixes nothing across draws: draw i is the one-draw build of priors holding set i."""
    model = models[setting]
    draws = draw_parameters(model, draws=40, seed=11)
    vt, space = draws.tables, draws.space
    assert vt.valid.all()
    for i in (0, 7, 19, 39):
        ref = build_tables(space.priors_for(draws.values[i]), setting)
        tables_close(vt.draw(i), ref, tol=1e-13)
        for c, b in ref.baselines.items():
            assert abs(vt.baselines[c][i] - b) < 1e-12


@pytest.mark.parametrize("setting", SETTINGS)
def test_drawn_networks_reproduce_their_own_prevalences(models, setting):
    """Model-level check with pgmpy: each draw's network has the prevalences of its parameter set."""
    model = models[setting]
    draws = draw_parameters(model, draws=10, seed=3)
    space = draws.space
    for i in (1, 8):
        values = space.as_dict(draws.values[i])
        ve = VariableElimination(build_network(draws.tables.draw(i)))
        for name, cond in model.priors.conditions.items():
            if cond.definition != "calibrated":
                continue
            got = query(ve, name)["yes"]
            assert got == pytest.approx(values[(name, f"prevalence[{setting}]")], rel=1e-9, abs=1e-12), (i, name)
        rf = "iv_drug_use"
        assert query(ve, rf)["yes"] == pytest.approx(values[(rf, f"prevalence[{setting}]")], abs=1e-12)


def test_unreconcilable_baseline_is_flagged_or_raised(model):
    """A ratio so large that no baseline in [-60, 60] gives the prevalence: flagged in a batch, raised alone."""
    space = parameter_space(model)
    eff = model.priors.conditions["multiple_myeloma"].effects[0]
    key = (eff.param.node, eff.param.parameter)
    values = np.tile(space.values, (3, 1))
    values[1, space.index[key]] = 1e300
    vt = build_vectorised(space, values)
    assert vt.valid.tolist() == [True, False, True]
    assert any("no baseline" in reason for reason in vt.problems)
    with pytest.raises(PriorsError, match=r"multiple_myeloma.*no baseline reproduces the prevalence"):
        build_vectorised(space, values, strict=True)
    with pytest.raises(BayesNetError, match="no redraw"):
        build_vectorised(space, values, strict=True, redraw=lambda cols, n: np.zeros((n, len(cols))))


def test_marginal_guards_the_einsum_label_limit(model, monkeypatch):
    """More variables than one einsum can label is a named error, not numpy's ValueError."""
    from bayesnet.building import tables as table_module
    from bayesnet.building.tables import MAX_MARGINAL_VARIABLES, Tables

    t = Tables("chain")
    k = MAX_MARGINAL_VARIABLES + 1
    for i in range(k):  # a chain x0 -> x1 -> ... : the last one has k - 1 ancestors
        t.states[f"x{i}"] = ("a", "b")
        t.parents[f"x{i}"] = [f"x{i - 1}"] if i else []
        t.cpts[f"x{i}"] = np.array([[0.9, 0.2], [0.1, 0.8]]) if i else np.array([0.5, 0.5])
    assert t.marginal([f"x{k - 2}"]).sum() == pytest.approx(1.0)  # at the limit: fine
    with pytest.raises(BayesNetError, match=f"involves {k} variables"):
        t.marginal([f"x{k - 1}"])
    # in a build, it names the condition whose parents are too many
    monkeypatch.setattr(table_module, "MAX_MARGINAL_VARIABLES", 2)
    with pytest.raises(PriorsError, match=r"conditions.yaml: conditions\.\w+: the joint of"):
        build_tables(model.priors, model.setting)


def test_flagged_sets_are_exactly_those_build_tables_rejects(model):
    space = parameter_space(model)
    rng = np.random.default_rng(5)
    values = np.tile(space.values, (30, 1))
    for j, p in enumerate(space.params):  # uniform over the middle half of each interval: some inconsistent sets
        if p.has_interval:
            lo, hi = p.value - (p.value - p.low) / 2, p.value + (p.high - p.value) / 2
            values[:, j] = rng.uniform(lo, hi, 30)
    for g in space.groups:
        values[:, g] /= values[:, g].sum(axis=1, keepdims=True)
    vt = build_vectorised(space, values)
    assert 0 < vt.valid.sum() < 30
    for i in range(12):
        if vt.valid[i]:
            tables_close(vt.draw(i), build_tables(space.priors_for(values[i]), model.setting))
        else:
            with pytest.raises(PriorsError):
                build_tables(space.priors_for(values[i]), model.setting)


def test_replace_parameters_keeps_yes_no_factors_and_controls_consistent(priors):
    key = ("iv_drug_use", "prevalence[primary_care]")
    ps = replace_parameters(priors, {key: 0.1})
    dist = ps.risk_factors["iv_drug_use"].prevalence["primary_care"]
    assert dist["yes"].value == pytest.approx(0.1) and dist["no"].value == pytest.approx(0.9)
    eff = next(e for e in priors.conditions["spinal_metastasis"].effects if e.controls is not None)
    ckey = (eff.controls.node, eff.controls.parameter)
    ps = replace_parameters(priors, {ckey: 0.03})
    new = next(e for e in ps.conditions["spinal_metastasis"].effects if e.controls is not None)
    assert new.controls.value == pytest.approx(0.03)
    # the original is untouched
    assert priors.risk_factors["iv_drug_use"].prevalence["primary_care"]["no"].value == pytest.approx(0.997)


@pytest.mark.parametrize("setting", SETTINGS)
def test_point_posteriors_equal_pgmpy(models, setting):
    model = models[setting]
    rng = np.random.default_rng(SETTINGS.index(setting) + 100)
    evs = [model.check_evidence(random_evidence(model, rng)) for _ in range(25)]
    post, _ = condition_posteriors(model.engine, stack_likelihoods(evs, model.states), 25, model.conditions)
    for i, ev in enumerate(evs):
        ref = model.marginals(ev, method="pgmpy")
        want = np.array([ref[c][0] for c in model.conditions])
        assert np.max(np.abs(post[i] - want)) < 1e-9, (ev, post[i] - want)


def test_posteriors_of_random_draws_equal_pgmpy_on_their_own_network(model):
    """Row i of the engine with the draws' tables is draw i: pgmpy on a network rebuilt from that draw."""
    draws = draw_parameters(model, draws=30, seed=4)
    net = draws.network(model.engine)
    rng = np.random.default_rng(8)
    evs = [model.check_evidence(random_evidence(model, rng)) for _ in range(6)]
    posts = [condition_posteriors(net, ev.likelihoods(), 30, model.conditions) for ev in evs]
    for i in (2, 17, 29):
        pgmpy_net = build_network(draws.tables.draw(i))
        ref = ReferenceInference(pgmpy_net)
        for ev, (post, log_z) in zip(evs, posts, strict=True):
            m = ref.marginals(ev, model.conditions)
            want = np.array([m[c][0] for c in model.conditions])
            assert np.max(np.abs(post[i] - want)) < 1e-9
        hard = dict(evs[0].hard)
        if not evs[0].soft:
            from bayesnet.inference.engine import compile_network

            assert posts[0][1][i] == pytest.approx(compile_network(pgmpy_net).log_evidence_dict(hard), abs=1e-9)


def test_repeated_tables_and_chunks_give_the_same_rows(model):
    """Repeating the draws' tables (scenarios sharing one call) and chunking change nothing."""
    draws = draw_parameters(model, draws=25, seed=2)
    rng = np.random.default_rng(3)
    evs = [model.check_evidence(random_evidence(model, rng)) for _ in range(3)]
    single = [condition_posteriors(draws.network(model.engine), ev.likelihoods(), 25, model.conditions)[0] for ev in evs]
    tiled = tables_network(model.engine, draws.tables, repeat=3)
    lik = {v: np.repeat(a, 25, axis=0) for v, a in stack_likelihoods(evs, model.states).items()}
    both, _ = condition_posteriors(tiled, lik, 75, model.conditions)
    for j in range(3):
        assert np.allclose(both[25 * j : 25 * (j + 1)], single[j], rtol=0, atol=1e-14)
    probs, _ = tiled.propagate(lik, n_rows=75, targets=model.conditions, chunk_size=7)
    whole, _ = tiled.propagate(lik, n_rows=75, targets=model.conditions)
    assert np.allclose(probs, whole, rtol=0, atol=1e-14)


def test_joint_is_normalised_and_gives_mechanical_pain(model):
    ev = {"fever": "yes", "age_group": "70_plus"}
    every = most_probable(model, ev, k=100_000)
    assert every["probability"].sum() == pytest.approx(1.0, abs=1e-12)
    none = every.loc[every["present"] == NONE_LABEL, "probability"].iloc[0]
    assert none == pytest.approx(model.diagnose(ev).ranking.loc["mechanical_pain", "posterior"], abs=1e-14)


def test_impossible_evidence_gives_nan_in_the_evaluator(model):
    ev = model.check_evidence({"mechanical_pain": "yes", "dvt": "yes"})
    post, log_z = condition_posteriors(model.engine, ev.likelihoods(), 1, model.conditions)
    assert np.isnan(post).all() and log_z[0] == -np.inf
    draws = draw_parameters(model, draws=5, seed=1)
    post, log_z = condition_posteriors(draws.network(model.engine), ev.likelihoods(), 5, model.conditions)
    assert np.isnan(post).all() and (log_z == -np.inf).all()


def test_stacked_likelihoods_are_ones_where_unobserved(model):
    soft = {"under_50": 1.0, "50_to_69": 0.5, "70_plus": 0.25}
    evs = [model.check_evidence({"fever": "yes"}), model.check_evidence({"age_group": soft})]
    lik = stack_likelihoods(evs, model.states)
    assert lik["fever"].tolist() == [[1.0, 0.0], [1.0, 1.0]]
    assert lik["age_group"].tolist() == [[1.0, 1.0, 1.0], [1.0, 0.5, 0.25]]


# ---------------------------------------------------------------------------- most_probable


def pgmpy_joint(ve, model, evidence):
    hard = {k: v for k, v in evidence.items() if isinstance(v, str)}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return ve.query(_modelled(model), evidence=hard or None, joint=True, show_progress=False)


def _modelled(model):
    """Every modelled condition, serious or not (mechanical_pain is their absence)."""
    return [c for c in model.conditions if c != "mechanical_pain"]


@pytest.mark.parametrize(
    "evidence",
    [
        {},
        {"history_of_cancer": "yes", "night_pain": "yes", "spinal_tenderness": "yes", "age_group": "70_plus"},
        {"saddle_anaesthesia": "yes", "urinary_retention": "yes", "neuro_deficit": "yes"},
        {"iv_drug_use": "yes", "fever": "yes", "esr_crp": "elevated", "mechanical_pain": "no"},
    ],
)
def test_most_probable_equals_pgmpy_joint(model, ve, evidence):
    top = most_probable(model, evidence, k=6)
    q = pgmpy_joint(ve["primary_care"], model, evidence)
    assert list(top.columns) == ["rank", "probability", "present", "n_present", *_modelled(model)]
    assert top["rank"].tolist() == list(range(1, len(top) + 1))
    assert top["probability"].is_monotonic_decreasing
    assert top["probability"].sum() <= 1 + 1e-12
    for _, row in top.iterrows():
        assign = {c: row[c] for c in _modelled(model)}
        assert row["probability"] == pytest.approx(q.get_value(**assign), abs=1e-9)
        names = [c for c in _modelled(model) if row[c] == "yes"]
        assert row["present"] == (" + ".join(names) if names else NONE_LABEL)
    # nothing better was left out
    values = np.sort(np.asarray(q.values).reshape(-1))[::-1]
    assert np.allclose(top["probability"].to_numpy(), values[: len(top)], atol=1e-9)


def test_most_probable_lists_metastasis_with_fracture(model):
    ev = {"history_of_cancer": "yes", "age_group": "70_plus", "night_pain": "yes", "xray_fracture": "positive"}
    top = most_probable(model, ev, k=5)
    assert "spinal_metastasis + compression_fracture" in top["present"].tolist()


def test_most_probable_soft_evidence_and_zero_rows(model):
    top = most_probable(model, {"fever": {"yes": 0.8, "no": 0.2}}, k=3)
    assert len(top) == 3
    only = most_probable(model, {"mechanical_pain": "yes"}, k=5)
    assert only["present"].tolist() == [NONE_LABEL]
    assert only["probability"].iloc[0] == pytest.approx(1.0)
    modelled = [c for c in model.conditions if c != "mechanical_pain"]
    assert len(most_probable(model, k=100_000)) == 2 ** len(modelled)


@pytest.mark.parametrize("k", [0, -1, 1.5, True, "3"])
def test_most_probable_rejects_bad_k(model, k):
    with pytest.raises(BayesNetError, match="k must be a positive integer"):
        most_probable(model, {}, k=k)


def test_most_probable_bad_evidence(model):
    with pytest.raises(UnknownNameError, match="did you mean 'fever'"):
        most_probable(model, {"fevr": "yes"})
    with pytest.raises(ImpossibleEvidenceError):
        most_probable(model, {"mechanical_pain": "yes", "dvt": "yes"})


@pytest.mark.parametrize("seed", range(6))
def test_coupled_links_reproduce_each_sensitivity_by_enumeration(seed):
    """The calibrated noisy-OR links give back every sensitivity among the cases of its condition.

    Checked by brute-force enumeration of the conditions' configurations (not the solver's own
    update): for a row where a link is feasible, P(F | C_j, no unrelated condition) equals the
    wanted sensitivity; where it is not (flagged low), the link is 0 and the finding is already at
    least that common among the cases.
    """
    from bayesnet.building.parametric import _marginal_links

    rng = np.random.default_rng(seed)
    k, m, nc = 4, 400, 2
    related = np.eye(k, dtype=bool)
    related[0, 1] = related[1, 0] = related[1, 2] = related[2, 1] = related[0, 2] = related[2, 0] = True
    joint = rng.dirichlet(np.full(2**k, 0.3), size=(m, nc)).reshape(m, nc, *(2,) * k)
    leaks = rng.uniform(0.0, 0.3, size=(m, nc))
    sens = rng.uniform(0.2, 0.99, size=(m, nc, k))
    q, low = _marginal_links(joint, leaks, sens, related)
    X = np.array(np.unravel_index(np.arange(2**k), (2,) * k)).T == 0
    J = joint.reshape(m, nc, -1)
    p_f = 1.0 - (1.0 - leaks[..., None]) * np.prod(np.where(X[None, None], 1.0 - q[:, :, None, :], 1.0), axis=-1)
    for j in range(k):
        keep = X[:, j] & ~(X & ~related[j] & (np.arange(k) != j)).any(axis=1)
        got = (J[..., keep] * p_f[..., keep]).sum(-1) / J[..., keep].sum(-1)
        fit = (q[..., j] > 0) & ~low[:, None, j]  # (m, nc): rows whose link reproduces the sensitivity
        np.testing.assert_allclose(got[fit], sens[..., j][fit], atol=1e-12)
        zero = q[..., j] == 0
        assert (got[zero] >= sens[..., j][zero] - 1e-12).all()
    assert 0 < low.sum() < low.size  # both kinds of row were exercised
