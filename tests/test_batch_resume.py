"""`bayesnet batch --resume`, --max-errors and output = input: nothing lost, nothing faked.

The reference is always an uninterrupted run of the same command: a resumed run must produce the
same file, byte for byte.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest

from bayesnet.cli import main
from bayesnet.errors import BayesNetError
from bayesnet.io.batch import TooManyErrors, manifest_path, partial_path, run_batch

COLUMNS = ["fever", "night_pain", "age_group", "iv_drug_use", "d_dimer"]
STATES = {"fever": ["yes", "no", ""], "night_pain": ["yes", "no", ""], "age_group": ["under_50", "50_to_69", "70_plus"],
          "iv_drug_use": ["yes", "no", "", ""], "d_dimer": ["positive", "negative", "", "", ""]}


def write_scenarios(path, n: int, seed: int = 0, junk_every: int = 0, junk_first: int = 0) -> None:
    """``n`` mixed scenarios as CSV; every ``junk_every``-th row and the first ``junk_first`` rows hold a bad state."""
    rng = np.random.default_rng(seed)
    cols = {c: rng.choice(STATES[c], size=n) for c in COLUMNS}
    df = pd.DataFrame(cols)
    if junk_every:
        df.loc[::junk_every, "fever"] = "maybe"
    if junk_first:
        df.loc[: junk_first - 1, "age_group"] = "elderly"
    df.to_csv(path, index=False)


def _cli(capsys, *args) -> tuple[int, str]:
    code = main([str(a) for a in args])
    _, err = capsys.readouterr()
    return code, err


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """12,000 rows (every 97th with a bad state) and the file an uninterrupted run writes from them."""
    base = tmp_path_factory.mktemp("resume")
    src = base / "in.csv"
    write_scenarios(src, 12_000, seed=1, junk_every=97)
    ref = base / "reference.csv"
    assert main(["batch", str(src), "-o", str(ref), "--chunk-size", "300", "--no-progress"]) == 2
    return src, ref.read_bytes()


def test_a_run_killed_by_pid_and_resumed_is_byte_identical(big, tmp_path, capsys):
    """Start `bayesnet batch`, kill it (SIGKILL, by PID: no clean-up at all) once it has written a few chunks,
    resume it: the same bytes as the uninterrupted run, and the previous output stays untouched until the
    resumed run completes. (SIGTERM, handled, is in test_batch.py.)"""
    sig = signal.SIGKILL
    src, reference = big
    out = tmp_path / "out.csv"
    out.write_text("the previous results\n")
    cmd = [sys.executable, "-m", "bayesnet", "batch", str(src), "-o", str(out), "--chunk-size", "300", "--no-progress"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    record = manifest_path(out)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if json.loads(record.read_text())["chunks"] >= 3:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        assert proc.poll() is None, "the run ended before it could be killed; make the input larger"
        os.kill(proc.pid, sig)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert out.read_text() == "the previous results\n"
    done = json.loads(record.read_text())
    assert 0 < done["bytes"] <= partial_path(out).stat().st_size < len(reference)
    assert partial_path(out).read_bytes()[: done["bytes"]] == reference[: done["bytes"]]
    code, err = _cli(capsys, "batch", src, "-o", out, "--chunk-size", 300, "--no-progress", "--resume")
    assert code == 2  # some rows hold a bad state, as in the reference run
    assert f"resumed the interrupted run after its first {done['report']['rows']:,} rows" in err
    assert "unknown_state:fever: 124 rows, first row 0:" in err and "scored 11876 of 12000 rows" in err
    assert out.read_bytes() == reference
    assert not partial_path(out).exists() and not record.exists()


def test_resume_cuts_a_half_written_chunk(big, tmp_path, capsys):
    """Bytes after the last recorded chunk (a kill in the middle of a write) are dropped on resume."""
    src, reference = big
    out = tmp_path / "out.csv"
    code, _ = _cli(capsys, "batch", src, "-o", out, "--chunk-size", 300, "--max-errors", 5, "--no-progress")
    assert code == 2 and not out.exists()
    with partial_path(out).open("ab") as fh:
        fh.write(b"123,0.5,0.25,half a line")
    code, _ = _cli(capsys, "batch", src, "-o", out, "--chunk-size", 300, "--no-progress", "--resume")
    assert code == 2 and out.read_bytes() == reference


def test_resume_refuses_another_input_or_other_options(big, tmp_path, capsys):
    src, _ = big
    mine = tmp_path / "in.csv"
    mine.write_bytes(src.read_bytes())
    out = tmp_path / "out.csv"
    code, _ = _cli(capsys, "batch", mine, "-o", out, "--chunk-size", 300, "--max-errors", 5, "--no-progress")
    assert code == 2 and partial_path(out).exists()
    cases = [
        (["--chunk-size", 400], "--chunk-size differs from the partial run's (300 then, 400 now)"),
        (["--chunk-size", 300, "--setting", "emergency"], "the model (setting or priors) differs"),
        (["--chunk-size", 300, "--encoding", "latin-1"], "--encoding differs"),
        (["--chunk-size", 300, "--engine", "dask", "--scheduler", "tcp://127.0.0.1:1"], "the engine differs"),
    ]
    for extra, fragment in cases:
        code, err = _cli(capsys, "batch", mine, "-o", out, "--resume", "--no-progress", *extra)
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and fragment in lines[0] and "run without --resume" in lines[0], err
    with mine.open("a") as fh:
        fh.write("yes,yes,70_plus,no,positive\n")
    code, err = _cli(capsys, "batch", mine, "-o", out, "--chunk-size", 300, "--resume", "--no-progress")
    assert code == 2 and "the input file changed since the partial run (its size)" in err
    manifest_path(out).unlink()
    code, err = _cli(capsys, "batch", mine, "-o", out, "--chunk-size", 300, "--resume", "--no-progress")
    assert code == 2 and "has no progress record" in err and len(err.strip().splitlines()) == 1
    manifest_path(out).write_text("{not json")
    code, err = _cli(capsys, "batch", mine, "-o", out, "--chunk-size", 300, "--resume", "--no-progress")
    assert code == 2 and "is damaged" in err


def test_resume_without_a_partial_run_starts_from_the_first_row(tmp_path, capsys, model):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    write_scenarios(src, 50)
    code, err = _cli(capsys, "batch", src, "-o", out, "--resume", "--no-progress")
    assert code == 0 and "no interrupted run" in err
    ref = tmp_path / "ref.csv"
    run_batch(model, src, ref, progress=False)
    assert out.read_bytes() == ref.read_bytes()


def test_max_errors_stops_a_junk_run_and_resume_finishes_it(tmp_path, capsys, model):
    """The first 1,500 rows are junk: the default limit (50% once 1,000 rows failed) stops the run after the
    chunk that crossed it, with the previous output untouched; raising the limit and resuming gives the
    file of an uninterrupted run without a limit."""
    src, out, ref = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "ref.csv"
    write_scenarios(src, 3_000, seed=2, junk_first=1_500)
    out.write_text("previous\n")
    code, err = _cli(capsys, "batch", src, "-o", out, "--chunk-size", 400, "--no-progress")
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1, err
    assert "stopped: 1,200 of the 1,200 rows read so far failed, more than --max-errors 50% allows" in lines[0]
    assert "unknown_state:age_group (1,200 rows), e.g. row 0: unknown state 'elderly'" in lines[0]
    assert "continue it with --resume" in lines[0] and out.read_text() == "previous\n"
    assert len(partial_path(out).read_text().splitlines()) == 1 + 1_200
    with pytest.raises(TooManyErrors, match=r"more than --max-errors 1000 allows") as info:
        run_batch(model, src, ref, chunk_size=400, progress=False, max_errors=1000)
    assert info.value.report.failed == 1_200 and not ref.exists()
    run_batch(model, src, ref, chunk_size=400, progress=False, max_errors=None)
    code, err = _cli(capsys, "batch", src, "-o", out, "--chunk-size", 400, "--no-progress", "--resume",
                     "--max-errors", "none")
    assert code == 2 and "unknown_state:age_group: 1,500 rows, first row 0" in err
    assert out.read_bytes() == ref.read_bytes()


@pytest.mark.parametrize(("limit", "stops"), [("2", False), ("1", True), ("0", True), ("none", False), ("99%", False)])
def test_max_errors_count(tmp_path, capsys, limit, stops):
    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("fever\nyes\nmaybe\nno\nperhaps\n")
    code, err = _cli(capsys, "batch", src, "-o", out, "--max-errors", limit, "--no-progress")
    assert code == 2 and out.exists() is not stops
    assert ("stopped: 2 of the 4 rows read so far failed" in err) is stops


@pytest.mark.parametrize("bad", ["-1", "abc", "100%", "5 rows"])
def test_max_errors_bad_value_is_a_usage_error(tmp_path, capsys, bad):
    src = tmp_path / "in.csv"
    src.write_text("fever\nyes\n")
    code, err = _cli(capsys, "batch", src, "-o", tmp_path / "o.csv", f"--max-errors={bad}")
    assert code == 2 and "--max-errors" in err and len(err.strip().splitlines()) == 1


def test_output_equal_to_input_is_refused_after_resolving(tmp_path, capsys, monkeypatch):
    src = tmp_path / "data.csv"
    src.write_text("fever\nyes\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "link.csv").symlink_to(src)
    monkeypatch.chdir(tmp_path / "sub")
    for target in ("../data.csv", str(src), "../sub/../data.csv", "../link.csv"):
        code, err = _cli(capsys, "batch", src, "-o", target, "--no-progress")
        assert code == 2 and "is the input file" in err and len(err.strip().splitlines()) == 1, target
    assert src.read_text() == "fever\nyes\n"
    (tmp_path / "data.csv.partial").write_text("fever\nyes\n")  # an input named like the output's partial file
    code, err = _cli(capsys, "batch", tmp_path / "data.csv.partial", "-o", src, "--no-progress")
    assert code == 2 and "partial file of the output" in err
    assert src.read_text() == "fever\nyes\n"


def test_parquet_output_cannot_be_resumed(tmp_path, capsys):
    src = tmp_path / "in.csv"
    src.write_text("fever\nyes\n")
    code, err = _cli(capsys, "batch", src, "-o", tmp_path / "o.parquet", "--resume")
    assert code == 2 and "--resume needs CSV output" in err


def test_gzip_output_is_gzip_and_resumes(tmp_path, capsys, model):
    """A .csv.gz output is a real gzip file (one member per chunk), and a resumed one is byte-identical."""
    src, out, ref = tmp_path / "in.csv", tmp_path / "out.csv.gz", tmp_path / "ref.csv.gz"
    write_scenarios(src, 2_000, seed=3, junk_first=1_200)
    run_batch(model, src, ref, chunk_size=300, progress=False, max_errors=None)
    assert pd.read_csv(ref)["row"].tolist() == list(range(2_000))
    with pytest.raises(BayesNetError):
        run_batch(model, src, out, chunk_size=300, progress=False)
    report = run_batch(model, src, out, chunk_size=300, progress=False, max_errors="none", resume=True)
    assert report.resumed and report.resumed_from == 1_200 and out.read_bytes() == ref.read_bytes()
