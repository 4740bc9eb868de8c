#!/usr/bin/env python
"""Timing of red-flag rule evaluation (measured, never asserted in tests).

    python benchmarks/bench_rules.py                    # a rule over 10 variables, 1,000 parameter draws
    python benchmarks/bench_rules.py --configurations   # also one engine row per joint state (1,536 per draw)
    python benchmarks/bench_rules.py --json

Target (issue 16): 1,000 parameter draws for a rule over 10 variables in under a minute on 2 cores.
Reported: the time to draw the parameter sets (shared with ``model.uncertainty`` for the same seed),
the time of the exact evaluation over the draws (every metric for every serious condition and
"any serious", recomputed per draw), with and without a simulated study of 1,000 patients, and
the shipped rules side by side.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import bayesnet
from bayesnet.reasoning.rules import evaluate_rule, parse_rule, rule_cubes, shipped_rules
from benchmarks.harness import machine

#: A rule over 10 variables mixing any, all and not, a three-state variable included.
TEN = {
    "name": "ten-variable rule",
    "rule": {"any": [
        {"history_of_cancer": "yes"},
        {"all": [{"age_group": ["50_to_69", "70_plus"]},
                 {"any": [{"unexplained_weight_loss": "yes"}, {"failure_to_improve": "yes"}]}]},
        {"all": [{"fever": "yes"}, {"any": [{"iv_drug_use": "yes"}, {"immunosuppression": "yes"}]}]},
        {"saddle_anaesthesia": "yes"},
        {"all": [{"neuro_deficit": "yes"}, {"not": {"night_pain": "no"}}]},
    ]},
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--draws", type=int, default=1000)
    parser.add_argument("--setting", default="primary_care")
    parser.add_argument("--configurations", action="store_true",
                        help="also time enumeration='configurations' (one row per joint state; slow)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    model = bayesnet.load_model(setting=args.setting)
    rule = parse_rule(TEN, model.states, model.tables.kinds)
    fire, quiet = rule_cubes(rule, model.states)
    evaluate_rule(model, rule, draws=0)  # compile the engine and its restriction once
    out: dict = {"machine": machine(), "setting": args.setting, "draws": args.draws, "variables": len(rule.variables),
                 "cubes": {"fire": len(fire), "quiet": len(quiet)}}
    t0 = time.perf_counter()
    draws = model.parameter_draws(args.draws, seed=0)
    out["parameter_draws_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    res = evaluate_rule(model, rule, draws=draws)
    out["evaluate_s"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    evaluate_rule(model, rule, draws=draws, cohort_size=1000)
    out["evaluate_with_study_s"] = time.perf_counter() - t0
    out["total_cold_s"] = out["parameter_draws_s"] + out["evaluate_s"]
    row = res.table.loc[(rule.name, "any_serious")]
    out["any_serious"] = {m: [float(row[(m, s)]) for s in ("value", "low", "high")]
                          for m in ("sensitivity", "specificity", "ppv", "flagged")}
    t0 = time.perf_counter()
    evaluate_rule(model, list(shipped_rules()), draws=draws, cohort_size=1000)
    out["shipped_rules_s"] = time.perf_counter() - t0
    if args.configurations:
        t0 = time.perf_counter()
        exact = evaluate_rule(model, rule, draws=draws, enumeration="configurations")
        out["configurations_s"] = time.perf_counter() - t0
        out["configurations_rows_per_draw"] = exact.cubes[rule.name]
    if args.json:
        print(json.dumps(out, indent=2))
        return 0
    print("bench_rules on " + ", ".join(f"{k} {v}" for k, v in out["machine"].items()))
    print(f"setting {args.setting}: rule over {out['variables']} variables ({rule.describe()})")
    print(f"  disjoint cubes: {len(fire)} where it fires, {len(quiet)} where it does not "
          f"(engine rows per draw: {min(len(fire), len(quiet))})")
    print(f"  {args.draws:,} parameter draws:                       {out['parameter_draws_s']:7.2f} s")
    print(f"  exact metrics over the draws:                  {out['evaluate_s']:7.2f} s")
    print(f"  ... with a simulated study of 1,000 patients:   {out['evaluate_with_study_s']:7.2f} s")
    print(f"  total, cold (target < 60 s on 2 cores):        {out['total_cold_s']:7.2f} s")
    print(f"  the {len(shipped_rules())} shipped rules side by side (draws shared): {out['shipped_rules_s']:7.2f} s")
    if args.configurations:
        print(f"  one row per joint state instead ({out['configurations_rows_per_draw']} rows per draw): "
              f"{out['configurations_s']:7.2f} s")
    s = out["any_serious"]["sensitivity"]
    print(f"  any serious: sensitivity {s[0]:.3f} ({s[1]:.3f}-{s[2]:.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
