"""Scale-out on Dask: the same compiled engine per partition gives the local engine's results, row for row."""

from __future__ import annotations

import logging
import socket
import sys

import numpy as np
import pandas as pd
import pytest

# declared in the "test" extra: a broken install fails here instead of skipping
import dask
import dask.dataframe as dd
import distributed

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
