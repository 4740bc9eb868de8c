"""posterior_draws: the per-draw posteriors behind uncertainty(), checked against pgmpy draw by draw."""

from __future__ import annotations

import numpy as np
import pytest

import bayesnet
from bayesnet.building.network import build_network
from bayesnet.inference.reference import ReferenceInference
from bayesnet.reasoning.uncertainty import draw_parameters


@pytest.fixture(scope="module")
def model():
    return bayesnet.load_model()


def test_each_draw_is_pgmpy_on_the_network_rebuilt_from_it(model):
    ev = {"history_of_cancer": "yes", "night_pain": "yes", "calcium": "high"}
    got = model.posterior_draws(ev, draws=8, seed=5)
    draws = draw_parameters(model, draws=8, seed=5)
    for i in range(8):
        m = ReferenceInference(build_network(draws.tables.draw(i))).marginals(model.check_evidence(ev), model.conditions)
        np.testing.assert_allclose(got.loc[i, model.conditions].to_numpy(float),
                                   [m[c][0] for c in model.conditions], rtol=0, atol=1e-12)


def test_same_seed_same_draws_as_the_interval(model):
    ev = {"fever": "yes", "iv_drug_use": "yes"}
    d = model.posterior_draws(ev, draws=60, seed=2)
    u = model.uncertainty(ev, draws=60, seed=2)
    assert list(d.columns) == model.conditions and d.index.name == "draw"
    lo, hi = np.quantile(d.to_numpy(float), [0.025, 0.975], axis=0)
    np.testing.assert_allclose(u.loc[model.conditions, "low"], lo, atol=1e-12, rtol=0)
    np.testing.assert_allclose(u.loc[model.conditions, "high"], hi, atol=1e-12, rtol=0)
