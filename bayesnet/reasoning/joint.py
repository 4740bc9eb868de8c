"""The most probable joint configurations of the conditions.

Marginal posteriors say how likely each condition is on its own; clinicians also ask which
*combinations* are likely, e.g. a spinal metastasis together with a pathological compression
fracture (the network links them). :func:`most_probable` computes the exact joint posterior of
the serious conditions (``2**8 = 256`` configurations; "none of them" is mechanical pain) with
the vectorised contraction of :mod:`bayesnet.building.parametric`, and lists the ``k`` most probable
configurations.

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
from bayesnet.inference.parametric_ve import condition_joint, impossible_error
from bayesnet.reasoning.uncertainty import _state

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["NONE_LABEL", "most_probable"]

#: Label of the configuration with no serious condition.
NONE_LABEL = "none (mechanical pain)"


def _check_k(k: Any) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 1:
        raise BayesNetError(f"k must be a positive integer; got {k!r}")
    return int(k)


def most_probable(model: BackPainModel, evidence: Mapping | Evidence | None = None, k: int = 5) -> pd.DataFrame:
    """The ``k`` most probable joint configurations of the serious conditions.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping or Evidence, optional
        As for :meth:`~bayesnet.BackPainModel.diagnose` (hard or soft evidence).
    k : int, default 5
        Number of configurations. Configurations of probability zero are never listed, so
        fewer than ``k`` rows come back when fewer are possible (at most ``2**8``).

    Returns
    -------
    DataFrame
        One row per configuration, most probable first: ``rank`` (1, 2, ...), ``probability``
        (the exact joint posterior; the column sums to at most 1), ``present`` (the conditions
        present, joined by " + ", or ``"none (mechanical pain)"``), ``n_present`` and one
        ``"yes"``/``"no"`` column per serious condition. Ties are broken by fewer conditions
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
    st = _state(model)
    vt = st.point
    joint, z = condition_joint(vt, ev)
    if not z[0, 0] > 0:
        raise impossible_error()
    calibrated = vt.calibrated_conditions
    serious = [c for c in model.serious_conditions if c in calibrated]
    p = joint[0, 0]
    # marginalise any calibrated condition that is not serious
    drop = tuple(i for i, c in enumerate(calibrated) if c not in serious)
    if drop:
        p = p.sum(axis=drop)
    kept = [c for c in calibrated if c in serious]
    perm = [kept.index(c) for c in serious]
    p = np.transpose(p, perm).reshape(-1)
    n = len(serious)
    present = (np.arange(2**n)[:, None] >> np.arange(n - 1, -1, -1)[None, :]) & 1 == 0  # state 0 = yes
    n_present = present.sum(axis=1)
    # order: probability (descending), then fewer conditions, then index
    order = np.lexsort((np.arange(2**n), n_present, -p))
    order = [i for i in order if p[i] > 0][:k]
    rows = []
    for r, i in enumerate(order, start=1):
        names = [c for c, yes in zip(serious, present[i], strict=True) if yes]
        row = {
            "rank": r,
            "probability": float(p[i]),
            "present": " + ".join(names) if names else NONE_LABEL,
            "n_present": int(n_present[i]),
        }
        row.update({c: "yes" if yes else "no" for c, yes in zip(serious, present[i], strict=True)})
        rows.append(row)
    df = pd.DataFrame(rows, columns=["rank", "probability", "present", "n_present", *serious])
    df.attrs.update({"setting": model.setting, "k": k, "evidence": dict(ev.items())})
    return df
