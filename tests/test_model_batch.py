"""The batch path of ``BackPainModel.posteriors``: two small networks in place of the absence chain.

``mechanical_pain`` (no modelled condition) is "yes" exactly when every other condition is "no", so
the batch path answers it as ``P(e, every condition no) / P(e)`` from a network without it and one
with every condition held at "no" (``BackPainModel._absence_engines``). These tests hold it to the
engine the rest of the model uses (:attr:`BackPainModel.engine`, the chain) and to pgmpy's
variable elimination on the one-table network, on rows drawn from the network itself, and check
that every error comes out as on the engine's path.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

from bayesnet.building.network import build_network, clamped, without
from bayesnet.errors import EvidenceError, UnknownNameError
from bayesnet.inference.engine import compile_network
from bayesnet.inference.junction_tree import parents_first

SETTINGS = ["primary_care", "emergency", "emergency_suspected_pe", "suspected_cauda_equina"]


def sampled_rows(model, n: int, seed: int, observe: float = 0.35, conditions: bool = False) -> pd.DataFrame:
    """``n`` rows forward-sampled from the model's tables, each variable observed with probability ``observe``.

    Conditions are never observed unless ``conditions``; every row is possible (it is drawn from
    the network).
    """
    t = model.tables
    names = list(t.cpts)
    index = {v: i for i, v in enumerate(names)}
    order = parents_first({index[v]: [index[p] for p in t.parents[v]] for v in names}, len(names))
    rng = np.random.default_rng(seed)
    codes = np.zeros((n, len(names)), dtype=int)
    for i in order:
        v = names[i]
        cpt = t.cpts[v]
        cols = cpt[(slice(None), *[codes[:, index[p]] for p in t.parents[v]])]  # (states, n); roots: (states,)
        cols = np.broadcast_to(cols.reshape(cpt.shape[0], -1), (cpt.shape[0], n))
        u = rng.random(n)
        codes[:, i] = (np.cumsum(cols, axis=0) < u).sum(axis=0).clip(max=cpt.shape[0] - 1)
    out = {}
    for v in names:
        if t.kinds[v] == "condition" and not conditions:
            continue
        states = np.array(t.states[v], dtype=object)[codes[:, index[v]]]
        states[rng.random(n) >= observe] = None
        out[v] = states
    return pd.DataFrame(out)


def chain_engine(model, rows: pd.DataFrame) -> pd.DataFrame:
    """P(yes) of every condition by the model's engine (the absence chain), as the batch path used to."""
    post = model.engine.posteriors(rows, targets=model.conditions)
    return pd.DataFrame({c: post[(c, "yes")].to_numpy() for c in model.conditions}, index=rows.index)


@pytest.mark.parametrize("setting", SETTINGS)
def test_batch_path_equals_the_chain_engine_in_every_setting(models, setting):
    model = models[setting]
    rows = sampled_rows(model, 3000, seed=SETTINGS.index(setting))
    fast = model.posteriors(rows)
    assert list(fast.columns) == model.conditions
    np.testing.assert_allclose(fast.to_numpy(), chain_engine(model, rows).to_numpy(), rtol=0, atol=1e-12)
    # mechanical pain is one minus the chance of some condition, never above one
    assert np.all((fast["mechanical_pain"] >= 0) & (fast["mechanical_pain"] <= 1 + 1e-12))


def test_batch_path_equals_pgmpy_variable_elimination(model, ve):
    rows = sampled_rows(model, 25, seed=7, observe=0.5)
    fast = model.posteriors(rows)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r, row in rows.iterrows():
            evidence = {k: v for k, v in row.items() if pd.notna(v)}
            res = ve["primary_care"].query(model.conditions, evidence=evidence, joint=False, show_progress=False)
            for c in model.conditions:
                q = res[c]
                assert abs(fast.loc[r, c] - q.values[q.state_names[c].index("yes")]) < 1e-9, (r, c)


def test_improbable_rows_keep_their_relative_precision(model):
    """Many positive findings at once: P(e) is tiny, and the ratio of two log-evidences must still be exact."""
    findings = [v for v, k in model.tables.kinds.items() if k in ("finding", "test")]
    row = {v: model.tables.states[v][0] for v in findings}  # every finding and test at its first (positive) state
    rows = pd.DataFrame([row, {**row, "fever": "no"}])
    fast = model.posteriors(rows)
    slow = chain_engine(model, rows)
    assert model.engine.evaluate(rows).log_evidence.max() < -40  # improbable indeed
    np.testing.assert_allclose(fast.to_numpy(), slow.to_numpy(), rtol=1e-9, atol=1e-300)


def test_report_mode_gives_the_engine_errors_and_nan_rows(model):
    rows = sampled_rows(model, 40, seed=3)
    rows.loc[5, "fever"] = "maybe"  # an unknown state
    rows.loc[9, ["mri_epidural_collection", "epidural_abscess"]] = ["positive", "no"]  # observes a condition
    rows = rows.drop(columns=["epidural_abscess"], errors="ignore")
    rows.loc[11, ["sex", "age_group"]] = ["female", "under_50"]
    fast = model.posteriors(rows, errors="report")
    res = model.engine.evaluate(rows, targets=model.conditions)
    assert fast["error"].tolist() == res.errors.tolist()
    assert "unknown state 'maybe'" in fast.loc[5, "error"]
    expected = pd.DataFrame({c: res.posteriors[(c, "yes")].to_numpy() for c in model.conditions}, index=rows.index)
    np.testing.assert_allclose(fast[model.conditions].to_numpy(), expected.to_numpy(), rtol=0, atol=1e-12)
    assert fast.loc[5, model.conditions].isna().all()


def test_a_row_the_first_network_cannot_answer(model, monkeypatch):
    """Every table is leaky, so no row of findings is impossible here; a failed row is simulated on the first
    network: reported with NaN and the first network's message, or the call handed back to the engine."""
    from bayesnet.inference.engine import EngineResult

    free = model._absence_engines()[0]
    real = type(free).evaluate
    rows = pd.DataFrame({"fever": ["yes", "no", None]})

    def failing(self, evidence, targets=None, chunk_size=None, likelihoods=None):
        res = real(self, evidence, targets, chunk_size, likelihoods)
        if self is not free:
            return res
        post, log_ev, errors = res.posteriors.copy(), res.log_evidence.copy(), res.errors.copy()
        post.iloc[1], log_ev.iloc[1], errors.iloc[1] = np.nan, -np.inf, "evidence has probability zero"
        return EngineResult(post, log_ev, errors)

    monkeypatch.setattr(type(free), "evaluate", failing)
    out = model.posteriors(rows, errors="report")
    assert out["error"].tolist() == ["", "evidence has probability zero", ""]
    assert out.loc[1, model.conditions].isna().all() and out.loc[[0, 2], model.conditions].notna().all().all()
    assert model._two_pass(rows, None, "raise") is None  # raise mode: the engine's own path and error
    np.testing.assert_allclose(model.posteriors(rows).to_numpy(), chain_engine(model, rows).to_numpy(), atol=1e-12)


def test_raise_mode_raises_the_engine_error(model):
    rows = pd.DataFrame({"fever": ["yes", "hot"], "sex": ["male", "female"]})
    with pytest.raises(UnknownNameError) as fast:
        model.posteriors(rows)
    with pytest.raises(UnknownNameError) as engine:
        model.engine.posteriors(rows, targets=model.conditions)
    assert str(fast.value) == str(engine.value)


def test_rows_observing_a_condition_and_soft_evidence_give_the_engine_answer(model):
    rows = sampled_rows(model, 200, seed=11, conditions=True, observe=0.2)
    assert rows[model.conditions].notna().any().any()
    np.testing.assert_allclose(model.posteriors(rows).to_numpy(), chain_engine(model, rows).to_numpy(), atol=1e-12)
    # a condition column that observes nothing does not stop the batch path
    empty = sampled_rows(model, 50, seed=12)
    empty["epidural_abscess"] = None
    np.testing.assert_allclose(model.posteriors(empty).to_numpy(), chain_engine(model, empty).to_numpy(), atol=1e-12)
    soft = pd.DataFrame({"fever": [{"yes": 0.8, "no": 0.2}, "no"], "iv_drug_use": ["yes", None]})
    post = model.engine.posteriors(soft.assign(fever=[None, "no"]), targets=model.conditions,
                                   likelihoods={"fever": np.array([[1.0, 0.25], [1.0, 1.0]])})
    np.testing.assert_allclose(model.posteriors(soft)["epidural_abscess"].to_numpy(),
                               post[("epidural_abscess", "yes")].to_numpy(), atol=1e-12)


def test_empty_and_one_row_frames(model):
    assert model.posteriors(pd.DataFrame({"fever": pd.Series([], dtype=object)})).shape == (0, len(model.conditions))
    one = pd.DataFrame({"fever": ["yes"]}, index=["patient"])
    out = model.posteriors(one)
    assert out.index.tolist() == ["patient"]
    assert ((out.loc["patient"] >= 0) & (out.loc["patient"] <= 1)).all()
    assert abs(out.loc["patient", "epidural_abscess"] - model.diagnose({"fever": "yes"}).ranking.loc[
        "epidural_abscess", "posterior"]) < 1e-12


def test_clamped_network_gives_the_probability_of_the_joint_event(model):
    """log-evidence of the clamped network = log P(e, every condition no), checked by brute force on the tables."""
    others = [c for c in model.conditions if c != "mechanical_pain"]
    free = without(model.tables, ["mechanical_pain"])
    held = compile_network(build_network(clamped(free, dict.fromkeys(others, "no"))))
    evidence = {"fever": "yes", "age_group": "70_plus"}
    rows = pd.DataFrame([{**evidence, **{f"_{c}_is_no": "yes" for c in others}}])
    log_p = float(held.evaluate(rows, targets=[]).log_evidence[0])
    joint = model.tables.marginal(["fever", "age_group", *others])  # exact joint by the tables
    f, a = model.tables.states["fever"].index("yes"), model.tables.states["age_group"].index("70_plus")
    assert abs(log_p - np.log(joint[(f, a, *[1] * len(others))])) < 1e-10


def test_encoded_rows_refuse_another_networks_states(model):
    free, held, indicators, _absent, _others = model._absence_engines()
    rows = free.encode(pd.DataFrame({"fever": ["yes"]}))
    with pytest.raises(EvidenceError, match="already a column"):
        rows.with_observed({"fever": (("yes", "no"), "yes")})
    other = rows.with_observed({"_dvt_is_no": (("no", "yes"), "yes")})  # states in the wrong order
    with pytest.raises(EvidenceError, match="encode the rows with this network"):
        held.evaluate(other, targets=[])
