#!/usr/bin/env python
"""Benchmark the compiled engine against pgmpy and pyAgrum (same as ``bayesnet bench``).

Run from the repository root::

    python benchmarks/bench_engine.py --quick          # a few minutes at most
    python benchmarks/bench_engine.py --json > bench.json
    python benchmarks/bench_engine.py --networks back_pain alarm --rows 100000

Columns: nodes, largest clique table, single-row latency (all marginals, dict
fast path), engine rows/s on mixed scenarios, pgmpy VariableElimination and
pyAgrum LazyPropagation rows/s on the first rows (row by row, same targets), the
speed-up ratios, the largest absolute difference from pgmpy, and peak traced
memory of an engine run.
"""

from __future__ import annotations

import pathlib
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.harness import main

if __name__ == "__main__":
    raise SystemExit(main())
