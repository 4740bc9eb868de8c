"""Rank the model's numbers by how far they move the published scenarios (one-way sensitivity).

The vignettes are the validation scenarios (``priors/validation/scenarios.yaml``: their setting,
evidence and target conditions) and, in primary care and the emergency department, each finding or
test positive alone with each serious condition it is linked to. For every vignette and condition the tornado of
:func:`bayesnet.reasoning.sensitivity.sensitivity` gives each number's swing (posterior at the
high end of its interval minus at the low end). A number's influence is its largest swing on the
log-odds scale over all vignettes, with the vignette where it happens. The grade-C numbers come
first in the printed table: they are the ones to replace by published figures first.

Run: ``python scripts/rank_grade_c.py [--out docs/evidence_notes/grade_c_influence.md]``.
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
import pandas as pd

import bayesnet
from bayesnet.data.priors import _collect_params
from bayesnet.data.scenarios import load_validation
from bayesnet.reasoning.sensitivity import sensitivity
from bayesnet.reasoning.validation import _setting_model


def _logit(p: pd.Series) -> pd.Series:
    p = p.clip(1e-12, 1 - 1e-12)
    return np.log(p / (1 - p))


def influence() -> pd.DataFrame:
    model = bayesnet.load_model()
    rows = []
    for sc in load_validation(priors=model.priors):
        m = _setting_model(model, sc)
        evidence = {v: s[0] for v, s in sc.evidence.items() if len(s) == 1}
        for var in sc.target.variables:
            if var not in m.priors.conditions:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tor = sensitivity(m, evidence, var)
            swing = (_logit(tor["posterior_high"]) - _logit(tor["posterior_low"])).abs()
            rows.append(pd.DataFrame({"node": tor["node"], "parameter": tor["parameter"], "grade": tor["grade"],
                                      "logit_swing": swing, "abs_swing": tor["swing"].abs(),
                                      "vignette": f"{sc.id}:{var}"}))
    # teaching vignettes: each finding or test positive alone, for each condition it is linked to
    for setting in ("primary_care", "emergency"):
        m = model.with_setting(setting)
        for name, f in m.priors.findings.items():
            for cond in f.links:
                if cond not in m.priors.conditions or not m.priors.conditions[cond].serious:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    tor = sensitivity(m, {name: f.states[0]}, cond)
                swing = (_logit(tor["posterior_high"]) - _logit(tor["posterior_low"])).abs()
                rows.append(pd.DataFrame({"node": tor["node"], "parameter": tor["parameter"], "grade": tor["grade"],
                                          "logit_swing": swing, "abs_swing": tor["swing"].abs(),
                                          "vignette": f"{setting}:{name}={f.states[0]}:{cond}"}))
    allr = pd.concat(rows, ignore_index=True).dropna(subset=["logit_swing"])
    # a number a setting takes unchanged from another (based_on) is ranked as the number it copies
    origin = {}
    for setting in model.priors.settings:
        for p in _collect_params(model.with_setting(setting).priors, setting):
            if p.origin:
                origin[(p.node, p.parameter)] = p.origin
    allr["parameter"] = [origin.get((n, q), q) for n, q in zip(allr["node"], allr["parameter"])]
    best = allr.sort_values("logit_swing", ascending=False).groupby(["node", "parameter"], sort=False).head(1)
    return best.sort_values("logit_swing", ascending=False).reset_index(drop=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the grade-C table as markdown to this file")
    ap.add_argument("--top", type=int, default=40)
    args = ap.parse_args()
    table = influence()
    c = table[table["grade"] == "C"].head(args.top)
    c = c.assign(logit_swing=c["logit_swing"].map("{:.3g}".format), abs_swing=c["abs_swing"].map("{:.3g}".format))
    head = "| " + " | ".join(c.columns) + " |\n|" + "---|" * len(c.columns) + "\n"
    text = head + "\n".join("| " + " | ".join(map(str, r)) + " |" for r in c.itertuples(index=False))
    print(text)
    if args.out:
        with open(args.out, "w", encoding="utf-8") as fh:
            fh.write("# Grade-C numbers ranked by influence on the validation vignettes\n\n"
                     "Made by `python scripts/rank_grade_c.py`: the largest log-odds swing of a posterior across "
                     "the number's interval, over every validation scenario and target condition.\n\n" + text + "\n")


if __name__ == "__main__":
    main()
