#!/usr/bin/env python
"""Start-up time of the command line: wall-clock time of whole ``bayesnet`` processes.

Each command is run ``--repeat`` times in a fresh interpreter (the console script of the running
environment, else ``python -m bayesnet``), after one untimed warm-up run so the file cache and the
bytecode are warm, as for a user's second call. Printed: median, min and max wall time per
command, and the interpreter's own start (``python -c pass``) for reference.

    python benchmarks/bench_cli_startup.py               # 15 runs of each command
    python benchmarks/bench_cli_startup.py --repeat 30 --json

The issue's target: ``--help`` and ``--version`` under 0.5 s.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

COMMANDS: dict[str, list[str]] = {
    "bayesnet --help": ["--help"],
    "bayesnet --version": ["--version"],
    "bayesnet diagnose --help": ["diagnose", "--help"],
    "bayesnet diagnose -e fever=yes": ["diagnose", "-e", "fever=yes"],
    "bayesnet sources --format csv": ["sources", "--format", "csv"],
}


def _entry() -> list[str]:
    script = Path(sys.executable).with_name("bayesnet")
    if script.exists():
        return [str(script)]
    found = shutil.which("bayesnet")
    return [found] if found else [sys.executable, "-m", "bayesnet"]


def _time(argv: list[str], repeat: int) -> list[float]:
    subprocess.run(argv, check=True, capture_output=True)  # warm-up, untimed
    out = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        subprocess.run(argv, check=True, capture_output=True)
        out.append(time.perf_counter() - t0)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=15, help="timed runs per command (default 15)")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    entry = _entry()
    rows = {"python -c pass": _time([sys.executable, "-c", "pass"], args.repeat)}
    for name, extra in COMMANDS.items():
        rows[name] = _time(entry + extra, args.repeat)
    stats = {k: {"median_s": statistics.median(v), "min_s": min(v), "max_s": max(v), "runs": len(v)}
             for k, v in rows.items()}
    if args.json:
        print(json.dumps(stats, indent=2))
        return 0
    print(f"{'command':<34} {'median':>8} {'min':>8} {'max':>8}   ({args.repeat} runs, warm file cache)")
    for k, s in stats.items():
        print(f"{k:<34} {s['median_s']:>7.3f}s {s['min_s']:>7.3f}s {s['max_s']:>7.3f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
