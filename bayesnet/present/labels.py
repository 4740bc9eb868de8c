"""Clinical labels of ids, for the presentation layer (the tables live in :mod:`bayesnet.data.labels`).

The labels are data (what each id is called for a reader), so they sit with the other data and
every layer can use them: the plain-language summary of a diagnosis as well as the tables, plots
and the explorer. This module keeps the presentation layer's import path.
"""

from __future__ import annotations

from bayesnet.data.labels import (
    SETTING_LABELS,
    STATE_LABELS,
    VARIABLE_LABELS,
    inline,
    setting_label,
    state_label,
    variable_label,
)

__all__ = [
    "SETTING_LABELS",
    "STATE_LABELS",
    "VARIABLE_LABELS",
    "inline",
    "setting_label",
    "state_label",
    "variable_label",
]
