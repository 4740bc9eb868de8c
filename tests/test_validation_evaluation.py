"""The evaluation of validation scenarios on the engine (bayesnet.reasoning.validation): draws and missing intervals."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
from pgmpy.inference import VariableElimination

import bayesnet
from bayesnet.building.network import build_network
from bayesnet.data.scenarios import Target, load_validation
from bayesnet.reasoning.uncertainty import ExcludedDrawsWarning, draw_parameters
from bayesnet.reasoning.validation import event_probability, validate


def test_event_probability_per_draw_equals_pgmpy_on_that_draw(model):
    """Independent reference: pgmpy's joint on a network rebuilt from each draw's tables."""
    draws = draw_parameters(model, draws=8, seed=5)
    t = Target("any", (("pulmonary_embolism", ("yes",)), ("dvt", ("yes",))), "vte")
    ages = ("50_to_69", "70_plus")
    p = event_probability(draws.network(model.engine), {"dyspnoea": ["yes"], "age_group": list(ages)}, t, n_rows=8)
    for i in (0, 5):
        ve = VariableElimination(build_network(draws.tables.draw(i)))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            q = ve.query(
                ["pulmonary_embolism", "dvt", "age_group"],
                evidence={"dyspnoea": "yes"},
                joint=True,
                show_progress=False,
            )
        den = sum(
            q.get_value(pulmonary_embolism=a, dvt=b, age_group=g)
            for a in ("yes", "no")
            for b in ("yes", "no")
            for g in ages
        )
        none = sum(q.get_value(pulmonary_embolism="no", dvt="no", age_group=g) for g in ages)
        assert p[i] == pytest.approx((den - none) / den, rel=1e-9)


def test_no_model_interval_is_not_an_overlap(monkeypatch):
    """All draws impossible: NaN interval, overlap False (not max(low, nan) = low), and a warning."""
    model = bayesnet.load_model()
    sc = next(
        s for s in load_validation(priors=model.priors) if s.setting == model.setting and "fever" not in s.evidence
    )
    var, states = next(iter(sc.evidence.items()))
    real = draw_parameters(model, draws=20, seed=0)
    tables = real.tables.take(np.arange(real.n))
    cpt = np.array(tables.cpts[var], copy=True)
    idx = [model.states[var].index(s) for s in states]
    other = [k for k in range(cpt.shape[1]) if k not in idx]
    cpt[:, idx] = 0.0
    cpt[:, other[0]] = 1.0
    for k in other[1:]:
        cpt[:, k] = 0.0
    tables.cpts = {**tables.cpts, var: cpt}
    fake = dataclasses.replace(real, tables=tables)
    monkeypatch.setattr(model, "parameter_draws", lambda d, s: fake)
    with pytest.warns(ExcludedDrawsWarning, match="no possible draw"):
        df = validate(model, scenarios=[sc], draws=20)
    row = df.iloc[0]
    assert np.isnan(row["model_low"]) and np.isnan(row["model_high"]) and np.isfinite(row["model"])
    assert row["excluded_draws"] == 20 and not row["overlap"]
