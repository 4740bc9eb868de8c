#!/usr/bin/env python
"""Peak memory and throughput of ``bayesnet batch`` on a large CSV (default 10 million rows).

Writes a CSV of mixed scenarios (random subsets of risk factors, findings and tests, sampled
from the network so every row is possible) in chunks, then runs ``bayesnet batch`` on it in a
child process and reports its wall time and peak resident memory (``ru_maxrss`` of the child).

    python benchmarks/batch_memory.py                 # 10,000,000 rows
    python benchmarks/batch_memory.py --rows 1000000 --keep /tmp/scen.csv
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

import bayesnet
from benchmarks.harness import mixed_scenarios


def write_scenarios(path: pathlib.Path, rows: int, chunk: int = 500_000, seed: int = 0) -> None:
    """Write ``rows`` mixed scenarios to ``path`` in chunks (bounded memory)."""
    model = bayesnet.load_model()
    observable = [v for v, k in model.tables.kinds.items() if k != "condition"]
    done = 0
    while done < rows:
        n = min(chunk, rows - done)
        scen = mixed_scenarios(model.network, n, seed=seed + done, observable=observable)[observable]
        scen.to_csv(path, mode="w" if done == 0 else "a", header=done == 0, index=False)
        done += n
        print(f"  wrote {done:,} rows", file=sys.stderr, flush=True)


def _hwm_mb(pid: int) -> float:
    """Peak resident memory of a running process (Linux ``VmHWM``; 0 where unavailable).

    Read from ``/proc`` rather than ``ru_maxrss``: a child's ``ru_maxrss`` also counts the pages
    it shared with this (large) parent between ``fork`` and ``exec``.
    """
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--chunk-size", type=int, default=50_000, help="passed to bayesnet batch")
    parser.add_argument("--keep", type=pathlib.Path, default=None, help="write the CSV here and keep it")
    args = parser.parse_args(argv)
    tmp = tempfile.TemporaryDirectory()
    src = args.keep or pathlib.Path(tmp.name) / "scenarios.csv"
    if not src.exists():
        t0 = time.perf_counter()
        write_scenarios(src, args.rows)
        print(f"generated {args.rows:,} rows in {time.perf_counter() - t0:.0f} s", file=sys.stderr)
    out = pathlib.Path(tmp.name) / "posteriors.csv"
    exe = pathlib.Path(sys.executable).with_name("bayesnet")
    cmd = [str(exe), "batch", str(src), "-o", str(out), "--chunk-size", str(args.chunk_size), "--no-progress"]
    t0 = time.perf_counter()
    err_path = pathlib.Path(tmp.name) / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err)
        peak_mb = 0.0
        while proc.poll() is None:
            peak_mb = max(peak_mb, _hwm_mb(proc.pid))
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    stderr = err_path.read_text().strip()
    print(stderr.splitlines()[-1] if stderr else "")
    print(
        f"rows {args.rows:,}; input {os.path.getsize(src) / 2**30:.2f} GiB; output {os.path.getsize(out) / 2**30:.2f} GiB;"
        f" wall {wall:.0f} s ({args.rows / wall:,.0f} rows/s); peak RSS {peak_mb:,.0f} MB; exit status {proc.returncode}"
    )
    return proc.returncode


if __name__ == "__main__":
    raise SystemExit(main())
