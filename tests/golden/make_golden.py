"""Save the outputs of the model as it stands, to prove a rework leaves them unchanged.

Run once on the commit before a rework (the values in ``golden.json`` came from main at 26de27b):

    python tests/golden/make_golden.py

The scenarios are written to ``scenarios.csv`` (observing risk factors, findings and tests of
patients drawn from the network) so the comparison does not depend on any sampler of the code.
Only public API calls are used, so the same script keeps working after the rework.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

import bayesnet

HERE = Path(__file__).parent
SETTINGS = ["primary_care", "emergency"]
VIGNETTES = [
    {},
    {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes", "failure_to_improve": "yes"},
    {"iv_drug_use": "yes", "fever": "yes"},
    {"saddle_anaesthesia": "yes", "urinary_retention": "yes"},
    {"unilateral_leg_swelling": "yes", "dyspnoea": "yes", "d_dimer": "positive"},
    {"corticosteroid_use": "yes", "age_group": "70_plus", "sex": "female"},
    {"fever": {"yes": 0.8, "no": 0.2}, "night_pain": "yes"},
]


def scenarios(model, n: int = 150, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    cohort = model.sample_cohort(n, seed=seed)
    observable = [v for v in cohort.columns if v not in model.conditions]
    keep = rng.random((n, len(observable))) < rng.uniform(0.1, 0.6, size=(n, 1))
    df = cohort[observable].astype(object).where(keep, None)
    return df


def frame(df: pd.DataFrame) -> dict:
    return json.loads(df.to_json(orient="split", double_precision=15))


def main() -> None:
    out: dict = {"settings": {}}
    base = bayesnet.load_model("primary_care")
    scen_path = HERE / "scenarios.csv"
    if not scen_path.exists():
        scenarios(base).to_csv(scen_path, index=False)
    scen = pd.read_csv(scen_path, dtype=str, keep_default_na=False).replace("", None)
    for setting in SETTINGS:
        model = bayesnet.load_model(setting)
        res: dict = {}
        res["posteriors"] = frame(model.posteriors(scen))
        eng = model.engine.posteriors(scen)
        eng.columns = [f"{v}={s}" for v, s in eng.columns]
        res["all_marginals"] = frame(eng)
        res["vignettes"] = []
        for ev in VIGNETTES:
            dx = model.diagnose(ev)
            item = {"evidence": ev, "ranking": frame(dx.ranking[["prior", "posterior", "likelihood_ratio"]])}
            nt = model.next_tests(ev)
            item["next_tests"] = frame(nt.select_dtypes("number"))
            item["uncertainty"] = frame(model.uncertainty(ev, draws=200, seed=0))
            item["most_probable"] = frame(model.most_probable(ev, k=5))
            if ev:
                item["explain"] = frame(dx.explain(dx.leading_serious))
                sens = model.sensitivity(ev, dx.leading_serious)
                item["sensitivity"] = {"condition": dx.leading_serious, "table": frame(sens)}
            res["vignettes"].append(item)
        out["settings"][setting] = res
    val = bayesnet.validation.validate(draws=200, seed=0) if hasattr(bayesnet, "validation") else None
    if val is None:
        from bayesnet import validation

        val = validation.validate(draws=200, seed=0)
    out["validation"] = frame(val)
    (HERE / "golden.json").write_text(json.dumps(out, indent=None, default=str))


if __name__ == "__main__":
    main()
