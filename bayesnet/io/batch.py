"""Batch what-if analyses: stream a table of scenarios through the compiled engine.

Input is read in chunks (CSV with pandas, Parquet with pyarrow) so a file larger than memory
works; every input row gets exactly one output row, in the same order. A row with an unknown
state, or a value in a column that is not a variable, gets NaN posteriors and a message in the
``error`` column; the other rows are computed as usual. The output is written to
``<output>.partial`` and renamed onto the output only when the run is complete
(:class:`ChunkWriter`).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesnet.errors import BayesNetError, closest

__all__ = ["BatchReport", "ChunkWriter", "Scored", "check_paths", "partial_path", "record_chunk", "run_batch", "score_chunk",
           "score_rows"]

DEFAULT_CHUNK_SIZE = 50_000


@dataclass
class BatchReport:
    """What a batch run did."""

    rows: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, message), first few
    unknown_columns: list[str] = field(default_factory=list)


def file_format(path: Path, fmt: str | None) -> str:
    """``fmt`` when given, else the format named by the file's extension (csv or parquet)."""
    if fmt:
        return fmt
    suffix = path.suffix.lower()
    if suffix in (".parquet", ".pq"):
        return "parquet"
    if suffix in (".csv", ".txt", ".gz"):
        return "csv"
    raise BayesNetError(f"cannot tell the format of {str(path)!r}: use a .csv or .parquet name")


def _read_chunks(path: Path, fmt: str, chunk_size: int) -> Iterator[pd.DataFrame]:
    if fmt == "csv":
        yield from pd.read_csv(path, chunksize=chunk_size, dtype=str, keep_default_na=True)
    else:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BayesNetError("reading Parquet needs pyarrow: pip install 'bayesnet[parquet]'") from exc
        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=chunk_size):
            yield batch.to_pandas().astype(object)


def score_chunk(model, chunk: pd.DataFrame, first_row: int) -> tuple[pd.DataFrame, list[str]]:
    """Posteriors for one chunk; unknown columns become per-row errors instead of a failure.

    Returns the output frame (``row``, one column per condition, ``error``) and the unknown
    column names.
    """
    states = model.tables.states
    # name rows by their 0-based position in the whole input, so messages point at the right row
    chunk = chunk.set_axis(pd.RangeIndex(first_row, first_row + len(chunk)), axis=0)
    unknown = [c for c in chunk.columns if c not in states]
    known = chunk[[c for c in chunk.columns if c in states]]
    out = model.posteriors(known, errors="report")
    errors = out.pop("error").to_numpy(dtype=object).copy()
    if unknown:
        bad_any = np.zeros(len(chunk), dtype=bool)
        messages = [[] for _ in range(len(chunk))]
        for col in unknown:
            hint = closest(col, states)
            suggestion = f"; did you mean {hint[0]!r}?" if hint else ""
            present = chunk[col].notna().to_numpy()
            for i in np.flatnonzero(present):
                messages[i].append(
                    f"column {col!r} (value {chunk[col].iloc[i]!r}) is not a variable of the model{suggestion}"
                )
            bad_any |= present
        for i in np.flatnonzero(bad_any):
            errors[i] = "; ".join(m for m in [errors[i], *messages[i]] if m)
        out.loc[bad_any, :] = np.nan
    out.insert(0, "row", np.arange(first_row, first_row + len(chunk)))
    out["error"] = errors
    return out.reset_index(drop=True), unknown


@dataclass
class Scored:
    """One scored chunk: what the report needs, and the output rows.

    For CSV output the rows come already formatted (``csv``: text without header, exactly what
    ``DataFrame.to_csv`` writes; on Dask a worker formats them), for Parquet as ``frame``.
    """

    rows: int
    failed: int
    errors: list[tuple[int, str]]  # (row number, message), the first ``max_reported``
    unknown: list[str]
    csv: str | None = None
    frame: pd.DataFrame | None = None


def score_rows(model, chunk: pd.DataFrame, first_row: int, fout: str, max_reported: int) -> Scored:
    """:func:`score_chunk`, packed for the writer and the report (rows numbered from ``first_row``)."""
    out, unknown = score_chunk(model, chunk, first_row)
    bad = out["error"].to_numpy(dtype=object) != ""
    first_bad = out.loc[bad, ["row", "error"]].head(max_reported)
    errors = [(int(r), str(m)) for r, m in zip(first_bad["row"], first_bad["error"], strict=True)]
    scored = Scored(len(out), int(bad.sum()), errors, list(unknown))
    if fout == "csv":
        scored.csv = out.to_csv(index=False, header=False)
    else:
        scored.frame = out
    return scored


def record_chunk(report: BatchReport, scored: Scored, max_reported: int) -> None:
    """Add one scored chunk to ``report``."""
    for col in scored.unknown:
        if col not in report.unknown_columns:
            report.unknown_columns.append(col)
    report.failed += scored.failed
    report.errors.extend(scored.errors[: max(0, max_reported - len(report.errors))])
    report.rows += scored.rows


def partial_path(path: Path) -> Path:
    """Where a run writes until it is complete: ``<output>.partial`` beside the output.

    >>> partial_path(Path("out/results.csv")).as_posix()
    'out/results.csv.partial'
    """
    return path.with_name(path.name + ".partial")


class ChunkWriter:
    """Writes scored chunks, in order, to one CSV or Parquet file (used by the local and the Dask batch).

    Rows go to :func:`partial_path` (``results.csv.partial``); only a complete run renames it onto
    the output, in one step (``os.replace``). A run that stops (an error, Ctrl-C, a kill, a full
    disk) leaves the previous output untouched and the rows written so far in the clearly named
    partial file, which never passes for a complete result.
    """

    def __init__(self, path: Path, fmt: str, columns: list[str]):
        self.path, self.fmt, self.columns = path, fmt, columns
        self.partial = partial_path(path)
        self._csv = None
        self._parquet = None

    def write(self, scored: Scored) -> None:
        if self.fmt == "csv":
            if self._csv is None:
                self._csv = self.partial.open("w", newline="", encoding="utf-8")
                self._csv.write(pd.DataFrame(columns=self.columns).to_csv(index=False))
            self._csv.write(scored.csv or "")
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(scored.frame, preserve_index=False)
        if self._parquet is None:
            self._parquet = pq.ParquetWriter(self.partial, table.schema)
        self._parquet.write_table(table)

    def close(self, complete: bool = True) -> None:
        """Close the file; when ``complete``, move it onto the output (an empty input still gets the header)."""
        if self._csv is not None:
            self._csv.close()
        elif self._parquet is not None:
            self._parquet.close()
        elif complete:
            empty = pd.DataFrame(columns=self.columns)
            if self.fmt == "csv":
                empty.to_csv(self.partial, index=False)
            else:
                empty.to_parquet(self.partial, index=False)
        if complete:
            os.replace(self.partial, self.path)


def check_paths(input_path: Path, output_path: Path, chunk_size: int) -> None:
    """Refuse a missing input, an output folder that does not exist, a bad chunk size, output = input."""
    if not input_path.is_file():
        raise BayesNetError(f"input file not found: {str(input_path)!r}")
    if not output_path.parent.exists():
        raise BayesNetError(f"cannot write {str(output_path)!r}: folder {str(output_path.parent)!r} does not exist")
    if chunk_size < 1:
        raise BayesNetError(f"chunk size must be at least 1; got {chunk_size}")
    if input_path.resolve() == output_path.resolve():
        raise BayesNetError(f"the output file {str(output_path)!r} is the input file: choose another name")


def run_batch(
    model,
    input_path: str | Path,
    output_path: str | Path,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    input_format: str | None = None,
    output_format: str | None = None,
    progress: bool | None = None,
    max_reported: int = 20,
) -> BatchReport:
    """Score every scenario of ``input_path`` and write one output row per input row.

    Parameters
    ----------
    model : BackPainModel
    input_path, output_path : path-like
        CSV or Parquet (by extension, or ``input_format``/``output_format``).
    chunk_size : int
        Rows read, scored and written at a time (bounds memory).
    progress : bool or None
        Show a progress bar (``None``: only on a terminal).

    Returns
    -------
    BatchReport
    """
    from tqdm.auto import tqdm

    input_path, output_path = Path(input_path), Path(output_path)
    check_paths(input_path, output_path, chunk_size)
    fin, fout = file_format(input_path, input_format), file_format(output_path, output_format)
    report = BatchReport()
    writer = ChunkWriter(output_path, fout, ["row", *model.conditions, "error"])
    bar = tqdm(unit=" rows", disable=(not progress) if progress is not None else None, desc="bayesnet batch")
    complete = False
    try:
        for chunk in _read_chunks(input_path, fin, chunk_size):
            scored = score_rows(model, chunk, report.rows, fout, max_reported)
            record_chunk(report, scored, max_reported)
            writer.write(scored)
            bar.update(scored.rows)
        complete = True
    except pd.errors.EmptyDataError:
        raise BayesNetError(f"input file {str(input_path)!r} is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise BayesNetError(f"cannot parse {str(input_path)!r} as CSV: {str(exc).splitlines()[0]}") from None
    finally:
        bar.close()
        writer.close(complete)
    return report

