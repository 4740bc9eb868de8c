"""Batch scoring: good and bad rows, chunking, CSV/Parquet, and the command."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from bayesnet.cli import main
from bayesnet.io.batch import run_batch


@pytest.fixture
def scenarios(tmp_path):
    df = pd.DataFrame(
        {
            "age_group": ["70_plus", "under_50", None, "50_to_69", "70_plus", None],
            "fever": ["yes", None, "maybe", "no", None, "yes"],
            "iv_drug_use": ["yes", "no", "no", None, "no", "yes"],
            "fevr": [None, None, None, "yes", None, None],
        }
    )
    path = tmp_path / "scenarios.csv"
    df.to_csv(path, index=False)
    return df, path


def test_model_posteriors_match_single_diagnoses(model):
    df = pd.DataFrame({"fever": ["yes", None], "history_of_cancer": ["no", "yes"]}, index=["a", "b"])
    post = model.posteriors(df)
    assert list(post.index) == ["a", "b"] and list(post.columns) == model.conditions
    for label, row in df.iterrows():
        ev = {k: v for k, v in row.items() if isinstance(v, str)}
        r = model.diagnose(ev).ranking["posterior"]
        for c in model.conditions:
            assert post.loc[label, c] == pytest.approx(r[c], abs=1e-12)


@pytest.mark.parametrize("chunk", [1, 2, 5, 1000])
def test_batch_good_and_bad_rows(model, scenarios, tmp_path, chunk):
    df, path = scenarios
    out_path = tmp_path / "out.csv"
    report = run_batch(model, path, out_path, chunk_size=chunk, progress=False)
    out = pd.read_csv(out_path, keep_default_na=False, na_values=[""])
    assert len(out) == len(df) and list(out["row"]) == list(range(len(df)))
    assert report.rows == 6 and report.failed == 2 and report.unknown_columns == ["fevr"]
    errors = out["error"].fillna("")
    # short cells: a code and the column; the long text once per problem, in the report
    assert errors[2] == "unknown_state:fever" and errors[3] == "unknown_column:fevr"
    assert (errors[[0, 1, 4, 5]] == "").all()
    problems = report.problems
    assert list(problems) == ["unknown_state:fever", "unknown_column:fevr"]
    assert problems["unknown_state:fever"].rows == 1 and problems["unknown_state:fever"].first_row == 2
    assert "unknown state 'maybe' of variable 'fever'" in problems["unknown_state:fever"].message
    assert "column 'fevr'" in problems["unknown_column:fevr"].message
    assert "did you mean 'fever'" in problems["unknown_column:fevr"].message
    assert out.loc[[2, 3], model.conditions].isna().all().all()
    good = [0, 1, 4, 5]
    expected = model.posteriors(df.drop(columns="fevr").iloc[good])
    np.testing.assert_allclose(out.loc[good, model.conditions].to_numpy(), expected.to_numpy(), atol=1e-12)


def test_batch_parquet_round_trip(model, scenarios, tmp_path):
    import pyarrow  # noqa: F401 (declared in the "test" extra: a broken install fails, not skips)
    df, _ = scenarios
    pq_in = tmp_path / "in.parquet"
    df.to_parquet(pq_in, index=False)
    out_path = tmp_path / "out.parquet"
    report = run_batch(model, pq_in, out_path, chunk_size=2, progress=False)
    out = pd.read_parquet(out_path)
    assert len(out) == 6 and report.failed == 2
    # messages name the row in the whole file, not in its chunk
    assert report.errors == [(2, "unknown_state:fever"), (3, "unknown_column:fevr")]
    assert out.loc[2, "error"] == "unknown_state:fever" and out.loc[3, "error"] == "unknown_column:fevr"
    assert report.problems["unknown_state:fever"].first_row == 2


def test_batch_soft_evidence_cells(model, tmp_path):
    df = pd.DataFrame({"fever": ['{"yes": 0.8, "no": 0.2}', "yes", '{"yes": 0.8, "maybe": 1}'],
                       "iv_drug_use": ["yes", "yes", "yes"]})
    path = tmp_path / "soft.csv"
    df.to_csv(path, index=False)
    report = run_batch(model, path, tmp_path / "out.csv", chunk_size=2, progress=False)
    out = pd.read_csv(tmp_path / "out.csv", keep_default_na=False, na_values=[""])
    assert report.failed == 1 and out.loc[2, "error"] == "bad_soft_evidence:fever"
    assert "unknown state 'maybe'" in report.problems["bad_soft_evidence:fever"].message
    soft = model.diagnose({"fever": {"yes": 0.8, "no": 0.2}, "iv_drug_use": "yes"}).ranking["posterior"]
    for c in model.conditions:
        assert out.loc[0, c] == pytest.approx(soft[c], abs=1e-12)


def test_batch_command_exit_status(scenarios, tmp_path, capsys):
    _, path = scenarios
    code = main(["batch", str(path), "-o", str(tmp_path / "o.csv"), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2
    assert "unknown_state:fever: 1 row, first row 2: unknown state 'maybe' of variable 'fever'" in err
    assert "unknown_column:fevr: 1 row, first row 3: column 'fevr' (value 'yes') is not a variable" in err
    assert "scored 4 of 6 rows" in err and len(err.strip().splitlines()) == 3
    ok = tmp_path / "ok.csv"
    pd.DataFrame({"fever": ["yes", "no"]}).to_csv(ok, index=False)
    assert main(["batch", str(ok), "-o", str(tmp_path / "o2.csv"), "--no-progress"]) == 0


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "input file not found"), ("", "is empty")],
)
def test_batch_bad_files(tmp_path, capsys, content, fragment):
    path = tmp_path / "in.csv"
    if content is not None:
        path.write_text(content)
    code = main(["batch", str(path), "-o", str(tmp_path / "o.csv"), "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_output_equal_to_input_is_refused_before_anything_is_written(tmp_path, model):
    from bayesnet.errors import BayesNetError
    from bayesnet.io.batch import run_batch

    path = tmp_path / "scenarios.csv"
    path.write_text("fever\nyes\n")
    with pytest.raises(BayesNetError, match="is the input file"):
        run_batch(model, path, path, progress=False)
    assert path.read_text() == "fever\nyes\n"


def test_a_failed_run_writes_no_header_only_file(tmp_path, model):
    """An input that cannot be read leaves no output that could pass for a (empty) result."""
    from bayesnet.errors import BayesNetError
    from bayesnet.io.batch import run_batch

    src, out = tmp_path / "empty.csv", tmp_path / "out.csv"
    src.write_text("")
    with pytest.raises(BayesNetError, match="empty"):
        run_batch(model, src, out, progress=False)
    assert not out.exists()


# ------------------------------------------------------------------ nothing lost, nothing faked


def test_a_run_that_stops_leaves_the_previous_output_and_a_named_partial_file(tmp_path, model, capsys):
    """Rows go to out.csv.partial, renamed onto out.csv only when complete: a parse error in the
    third chunk leaves the old out.csv as it was and the first chunks' rows in the partial file."""
    from bayesnet.io.batch import partial_path

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    src.write_text("fever,age_group\nyes,70_plus\nno,under_50\nyes,under_50\nno,70_plus\nyes,50_to_69,extra\n")
    out.write_text("the previous results\n")
    code = main(["batch", str(src), "-o", str(out), "--chunk-size", "2", "--no-progress"])
    _, err = capsys.readouterr()
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "out.csv.partial" in err and "was not changed" in err
    assert out.read_text() == "the previous results\n"
    rows = partial_path(out).read_text().splitlines()
    assert rows[0].startswith("row,") and len(rows) == 1 + 4  # the header and the two complete chunks
    # a complete run then replaces both
    src.write_text("fever\nyes\n")
    assert main(["batch", str(src), "-o", str(out), "--no-progress"]) == 0
    capsys.readouterr()
    assert out.read_text().splitlines()[0].startswith("row,") and not partial_path(out).exists()


def test_batch_killed_by_sigterm_keeps_the_previous_output(tmp_path):
    """Kill (by PID) a batch run this test started: the old output stays, the rows so far are in
    the partial file, and nothing that looks complete was written."""
    import os
    import signal
    import subprocess
    import sys
    import time

    src, out = tmp_path / "big.csv", tmp_path / "out.csv"
    states = ["yes", "no", ""]
    lines = ["fever,night_pain,age_group"] + [f"{states[i % 3]},{states[(i // 3) % 3]},70_plus" for i in range(400_000)]
    src.write_text("\n".join(lines) + "\n")
    out.write_text("the previous results\n")
    partial = tmp_path / "out.csv.partial"
    proc = subprocess.Popen([sys.executable, "-m", "bayesnet", "batch", str(src), "-o", str(out), "--chunk-size",
                             "2000", "--no-progress"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if partial.exists() and partial.stat().st_size > 50_000:
                break
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before it could be killed; make the input larger"
        os.kill(proc.pid, signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    # handled like Ctrl-C: files closed, exit 128 + 15, one line saying where the rows are and how to go on
    assert proc.returncode == 143
    message = err.decode().strip().splitlines()
    assert len(message) == 1 and message[0].startswith("error: terminated (SIGTERM)"), message
    assert "out.csv.partial" in message[0] and "continue it with --resume" in message[0]
    assert out.read_text() == "the previous results\n"
    assert partial.exists() and 1 < len(partial.read_text().splitlines()) < len(lines)
    assert (tmp_path / "out.csv.partial.json").exists()
