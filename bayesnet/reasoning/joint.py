"""The most probable joint configurations of the conditions.

Marginal posteriors say how likely each condition is on its own; clinicians also ask which
*combinations* are likely, e.g. a spinal metastasis together with a pathological compression
fracture (the network links them). :func:`most_probable` computes the exact joint posterior of
the modelled conditions, serious or not (``2**14`` configurations; "none of them" is mechanical
pain) on the model's junction-tree engine: every configuration is entered as evidence together
with the scenario's, in one batch of rows, and its probability is
``P(configuration | e) = exp(log P(configuration, e) - log P(e))``; it then lists the ``k``
most probable configurations.

Examples
--------
>>> import bayesnet
>>> from bayesnet.reasoning.joint import most_probable
>>> model = bayesnet.load_model()
>>> top = most_probable(model, {"history_of_cancer": "yes", "night_pain": "yes", "spinal_tenderness": "yes"}, k=3)
>>> top["present"].tolist()
['none (mechanical pain)', 'spinal_metastasis', 'spinal_metastasis + compression_fracture']
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesnet.errors import BayesNetError
from bayesnet.inference.evidence import Evidence
from bayesnet.reasoning.results import MostProbable, as_result
from bayesnet.reasoning.uncertainty import impossible_error

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["NONE_LABEL", "most_probable"]

#: Label of the configuration with no modelled condition.
NONE_LABEL = "none (mechanical pain)"


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise BayesNetError(f"k must be a positive integer; got {k!r}")
    return int(k)


def most_probable(model: BackPainModel, evidence: Mapping | Evidence | None = None, k: int = 5) -> pd.DataFrame:
    """The ``k`` most probable joint configurations of the modelled conditions.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping or Evidence, optional
        As for :meth:`~bayesnet.BackPainModel.diagnose` (hard or soft evidence).
    k : int, default 5
        Number of configurations. Configurations of probability zero are never listed, so
        fewer than ``k`` rows come back when fewer are possible (at most ``2**n`` for the ``n``
        modelled conditions).

    Returns
    -------
    DataFrame
        One row per configuration, most probable first: ``rank`` (1, 2, ...), ``probability``
        (the exact joint posterior; the column sums to at most 1), ``present`` (the conditions
        present, joined by " + ", or ``"none (mechanical pain)"``), ``n_present`` and one
        ``"yes"``/``"no"`` column per modelled condition. Ties are broken by fewer conditions
        present, then by the model's condition order. ``attrs`` holds ``setting``, ``k`` and
        ``evidence``.

    Raises
    ------
    UnknownNameError, EvidenceError
        Bad evidence.
    ImpossibleEvidenceError
        The evidence has probability zero.
    BayesNetError
        ``k`` is not a positive integer.

    Examples
    --------
    >>> import bayesnet
    >>> top = most_probable(bayesnet.load_model(), k=2)
    >>> top.loc[0, "present"], bool(top["probability"].is_monotonic_decreasing)
    ('none (mechanical pain)', True)
    """
    k = _check_k(k)
    ev = evidence if isinstance(evidence, Evidence) else model.check_evidence(evidence)
    # every modelled condition (not mechanical_pain, which is their absence)
    conds = [c for c in model.conditions if model.priors.conditions[c].definition == "calibrated"]
    n = len(conds)
    lik = ev.likelihoods()
    engine = model.engine.restricted([*conds, *lik])  # barren findings and tests left out (exact)
    _, log_z = engine.propagate(lik, n_rows=1, targets=[])
    if not log_z[0] > -np.inf:
        raise impossible_error()
    present = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1 == 0  # state 0 = yes
    # one row per configuration: the scenario's likelihoods times the configuration (one-hot)
    config_lik = {v: np.broadcast_to(w, (2**n, w.shape[0])) for v, w in lik.items()}
    possible = np.ones(2**n, dtype=bool)
    for j, c in enumerate(conds):
        yes = list(engine.states[c]).index("yes")
        onehot = np.zeros((2**n, engine.cardinality[c]))
        onehot[present[:, j], yes] = 1.0
        onehot[~present[:, j], 1 - yes] = 1.0
        both = config_lik[c] * onehot if c in config_lik else onehot
        possible &= both.any(axis=1)  # a configuration contradicting the evidence on c itself
        config_lik[c] = both
    p = np.zeros(2**n)
    if possible.any():
        part = {v: a[possible] for v, a in config_lik.items()}
        _, log_joint = engine.propagate(part, n_rows=int(possible.sum()), targets=[])
        p[possible] = np.exp(log_joint - log_z[0])
    n_present = present.sum(axis=1)
    # order: probability (descending), then fewer conditions, then index
    order = np.lexsort((np.arange(2**n), n_present, -p))
    order = [i for i in order if p[i] > 0][:k]
    rows = []
    for r, i in enumerate(order, start=1):
        names = [c for c, yes in zip(conds, present[i], strict=True) if yes]
        row = {
            "rank": r,
            "probability": float(p[i]),
            "present": " + ".join(names) if names else NONE_LABEL,
            "n_present": int(n_present[i]),
        }
        row.update({c: "yes" if yes else "no" for c, yes in zip(conds, present[i], strict=True)})
        rows.append(row)
    df = pd.DataFrame(rows, columns=["rank", "probability", "present", "n_present", *conds])
    df.attrs.update({"setting": model.setting, "k": k, "evidence": dict(ev.items())})
    return as_result(df, MostProbable)
