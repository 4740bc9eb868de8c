"""Exact inference with pgmpy's variable elimination: the trusted reference.

Every faster path in bayesnet is tested against :class:`ReferenceInference`. Evidence is
validated (see :mod:`bayesnet.inference.evidence`) before pgmpy sees it, and evidence of probability zero
raises :class:`~bayesnet.errors.ImpossibleEvidenceError` instead of producing NaN.
"""

from __future__ import annotations

import warnings

import numpy as np

from bayesnet.errors import ImpossibleEvidenceError
from bayesnet.inference.evidence import Evidence

__all__ = ["ReferenceInference"]


class ReferenceInference:
    """Marginal posteriors from pgmpy ``VariableElimination``.

    Parameters
    ----------
    network : pgmpy.models.DiscreteBayesianNetwork
        A checked network.
    """

    def __init__(self, network):
        from bayesnet._pgmpy import VariableElimination

        self.network = network
        self._ve = VariableElimination(network)
        self._states = {v: list(network.get_cpds(v).state_names[v]) for v in network.nodes()}

    def marginals(self, evidence: Evidence, targets: list[str]) -> dict[str, np.ndarray]:
        """Posterior distribution of each target given the evidence.

        Observed targets get a one-hot (hard) distribution; targets with soft evidence are
        computed normally.

        Raises
        ------
        ImpossibleEvidenceError
            If the evidence has probability zero under the model.
        """
        from bayesnet._pgmpy import TabularCPD

        out: dict[str, np.ndarray] = {}
        query = [t for t in targets if t not in evidence.hard]
        for t in targets:
            if t in evidence.hard:
                vec = np.zeros(len(self._states[t]))
                vec[self._states[t].index(evidence.hard[t])] = 1.0
                out[t] = vec
        if not query:
            self._check_possible(evidence)
            return out
        virtual = [
            TabularCPD(v, len(w), np.asarray(w, dtype=float).reshape(-1, 1), state_names={v: self._states[v]})
            for v, w in evidence.soft.items()
        ]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            result = self._ve.query(
                query,
                evidence=dict(evidence.hard) or None,
                virtual_evidence=virtual or None,
                joint=False,
                show_progress=False,
            )
        for t in query:
            factor = result[t]
            order = [factor.state_names[t].index(s) for s in self._states[t]]
            vals = np.asarray(factor.values, dtype=float)[order]
            if not np.all(np.isfinite(vals)) or vals.sum() <= 0:
                raise ImpossibleEvidenceError(_impossible_message(evidence))
            out[t] = vals / vals.sum()
        return out

    def _check_possible(self, evidence: Evidence) -> None:
        """With every target observed, check P(evidence) > 0 through one extra query."""
        if not evidence.hard:
            return
        first = next(iter(evidence.hard))
        dist = self.marginals(evidence.without(first), [first])[first]
        if dist[self._states[first].index(evidence.hard[first])] <= 0:
            raise ImpossibleEvidenceError(_impossible_message(evidence))


def _impossible_message(evidence: Evidence) -> str:
    shown = ", ".join(f"{k}={v}" for k, v in evidence.hard.items())
    return (
        f"the evidence has probability zero under the model ({shown}); "
        "check for contradictory entries (e.g. mechanical_pain=yes together with a serious condition)"
    )
