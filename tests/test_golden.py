"""The one-core rework leaves every number unchanged.

``tests/golden/golden.json`` was written by ``tests/golden/make_golden.py`` on main at 26de27b,
before the rework (two table builders, two inference cores). Every posterior, every marginal of
every variable, ranking, next-test score, uncertainty interval (seed 0), most probable
combination, explanation, sensitivity row and validation row must still agree to 1e-9.

The numbers of main are kept in ``tests/golden/priors/`` (main's priors, in the file layout of
today: settings as files), so this test keeps guarding the code while the shipped priors change.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import bayesnet

GOLDEN = Path(__file__).parent / "golden"
PRIORS = GOLDEN / "priors"
TOL = 1e-9


def _load(setting: str = "primary_care") -> bayesnet.BackPainModel:
    return bayesnet.load_model(setting, priors=PRIORS)


@pytest.fixture(scope="module")
def golden() -> dict:
    return json.loads((GOLDEN / "golden.json").read_text())


@pytest.fixture(scope="module")
def scenarios() -> pd.DataFrame:
    return pd.read_csv(GOLDEN / "scenarios.csv", dtype=str, keep_default_na=False).replace("", None)


def _frame(d: dict) -> pd.DataFrame:
    return pd.DataFrame(d["data"], index=d["index"], columns=d["columns"])


def _same(new: pd.DataFrame, old: dict, what: str, added: tuple[str, ...] = ()) -> None:
    """``new`` equals the saved frame; ``added`` names columns the rework added (not in the saved one)."""
    ref = _frame(old)
    new = new.copy()
    if added:
        assert [str(c) for c in new.columns[-len(added) :]] == list(added), what
        new = new[[c for c in new.columns if str(c) not in added]]
    assert list(map(str, new.columns)) == list(map(str, ref.columns)), what
    assert [str(i) for i in new.index] == [str(i) for i in ref.index], what
    for col in ref.columns:
        a, b = new[col].to_numpy(), ref[col].to_numpy()
        if pd.api.types.is_numeric_dtype(new[col]) and not pd.api.types.is_bool_dtype(new[col]):
            a = a.astype(float)
            b = np.array([np.nan if x is None else x for x in b], dtype=float)
            np.testing.assert_allclose(a, b, rtol=TOL, atol=TOL, err_msg=f"{what}: {col}")
        else:
            assert [str(x) for x in a] == [str(x) for x in b], f"{what}: {col}"


def _same_tornado(new: pd.DataFrame, old: dict, what: str) -> None:
    """Every row of a tornado equals the saved one (to TOL), and rows come in the saved order.

    Rows whose swings are equal to within TOL (e.g. parameters off the evidence path, whose
    swing is zero up to rounding, ~1e-16, or two risk factors with the same interval and the
    same effect) are ordered by rounding noise, which differs between inference cores: they
    may come in either order. Rows are therefore matched by parameter, and a row may stand at
    another position than in the saved table only if the saved swing there is the same to TOL.
    """
    ref = _frame(old)
    assert new["swing"].is_monotonic_decreasing, what
    key = ["node", "parameter"]
    order = {tuple(k): i for i, k in enumerate(ref[key].values.tolist())}
    pos = np.array([order[tuple(k)] for k in new[key].values.tolist()])
    swing = ref["swing"].to_numpy(dtype=float)
    assert np.all(np.abs(swing[pos] - swing) <= TOL), what
    _same(new.iloc[np.argsort(pos, kind="stable")].reset_index(drop=True), old, what)


def _same_ranking(new: pd.DataFrame, old: dict, what: str) -> None:
    """As :func:`_same`, with conditions of equal posterior (to 1e-12: equal priors) in either order."""
    ref = _frame(old)

    def key(df):
        return sorted(range(len(df)), key=lambda i: (-round(float(df["posterior"].iloc[i]), 12), str(df.index[i])))

    _same(new.iloc[key(new)], {"columns": list(ref.columns), "index": [ref.index[i] for i in key(ref)],
                               "data": ref.iloc[key(ref)].to_numpy().tolist()}, what)


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_posteriors_and_marginals_unchanged(golden, scenarios, setting):
    model = _load(setting)
    g = golden["settings"][setting]
    _same(model.posteriors(scenarios), g["posteriors"], "posteriors")
    # the model's variables (the engine also holds the internal chain nodes of mechanical_pain)
    eng = model.engine.posteriors(scenarios, targets=list(model.network.nodes()))
    eng.columns = [f"{v}={s}" for v, s in eng.columns]
    _same(eng, g["all_marginals"], "all marginals")


@pytest.mark.parametrize("setting", ["primary_care", "emergency"])
def test_reasoning_outputs_unchanged(golden, setting):
    model = _load(setting)
    for item in golden["settings"][setting]["vignettes"]:
        ev = item["evidence"]
        dx = model.diagnose(ev)
        _same_ranking(dx.ranking[["prior", "posterior", "likelihood_ratio"]], item["ranking"], f"ranking {ev}")
        # the saved outputs focus on the leading serious condition, the default before the whole
        # differential made it the condition the evidence raised most: name it
        lead = model.diagnose(ev).leading_serious
        # (sorted as the saved outputs were, by the entropy over the serious conditions; focus_information came later)
        nt = model.next_tests(ev, condition=lead, sort_by="entropy").drop(columns="focus_information")
        _same(nt.select_dtypes("number"), item["next_tests"], f"next tests {ev}")
        unc = model.uncertainty(ev, draws=200, seed=0).drop(columns="excluded_draws")
        _same_ranking(unc, item["uncertainty"], f"uncertainty {ev}")
        _same(model.most_probable(ev, k=5), item["most_probable"], f"most probable {ev}")
        if ev:
            _same(dx.explain(dx.leading_serious), item["explain"], f"explain {ev}")
            sens = item["sensitivity"]
            tor = model.sensitivity(ev, sens["condition"])
            assert (tor["truncated"] != "").tolist() == (
                (tor["low_used"] != tor["low"]) | (tor["high_used"] != tor["high"])
            ).tolist()
            _same_tornado(tor.drop(columns="truncated"), sens["table"], f"sensitivity {ev}")


def test_validation_rows_unchanged(golden):
    _same(_load().validate(path=PRIORS / "validation" / "scenarios.yaml", draws=200, seed=0), golden["validation"],
          "validation")
