"""Engine speed of this checkout against another installed version, in one run, network by network.

    python benchmarks/compare_commits.py OTHER_PYTHON [--networks alarm ...] [--rows N]

OTHER_PYTHON is the interpreter of an environment where the other version of bayesnet is
installed (e.g. a venv of the previous main). For each network both versions run
``bayesnet bench --json --no-pyagrum`` on the same seed and rows, alternating, and the engine's rows
per second are printed side by side with their ratio (this checkout / other).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NETWORKS = ["back_pain", "asia", "sachs", "child", "insurance", "alarm", "hailfinder", "win95pts"]


def bench(python: str, network: str, rows: int, cwd: Path) -> dict:
    cmd = [python, "-m", "bayesnet", "bench", "--networks", network, "--rows", str(rows), "--ref", "20",
           "--no-pyagrum", "--json"]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, cwd=cwd)
    return json.loads(out.stdout)["results"][0]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("other_python")
    ap.add_argument("--networks", nargs="*", default=NETWORKS)
    ap.add_argument("--rows", type=int, default=20_000)
    ap.add_argument("--other-cwd", default="/tmp", help="working folder of the other version's run")
    args = ap.parse_args()
    print(f"{'network':<12} {'this rows/s':>12} {'other rows/s':>13} {'this/other':>10} {'max|diff| pgmpy':>16}")
    for name in args.networks:
        other = bench(args.other_python, name, args.rows, Path(args.other_cwd))
        this = bench(sys.executable, name, args.rows, ROOT)
        ratio = this["engine_rows_per_s"] / other["engine_rows_per_s"]
        print(f"{name:<12} {this['engine_rows_per_s']:>12,.0f} {other['engine_rows_per_s']:>13,.0f} {ratio:>10.2f} "
              f"{this['max_abs_diff_pgmpy']:>16.1e}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
