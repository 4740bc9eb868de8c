"""The one place pgmpy is imported, with its import-time deprecation chatter silenced.

pgmpy 1.1 emits a FutureWarning about its own ``StructureScore`` on import; it concerns pgmpy's
internals, not this project, and would otherwise break the one-line error contract of the CLI.
"""

from __future__ import annotations

import warnings

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from pgmpy import readwrite
    from pgmpy.factors.discrete import TabularCPD
    from pgmpy.inference import VariableElimination
    from pgmpy.models import DiscreteBayesianNetwork

__all__ = ["DiscreteBayesianNetwork", "TabularCPD", "VariableElimination", "readwrite"]
