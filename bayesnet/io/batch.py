"""Batch what-if analyses: stream a table of scenarios through the compiled engine.

Input is read in chunks (CSV with pandas, Parquet with pyarrow) so a file larger than memory
works; every input row gets exactly one output row, in the same order. A row with an unknown
state, or a value in a column that is not a variable, gets NaN posteriors and a message in the
``error`` column; the other rows are computed as usual.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from bayesnet.errors import BayesNetError, closest

__all__ = ["BatchReport", "run_batch", "score_chunk"]

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
    if not input_path.is_file():
        raise BayesNetError(f"input file not found: {str(input_path)!r}")
    if not output_path.parent.exists():
        raise BayesNetError(f"cannot write {str(output_path)!r}: folder {str(output_path.parent)!r} does not exist")
    fin, fout = file_format(input_path, input_format), file_format(output_path, output_format)
    if chunk_size < 1:
        raise BayesNetError(f"chunk size must be at least 1; got {chunk_size}")
    report = BatchReport()
    writer = None
    bar = tqdm(unit=" rows", disable=(not progress) if progress is not None else None, desc="bayesnet batch")
    try:
        first = True
        for chunk in _read_chunks(input_path, fin, chunk_size):
            out, unknown = score_chunk(model, chunk, report.rows)
            for col in unknown:
                if col not in report.unknown_columns:
                    report.unknown_columns.append(col)
            bad = out["error"].to_numpy(dtype=object) != ""
            report.failed += int(bad.sum())
            for r, msg in zip(out.loc[bad, "row"], out.loc[bad, "error"], strict=True):
                if len(report.errors) < max_reported:
                    report.errors.append((int(r), str(msg)))
            if fout == "csv":
                out.to_csv(output_path, mode="w" if first else "a", header=first, index=False)
            else:
                import pyarrow as pa
                import pyarrow.parquet as pq

                table = pa.Table.from_pandas(out, preserve_index=False)
                if writer is None:
                    writer = pq.ParquetWriter(output_path, table.schema)
                writer.write_table(table)
            first = False
            report.rows += len(chunk)
            bar.update(len(chunk))
        if first:  # empty input: still write a header
            empty = pd.DataFrame(columns=["row", *model.conditions, "error"])
            if fout == "csv":
                empty.to_csv(output_path, index=False)
            else:
                empty.to_parquet(output_path, index=False)
    except pd.errors.EmptyDataError:
        raise BayesNetError(f"input file {str(input_path)!r} is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise BayesNetError(f"cannot parse {str(input_path)!r} as CSV: {str(exc).splitlines()[0]}") from None
    finally:
        bar.close()
        if writer is not None:
            writer.close()
    return report

