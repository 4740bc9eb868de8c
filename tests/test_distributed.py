"""Scale-out on Dask: the same compiled engine per partition gives the local engine's results, row for row."""

from __future__ import annotations

import logging
import socket
import sys

# declared in the "test" extra: a broken install fails here instead of skipping
import dask
import dask.dataframe as dd
import distributed
import numpy as np
import pandas as pd
import pytest

from bayesnet.cli import main
from bayesnet.errors import BayesNetError, UnknownNameError
from bayesnet.io.batch import run_batch
from bayesnet.io.distributed import _FAST_MALLOC, ModelSpec, _csv_blocksize, posteriors, run_batch_dask
from benchmarks.harness import forward_sample, mixed_scenarios


@pytest.fixture(scope="module")
def client():
    with dask.config.set(_FAST_MALLOC):
        cluster = distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # no dashboard; status server on a free port
            silence_logs=logging.CRITICAL,  # the errors="raise" test makes a worker log a failed task
        )
    cl = distributed.Client(cluster, set_as_default=False)
    try:
        yield cl
    finally:
        cl.close()
        cluster.close()


@pytest.fixture(scope="module")
def scenarios(model):
    """A few hundred mixed scenarios: empty rows, full rows, partial rows, multi-state variables."""
    rng = np.random.default_rng(7)
    mixed = mixed_scenarios(model.network, 300, seed=3)
    full = forward_sample(model.network, 20, rng)
    empty = pd.DataFrame(index=range(20), columns=mixed.columns, dtype=object)
    df = pd.concat([mixed, full, empty], ignore_index=True).astype(object)
    df = df.where(df.notna(), None)
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    df.index = pd.RangeIndex(1000, 1000 + len(df))  # a non-default index must survive the round trip
    assert df["age_group"].nunique() == 3 and df.notna().all(axis=1).any() and df.isna().all(axis=1).any()
    return df


@pytest.fixture
def bad_csv(tmp_path, scenarios):
    """Good rows plus an unknown state (row 7), a bad multi-state value (row 150) and an unknown column (row 90)."""
    df = scenarios.iloc[:200].reset_index(drop=True).copy()
    df.loc[7, "fever"] = "maybe"
    df.loc[150, "age_group"] = "elderly"
    df["fevr"] = None
    df.loc[90, "fevr"] = "yes"
    path = tmp_path / "scenarios.csv"
    df.to_csv(path, index=False)
    return path


def _assert_same(got: pd.DataFrame, expected: pd.DataFrame) -> bool:
    """Equal index, columns, errors and posteriors to 1e-12; returns whether the numbers are bitwise equal."""
    assert got.index.equals(expected.index)
    assert list(got.columns) == list(expected.columns)
    num = [c for c in expected.columns if c not in ("error", "row")]
    a, b = got[num].to_numpy(dtype=float), expected[num].to_numpy(dtype=float)
    np.testing.assert_allclose(a, b, rtol=0, atol=1e-12)
    for col in ("row", "error"):
        if col in expected:
            assert got[col].fillna("").tolist() == expected[col].fillna("").tolist()
    return bool(np.array_equal(a, b, equal_nan=True))


def _cli(capsys, *args):
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_dask_dataframe_equals_local_row_for_row(model, scenarios, client):
    bad = scenarios.copy()
    bad.iloc[5, bad.columns.get_loc("age_group")] = "ancient"
    ddf = dd.from_pandas(bad, npartitions=4, sort=False)
    lazy = posteriors(model, ddf)
    assert isinstance(lazy, dd.DataFrame) and lazy.npartitions == 4 and lazy.divisions == ddf.divisions
    assert list(lazy.columns) == [*model.conditions, "error"]
    got = client.compute(lazy, sync=True)
    expected = model.posteriors(bad, errors="report")
    bitwise = _assert_same(got, expected)
    assert "unknown state 'ancient' of variable 'age_group'" in got["error"].iloc[5]
    assert (got["error"] != "").sum() == 1
    print(f"dask.dataframe vs local: bitwise identical = {bitwise}")


def test_pandas_with_client_equals_local(model, scenarios, client):
    got = posteriors(model, scenarios, client=client, npartitions=5)
    bitwise = _assert_same(got, model.posteriors(scenarios, errors="report"))
    print(f"pandas + client vs local: bitwise identical = {bitwise}")
    strict = posteriors(model, scenarios.iloc[:50], client=client, errors="raise")
    _assert_same(strict, model.posteriors(scenarios.iloc[:50]))
    bad = scenarios.iloc[:50].copy()
    bad.iloc[3, bad.columns.get_loc("fever")] = "maybe"
    with pytest.raises(UnknownNameError, match="unknown state 'maybe' of variable 'fever' in row 1003"):
        posteriors(model, bad, client=client, errors="raise")  # the worker's error reaches us intact


def test_posteriors_refuses_bad_input_at_once(model, scenarios):
    with pytest.raises(UnknownNameError, match="did you mean 'fever'"):
        posteriors(model, dd.from_pandas(scenarios.rename(columns={"fever": "fevr"}), npartitions=2))
    with pytest.raises(BayesNetError, match="needs a distributed.Client"):
        posteriors(model, scenarios)
    with pytest.raises(BayesNetError, match="must be a dask.dataframe.DataFrame or a pandas.DataFrame"):
        posteriors(model, scenarios.to_dict())


def test_model_spec_is_small_and_cached(model):
    import pickle

    spec = ModelSpec.from_model(model)
    assert len(pickle.dumps(spec)) < len(pickle.dumps(model))
    assert ModelSpec.from_model(model).token == spec.token
    assert pickle.loads(pickle.dumps(spec)).load() is spec.load()


def test_cli_dask_equals_local_on_good_and_bad_rows(bad_csv, tmp_path, client, capsys):
    local_out, dask_out = tmp_path / "local.csv", tmp_path / "dask.csv"
    code_l, _, err_l = _cli(capsys, "batch", bad_csv, "-o", local_out, "--no-progress")
    dask_args = ["--engine", "dask", "--scheduler", client.scheduler.address, "--chunk-size", 60]
    code_d, _, err_d = _cli(capsys, "batch", bad_csv, "-o", dask_out, *dask_args, "--no-progress")
    assert code_l == code_d == 2
    assert err_d.replace(str(dask_out), "OUT") == err_l.replace(str(local_out), "OUT")
    assert "unknown_state:fever: 1 row, first row 7: unknown state 'maybe'" in err_d
    assert "unknown_state:age_group: 1 row, first row 150: unknown state 'elderly'" in err_d
    assert "unknown_column:fevr: 1 row, first row 90: column 'fevr' (value 'yes') is not a variable" in err_d
    assert "scored 197 of 200 rows" in err_d
    read = {"keep_default_na": False, "na_values": [""]}
    local, dask_ = pd.read_csv(local_out, **read), pd.read_csv(dask_out, **read)
    _assert_same(dask_, local)
    assert local["row"].tolist() == list(range(200))


def test_parquet_in_and_out(model, scenarios, tmp_path, client):
    df = scenarios.iloc[:120].reset_index(drop=True).copy()
    df.loc[100, "fever"] = "maybe"  # in the third row group: its message must carry the global row number
    src = tmp_path / "in.parquet"
    df.to_parquet(src, index=False, row_group_size=40)
    out = tmp_path / "out.parquet"
    report = run_batch_dask(model, src, out, client=client, progress=False)
    got = pd.read_parquet(out)
    assert report.rows == 120 and report.failed == 1 and report.errors[0][0] == 100
    assert got["row"].tolist() == list(range(120))
    assert got.loc[100, "error"] == "unknown_state:fever" and report.problems["unknown_state:fever"].first_row == 100
    expected = model.posteriors(df, errors="report")
    expected.insert(0, "row", np.arange(120))
    expected["error"] = np.where(expected["error"] != "", "unknown_state:fever", "")
    _assert_same(got, expected.reset_index(drop=True))
    run_batch(model, src, tmp_path / "local.parquet", chunk_size=1000, progress=False)
    _assert_same(got, pd.read_parquet(tmp_path / "local.parquet"))


def test_many_partitions_keep_global_row_numbers(model, scenarios, tmp_path, client):
    df = scenarios.reset_index(drop=True)
    df.loc[[0, 211, 339], "fever"] = "maybe"
    src = tmp_path / "in.csv"
    df.to_csv(src, index=False)
    out = tmp_path / "out.csv"
    report = run_batch_dask(model, src, out, client=client, chunk_size=25, window=3, progress=False)
    got = pd.read_csv(out, keep_default_na=False, na_values=[""])
    assert dd.read_csv(src, dtype=str, blocksize=_csv_blocksize(src, 25)).npartitions >= 8
    assert report.rows == len(df) == len(got) and report.failed == 3
    assert got["row"].tolist() == list(range(len(df)))
    assert [r for r, _ in report.errors] == [0, 211, 339]
    for r in (0, 211, 339):
        assert got.loc[r, "error"] == "unknown_state:fever"
    assert report.problems["unknown_state:fever"].rows == 3
    expected = model.posteriors(df, errors="report")
    expected.insert(0, "row", np.arange(len(df)))
    expected["error"] = np.where(expected["error"] != "", "unknown_state:fever", "")
    _assert_same(got, expected)


def test_unreachable_scheduler_is_one_line_exit_2(bad_csv, tmp_path, capsys):
    with socket.socket() as s:  # a port on loopback that nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    address = f"tcp://127.0.0.1:{port}"
    code, _, err = _cli(
        capsys, "batch", bad_csv, "-o", tmp_path / "o.csv", "--scheduler", address, "--connect-timeout", 1
    )
    assert code == 2 and len(err.strip().splitlines()) == 1 and "Traceback" not in err
    assert f"no Dask scheduler answered at 'tcp://127.0.0.1:{port}' within 1 s" in err
    code, _, err = _cli(capsys, "batch", bad_csv, "-o", tmp_path / "o.csv", "--scheduler", "localhost")
    assert code == 2 and "bad Dask scheduler address 'localhost'" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--engine", "local", "--scheduler", "tcp://127.0.0.1:8786"], "--scheduler needs --engine dask"),
        (["--workers", "2"], "--workers needs --engine dask"),
        (["--scheduler", "tcp://127.0.0.1:8786", "--workers", "2"], "cannot be used with --scheduler"),
    ],
)
def test_engine_option_conflicts(bad_csv, tmp_path, capsys, args, fragment):
    code, _, err = _cli(capsys, "batch", bad_csv, "-o", tmp_path / "o.csv", *args)
    assert code == 2 and fragment in err and len(err.strip().splitlines()) == 1


def test_missing_dask_names_the_extra(model, bad_csv, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "dask.dataframe", None)  # as if `dask[dataframe]` were not installed
    with pytest.raises(BayesNetError, match=r"pip install 'bayesnet\[dask\]'"):
        run_batch_dask(model, bad_csv, tmp_path / "o.csv")


def test_default_local_cluster(bad_csv, tmp_path, capsys, monkeypatch):
    """No --scheduler: a loopback cluster without dashboard is started, used and closed.

    The cluster runs its worker in threads here (starting worker processes would double this file's
    runtime); the module's own cluster shows that process workers give the same results.
    """
    real, made = distributed.LocalCluster, []

    def in_threads(**kwargs):
        made.append((kwargs, real(**{**kwargs, "processes": False, "protocol": "tcp://"})))
        return made[-1][1]

    monkeypatch.setattr(distributed, "LocalCluster", in_threads)
    out = tmp_path / "o.csv"
    code, _, err = _cli(capsys, "batch", bad_csv, "-o", out, "--engine", "dask", "--workers", 1, "--no-progress")
    assert code == 2 and "scored 197 of 200 rows" in err and "unknown_state:fever: 1 row, first row 7" in err
    assert len(pd.read_csv(out)) == 200
    ((kwargs, cluster),) = made
    assert kwargs["host"] == "127.0.0.1" and kwargs["dashboard_address"] is None and kwargs["processes"] is True
    assert kwargs["n_workers"] == 1 and kwargs["threads_per_worker"] == 1
    assert cluster.status == distributed.core.Status.closed


# ------------------------------------------------------------------ faults


def _scenario_file(path, model, n: int, seed: int) -> None:
    """``n`` mixed scenarios (about 1 in 50 with an unknown state) as CSV."""
    df = mixed_scenarios(model.network, n, seed=seed).astype(object)
    df = df.where(df.notna(), None)
    df.loc[::53, "fever"] = "maybe"
    df.to_csv(path, index=False)


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def test_a_worker_killed_mid_run_changes_nothing(model, client, tmp_path):
    """Kill (SIGKILL, by PID) the worker process that is scoring a partition: the scheduler has its work
    redone on the other worker, and the output equals the local engine's row for row."""
    import os
    import signal
    import threading
    import time

    src, out, local = tmp_path / "in.csv", tmp_path / "dask.csv", tmp_path / "local.csv"
    _scenario_file(src, model, 1_200, seed=11)
    run_batch(model, src, local, chunk_size=100, progress=False)
    pids = client.run(os.getpid)
    killed: list[str] = []
    stop = threading.Event()

    def kill_a_busy_worker() -> None:
        partial = tmp_path / "dask.csv.partial"
        while not stop.is_set():
            if partial.exists() and partial.stat().st_size > 2_000:
                for addr, keys in client.processing().items():
                    if addr in pids and any("_score_partition" in str(k) for k in keys):
                        os.kill(pids[addr], signal.SIGKILL)
                        killed.append(addr)
                        return
            time.sleep(0.005)

    killer = threading.Thread(target=kill_a_busy_worker, daemon=True)
    killer.start()
    try:
        report = run_batch_dask(model, src, out, client=client, chunk_size=100, window=2, progress=False)
    finally:
        stop.set()
        killer.join(10)
    assert killed, "no worker was killed: the run ended first"
    assert report.rows == 1_200 and report.failed == 23
    got, expected = _read(out), _read(local)
    assert got["row"].tolist() == list(range(1_200))
    bitwise = _assert_same(got, expected)
    print(f"worker killed mid-run: output equals the local engine's (bitwise: {bitwise})")
    client.wait_for_workers(2, timeout=60)  # the nanny restarts it, for the tests that follow


def test_a_scheduler_that_dies_is_one_clear_error_and_no_output(model, tmp_path, capsys):
    """A scheduler in a process of its own, killed (SIGKILL, by PID) mid-run: exit 2, one line naming the
    scheduler and where the rows so far are; no file in place of the output, the previous one untouched."""
    import asyncio
    import json
    import os
    import signal
    import subprocess
    import threading
    import time

    src, out = tmp_path / "in.csv", tmp_path / "out.csv"
    _scenario_file(src, model, 4_000, seed=12)
    out.write_text("previous results\n")
    scheduler_file = tmp_path / "scheduler.json"
    sched = subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port",
                              "0", "--no-dashboard", "--scheduler-file", str(scheduler_file)],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    loop = asyncio.new_event_loop()
    threading.Thread(target=loop.run_forever, daemon=True).start()
    worker = None
    try:
        deadline = time.monotonic() + 60
        while not scheduler_file.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        address = json.loads(scheduler_file.read_text())["address"]

        async def start_worker():  # in this process: bayesnet is already imported here
            return await distributed.Worker(address, nthreads=1, host="127.0.0.1", dashboard_address=None)

        worker = asyncio.run_coroutine_threadsafe(start_worker(), loop).result(60)

        def kill_scheduler() -> None:
            partial = tmp_path / "out.csv.partial"
            while sched.poll() is None:
                if partial.exists() and partial.stat().st_size > 2_000:
                    os.kill(sched.pid, signal.SIGKILL)
                    return
                time.sleep(0.005)

        threading.Thread(target=kill_scheduler, daemon=True).start()
        code, _, err = _cli(capsys, "batch", src, "-o", out, "--scheduler", address, "--connect-timeout", 2,
                            "--chunk-size", 100, "--no-progress")
    finally:
        if sched.poll() is None:
            sched.kill()
        sched.wait(30)
        if worker is not None:
            asyncio.run_coroutine_threadsafe(worker.close(timeout=5), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and "Traceback" not in err, err
    assert f"lost the connection to the Dask scheduler {address!r} after" in lines[0]
    assert "out.csv.partial" in lines[0] and "was not changed" in lines[0]
    assert out.read_text() == "previous results\n"


def test_dask_resume_gives_the_uninterrupted_file(model, client, tmp_path):
    """A Dask run stopped by --max-errors and resumed gives the bytes of an uninterrupted Dask run."""
    from bayesnet.io.batch import TooManyErrors, partial_path

    src, out, ref = tmp_path / "in.csv", tmp_path / "out.csv", tmp_path / "ref.csv"
    df = mixed_scenarios(model.network, 600, seed=13).astype(object)
    df.loc[:40, "age_group"] = "elderly"
    df.to_csv(src, index=False)
    run_batch_dask(model, src, ref, client=client, chunk_size=100, progress=False, max_errors=None)
    with pytest.raises(TooManyErrors):
        run_batch_dask(model, src, out, client=client, chunk_size=100, progress=False, max_errors=30)
    assert partial_path(out).exists() and not out.exists()
    report = run_batch_dask(model, src, out, client=client, chunk_size=100, progress=False, max_errors=None,
                            resume=True)
    assert report.resumed and report.resumed_from > 0 and out.read_bytes() == ref.read_bytes()
    assert report.problems["unknown_state:age_group"].rows == 41


def test_dask_hostile_files_match_local(model, client, tmp_path):
    """Mixed line endings, NUL bytes and a long cell give the local engine's output; a non-UTF-8 file the
    same one-line error naming the byte, with or without Dask."""
    lines = ["fever,age_group,d_dimer", "yes,70_plus,", "ye\x00s,under_50,positive", "no,,", f"{'y' * 3_000},,",
             *[f"{f},{a}," for f in ("yes", "no", "") for a in ("under_50", "70_plus")] * 20]
    ends = ["\n", "\r\n", "\r"]
    src = tmp_path / "in.csv"
    src.write_bytes("".join(line + ends[i % 3] for i, line in enumerate(lines)).encode())
    local, dask_ = tmp_path / "local.csv", tmp_path / "dask.csv"
    run_batch(model, src, local, chunk_size=7, progress=False)
    run_batch_dask(model, src, dask_, client=client, chunk_size=7, blocksize=1_000, progress=False)
    got = _read(dask_)
    assert len(got) == len(lines) - 1
    _assert_same(got, _read(local))
    bad = tmp_path / "latin.csv"
    bad.write_bytes(b"fever\nyes\n" + "é\n".encode("latin-1"))
    messages = []
    for run in (run_batch, lambda *a, **k: run_batch_dask(*a, client=client, **k)):
        with pytest.raises(BayesNetError, match=r"byte 0xe9 at offset 10 \(line 3\) is not valid utf-8") as info:
            run(model, bad, tmp_path / "o.csv", progress=False)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "--encoding" in messages[0]
