"""Helpers shared by the tests (importable, unlike conftest)."""

from __future__ import annotations

import warnings

SETTINGS = ("primary_care", "emergency", "emergency_suspected_pe", "suspected_cauda_equina")


def query(ve, variable, evidence=None, virtual=None):
    """P(variable = first state | evidence) straight from pgmpy."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        f = ve.query([variable], evidence=evidence or None, virtual_evidence=virtual, show_progress=False)
    return dict(zip(f.state_names[variable], f.values))
