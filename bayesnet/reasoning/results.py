"""Result tables that display themselves: DataFrames with a rich HTML form in Jupyter.

Each reasoning tool returns a pandas DataFrame (the public contract): its rows are the data, its
``attrs`` the scalars of the result (the condition explained, the focus of the next tests, the
number of draws...). The classes below are those DataFrames with one thing added, a
``_repr_html_`` that asks the renderer registry (:mod:`bayesnet.formatting`) for the formatted
table of its kind, so a result shown in a notebook reads like the explorer's panel without any
``HTML(...)`` boilerplate. Everything else is the DataFrame's: indexing, arithmetic or a copy of
a result give a plain :class:`pandas.DataFrame` (the derived table is no longer the result), and
``print(result)`` shows the DataFrame as pandas does.

Examples
--------
>>> import bayesnet
>>> nt = bayesnet.load_model().next_tests({"fever": "yes"})
>>> type(nt).__name__, isinstance(nt, __import__("pandas").DataFrame)
('NextTests', True)
>>> "bn-next-tests" in nt._repr_html_()
True
>>> type(nt.head(3)).__name__   # derived tables are plain DataFrames
'DataFrame'
"""

from __future__ import annotations

from typing import ClassVar, TypeVar

import pandas as pd

from bayesnet.formatting import render

__all__ = [
    "Explanation",
    "MostProbable",
    "NextTests",
    "Ranking",
    "ResultFrame",
    "Sensitivity",
    "Sweep",
    "Uncertainty",
    "WhatIf",
    "as_result",
]

R = TypeVar("R", bound="ResultFrame")


class ResultFrame(pd.DataFrame):
    """A reasoning result: a DataFrame whose Jupyter display is the formatted table of its kind.

    Subclasses name their ``kind`` (the key of their renderer in :mod:`bayesnet.formatting`).
    Without a registered renderer the display is pandas' own.
    """

    kind: ClassVar[str] = ""

    @property
    def _constructor(self) -> type[pd.DataFrame]:
        # anything computed from a result (a slice, a sort, a copy) is plain data again
        return pd.DataFrame

    def _repr_html_(self) -> str | None:
        html = render(self, self.kind, "html") if self.kind else None
        return html if html is not None else super()._repr_html_()

    def to_frame(self) -> pd.DataFrame:
        """The result as a plain DataFrame (a copy, ``attrs`` included)."""
        out = pd.DataFrame(self, copy=True)
        out.attrs = dict(self.attrs)
        return out


class Ranking(ResultFrame):
    """``Diagnosis.ranking``: the differential, most probable first (``attrs``: setting and evidence)."""

    kind = "ranking"


class Explanation(ResultFrame):
    """:meth:`Diagnosis.explain`: the weight of each finding on one condition."""

    kind = "explanation"


class NextTests(ResultFrame):
    """:meth:`BackPainModel.next_tests`: candidate observations ranked by what they are expected to tell."""

    kind = "next_tests"


class Uncertainty(ResultFrame):
    """:meth:`BackPainModel.uncertainty`: posteriors with intervals from the published numbers' uncertainty."""

    kind = "uncertainty"


class Sensitivity(ResultFrame):
    """:meth:`BackPainModel.sensitivity`: one-way swings of a posterior over each number's interval."""

    kind = "sensitivity"


class WhatIf(ResultFrame):
    """:meth:`BackPainModel.what_if`: posteriors over a grid of evidence changes."""

    kind = "what_if"


class Sweep(ResultFrame):
    """:meth:`BackPainModel.sweep`: posteriors as one variable takes each of its states."""

    kind = "sweep"


class MostProbable(ResultFrame):
    """:meth:`BackPainModel.most_probable`: the most probable joint configurations of the conditions."""

    kind = "most_probable"


def as_result(df: pd.DataFrame, cls: type[R]) -> R:
    """``df`` as a result of class ``cls`` (same data, no copy of the values, ``attrs`` kept).

    >>> import pandas as pd
    >>> df = pd.DataFrame({"x": [1.0]}); df.attrs["seed"] = 3
    >>> r = as_result(df, WhatIf)
    >>> type(r).__name__, r.attrs
    ('WhatIf', {'seed': 3})
    """
    out = cls(df)
    out.attrs = dict(df.attrs)
    return out
