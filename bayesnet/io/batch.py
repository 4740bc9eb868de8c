"""Batch what-if analyses: stream a table of scenarios through the compiled engine.

Input is read in chunks (CSV with pandas, Parquet with pyarrow) so a file larger than memory
works; every input row gets exactly one output row, in the same order. A row with an unknown
state, a malformed soft-evidence cell or a value in a column that is not a variable gets NaN
posteriors and a short code in the ``error`` column (``unknown_state:fever``); the long text of
each distinct problem is kept once in the :class:`BatchReport`. The other rows are computed as
usual.

Nothing lost, nothing faked:

* the output is written to ``<output>.partial`` and renamed onto the output only when the run is
  complete (:class:`ChunkWriter`); a run that stops leaves the previous output untouched;
* after every chunk, ``<output>.partial.json`` records how far the run got (rows, bytes of the
  partial file) and what it ran on (the input's size, time stamp and a hash of its first and last
  64 KiB, the chunking, the encoding and a fingerprint of the model), so ``resume=True`` continues
  from the last complete chunk and produces the same bytes as an uninterrupted run, and refuses
  to continue against another input or other options (:class:`RunRecord`);
* a run whose rows mostly fail stops early (``max_errors``), keeping its partial file.
"""

from __future__ import annotations

import codecs
import functools
import gzip
import hashlib
import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.errors import BayesNetError, UnknownNameError, closest
from bayesnet.inference.engine import IMPOSSIBLE_MESSAGE, NUMERIC_MESSAGE
from bayesnet.inference.evidence import split_soft

__all__ = [
    "DEFAULT_CHUNK_SIZE",
    "DEFAULT_MAX_ERRORS",
    "BatchReport",
    "ChunkWriter",
    "ErrorLimit",
    "Problem",
    "RunRecord",
    "Scored",
    "TooManyErrors",
    "check_paths",
    "chunk_rows",
    "decode_error",
    "input_identity",
    "manifest_path",
    "model_fingerprint",
    "partial_path",
    "read_header",
    "record_chunk",
    "run_batch",
    "score_chunk",
    "score_rows",
]

DEFAULT_CHUNK_SIZE = 50_000

CELL_BUDGET = 4_000_000
"""Cells (rows x columns) read at a time: a wide file is read in fewer rows per chunk, so memory
stays bounded whatever the number of columns (50,000 rows of up to 80 columns; 400 rows of 10,000)."""

DEFAULT_MAX_ERRORS = "50%"
"""Default of ``max_errors``: stop once more than half of the rows read have failed (and at least
:data:`MIN_FAILED_FOR_SHARE` have)."""

MIN_FAILED_FOR_SHARE = 1_000
"""A share limit (``"50%"``) only stops a run once this many rows have failed: a few bad rows in
a small file never stop it."""

MAX_CODES_PER_CELL = 5
"""Codes listed in one ``error`` cell; more are summarised as ``+N more``."""

MAX_PROBLEMS = 100
"""Distinct problems (codes) whose text a report keeps; further codes are only counted."""

MANIFEST_VERSION = 1

# ---------------------------------------------------------------------------- report


@dataclass
class Problem:
    """One kind of problem (one error code) met in a run.

    Attributes
    ----------
    code : str
        What the ``error`` cells say, e.g. ``unknown_state:fever`` or ``impossible_evidence``.
    rows : int
        Rows that have it.
    first_row : int
        The first of them (0-based, as in the ``row`` column).
    message : str
        The long explanation of its first occurrence (value, valid states, closest name).
    """

    code: str
    rows: int
    first_row: int
    message: str


@dataclass
class BatchReport:
    """What a batch run did.

    ``errors`` holds ``(row, error cell)`` for the first failed rows; ``problems`` one entry per
    distinct error code (at most :data:`MAX_PROBLEMS`; cells of further codes are counted in
    ``unlisted``). ``resumed`` says whether the run continued a partial one, ``resumed_from`` how
    many rows that one had done.
    """

    rows: int = 0
    failed: int = 0
    errors: list[tuple[int, str]] = field(default_factory=list)  # (row number, error cell), first few
    unknown_columns: list[str] = field(default_factory=list)
    problems: dict[str, Problem] = field(default_factory=dict)
    unlisted: int = 0
    resumed: bool = False
    resumed_from: int = 0

    def to_json(self) -> dict:
        return {"rows": self.rows, "failed": self.failed, "errors": [list(e) for e in self.errors],
                "unknown_columns": list(self.unknown_columns), "unlisted": self.unlisted,
                "problems": [[p.code, p.rows, p.first_row, p.message] for p in self.problems.values()]}

    @classmethod
    def from_json(cls, data: dict) -> BatchReport:
        rep = cls(int(data["rows"]), int(data["failed"]), [(int(r), str(m)) for r, m in data["errors"]],
                  [str(c) for c in data["unknown_columns"]], unlisted=int(data["unlisted"]))
        for code, rows, first, msg in data["problems"]:
            rep.problems[code] = Problem(code, int(rows), int(first), msg)
        return rep


class TooManyErrors(BayesNetError):
    """A run stopped by ``max_errors``; ``report`` says how far it got."""

    def __init__(self, message: str, report: BatchReport):
        self.report = report
        super().__init__(message)


@dataclass(frozen=True)
class ErrorLimit:
    """When a run is mostly junk: more than ``count`` failed rows, or more than ``share`` of the rows read.

    Build one with :meth:`parse`: ``"1000"`` (a count), ``"50%"`` (a share; it only applies once
    :data:`MIN_FAILED_FOR_SHARE` rows have failed) or ``"none"``.

    Examples
    --------
    >>> ErrorLimit.parse("50%").exceeded(failed=1500, rows=2000)
    True
    >>> ErrorLimit.parse("50%").exceeded(failed=999, rows=999)
    False
    >>> ErrorLimit.parse("10").exceeded(failed=11, rows=10**6)
    True
    """

    count: int | None = None
    share: float | None = None
    text: str = "none"

    @classmethod
    def parse(cls, value: int | str | ErrorLimit | None) -> ErrorLimit:
        if isinstance(value, ErrorLimit):
            return value
        if value is None:
            return cls()
        if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
            if value < 0:
                raise BayesNetError(f"max_errors must be a count of at least 0, a share like 50% or none; got {value}")
            return cls(count=int(value), text=str(int(value)))
        text = str(value).strip().lower()
        if text in ("none", "off", "all", "inf"):
            return cls()
        m = re.fullmatch(r"(\d+(?:\.\d*)?)\s*%", text)
        if m and 0 <= float(m.group(1)) < 100:
            return cls(share=float(m.group(1)) / 100, text=f"{m.group(1)}%")
        if text.isdigit():
            return cls(count=int(text), text=text)
        raise BayesNetError(f"max errors must be a count (e.g. 1000), a share below 100% (e.g. 50%) or none; got {value!r}")

    def exceeded(self, failed: int, rows: int) -> bool:
        if self.count is not None:
            return failed > self.count
        if self.share is not None:
            return failed >= MIN_FAILED_FOR_SHARE and failed > self.share * rows
        return False


# ---------------------------------------------------------------------------- input


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


def check_encoding(encoding: str) -> str:
    """The codec's canonical name, or a BayesNetError for an unknown encoding."""
    try:
        info = codecs.lookup(encoding)
    except (LookupError, TypeError, ValueError):
        info = None
    if info is None or not getattr(info, "_is_text_encoding", True):  # rot13, base64...: not a text encoding
        raise BayesNetError(f"unknown text encoding {encoding!r}: use a Python codec name such as utf-8, cp1252, "
                            "latin-1 or utf-16")
    return info.name


def decode_error(path: Path, encoding: str, exc: BaseException | None = None) -> BayesNetError:
    """A one-line error naming where ``path`` stops being valid ``encoding`` (byte offset and line).

    The file is scanned again with an incremental decoder, so the position is the file's, not
    that of a parser's buffer.
    """
    dec = codecs.getincrementaldecoder(encoding)()
    offset = 0
    hint = ("if the file is in another encoding, name it with --encoding (e.g. --encoding cp1252, latin-1 or "
            "utf-16)")
    with path.open("rb") as fh:
        while True:
            block = fh.read(1 << 20)
            try:
                pending = len(dec.getstate()[0])
                dec.decode(block, final=not block)
            except UnicodeDecodeError as err:
                pos = max(0, offset - pending + err.start)
                fh.seek(0)
                line = fh.read(pos).count(b"\n") + 1
                byte = fh.read(1)
                return BayesNetError(
                    f"cannot read {str(path)!r} as {encoding}: byte 0x{byte.hex() or '??'} at offset {pos:,} "
                    f"(line {line:,}) is not valid {encoding} ({err.reason}); {hint}")
            if not block:
                break
            offset += len(block)
    detail = f" ({' '.join(str(exc).split())})" if exc is not None else ""
    return BayesNetError(f"cannot read {str(path)!r} as {encoding}{detail}; {hint}")


def read_header(path: Path, fmt: str, encoding: str = "utf-8") -> list[str]:
    """The column names of the input, as written; a duplicated name is refused.

    pandas would rename a second ``fever`` column to ``fever.1``; here it is an error naming the
    column and its positions instead.
    """
    if fmt == "csv":
        names = _csv_header(path, encoding)
    else:
        try:
            import pyarrow.parquet as pq
        except ImportError as exc:  # pragma: no cover - depends on the install
            raise BayesNetError("reading Parquet needs pyarrow: pip install 'bayesnet[parquet]'") from exc
        from pyarrow import ArrowException

        try:
            names = [str(n) for n in pq.ParquetFile(path).schema_arrow.names]
        except (OSError, ValueError, ArrowException) as exc:
            raise BayesNetError(f"cannot read {str(path)!r} as Parquet: {' '.join(str(exc).split())}") from None
    seen: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        seen.setdefault(name, []).append(i + 1)
    dups = {n: pos for n, pos in seen.items() if len(pos) > 1 and n != ""}
    if dups:
        name, pos = next(iter(dups.items()))
        more = f" (and {len(dups) - 1} more duplicated names)" if len(dups) > 1 else ""
        raise BayesNetError(
            f"{str(path)!r}: column {_show(name)} appears {len(pos)} times in the header (columns "
            f"{', '.join(map(str, pos))}){more}; give each variable one column")
    return names


def _csv_header(path: Path, encoding: str) -> list[str]:
    """The first record of a CSV file (blank lines before it skipped, as pandas does), read with the csv module.

    pandas takes seconds to build a frame of 10,000 columns for one row; this takes milliseconds.
    A UTF-8 byte-order mark is dropped, as pandas drops it.
    """
    import csv
    import gzip as gz
    import io

    enc = "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding
    limit = csv.field_size_limit()
    csv.field_size_limit(2**31 - 1)  # a gigantic column name is still a name
    try:
        opener = gz.open if path.suffix.lower() == ".gz" else open
        with opener(path, "rb") as raw, io.TextIOWrapper(raw, encoding=enc, newline="") as text:
            for record in csv.reader(text):
                if record and any(record):
                    return record
    except UnicodeDecodeError as exc:
        raise decode_error(path, encoding, exc) from None
    except csv.Error as exc:
        raise BayesNetError(f"cannot parse the header of {str(path)!r} as CSV: {exc}") from None
    except (OSError, EOFError) as exc:  # a .gz name on a file that is not gzip
        raise BayesNetError(f"cannot read {str(path)!r}: {' '.join(str(exc).split())}") from None
    finally:
        csv.field_size_limit(limit)
    raise BayesNetError(f"input file {str(path)!r} is empty (no header row)")


def chunk_rows(chunk_size: int, n_columns: int) -> int:
    """Rows read at a time: ``chunk_size``, fewer for a wide file (at most :data:`CELL_BUDGET` cells).

    >>> chunk_rows(50_000, 20), chunk_rows(50_000, 10_000)
    (50000, 400)
    """
    return max(1, min(int(chunk_size), CELL_BUDGET // max(int(n_columns), 1)))


def _read_chunks(path: Path, fmt: str, rows: int, encoding: str) -> Iterator[pd.DataFrame]:
    if fmt == "csv":
        yield from pd.read_csv(path, chunksize=rows, dtype=str, keep_default_na=True, encoding=encoding)
    else:
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        for batch in pf.iter_batches(batch_size=rows):
            yield batch.to_pandas().astype(object)


def input_identity(path: Path) -> dict:
    """What tells one input file from another: resolved path, size, time stamp, hash of its ends."""
    st = path.stat()
    h = hashlib.sha256()
    with path.open("rb") as fh:
        h.update(fh.read(1 << 16))
        if st.st_size > 1 << 17:
            fh.seek(-(1 << 16), os.SEEK_END)
        h.update(fh.read(1 << 16))
    return {"path": str(path.resolve()), "size": st.st_size, "mtime_ns": st.st_mtime_ns, "ends_sha256": h.hexdigest()}


def model_fingerprint(model) -> str:
    """Hash of every conditional probability table of ``model.network`` (and the setting's name)."""
    h = hashlib.sha256(str(getattr(model, "setting", "")).encode())
    for cpd in sorted(model.network.get_cpds(), key=lambda c: str(c.variable)):
        h.update(repr((cpd.variable, cpd.get_evidence(), sorted(cpd.state_names.items()))).encode())
        h.update(np.ascontiguousarray(cpd.values, dtype=float).tobytes())
    return h.hexdigest()[:32]


# ---------------------------------------------------------------------------- scoring


def _show(value: Any, limit: int = 60) -> str:
    """``repr(value)``, shortened for a message (a 10 MB cell is named by its start and length)."""
    if isinstance(value, str) and len(value) > limit:
        return f"{value[:limit]!r}... ({len(value):,} characters)"
    text = repr(value)
    return text if len(text) <= limit + 20 else f"{text[:limit]}... ({len(text):,} characters)"


def _code_name(name: Any) -> str:
    """A column name fit for an error code: control characters escaped, at most 60 characters."""
    text = "".join(c if c.isprintable() else repr(c)[1:-1] for c in str(name))
    return text if len(text) <= 60 else text[:57] + "..."


@functools.lru_cache(maxsize=65_536)
def _column_hint(column: str, names: tuple[str, ...]) -> str:
    if len(column) > 200:
        return ""
    hint = closest(column, names)
    return f"; did you mean {hint[0]!r}?" if hint else ""


def _state_message(column: str, value: Any, states: tuple[str, ...]) -> str:
    shown = value[:60] if isinstance(value, str) and len(value) > 80 else value
    if not isinstance(shown, str | int | float | bool | None):
        shown = _show(shown)
    msg = str(UnknownNameError("state", shown, states, context=f"of variable {column!r}"))
    if shown is not value and isinstance(value, str):
        msg = msg.replace(repr(shown), f"{shown!r}... ({len(value):,} characters)", 1)
    return msg


def _is_state(value: Any, valid: frozenset[str]) -> bool:
    """Whether the engine reads ``value`` as one of the states (a name, or its text; never a bool)."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, str):
        return value in valid
    if isinstance(value, (float, np.floating)) and float(value).is_integer() and str(int(value)) in valid:
        return True
    try:
        return str(value) in valid
    except Exception:  # noqa: BLE001 - a cell whose str() fails is no state
        return False


def _is_soft(value: Any) -> bool:
    return isinstance(value, dict) or (isinstance(value, str) and value.lstrip().startswith("{"))


class _Flags:
    """Per-row problem codes of one chunk, in column order, and the text of each code's first row."""

    def __init__(self, n: int, first_row: int):
        self.n, self.first_row = n, first_row
        self.items: list[tuple[str, np.ndarray]] = []
        self.problems: dict[str, Problem] = {}

    def add(self, code: str, mask: np.ndarray, message: Any) -> None:
        rows = np.flatnonzero(mask)
        if not len(rows):
            return
        self.items.append((code, mask))
        first = int(rows[0])
        if code in self.problems:
            self.problems[code].rows += len(rows)
            return
        if len(self.problems) < MAX_PROBLEMS:  # a report keeps no more: spare the text of the others
            text = message(first) if callable(message) else str(message)
        else:
            text = f"one of more than {MAX_PROBLEMS} kinds of problem in rows near this one (see the error column)"
        self.problems[code] = Problem(code, len(rows), self.first_row + first, text[:500])

    def bad(self) -> np.ndarray:
        out = np.zeros(self.n, dtype=bool)
        for _, mask in self.items:
            out |= mask
        return out

    def cells(self) -> np.ndarray:
        err = np.full(self.n, "", dtype=object)
        count = np.zeros(self.n, dtype=np.int64)
        for code, mask in self.items:
            sel = mask & (count < MAX_CODES_PER_CELL)
            if sel.any():
                first = sel & (count == 0)
                later = sel & (count > 0)
                err[first] = code
                if later.any():
                    err[later] = err[later] + (";" + code)
            count += mask
        for i in np.flatnonzero(count > MAX_CODES_PER_CELL):
            err[i] = f"{err[i]};+{count[i] - MAX_CODES_PER_CELL} more"
        return err


def score_chunk(model, chunk: pd.DataFrame, first_row: int) -> tuple[pd.DataFrame, list[str], dict[str, Problem]]:
    """Posteriors for one chunk; bad cells become short per-row error codes instead of a failure.

    Every cell is checked before the engine runs: a value in a column that is not a variable
    (``unknown_column:COL``), a value that is not a state (``unknown_state:COL``), a malformed
    soft-evidence cell (``bad_soft_evidence:COL``). Those rows get NaN posteriors; the others are
    scored together by :meth:`BackPainModel.posteriors`, whose own failures become
    ``impossible_evidence`` (the evidence has probability zero) or ``numeric_error``.

    Returns
    -------
    out : DataFrame
        ``row`` (numbered from ``first_row``), one column per condition, ``error`` (codes joined
        by ``;``, empty when the row was computed).
    unknown : list of str
        The columns that are not variables.
    problems : dict
        Error code -> :class:`Problem` (rows of this chunk, first row, long text).
    """
    states = model.tables.states
    n = len(chunk)
    chunk = chunk.set_axis(pd.RangeIndex(first_row, first_row + n), axis=0)
    unknown = [c for c in chunk.columns if c not in states]
    flags = _Flags(n, first_row)
    names = tuple(states)
    present_all = chunk.notna().to_numpy()  # one pass, even over 10,000 columns
    in_use = present_all.any(axis=0) if n else np.zeros(len(chunk.columns), dtype=bool)
    for pos, col in enumerate(chunk.columns):
        if not in_use[pos]:
            continue
        if col not in states:
            def unknown_text(i: int, col=col, pos=pos) -> str:
                return f"column {_show(col)} (value {_show(chunk.iloc[i, pos])}) is not a variable of the model" + (
                    _column_hint(col, names) if isinstance(col, str) else "")
            flags.add(f"unknown_column:{_code_name(col)}", present_all[:, pos], unknown_text)
            continue
        column = chunk.iloc[:, pos]
        try:  # on the column as read (pyarrow strings from pandas 3: fast)
            codes, uniques = pd.factorize(column, use_na_sentinel=True)
        except TypeError:  # unhashable cells
            codes, uniques = pd.factorize(pd.Series([v if _hashable(v) else _show(v) for v in column], dtype=object))
        if not len(uniques):
            continue
        valid = frozenset(states[col])
        soft_u = np.zeros(len(uniques) + 1, dtype=bool)
        bad_u = np.zeros(len(uniques) + 1, dtype=bool)
        for j, u in enumerate(uniques):
            if _is_soft(u):
                soft_u[j] = True
            elif not _is_state(u, valid):
                bad_u[j] = True
        if bad_u.any():
            flags.add(f"unknown_state:{col}", bad_u[codes],
                      lambda i, col=col, column=column: _state_message(col, column.iloc[i], states[col]))
        if soft_u.any():
            rows = np.flatnonzero(soft_u[codes])
            soft_errors = _soft_errors(col, column.iloc[rows].to_numpy(dtype=object), states)
            if soft_errors:
                bad_soft = np.zeros(n, dtype=bool)
                bad_soft[rows[list(soft_errors)]] = True
                texts = {int(rows[r]): msg.removeprefix(f"row {r!r}, column {col!r}: ") for r, msg in soft_errors.items()}
                flags.add(f"bad_soft_evidence:{col}", bad_soft, lambda i, texts=texts: texts[i])
    bad_rows = flags.bad()
    known = chunk[[c for c in chunk.columns if c in states]]
    probs = np.full((n, len(model.conditions)), np.nan)
    good = ~bad_rows
    if good.any():
        scored = model.posteriors(known if good.all() else known.loc[good], errors="report")
        engine_errors = scored.pop("error").to_numpy(dtype=object)
        probs[good] = scored.to_numpy(dtype=float)
        idx = np.flatnonzero(good)
        for code, match in (("impossible_evidence", IMPOSSIBLE_MESSAGE), ("numeric_error", NUMERIC_MESSAGE)):
            hit = engine_errors == match
            if hit.any():
                mask = np.zeros(n, dtype=bool)
                mask[idx[hit]] = True
                flags.add(code, mask, match)
        other = (engine_errors != "") & (engine_errors != IMPOSSIBLE_MESSAGE) & (engine_errors != NUMERIC_MESSAGE)
        if other.any():  # not expected: the cells were checked above; kept, never dropped
            mask = np.zeros(n, dtype=bool)
            mask[idx[other]] = True
            texts = dict(zip(idx[other].tolist(), engine_errors[other].tolist(), strict=True))
            flags.add("invalid_evidence", mask, lambda i, texts=texts: str(texts[i]))
        probs[flags.bad()] = np.nan
    out = pd.DataFrame(probs, columns=list(model.conditions))
    out.insert(0, "row", np.arange(first_row, first_row + n))
    out["error"] = flags.cells()
    return out, unknown, flags.problems


def _soft_errors(col: str, cells: np.ndarray, states: dict) -> dict[int, str]:
    """Position -> message for the malformed soft-evidence cells among ``cells`` (all of column ``col``).

    :func:`split_soft` judges them; should it fail on a cell outright (a parser limit), the cells
    are judged one by one and that cell is reported, never the whole chunk.
    """
    try:
        return split_soft(pd.DataFrame({col: cells}, index=pd.RangeIndex(len(cells))), states)[2]
    except (ValueError, TypeError, OverflowError, RecursionError, MemoryError):
        pass
    errors: dict[int, str] = {}
    for r, cell in enumerate(cells):
        try:
            found = split_soft(pd.DataFrame({col: [cell]}), states)[2]
        except (ValueError, TypeError, OverflowError, RecursionError, MemoryError) as exc:
            found = {0: f"cannot read likelihoods {_show(cell)} ({type(exc).__name__}: {_show(str(exc), 100)})"}
        if found:
            errors[r] = found[0].replace("row 0, ", f"row {r}, ", 1)
    return errors


def _hashable(value: Any) -> bool:
    try:
        hash(value)
    except TypeError:
        return False
    return True


@dataclass
class Scored:
    """One scored chunk: what the report needs, and the output rows.

    For CSV output the rows come already formatted (``csv``: text without header, exactly what
    ``DataFrame.to_csv`` writes; on Dask a worker formats them), for Parquet as ``frame``.
    """

    rows: int
    failed: int
    errors: list[tuple[int, str]]  # (row number, error cell), the first ``max_reported``
    unknown: list[str]
    csv: str | None = None
    frame: pd.DataFrame | None = None
    problems: dict[str, Problem] = field(default_factory=dict)


def score_rows(model, chunk: pd.DataFrame, first_row: int, fout: str, max_reported: int) -> Scored:
    """:func:`score_chunk`, packed for the writer and the report (rows numbered from ``first_row``)."""
    out, unknown, problems = score_chunk(model, chunk, first_row)
    bad = out["error"].to_numpy(dtype=object) != ""
    first_bad = out.loc[bad, ["row", "error"]].head(max_reported)
    errors = [(int(r), str(m)) for r, m in zip(first_bad["row"], first_bad["error"], strict=True)]
    scored = Scored(len(out), int(bad.sum()), errors, list(unknown), problems=problems)
    if fout == "csv":
        scored.csv = out.to_csv(index=False, header=False, lineterminator="\n")
    else:
        scored.frame = out
    return scored


def record_chunk(report: BatchReport, scored: Scored, max_reported: int) -> None:
    """Add one scored chunk to ``report``."""
    for col in scored.unknown:
        if col not in report.unknown_columns and len(report.unknown_columns) < MAX_PROBLEMS:
            report.unknown_columns.append(col)
    report.failed += scored.failed
    report.errors.extend(scored.errors[: max(0, max_reported - len(report.errors))])
    report.rows += scored.rows
    for code, p in scored.problems.items():
        if code in report.problems:
            report.problems[code].rows += p.rows
        elif len(report.problems) < MAX_PROBLEMS:
            report.problems[code] = Problem(p.code, p.rows, p.first_row, p.message)
        else:
            report.unlisted += p.rows


def check_limit(report: BatchReport, limit: ErrorLimit) -> None:
    """Raise :class:`TooManyErrors` when ``report`` has gone past ``limit``."""
    if not limit.exceeded(report.failed, report.rows):
        return
    top = max(report.problems.values(), key=lambda p: p.rows, default=None)
    most = f"; the most frequent problem is {top.code} ({top.rows:,} rows), e.g. row {top.first_row}: {top.message}" \
        if top else ""
    raise TooManyErrors(
        f"stopped: {report.failed:,} of the {report.rows:,} rows read so far failed, more than --max-errors "
        f"{limit.text} allows{most}", report)


# ---------------------------------------------------------------------------- output


def partial_path(path: Path) -> Path:
    """Where a run writes until it is complete: ``<output>.partial`` beside the output.

    >>> partial_path(Path("out/results.csv")).as_posix()
    'out/results.csv.partial'
    """
    return path.with_name(path.name + ".partial")


def manifest_path(path: Path) -> Path:
    """The progress record of a run writing ``path``: ``<output>.partial.json``.

    >>> manifest_path(Path("out/results.csv")).as_posix()
    'out/results.csv.partial.json'
    """
    return path.with_name(path.name + ".partial.json")


def _gzipped(path: Path) -> bool:
    return path.suffix.lower() == ".gz"


class ChunkWriter:
    """Writes scored chunks, in order, to one CSV or Parquet file (used by the local and the Dask batch).

    Rows go to :func:`partial_path` (``results.csv.partial``); only a complete run renames it onto
    the output, in one step (``os.replace``). A run that stops (an error, Ctrl-C, a kill, a full
    disk) leaves the previous output untouched and the rows written so far in the clearly named
    partial file, which never passes for a complete result. CSV is written as bytes (UTF-8,
    ``\\n`` line ends; a ``.gz`` output as one gzip member per chunk), so :attr:`size` after each
    chunk is where a resumed run continues; ``resume_at`` opens an existing partial file cut to
    that size.
    """

    def __init__(self, path: Path, fmt: str, columns: list[str], resume_at: int | None = None):
        self.path, self.fmt, self.columns = path, fmt, columns
        self.partial = partial_path(path)
        self._csv = None
        self._parquet = None
        self.size = 0
        if resume_at:  # 0: the partial run wrote no chunk, start the file again
            self._csv = self.partial.open("r+b")
            self._csv.truncate(resume_at)
            self._csv.seek(resume_at)
            self.size = resume_at

    def _bytes(self, text: str) -> bytes:
        data = text.encode("utf-8")
        return gzip.compress(data, mtime=0) if _gzipped(self.path) else data

    def write(self, scored: Scored) -> None:
        if self.fmt == "csv":
            if self._csv is None:
                self._csv = self.partial.open("wb")
                self.size = self._csv.write(self._bytes(pd.DataFrame(columns=self.columns).to_csv(index=False,
                                                                                                  lineterminator="\n")))
            if scored.csv:
                self.size += self._csv.write(self._bytes(scored.csv))
            self._csv.flush()
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
                self.partial.write_bytes(self._bytes(empty.to_csv(index=False, lineterminator="\n")))
            else:
                empty.to_parquet(self.partial, index=False)
        if complete:
            os.replace(self.partial, self.path)
            manifest_path(self.path).unlink(missing_ok=True)
        elif not self.partial.exists():  # stopped before writing anything: no record of nothing
            manifest_path(self.path).unlink(missing_ok=True)


@dataclass
class RunRecord:
    """The progress record of a CSV run, kept in :func:`manifest_path` and rewritten after every chunk.

    ``identity`` says what the run reads and how (input file, format, encoding, chunking, model,
    engine): a resumed run must match it exactly. ``chunks``, ``bytes`` and ``report`` say how far
    it got: ``chunks`` complete chunks (or partitions), whose rows fill the first ``bytes`` bytes
    of the partial file.
    """

    identity: dict
    chunks: int = 0
    bytes: int = 0
    report: BatchReport = field(default_factory=BatchReport)

    def save(self, output: Path) -> None:
        data = {"bayesnet_batch_partial": MANIFEST_VERSION, "identity": self.identity, "chunks": self.chunks,
                "bytes": self.bytes, "report": self.report.to_json()}
        path = manifest_path(output)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(data), encoding="utf-8")
        os.replace(tmp, path)

    @classmethod
    def resume(cls, output: Path, identity: dict) -> RunRecord | None:
        """The record of the partial run of ``output`` to continue, ``None`` if there is none.

        Raises a BayesNetError naming the difference when the partial run read another input or
        used other options, or when its files are damaged.
        """
        partial, path = partial_path(output), manifest_path(output)
        if not partial.exists():
            path.unlink(missing_ok=True)  # a record left by a run that completed just before its clean-up
            return None
        again = "run without --resume to start over"
        if not path.exists():
            raise BayesNetError(f"cannot resume: {str(partial)!r} has no progress record ({path.name}), so where it "
                                f"stopped is unknown; {again}")
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            rec = cls(data["identity"], int(data["chunks"]), int(data["bytes"]), BatchReport.from_json(data["report"]))
            if data.get("bayesnet_batch_partial") != MANIFEST_VERSION:
                raise ValueError("version")
        except (ValueError, KeyError, TypeError, OSError):
            raise BayesNetError(f"cannot resume: the progress record {str(path)!r} is damaged; {again}") from None
        for key, now in identity.items():
            if rec.identity.get(key) != now:
                raise BayesNetError(f"cannot resume {str(partial)!r}: {_difference(key, rec.identity.get(key), now)}; "
                                    f"{again}")
        size = partial.stat().st_size
        if size < rec.bytes:
            raise BayesNetError(f"cannot resume: {str(partial)!r} holds {size:,} bytes, fewer than the {rec.bytes:,} its "
                                f"record says were written; {again}")
        return rec


def _difference(key: str, was: Any, now: Any) -> str:
    if key == "input":
        what = "its size" if (was or {}).get("size") != now.get("size") else "its contents or time stamp"
        if (was or {}).get("path") != now.get("path"):
            return f"it was written from {was.get('path') if was else None!r}, not {now['path']!r}"
        return f"the input file changed since the partial run ({what})"
    names = {"model": "the model (setting or priors)", "chunk_size": "--chunk-size", "encoding": "--encoding",
             "engine": "the engine", "columns": "the output columns", "input_format": "the input format",
             "output": "the output format", "blocksize": "the Dask partitioning"}
    return f"{names.get(key, key)} differs from the partial run's ({was!r} then, {now!r} now)"


def check_paths(input_path: Path, output_path: Path, chunk_size: int) -> None:
    """Refuse a missing input, an output folder that does not exist, a bad chunk size, output = input."""
    if not input_path.is_file():
        raise BayesNetError(f"input file not found: {str(input_path)!r}")
    if not output_path.parent.exists():
        raise BayesNetError(f"cannot write {str(output_path)!r}: folder {str(output_path.parent)!r} does not exist")
    if chunk_size < 1:
        raise BayesNetError(f"chunk size must be at least 1; got {chunk_size}")
    src = input_path.resolve()
    for target in (output_path, partial_path(output_path), manifest_path(output_path)):
        if src == target.resolve():
            what = "output file" if target == output_path else "partial file of the output"
            raise BayesNetError(f"the {what} {str(target)!r} is the input file: choose another output name")
    if output_path.exists() and output_path.is_dir():
        raise BayesNetError(f"cannot write {str(output_path)!r}: it is a folder")


@dataclass
class Plan:
    """What a run reads and writes, checked before anything is written (shared by both engines)."""

    input_path: Path
    output_path: Path
    fin: str
    fout: str
    encoding: str
    columns: list[str]
    rows_per_chunk: int
    identity: dict
    record: RunRecord | None  # the partial run continued, if resuming


def plan_run(model, input_path, output_path, *, chunk_size: int, input_format: str | None,
             output_format: str | None, encoding: str, resume: bool, engine: str, **extra: Any) -> Plan:
    """Check the paths, the encoding and the header; with ``resume``, find and check the partial run."""
    input_path, output_path = Path(input_path), Path(output_path)
    check_paths(input_path, output_path, chunk_size)
    fin, fout = file_format(input_path, input_format), file_format(output_path, output_format)
    encoding = check_encoding(encoding)
    header = read_header(input_path, fin, encoding)
    rows = chunk_rows(chunk_size, len(header))
    columns = ["row", *model.conditions, "error"]
    identity = {"input": input_identity(input_path), "input_format": fin, "output": fout + (".gz" if _gzipped(output_path) else ""),
                "encoding": encoding, "chunk_size": rows, "engine": engine, "model": model_fingerprint(model),
                "columns": columns, **extra}
    record = None
    if resume:
        if fout != "csv":
            raise BayesNetError("--resume needs CSV output: an interrupted Parquet file cannot be continued (write "
                                ".csv, or run again without --resume)")
        record = RunRecord.resume(output_path, identity)
    return Plan(input_path, output_path, fin, fout, encoding, columns, rows, identity, record)


def start_writer(plan: Plan) -> tuple[ChunkWriter, RunRecord, BatchReport]:
    """The writer (appending to the partial file when resuming), the record to keep, the report so far."""
    if plan.record is not None:
        rec = plan.record
        report = rec.report
        report.resumed, report.resumed_from = True, report.rows
        return ChunkWriter(plan.output_path, plan.fout, plan.columns, resume_at=rec.bytes), rec, report
    manifest_path(plan.output_path).unlink(missing_ok=True)
    report = BatchReport()
    rec = RunRecord(plan.identity, report=report)
    if plan.fout == "csv":
        rec.save(plan.output_path)  # before the partial file exists: a run killed at once can be resumed too
    return ChunkWriter(plan.output_path, plan.fout, plan.columns), rec, report


def commit_chunk(plan: Plan, writer: ChunkWriter, rec: RunRecord, report: BatchReport, scored: Scored,
                 max_reported: int, limit: ErrorLimit) -> None:
    """Write one chunk, record it (CSV: the progress record), and stop if the run is mostly junk."""
    record_chunk(report, scored, max_reported)
    writer.write(scored)
    if plan.fout == "csv":
        rec.chunks += 1
        rec.bytes = writer.size
        rec.save(plan.output_path)
    check_limit(report, limit)


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
    encoding: str = "utf-8",
    resume: bool = False,
    max_errors: int | str | ErrorLimit | None = DEFAULT_MAX_ERRORS,
) -> BatchReport:
    """Score every scenario of ``input_path`` and write one output row per input row.

    Parameters
    ----------
    model : BackPainModel
    input_path, output_path : path-like
        CSV or Parquet (by extension, or ``input_format``/``output_format``); a ``.gz`` CSV
        output is gzip-compressed. The output must not be the input.
    chunk_size : int
        Rows read, scored and written at a time (bounds memory; a file of many columns is read
        in fewer rows, see :func:`chunk_rows`).
    progress : bool or None
        Show a progress bar (``None``: only on a terminal).
    max_reported : int
        Failed rows kept in ``BatchReport.errors`` (all are in the ``error`` column).
    encoding : str, default "utf-8"
        Text encoding of a CSV input (a Python codec name: ``cp1252``, ``latin-1``, ``utf-16``...).
    resume : bool
        Continue the partial run of ``output_path`` (``<output>.partial`` and its record
        ``<output>.partial.json``) from its last complete chunk; the file produced is the same,
        byte for byte, as an uninterrupted run's. Refused when the input or an option changed.
        Without a partial run, starts from the first row. CSV output only.
    max_errors : int, str or None, default "50%"
        Stop with :class:`TooManyErrors` when more than this many rows (``1000``), or more than
        this share of the rows read (``"50%"``, once 1,000 rows have failed), have failed;
        ``None`` or ``"none"``: never. The partial file keeps the rows so far.

    Returns
    -------
    BatchReport

    Raises
    ------
    BayesNetError
        Missing, unreadable or undecodable input, a duplicated column, output equal to input, a
        resume that does not match; :class:`TooManyErrors` past ``max_errors``.
    """
    from tqdm.auto import tqdm

    limit = ErrorLimit.parse(max_errors)
    plan = plan_run(model, input_path, output_path, chunk_size=chunk_size, input_format=input_format,
                    output_format=output_format, encoding=encoding, resume=resume, engine="local")
    writer, rec, report = start_writer(plan)
    bar = tqdm(unit=" rows", disable=(not progress) if progress is not None else None, desc="bayesnet batch",
               initial=report.rows)
    complete = False
    try:
        chunks = _read_chunks(plan.input_path, plan.fin, plan.rows_per_chunk, plan.encoding)
        skipped = 0
        for _ in range(rec.chunks):  # a resumed run: the same chunks as the first run, read and passed over
            part = next(chunks, None)
            if part is None:
                raise BayesNetError(f"cannot resume: {str(plan.input_path)!r} has fewer rows than the partial run "
                                    "scored; run without --resume to start over")
            skipped += len(part)
        if skipped != report.rows:
            raise BayesNetError(f"cannot resume: the first {rec.chunks} chunks of {str(plan.input_path)!r} hold "
                                f"{skipped:,} rows, not the {report.rows:,} of the partial run; run without --resume")
        for chunk in chunks:
            scored = score_rows(model, chunk, report.rows, plan.fout, max_reported)
            commit_chunk(plan, writer, rec, report, scored, max_reported, limit)
            bar.update(scored.rows)
        complete = True
    except pd.errors.EmptyDataError:
        raise BayesNetError(f"input file {str(plan.input_path)!r} is empty (no header row)") from None
    except pd.errors.ParserError as exc:
        raise BayesNetError(f"cannot parse {str(plan.input_path)!r} as CSV: {str(exc).splitlines()[0]}") from None
    except UnicodeDecodeError as exc:
        raise decode_error(plan.input_path, plan.encoding, exc) from None
    finally:
        bar.close()
        writer.close(complete)
    return report
