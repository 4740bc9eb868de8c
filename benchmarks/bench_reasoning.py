#!/usr/bin/env python
"""Timings of the reasoning tools against their targets (measured, never asserted in tests).

    python benchmarks/bench_reasoning.py            # next_tests, uncertainty (1 and 1,000 scenarios)
    python benchmarks/bench_reasoning.py --quick    # 100 scenarios instead of 1,000

Targets (issue 4): next_tests for one scenario over every candidate < 50 ms; 95% intervals from
1,000 parameter draws < 1 s for one scenario and < 30 s for 1,000 scenarios.
"""

from __future__ import annotations

import argparse
import pathlib
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import bayesnet
from benchmarks.harness import machine, mixed_scenarios

SCENARIO = {"iv_drug_use": "yes", "fever": "yes", "age_group": "50_to_69"}


def timed(fn, repeat: int = 5) -> float:
    """Median wall time of ``fn()`` over ``repeat`` runs, in seconds."""
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="100 scenarios for the batch interval figure")
    args = parser.parse_args(argv)
    model = bayesnet.load_model()
    model.diagnose(SCENARIO)
    info = machine()
    print(f"machine: {info['cpu']}, {info['cores']} cores; python {info['python']}, numpy {info['numpy']}")
    nt = timed(lambda: model.next_tests(SCENARIO), 20)
    n_cand = len(model.next_tests(SCENARIO))
    print(f"next_tests, one scenario, {n_cand} candidates: {nt * 1e3:.1f} ms (target < 50 ms)")
    first = timed(lambda: model.uncertainty(SCENARIO, draws=1000, seed=None), 3)
    print(f"uncertainty, one scenario, 1,000 fresh draws: {first:.2f} s (target < 1 s)")
    cached = timed(lambda: model.uncertainty(SCENARIO, draws=1000, seed=0), 5)
    print(f"uncertainty, one scenario, 1,000 draws already built (same seed): {cached:.3f} s")
    n = 100 if args.quick else 1000
    observable = [v for v, k in model.tables.kinds.items() if k != "condition"]
    scen = mixed_scenarios(model.network, n, seed=0, observable=observable)[observable]
    t0 = time.perf_counter()
    model.uncertainty_batch(scen, draws=1000, seed=1, progress=False)
    batch = time.perf_counter() - t0
    print(f"uncertainty_batch, {n:,} mixed scenarios x 1,000 draws: {batch:.1f} s (target < 30 s for 1,000)")
    sens = timed(lambda: model.sensitivity(SCENARIO, "epidural_abscess"), 3)
    print(f"sensitivity, one scenario, every parameter: {sens:.2f} s")
    mp = timed(lambda: model.most_probable(SCENARIO, k=5), 5)
    print(f"most_probable, k=5: {mp * 1e3:.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
