"""Exception types raised by bayesnet.

Every error a user can cause derives from :class:`BayesNetError`, so callers (and the
command line, which maps them to exit status 2) can tell bad input apart from bugs.
Messages name the culprit and, where one exists, the closest valid name.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "BayesNetError",
    "EvidenceError",
    "ImpossibleEvidenceError",
    "PriorsError",
    "UnknownNameError",
    "closest",
]


def closest(name: object, choices: Iterable[str], n: int = 1) -> list[str]:
    """Return up to ``n`` valid names that look like ``name`` (for "did you mean").

    Examples
    --------
    >>> closest("fevr", ["fever", "night_sweats"])
    ['fever']
    """
    if not isinstance(name, str | int | float | bool | None):
        return []  # a list or mapping is no misspelt name (and its text could be huge)
    choices = [str(c) for c in choices]
    text = str(name)
    found = difflib.get_close_matches(text, choices, n=n, cutoff=0.5)
    if not found:
        lowered = {c.lower(): c for c in choices}
        found = difflib.get_close_matches(text.lower(), list(lowered), n=n, cutoff=0.5)
        found = [lowered[f] for f in found]
    return found


class BayesNetError(Exception):
    """Base class for errors caused by the user's input (exit status 2 on the CLI)."""


class PriorsError(BayesNetError, ValueError):
    """A priors data file is missing, malformed or inconsistent.

    Parameters
    ----------
    message : str
        What is wrong and what to do about it.
    file : str, optional
        The file at fault.
    entry : str, optional
        The entry (key path) inside the file, e.g. ``conditions.dvt.prevalence.primary_care``.
    """

    def __init__(self, message: str, *, file: str | None = None, entry: str | None = None):
        self.file = file
        self.entry = entry
        where = ""
        if file and entry:
            where = f"{file}: {entry}: "
        elif file:
            where = f"{file}: "
        elif entry:
            where = f"{entry}: "
        super().__init__(where + message)


class UnknownNameError(BayesNetError, KeyError):
    """A variable, state or column name that the model does not know.

    Parameters
    ----------
    kind : str
        What sort of name it is: ``"variable"``, ``"state"``, ``"condition"``, ``"setting"``...
    name : object
        The name given.
    choices : iterable of str
        The valid names, used to suggest the closest one.
    context : str, optional
        Extra words placed after the name (e.g. ``"of variable 'fever'"``).
    """

    def __init__(self, kind: str, name: object, choices: Iterable[str], context: str = ""):
        self.kind = kind
        self.name = name
        self.context = context
        self.choices = [str(c) for c in choices]
        self.suggestions = closest(name, self.choices)
        msg = f"unknown {kind} {name!r}"
        if context:
            msg += f" {context}"
        if self.suggestions:
            msg += f"; did you mean {self.suggestions[0]!r}?"
        elif len(self.choices) <= 12:
            msg += f"; valid {kind}s are: {', '.join(self.choices)}"
        super().__init__(msg)

    def __str__(self) -> str:  # KeyError would otherwise print the message quoted
        return str(self.args[0])

    def __reduce__(self) -> tuple:
        # rebuilt from the original arguments, so it survives pickling (e.g. from a Dask worker)
        return (type(self), (self.kind, self.name, self.choices, self.context))


class EvidenceError(BayesNetError, ValueError):
    """Evidence that cannot be used as given (wrong type, bad likelihood vector...)."""


class ImpossibleEvidenceError(EvidenceError):
    """The evidence has probability zero under the model, so no posterior exists.

    Parameters
    ----------
    message : str
        Explanation.
    rows : list, optional
        In batch work, the index labels of the impossible rows.
    """

    def __init__(self, message: str, rows: list | None = None):
        self.rows = rows or []
        super().__init__(message)
