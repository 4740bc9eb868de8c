"""Check and normalise evidence before any inference sees it.

Evidence is a mapping from variable name to either a state name (hard evidence) or a mapping
``{state: likelihood}`` (soft, or virtual, evidence: a finding reported with uncertainty).
Every problem raises a :class:`~bayesnet.errors.BayesNetError` that names the variable or state
and suggests the closest valid name, so users never see pgmpy's ``KeyError``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from .errors import EvidenceError, UnknownNameError

__all__ = ["Evidence", "normalise_evidence", "parse_assignment"]


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
            raise UnknownNameError("variable", var, states)
        if value is None or (isinstance(value, float) and math.isnan(value)):
            continue
        valid = states[var]
        if isinstance(value, Mapping):
            soft[var] = _likelihood(var, value, valid)
            continue
        if isinstance(value, bool) or not isinstance(value, str | np.str_):
            if isinstance(value, int | float | np.integer | np.floating) and str(value) in valid:
                value = str(value)
            else:
                raise EvidenceError(
                    f"evidence for {var!r} must be one of its states ({', '.join(valid)}) "
                    f"or a dict of likelihoods; got {value!r}"
                )
        value = str(value)
        if value not in valid:
            raise UnknownNameError("state", value, valid, context=f"of variable {var!r}")
        hard[var] = value
    return Evidence(hard, soft, dict(states))


def _likelihood(var: str, value: Mapping, valid: tuple[str, ...]) -> np.ndarray:
    for s in value:
        if s not in valid:
            raise UnknownNameError("state", s, valid, context=f"of variable {var!r} (in its likelihoods)")
    missing = [s for s in valid if s not in value]
    if missing:
        raise EvidenceError(f"likelihoods for {var!r} must give every state; missing {', '.join(missing)}")
    vec = []
    for s in valid:
        x = value[s]
        if isinstance(x, bool) or not isinstance(x, int | float | np.integer | np.floating) or not math.isfinite(float(x)):
            raise EvidenceError(f"likelihood of {var}={s} must be a finite number; got {x!r}")
        if x < 0:
            raise EvidenceError(f"likelihood of {var}={s} must not be negative; got {x!r}")
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
    if "=" not in text:
        raise EvidenceError(f"evidence must be written name=state; got {text!r}")
    name, _, state = text.partition("=")
    name, state = name.strip(), state.strip()
    if not name or not state:
        raise EvidenceError(f"evidence must be written name=state; got {text!r}")
    return name, state
