"""Scale-out on Dask: the same compiled engine, run per partition on a cluster.

Two entry points:

* :func:`posteriors` -- the Dask counterpart of :meth:`BackPainModel.posteriors`. Give it a
  ``dask.dataframe.DataFrame`` and it returns a lazy Dask DataFrame (same partitions and
  index); give it a pandas DataFrame and a ``distributed.Client`` and it returns the pandas
  result, computed on the cluster.
* :func:`run_batch_dask` -- the Dask counterpart of :func:`bayesnet.io.batch.run_batch`, behind
  ``bayesnet batch --engine dask [--scheduler ADDRESS]``. The workers read the input file in
  partitions, score them with :func:`bayesnet.io.batch.score_chunk` (and, for CSV output, format
  them); this process appends them to one output file, in input order, a few partitions at a
  time.

How the model reaches the workers
---------------------------------
A :class:`BackPainModel` pickles (125 kB, 225 kB once its engine is compiled), but there is no
point in sending it with every task or compiling the junction tree for every partition. The
workers receive a :class:`ModelSpec` instead: the model's :class:`~bayesnet.data.priors.PriorSet`
(every sourced number; 68 kB pickled), its setting and a token (a hash of both). The spec enters
the task graph once, as one shared key (``dask.delayed`` or a future scattered to every worker),
so each worker fetches it once; :meth:`ModelSpec.load` then rebuilds the model from the same
numbers with the same code as :func:`bayesnet.load_model` and compiles its engine, once per worker
process (a module-level cache keyed by the token). That takes about 50 ms once bayesnet is
imported. Because every worker runs the very same code on the very same numbers, the results
equal the local engine's (to 1e-12, tested; bitwise in the tests and the measurements made so
far, though rows scored in differently sized chunks may differ in the last bit).

A consequence: the workers see the model defined by its priors and setting. Changes made by hand
to ``model.network`` after loading are not sent.

Speed: on one machine the local engine already keeps a core busy, so a local cluster mostly adds
the cost of starting worker processes (a few seconds each, importing pgmpy) and of moving data
between processes; it pays off with more cores than one process can use, or with several
machines (``--scheduler``).

Requirements: ``pip install 'bayesnet[dask]'`` (``dask[dataframe]`` and ``distributed``).
"""

from __future__ import annotations

import contextlib
import hashlib
import itertools
import logging
import pickle
import re
import threading
from collections import deque
from collections.abc import Iterator
from concurrent.futures import CancelledError
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesnet.errors import BayesNetError
from bayesnet.io.batch import (
    DEFAULT_CHUNK_SIZE,
    DEFAULT_MAX_ERRORS,
    BatchReport,
    ErrorLimit,
    Scored,
    commit_chunk,
    decode_error,
    plan_run,
    score_rows,
    start_writer,
)

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.data.priors import PriorSet
    from bayesnet.model import BackPainModel

__all__ = ["DEFAULT_CONNECT_TIMEOUT", "DEFAULT_WORKERS", "ModelSpec", "posteriors", "run_batch_dask"]

DEFAULT_CONNECT_TIMEOUT = 10.0
"""Seconds to wait for a scheduler given by address before giving up."""

DEFAULT_WORKERS = 2
"""Worker processes of the local cluster started when no scheduler is given."""

_INSTALL_HINT = "the Dask engine needs dask and distributed: pip install 'bayesnet[dask]'"


# ---------------------------------------------------------------------------- optional imports
def _dask() -> tuple[Any, Any]:
    """Import ``dask`` and ``dask.dataframe``, or explain how to install them."""
    try:
        import dask
        import dask.dataframe as dd
    except ImportError as exc:
        raise BayesNetError(f"{_INSTALL_HINT} ({exc})") from None
    return dask, dd


def _distributed() -> Any:
    """Import ``distributed``, or explain how to install it."""
    try:
        import distributed
    except ImportError as exc:
        raise BayesNetError(f"{_INSTALL_HINT} ({exc})") from None
    return distributed


def _plain_strings(dask: Any) -> Any:
    """Config context keeping string columns as pandas gives them (no conversion to pyarrow strings).

    Partitions then hold exactly what the local path sees, so both score the same values.
    """
    return dask.config.set({"dataframe.convert-string": False})


# ---------------------------------------------------------------------------- the model on workers
_MODELS: dict[str, BackPainModel] = {}  # token -> model, least recently used first
_MODELS_LOCK = threading.Lock()
_MODELS_KEPT = 4


@dataclass(frozen=True, eq=False)
class ModelSpec:
    """What a worker needs to rebuild a model: its priors, its setting and a token naming both.

    Make one with :meth:`from_model`; :meth:`load` returns the model with its engine compiled,
    building it only once per process.

    Attributes
    ----------
    priors : PriorSet
    setting : str
    token : str
        Hash of the pickled priors and setting: equal specs share one cached model.

    Examples
    --------
    >>> import bayesnet
    >>> spec = ModelSpec.from_model(bayesnet.load_model())
    >>> spec.load() is spec.load()
    True
    """

    priors: PriorSet
    setting: str
    token: str

    @classmethod
    def from_model(cls, model: BackPainModel) -> ModelSpec:
        """Describe ``model`` by its priors and setting.

        Parameters
        ----------
        model : BackPainModel

        Returns
        -------
        ModelSpec
        """
        if not (hasattr(model, "priors") and hasattr(model, "setting")):
            raise BayesNetError(f"expected a BackPainModel (from bayesnet.load_model()); got {type(model).__name__}")
        blob = pickle.dumps((model.setting, model.priors), protocol=pickle.HIGHEST_PROTOCOL)
        token = hashlib.sha256(blob).hexdigest()[:32]
        return cls(model.priors, model.setting, token)

    def load(self) -> BackPainModel:
        """The model, built and compiled on first use in this process, then cached.

        Returns
        -------
        BackPainModel
        """
        with _MODELS_LOCK:  # one build per process even when a worker runs several threads
            model = _MODELS.pop(self.token, None)
            if model is None:
                from bayesnet.model import BackPainModel

                model = BackPainModel(self.priors, self.setting)
                _ = model.engine  # compile now, once
            _MODELS[self.token] = model  # most recently used last
            while len(_MODELS) > _MODELS_KEPT:
                _MODELS.pop(next(iter(_MODELS)))
        return model

    def __dask_tokenize__(self) -> tuple[str, str]:
        return ("bayesnet.ModelSpec", self.token)

    def __repr__(self) -> str:
        return f"<ModelSpec setting={self.setting!r} token={self.token[:8]}>"


# ---------------------------------------------------------------------------- posteriors
def _posteriors_partition(part: pd.DataFrame, spec: ModelSpec, errors: str) -> pd.DataFrame:
    """Run the compiled engine on one partition (executed on a worker)."""
    return spec.load().posteriors(part, errors=errors)


def _is_dask_frame(data: Any) -> bool:
    mod = type(data).__module__ or ""
    return mod.startswith("dask") and hasattr(data, "map_partitions") and hasattr(data, "npartitions")


def _default_npartitions(client: Any, n_rows: int) -> int:
    threads = sum(client.nthreads().values()) or 1
    return max(1, min(n_rows, 2 * threads))


def posteriors(
    model: BackPainModel,
    data: Any,
    *,
    client: Any = None,
    errors: str = "report",
    npartitions: int | None = None,
) -> Any:
    """P(condition = yes) for every row of a Dask or pandas table of scenarios, on Dask.

    Each partition runs :meth:`BackPainModel.posteriors` (the compiled junction-tree engine) on
    a worker; the model travels as a small :class:`ModelSpec` and is compiled once per worker.

    Parameters
    ----------
    model : BackPainModel
    data : dask.dataframe.DataFrame or pandas.DataFrame
        One row per scenario; columns are variable ids, values are state names, missing means
        not observed. A column that is not a variable raises :class:`UnknownNameError` at once,
        as in :meth:`BackPainModel.posteriors`.
    client : distributed.Client, optional
        Required with a pandas DataFrame: it is split into partitions and computed on this
        client's cluster. With a Dask DataFrame, if given, the result is computed on it and
        returned as pandas; if not, the result stays lazy.
    errors : {"report", "raise"}, default "report"
        As in :meth:`BackPainModel.posteriors`: ``report`` gives bad rows NaN posteriors and a
        message in an ``error`` column (naming the row by its index label; note that
        ``dask.dataframe.read_csv`` numbers every partition from 0); ``raise`` makes the
        computation fail on the first bad row, with the same error as locally.
    npartitions : int, optional
        Partitions a pandas DataFrame is split into (default: twice the cluster's threads).

    Returns
    -------
    dask.dataframe.DataFrame or pandas.DataFrame
        Lazy Dask DataFrame (same divisions and index as ``data``) when ``data`` is a Dask
        DataFrame and no client is given; otherwise a pandas DataFrame equal, row for row and
        with the same index, to ``model.posteriors(data, errors=errors)``. One column per
        condition, plus ``error`` when ``errors="report"``.

    Raises
    ------
    BayesNetError
        Dask is not installed, ``data`` is neither kind of DataFrame, or a pandas DataFrame
        came without a client.
    UnknownNameError
        A column is not a variable, or ``errors`` is not one of the two options.

    Examples
    --------
    >>> import dask.dataframe as dd, pandas as pd, bayesnet
    >>> from distributed import Client
    >>> model = bayesnet.load_model()
    >>> df = pd.DataFrame({"fever": ["yes", None, "maybe"], "iv_drug_use": ["yes", "no", "no"]})
    >>> lazy = posteriors(model, dd.from_pandas(df, npartitions=2))  # doctest: +SKIP
    >>> lazy.compute()["error"].tolist()[2][:30]  # doctest: +SKIP
    "row 2, column 'fever': unknown "
    >>> with Client(n_workers=2, threads_per_worker=1) as client:  # doctest: +SKIP
    ...     post = posteriors(model, df, client=client)
    """
    dask, _ = _dask()
    if isinstance(data, pd.DataFrame):
        if client is None:
            raise BayesNetError(
                "posteriors of a pandas DataFrame on Dask needs a distributed.Client (client=...); "
                "or call model.posteriors(df) to compute in this process"
            )
        return _posteriors_pandas(model, data, client, errors, npartitions)
    if not _is_dask_frame(data):
        raise BayesNetError(f"data must be a dask.dataframe.DataFrame or a pandas.DataFrame; got {type(data).__name__}")
    meta = model.posteriors(data._meta.iloc[:0], errors=errors)  # validates columns and option, as locally
    spec = dask.delayed(ModelSpec.from_model(model), pure=True)
    lazy = data.map_partitions(_posteriors_partition, spec, errors, meta=meta)
    if client is None:
        return lazy
    return client.compute(lazy, sync=True)


def _posteriors_pandas(
    model: BackPainModel, data: pd.DataFrame, client: Any, errors: str, npartitions: int | None
) -> pd.DataFrame:
    """Split ``data`` by rows, score the pieces on ``client``'s workers and put them back together.

    The pieces are scattered (sent as data, not embedded in a task graph) and the model spec is
    broadcast once to every worker.
    """
    model.posteriors(data.iloc[:0], errors=errors)  # bad columns / option: fail now, as locally
    n = npartitions if npartitions is not None else _default_npartitions(client, len(data))
    bounds = np.linspace(0, len(data), max(1, min(int(n), len(data))) + 1).astype(int)
    pieces = client.scatter([data.iloc[a:b] for a, b in itertools.pairwise(bounds)])
    spec = client.scatter(ModelSpec.from_model(model), broadcast=True, hash=True)
    futures = client.map(_posteriors_partition, pieces, spec=spec, errors=errors, pure=False)
    return pd.concat(client.gather(futures))


# ---------------------------------------------------------------------------- cluster
_FAST_MALLOC = {"distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None}
"""Dask config for starting workers without ``MALLOC_TRIM_THRESHOLD_``.

Dask's nannies set it (to 65536) by default so that workers hand memory back to the system; it
also switches off glibc's adaptive mmap threshold, which makes the engine's large temporary
arrays page-fault on every allocation: scoring ran 2 to 2.5 times slower (measured). Partitions
here are bounded, so memory stays bounded without it. For a cluster you start yourself, do the
same (e.g. ``MALLOC_TRIM_THRESHOLD_`` unset through this config key) for full speed.
"""


def _connect(distributed: Any, scheduler: str, timeout: float) -> Any:
    """A client of the scheduler at ``scheduler``, or a one-line BayesNetError within ``timeout`` seconds."""
    advice = "write it as tcp://host:port (e.g. tcp://10.0.0.5:8786), or leave out --scheduler to start a local cluster"
    try:  # a malformed address or unknown host fails here, before any client exists
        address = distributed.comm.resolve_address(str(scheduler))
    except (OSError, ValueError, TypeError) as exc:
        raise BayesNetError(f"bad Dask scheduler address {scheduler!r} ({_one_line(exc)}); {advice}") from None
    try:
        return distributed.Client(address, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError) as exc:
        raise BayesNetError(
            f"no Dask scheduler answered at {scheduler!r} within {timeout:g} s ({_one_line(exc)}); check that it "
            "is running and reachable from here, or leave out --scheduler to start a local cluster"
        ) from None


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@contextlib.contextmanager
def _client_for(
    scheduler: str | None,
    client: Any,
    n_workers: int,
    connect_timeout: float,
) -> Iterator[Any]:
    """Yield a client: the one given, one connected to ``scheduler``, or one of a new local cluster.

    Clients and clusters made here are closed on exit; a given client is left open.
    """
    if client is not None:
        if scheduler is not None:
            raise BayesNetError("give either a scheduler address or a client, not both")
        yield client
        return
    distributed = _distributed()
    if scheduler is not None:
        with contextlib.closing(_connect(distributed, scheduler, connect_timeout)) as own:
            yield own
        return
    if n_workers < 1:
        raise BayesNetError(f"the local cluster needs at least 1 worker; got {n_workers}")
    dask, _ = _dask()
    with dask.config.set(_FAST_MALLOC):
        cluster = distributed.LocalCluster(
            host="127.0.0.1",
            n_workers=n_workers,
            threads_per_worker=1,
            processes=True,
            dashboard_address=None,
            scheduler_kwargs={"dashboard_address": "127.0.0.1:0"},  # its small HTTP server: any free loopback port
            silence_logs=logging.CRITICAL,  # a failed task is reported once, by this process
        )
    with contextlib.closing(cluster), contextlib.closing(distributed.Client(cluster, set_as_default=False)) as own:
        yield own


# ---------------------------------------------------------------------------- batch
MAX_BLOCKSIZE = 64 << 20
"""Largest CSV partition in bytes (a file whose first lines are very long would otherwise be one partition)."""


def _csv_blocksize(path: Path, chunk_size: int) -> int | None:
    """Bytes per CSV partition giving about ``chunk_size`` rows (``None``: compressed, one partition)."""
    if path.suffix.lower() in (".gz", ".bz2", ".xz", ".zip", ".zst"):
        return None
    with path.open("rb") as fh:
        head = fh.read(1 << 16)
    lines = max(head.count(b"\n"), 1)
    return max(1024, min(MAX_BLOCKSIZE, int(len(head) / lines * chunk_size)))


def _read_partitions(dd: Any, path: Path, fmt: str, blocksize: int | None, encoding: str) -> Any:
    """The input as a Dask DataFrame (nothing read yet but a sample for the column names)."""
    if fmt == "csv":
        return dd.read_csv(str(path), dtype=str, keep_default_na=True, blocksize=blocksize, encoding=encoding)
    try:
        import pyarrow  # noqa: F401
    except ImportError:  # pragma: no cover - depends on the install
        raise BayesNetError("reading Parquet needs pyarrow: pip install 'bayesnet[parquet]'") from None
    return dd.read_parquet(str(path), split_row_groups=True)


def _score_partition(
    spec: ModelSpec, part: pd.DataFrame, first_row: int, fin: str, fout: str, max_reported: int
) -> Scored:
    """Score one partition on a worker, numbering its rows from ``first_row`` (as the local path does)."""
    if fin == "parquet":
        part = part.astype(object)
    part = part.set_axis(pd.RangeIndex(first_row, first_row + len(part)), axis=0)
    return score_rows(spec.load(), part, first_row, fout, max_reported)


def _add_length(offset: int, part: pd.DataFrame) -> int:
    return offset + len(part)


def _spec_task(spec: ModelSpec) -> ModelSpec:
    return spec


def _scored(
    client: Any, parts: list, spec: Any, formats: tuple[str, str], window: int, max_reported: int, first_row: int = 0
) -> Iterator[Scored]:
    """Scored partitions in input order, with at most ``window`` partitions in flight.

    Each partition's first row number is a future: the previous one plus the previous
    partition's length, so workers number rows globally without reading the file twice.
    Every task can be recomputed from the input file (the model spec is a task too, not
    scattered data), so the scheduler redoes the work of a worker that dies.
    """
    pending: deque = deque()
    offset: Any = first_row
    try:
        for part in parts:
            part_f = client.compute(part)
            pending.append(client.submit(_score_partition, spec, part_f, offset, *formats, max_reported, pure=False))
            offset = client.submit(_add_length, offset, part_f, pure=False)
            del part_f
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        if pending:
            client.cancel(list(pending))


def _raise_input_error(exc: BaseException, path: Path, first_row: int = 0, encoding: str = "utf-8") -> None:
    """Raise a one-line BayesNetError for a failure to read the input; return if it is something else.

    ``first_row`` is the first data row of the partition that failed: Dask parses each CSV
    partition after a copy of the header, so its line ``k`` is line ``first_row + k`` of the file.
    """
    if isinstance(exc, pd.errors.EmptyDataError):
        raise BayesNetError(f"input file {str(path)!r} is empty (no header row)") from None
    if isinstance(exc, pd.errors.ParserError):
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        first = re.sub(r"\bline (\d+)", lambda m: f"line {int(m.group(1)) + first_row}", first)
        raise BayesNetError(f"cannot parse {str(path)!r} as CSV: {first}") from None
    if isinstance(exc, UnicodeDecodeError):
        raise decode_error(path, encoding) from None
    if isinstance(exc, FileNotFoundError):
        raise BayesNetError(
            f"the Dask workers cannot read {str(path)!r}: with --scheduler, the input file must be at the same "
            "path on every worker (a shared folder)"
        ) from None


def run_batch_dask(
    model: BackPainModel,
    input_path: str | Path,
    output_path: str | Path,
    *,
    scheduler: str | None = None,
    client: Any = None,
    n_workers: int = DEFAULT_WORKERS,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    blocksize: int | None = None,
    input_format: str | None = None,
    output_format: str | None = None,
    progress: bool | None = None,
    max_reported: int = 20,
    window: int | None = None,
    connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
    encoding: str = "utf-8",
    resume: bool = False,
    max_errors: int | str | ErrorLimit | None = DEFAULT_MAX_ERRORS,
) -> BatchReport:
    """Score every scenario of ``input_path`` on a Dask cluster; write one output row per input row.

    Same output (``row``, one column per condition, ``error``), same per-row error handling,
    same partial file, progress record and resume, and same
    :class:`~bayesnet.io.batch.BatchReport` as :func:`bayesnet.io.batch.run_batch`. The workers
    read the file in partitions (``dask.dataframe.read_csv(dtype=str)`` or ``read_parquet``, one
    partition per row group), score them with :func:`bayesnet.io.batch.score_chunk` (numbering rows
    from the start of the file: each partition's first row number is the previous one's plus
    its length, passed along as a future) and, for CSV output, format them as text; this process
    appends them in input order. At most ``window`` partitions are in flight at a time, so a file larger than
    memory works as long as one partition (for Parquet: one row group) fits.

    Faults: every task can be recomputed from the input, so when a worker dies the scheduler
    has its partitions scored again elsewhere and the output is unchanged (tested by killing a
    worker of a ``LocalCluster`` mid-run); a partition that kills its worker three times, or a
    scheduler that goes away, ends the run with a BayesNetError and the partial file kept.

    Parameters
    ----------
    model : BackPainModel
    input_path, output_path : path-like
        CSV or Parquet (by extension, or ``input_format``/``output_format``). With a remote
        scheduler the workers open ``input_path`` themselves, so it must be at the same path on
        every worker (shared folder); the output is written by this process.
    scheduler : str, optional
        Address of a running Dask scheduler, e.g. ``tcp://10.0.0.5:8786``.
    client : distributed.Client, optional
        An existing client to use instead (left open).
    n_workers : int, default 2
        Worker processes (one thread each) of the local cluster started, on 127.0.0.1 and
        without a dashboard, when neither ``scheduler`` nor ``client`` is given; it is closed at
        the end. Its workers run without ``MALLOC_TRIM_THRESHOLD_`` (see ``_FAST_MALLOC``).
    chunk_size : int
        About this many rows per partition (fewer for a file of many columns). CSV is split by
        bytes, estimated from the first 64 kB (at most ``MAX_BLOCKSIZE``, 64 MiB, per partition); a
        compressed CSV is one partition. Dask splits CSV files at line breaks, so quoted fields
        holding line breaks only work in one partition (a ``blocksize`` above the file size).
    blocksize : int, optional
        Bytes per CSV partition, overriding ``chunk_size``.
    progress : bool or None
        Show a progress bar (``None``: only on a terminal).
    max_reported : int
        Failed rows kept in ``BatchReport.errors`` (all are in the ``error`` column).
    window : int, optional
        Partitions in flight at a time (default: twice the cluster's threads, at least 2).
    connect_timeout : float
        Seconds to wait for ``scheduler`` before failing (and for it to come back when the
        connection drops).
    encoding, resume, max_errors
        As in :func:`bayesnet.io.batch.run_batch`. A resumed run must use the Dask engine and
        the same partitioning as the interrupted one.

    Returns
    -------
    BatchReport

    Raises
    ------
    BayesNetError
        Missing, unreadable or undecodable input, unreachable or lost scheduler, workers that
        keep dying, Dask not installed; :class:`~bayesnet.io.batch.TooManyErrors` past
        ``max_errors``.

    Examples
    --------
    >>> import bayesnet
    >>> report = run_batch_dask(bayesnet.load_model(), "scenarios.csv", "results.csv")  # doctest: +SKIP
    >>> report.rows, report.failed  # doctest: +SKIP
    (200000, 3)
    """
    from tqdm.auto import tqdm

    dask, dd = _dask()
    distributed = _distributed()
    limit = ErrorLimit.parse(max_errors)
    input_path = Path(input_path)
    probe = plan_run(model, input_path, output_path, chunk_size=chunk_size, input_format=input_format,
                     output_format=output_format, encoding=encoding, resume=False, engine="dask")
    size = None
    if probe.fin == "csv":
        size = blocksize if blocksize is not None else _csv_blocksize(input_path, probe.rows_per_chunk)
    plan = plan_run(model, input_path, output_path, chunk_size=chunk_size, input_format=input_format,
                    output_format=output_format, encoding=encoding, resume=resume, engine="dask", blocksize=size)
    try:
        with _plain_strings(dask):
            frame = _read_partitions(dd, plan.input_path, plan.fin, size, plan.encoding)
        parts = list(frame.to_delayed())
    except Exception as exc:
        _raise_input_error(exc, plan.input_path, encoding=plan.encoding)
        raise
    writer, rec, report = start_writer(plan)
    if rec.chunks > len(parts):
        writer.close(False)
        raise BayesNetError(f"cannot resume: {str(plan.input_path)!r} has fewer partitions than the partial run "
                            "scored; run without --resume to start over")
    bar = tqdm(unit=" rows", disable=(not progress) if progress is not None else None, desc="bayesnet batch (dask)",
               initial=report.rows)
    complete = False
    cl = None
    try:
        with _quiet_client(), _client_for(scheduler, client, n_workers, connect_timeout) as cl:
            spec = ModelSpec.from_model(model)
            spec_f = cl.submit(_spec_task, spec, key=f"bayesnet-model-spec-{spec.token}", pure=False)
            width = window if window is not None else max(2, 2 * (sum(cl.nthreads().values()) or 1))
            formats = (plan.fin, plan.fout)
            for scored in _scored(cl, parts[rec.chunks:], spec_f, formats, width, max_reported, report.rows):
                commit_chunk(plan, writer, rec, report, scored, max_reported, limit)
                bar.update(scored.rows)
        complete = True
    except BayesNetError:
        raise
    except Exception as exc:  # a reading failure on a worker comes back here; so do cluster faults
        _raise_input_error(exc, plan.input_path, report.rows, plan.encoding)
        _raise_cluster_error(exc, distributed, cl, scheduler, report)
        raise
    finally:
        bar.close()
        writer.close(complete)
    return report


@contextlib.contextmanager
def _quiet_client() -> Iterator[None]:
    """Silence the client's own log lines (lost connection, reconnecting): the run reports faults once itself."""
    loggers = [logging.getLogger(name) for name in ("distributed.client", "distributed.batched", "distributed.core")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def _raise_cluster_error(exc: BaseException, distributed: Any, client: Any, scheduler: str | None,
                         report: BatchReport) -> None:
    """Raise a one-line BayesNetError for a lost scheduler or workers that keep dying; return otherwise."""
    where = f"after {report.rows:,} rows"
    killed = getattr(getattr(distributed, "scheduler", None), "KilledWorker", None)
    if killed is not None and isinstance(exc, killed):
        raise BayesNetError(
            f"Dask workers died again and again running one partition {where} (out of memory, or killed); "
            f"{_one_line(exc)}") from None
    status = str(getattr(client, "status", "")) if client is not None else ""
    lost = isinstance(exc, (CancelledError, TimeoutError, OSError)) or type(exc).__name__ == "CommClosedError"
    if lost and (client is None or status not in ("running", "Status.running")):
        name = repr(scheduler) if scheduler else "of the local cluster"
        raise BayesNetError(f"lost the connection to the Dask scheduler {name} {where}: it stopped, or the network "
                            "between here and it failed") from None
    if lost:
        raise BayesNetError(f"the Dask cluster stopped answering {where}: {type(exc).__name__} "
                            f"{_one_line(exc)}") from None
