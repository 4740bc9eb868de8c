"""Check and normalise evidence before any inference sees it.

Evidence is a mapping from variable name to either a state name (hard evidence) or a mapping
``{state: likelihood}`` (soft, or virtual, evidence: a finding reported with uncertainty).
Every problem raises a :class:`~bayesnet.errors.BayesNetError` that names the variable or state
and suggests the closest valid name, so users never see pgmpy's ``KeyError``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from bayesnet.errors import EvidenceError, UnknownNameError

__all__ = ["Evidence", "normalise_evidence", "parse_assignment", "split_soft"]

_SHOWN = 60  # characters of a culprit's text quoted in a message


def _shown(value: object) -> object:
    """``value`` itself when it is short enough to quote in a message; else a short text naming it.

    A 100,000-character name or an integer of 5,000 digits is named, not copied into the error
    (Python cannot even ``repr`` an integer beyond 4,300 digits).

    >>> _shown("fevr"), _shown("y" * 100)
    ('fevr', 'yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy... (100 characters)')
    >>> _shown(10 ** 5000)
    '<an integer of 5001 digits>'
    """
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 128:
        return f"<an integer of {math.floor(math.log10(abs(value))) + 1} digits>"
    try:
        text = repr(value)
    except (ValueError, RecursionError):  # pragma: no cover - a container of huge or self-referencing values
        return f"<a {type(value).__name__}>"
    if len(text) <= _SHOWN:
        return value
    if isinstance(value, str):
        return f"{value[:_SHOWN - 16]}... ({len(value)} characters)"
    return f"<a {type(value).__name__}: {text[:_SHOWN - 16]}...>"


@dataclass(frozen=True)
class Evidence:
    """Validated evidence.

    Attributes
    ----------
    hard : dict
        Variable -> observed state.
    soft : dict
        Variable -> likelihood vector over the variable's states (non-negative, not all zero,
        scaled so that its maximum is 1).
    states : dict
        The model's variables and their states (to name soft-evidence entries).
    """

    hard: dict[str, str]
    soft: dict[str, np.ndarray]
    states: dict[str, tuple[str, ...]] = field(default_factory=dict, repr=False)

    def items(self) -> list[tuple[str, str | dict[str, float]]]:
        """Every piece of evidence as ``(variable, state or likelihood dict)``, in input order."""
        return [*self.hard.items(), *((v, w) for v, w in self.soft_dicts.items())]

    @property
    def soft_dicts(self) -> dict[str, dict[str, float]]:
        """Soft evidence as plain dicts (for display and JSON)."""
        return {v: dict(zip(self.states[v], map(float, w), strict=True)) for v, w in self.soft.items()}

    @property
    def variables(self) -> list[str]:
        """Observed variables (hard and soft)."""
        return [*self.hard, *self.soft]

    def without(self, variable: str) -> Evidence:
        """The same evidence with one variable removed."""
        hard = {k: v for k, v in self.hard.items() if k != variable}
        soft = {k: v for k, v in self.soft.items() if k != variable}
        return Evidence(hard, soft, self.states)

    def likelihoods(self) -> dict[str, np.ndarray]:
        """Every piece of evidence as a likelihood vector (one-hot for hard evidence).

        >>> ev = Evidence({"fever": "yes"}, {}, {"fever": ("yes", "no")})
        >>> ev.likelihoods()["fever"].tolist()
        [1.0, 0.0]
        """
        out = {v: np.asarray(w, dtype=float) for v, w in self.soft.items()}
        for v, state in self.hard.items():
            vec = np.zeros(len(self.states[v]))
            vec[self.states[v].index(state)] = 1.0
            out[v] = vec
        return out

    def __len__(self) -> int:
        return len(self.hard) + len(self.soft)


def normalise_evidence(evidence: Mapping | None, states: Mapping[str, tuple[str, ...]]) -> Evidence:
    """Validate evidence against the model's variables and states.

    Parameters
    ----------
    evidence : mapping or None
        ``{variable: state}`` or ``{variable: {state: likelihood, ...}}``. ``None`` or a missing
        value (``None``/NaN) means "not observed".
    states : mapping
        The model's variables and their states.

    Returns
    -------
    Evidence

    Raises
    ------
    UnknownNameError
        Unknown variable or state (with the closest valid name).
    EvidenceError
        Wrong type, or a likelihood vector that is negative, not finite or all zero.

    Examples
    --------
    >>> ev = normalise_evidence({"fever": "yes"}, {"fever": ("yes", "no")})
    >>> ev.hard
    {'fever': 'yes'}
    >>> normalise_evidence({"fevr": "yes"}, {"fever": ("yes", "no")})
    Traceback (most recent call last):
    ...
    bayesnet.errors.UnknownNameError: unknown variable 'fevr'; did you mean 'fever'?
    """
    hard: dict[str, str] = {}
    soft: dict[str, np.ndarray] = {}
    if evidence is None:
        evidence = {}
    if not isinstance(evidence, Mapping):
        raise EvidenceError(f"evidence must be a mapping of variable to state; got {type(evidence).__name__}")
    for var, value in evidence.items():
        if not isinstance(var, str) or var not in states:
            raise UnknownNameError("variable", _shown(var), states)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        valid = states[var]
        if isinstance(value, Mapping):
            soft[var] = _likelihood(var, value, valid)
            continue
        if isinstance(value, bool) or not isinstance(value, str | np.str_):
            if isinstance(value, int | float | np.integer | np.floating) and _shown(value) is value and \
                    str(value) in valid:
                value = str(value)
            else:
                raise EvidenceError(
                    f"evidence for {var!r} must be one of its states ({', '.join(valid)}) "
                    f"or a dict of likelihoods; got {_shown(value)!r}"
                )
        value = str(value)
        if value not in valid:
            raise UnknownNameError("state", _shown(value), valid, context=f"of variable {var!r}")
        hard[var] = value
    return Evidence(hard, soft, dict(states))


def _likelihood(var: str, value: Mapping, valid: tuple[str, ...]) -> np.ndarray:
    for s in value:
        if not isinstance(s, str) or s not in valid:
            raise UnknownNameError("state", _shown(s), valid, context=f"of variable {var!r} (in its likelihoods)")
    missing = [s for s in valid if s not in value]
    if missing:
        raise EvidenceError(f"likelihoods for {var!r} must give every state; missing {', '.join(missing)}")
    vec = []
    for s in valid:
        x = value[s]
        try:
            finite = not isinstance(x, bool) and isinstance(x, int | float | np.integer | np.floating) and \
                math.isfinite(float(x))
        except OverflowError:  # an integer beyond a float's range
            finite = False
        if not finite:
            raise EvidenceError(f"likelihood of {var}={s} must be a finite number; got {_shown(x)!r}")
        if x < 0:
            raise EvidenceError(f"likelihood of {var}={s} must not be negative; got {_shown(x)!r}")
        vec.append(float(x))
    arr = np.asarray(vec)
    if arr.max() <= 0:
        raise EvidenceError(f"likelihoods for {var!r} are all zero; at least one state must be possible")
    return arr / arr.max()


def parse_assignment(text: str) -> tuple[str, str]:
    """Split ``"name=state"`` (command-line evidence).

    >>> parse_assignment("fever=yes")
    ('fever', 'yes')
    """
    name, _, state = text.partition("=")  # without "=", the state is empty
    name, state = name.strip(), state.strip()
    if not name or not state:
        raise EvidenceError(f"evidence must be written name=state; got {_shown(text)!r}")
    if state.startswith("{"):
        raise EvidenceError(f"evidence for {_shown(name)!r} must be one of its states; likelihoods (soft evidence) "
                            f"are given through the Python API or a cell of a batch file, not -e; got {_shown(state)!r}")
    return name, state


def _soft_cell(value: object) -> Mapping | None:
    """The likelihood mapping of a soft-evidence cell, or ``None`` for an ordinary cell."""
    if isinstance(value, Mapping):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            parsed = json.loads(value)
        except ValueError as exc:  # not JSON, or a number beyond Python's digit limit
            reason = exc.msg if isinstance(exc, json.JSONDecodeError) else "a number with too many digits"
            raise EvidenceError(f"cannot read likelihoods {_shown(value)!r} as JSON ({reason})") from None
        except RecursionError:
            raise EvidenceError(f"cannot read likelihoods {_shown(value)!r} as JSON (nested too deeply)") from None
        if not isinstance(parsed, Mapping):
            raise EvidenceError("likelihoods must be a JSON object such as {\"yes\": 0.8, \"no\": 0.2}; "
                                f"got {_shown(value)!r}")
        return parsed
    return None


def arrow_strings(series: pd.Series) -> Any:
    """A column of pandas' pyarrow-backed strings as one pyarrow array, else None.

    pandas' own per-column operations (factorize, unique) cost tens of microseconds a column; a
    frame of many variables and few rows spends most of its time there. pyarrow dictionary-encodes
    such a column in one call.
    """
    arr = series.array
    if getattr(arr.dtype, "storage", None) != "pyarrow" or not hasattr(arr, "__arrow_array__"):
        return None
    import pyarrow as pa

    data = arr.__arrow_array__()
    if isinstance(data, pa.ChunkedArray):
        data = data.combine_chunks()
    return data if pa.types.is_string(data.type) or pa.types.is_large_string(data.type) else None


def _distinct(series: pd.Series) -> list:
    """The distinct non-missing values of a column."""
    data = arrow_strings(series)
    if data is not None:
        return data.dictionary_encode().dictionary.to_pylist()
    return list(pd.unique(series.dropna()))


def split_soft(
    frame: pd.DataFrame, states: Mapping[str, tuple[str, ...]]
) -> tuple[pd.DataFrame, dict[str, np.ndarray], dict[int, str]]:
    """Separate soft-evidence cells from a table of scenarios.

    A cell holding a mapping ``{state: likelihood}`` (or, as read from a CSV file, the same as a
    JSON object: ``{"yes": 0.8, "no": 0.2}``) is a finding reported with uncertainty.

    Parameters
    ----------
    frame : DataFrame
        One row per scenario; columns are variables.
    states : mapping
        The model's variables and their states.

    Returns
    -------
    hard : DataFrame
        ``frame`` with soft cells replaced by NaN (the same object when there are none).
    likelihoods : dict
        Variable -> array ``(rows, states)``: the soft likelihoods, ones elsewhere.
    errors : dict
        Row position -> message, for malformed soft cells (those rows must not be trusted).

    Examples
    --------
    >>> df = pd.DataFrame({"fever": [{"yes": 0.8, "no": 0.2}, "no"]})
    >>> hard, lik, errors = split_soft(df, {"fever": ("yes", "no")})
    >>> hard["fever"].tolist(), lik["fever"].tolist(), errors
    ([nan, 'no'], [[1.0, 0.25], [1.0, 1.0]], {})
    """
    likelihoods: dict[str, np.ndarray] = {}
    errors: dict[int, str] = {}
    hard = frame
    for pos, (col, series) in enumerate(frame.items()):
        if col not in states or not (series.dtype == object or pd.api.types.is_string_dtype(series.dtype)):
            continue
        try:
            uniques = _distinct(series)
            candidates = any(isinstance(u, str) and u.lstrip().startswith("{") for u in uniques)
        except TypeError:  # unhashable cells: dicts
            candidates = True
        if not candidates:
            continue
        values = series.to_numpy()
        soft_rows = []
        for r, value in enumerate(values):
            try:
                mapping = _soft_cell(value)
                if mapping is None:
                    continue
                vec = _likelihood(str(col), mapping, states[col])
            except (EvidenceError, UnknownNameError) as exc:
                errors[r] = f"{errors[r]}; {exc}" if r in errors else f"row {frame.index[r]!r}, column {col!r}: {exc}"
                soft_rows.append(r)
                continue
            if col not in likelihoods:
                likelihoods[col] = np.ones((len(frame), len(states[col])))
            likelihoods[col][r] = vec
            soft_rows.append(r)
        if soft_rows:
            if hard is frame:
                hard = frame.copy()
            column = hard.iloc[:, pos].to_numpy(dtype=object, copy=True)
            column[soft_rows] = np.nan
            hard[col] = column
    return hard, likelihoods, errors
