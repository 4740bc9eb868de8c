"""Which question or test to ask next: expected value of information of each unobserved variable.

For every candidate (an unobserved finding or test, optionally risk factors too) and each of its
results ``r``, the engine computes in one batched pass the probability of the result given what is
known, ``P(r | e) = P(e, r) / P(e)``, and the posterior of every condition that would follow it.
Three values summarise a candidate:

``expected_entropy_reduction``
    Expected fall in uncertainty about the serious conditions, in bits: the sum over the serious
    conditions of their binary entropies now, minus its expectation after the result. Because the
    expected posterior equals the current one (law of total probability) and entropy is concave,
    it is never negative. The conditions are not mutually exclusive, so the sum of marginal
    entropies is used rather than the entropy of one categorical "diagnosis".
``focus_information``
    Expected fall in uncertainty about the focus condition alone, in bits (the mutual
    information between the result and the focus condition): what a test tells about the one
    condition the user asked about. It ranks the candidates when a focus condition is chosen.
``expected_change``
    Expected absolute change in the probability of the focus condition (by default the serious
    condition the evidence raised most): how far the result is expected to move it, in either
    direction.
``p_cross`` and ``decision_value``
    With a ``threshold`` (for instance "refer for imaging above 5%"): the probability that the
    result moves the focus condition to the other side of it, and the expected value of the
    result for that decision. Acting above the threshold ``t`` weighs a false alarm ``t`` against
    a missed case ``1 - t`` (the threshold model of Pauker and Kassirer, as in decision curves), so
    the expected loss of deciding at probability ``p`` is ``min(p (1 - t), (1 - p) t)``;
    ``decision_value`` is the current loss minus the expected loss after the result (never
    negative; in missed cases avoided per patient, net of false alarms). A result that only nudges
    the probability across the line is worth little; one that moves it far is worth much. It ranks
    the candidates when a threshold is given.

Examples
--------
>>> import bayesnet
>>> model = bayesnet.load_model()
>>> nt = model.next_tests({"dyspnoea": "yes", "pleuritic_chest_pain": "yes", "age_group": "under_50"})
>>> nt.attrs["focus"]
'pulmonary_embolism'
>>> list(nt.index[:2])
['ctpa', 'leg_ultrasound']
>>> bool((nt["expected_entropy_reduction"] >= 0).all())
True
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from itertools import pairwise
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from bayesnet.errors import EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.reasoning.results import NextTests, as_result

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["binary_entropy", "default_focus", "next_tests", "outcomes"]

SORT_KEYS = ("entropy", "focus", "change", "cross", "decision")


def binary_entropy(p: np.ndarray) -> np.ndarray:
    """Entropy in bits of Bernoulli(p), elementwise, with ``0 log 0 = 0``.

    >>> binary_entropy(np.array([0.5, 0.0, 1.0])).tolist()
    [1.0, 0.0, 0.0]
    """
    p = np.clip(np.asarray(p, dtype=float), 0.0, 1.0)
    q = 1.0 - p
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(np.where(p > 0, p * np.log2(p), 0.0) + np.where(q > 0, q * np.log2(q), 0.0))
    return np.maximum(h, 0.0)


def _candidates(model: BackPainModel, observed: Iterable[str], candidates: Iterable[str] | None,
                include_risk_factors: bool) -> list[str]:
    kinds = model.tables.kinds
    observed = set(observed)
    if candidates is None:
        wanted = ("finding", "test", "risk_factor") if include_risk_factors else ("finding", "test")
        return [v for v, k in kinds.items() if k in wanted and v not in observed]
    out = []
    for v in candidates:
        if v not in kinds:
            raise UnknownNameError("variable", v, kinds)
        if kinds[v] == "condition":
            raise EvidenceError(f"{v!r} is a condition, not something that can be observed next; "
                                "choose a finding, test or risk factor")
        if v in observed:
            raise EvidenceError(f"{v!r} is already observed; remove it from the evidence or from the candidates")
        out.append(v)
    return out


def outcomes(model: BackPainModel, evidence: Mapping | None = None,
             candidates: Iterable[str] | None = None, *, include_risk_factors: bool = False) -> pd.DataFrame:
    """Every possible result of every candidate: its probability and the posteriors that would follow.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping, optional
        What is known (hard or soft evidence, as for :meth:`~bayesnet.model.BackPainModel.diagnose`).
    candidates : iterable of str, optional
        Variables to consider (default: every unobserved finding and test).
    include_risk_factors : bool
        Also consider unobserved risk factors (history questions) when ``candidates`` is not given.

    Returns
    -------
    DataFrame
        One row per (variable, state): ``variable, kind, state, probability`` then one column per
        condition with its posterior after that result. Results with probability zero are kept
        with ``probability`` 0 and the current posteriors (they cannot happen). ``attrs`` holds
        ``current`` (a Series of the current posteriors).

    Examples
    --------
    >>> import bayesnet
    >>> out = outcomes(bayesnet.load_model(), {"fever": "yes"}, ["esr_crp"])
    >>> out[["state", "probability"]].round(3).values.tolist()
    [['elevated', 0.33], ['normal', 0.67]]
    """
    return _outcomes_frame(model, _outcome_arrays(model, evidence, candidates, include_risk_factors))


def _outcome_arrays(model: BackPainModel, evidence: Mapping | None, candidates: Iterable[str] | None,
                    include_risk_factors: bool) -> dict:
    """The numbers behind :func:`outcomes`: one engine call for the evidence and every result of every candidate.

    ``rows``: (variable, state index) per result, grouped by variable; ``probability``: P(result |
    evidence); ``after``: P(condition = yes | evidence, result), one column per condition;
    ``current``: P(condition = yes | evidence).
    """
    ev = model.check_evidence(evidence)
    cands = _candidates(model, ev.variables, candidates, include_risk_factors)
    states = model.tables.states
    base = ev.likelihoods()
    rows = [(None, None)] + [(v, s) for v in cands for s in range(len(states[v]))]
    n = len(rows)
    lik = {v: np.broadcast_to(w, (n, len(w))).copy() for v, w in base.items()}
    for v in cands:
        lik[v] = np.ones((n, len(states[v])))
    for i, (v, s) in enumerate(rows[1:], start=1):
        lik[v][i] = 0.0
        lik[v][i, s] = 1.0
    conds = model.conditions
    probs, log_ev = model._propagate_conditions(lik, n)
    if not np.isfinite(log_ev[0]):
        raise ImpossibleEvidenceError("the evidence has probability zero under the model; "
                                      "remove a contradictory finding")
    p_yes = probs[:, 0::2]  # conditions are (yes, no); columns come in target order
    p_result = np.exp(log_ev[1:] - log_ev[0])
    impossible = ~np.isfinite(log_ev[1:])
    p_result[impossible] = 0.0
    after = p_yes[1:].copy()
    after[impossible] = p_yes[0]
    return {"rows": rows[1:], "probability": p_result, "after": after, "current": p_yes[0], "conditions": conds}


def _outcomes_frame(model: BackPainModel, arr: dict) -> pd.DataFrame:
    states, kinds, rows = model.tables.states, model.tables.kinds, arr["rows"]
    out = pd.DataFrame({
        "variable": [v for v, _ in rows],
        "kind": [kinds[v] for v, _ in rows],
        "state": [states[v][s] for v, s in rows],
        "probability": arr["probability"],
        **{c: arr["after"][:, j] for j, c in enumerate(arr["conditions"])},
    })
    out.attrs["current"] = pd.Series(arr["current"], index=arr["conditions"], name="posterior")
    return out


def default_focus(model: BackPainModel, current: pd.Series) -> str:
    """The serious condition the evidence raised most (largest rise in probability over its prior).

    With no evidence, or evidence that raises no serious condition, the most probable serious
    condition. A common condition that the evidence leaves where it was (pyelonephritis in the
    emergency department, say) is not the focus of a breathless patient's next test.

    Examples
    --------
    >>> import bayesnet
    >>> m = bayesnet.load_model("emergency")
    >>> default_focus(m, m.diagnose({"saddle_anaesthesia": "yes"}).ranking["posterior"])
    'cauda_equina_syndrome'
    >>> default_focus(m, m.diagnose({}).ranking["posterior"])
    'pyelonephritis'
    """
    return _focus(model, current[model.conditions].to_numpy(dtype=float))


def _focus(model: BackPainModel, current: np.ndarray) -> str:
    """:func:`default_focus` from P(yes) of every condition in ``model.conditions`` order."""
    names, prior, serious = model._condition_arrays()
    idx = np.flatnonzero(serious)
    rise = current[idx] - prior[idx]
    if float(rise.max()) > 1e-12:
        return str(names[idx[int(np.argmax(rise))]])
    return str(names[idx[int(np.argmax(current[idx]))]])


def next_tests(model: BackPainModel, evidence: Mapping | None = None, *, condition: str | None = None,
               threshold: float | None = None, candidates: Iterable[str] | None = None,
               include_risk_factors: bool = False, sort_by: str | None = None) -> pd.DataFrame:
    """Rank unobserved findings and tests by how much observing them is expected to help.

    Parameters
    ----------
    model : BackPainModel
    evidence : mapping, optional
        What is known.
    condition : str, optional
        The condition whose probability matters (default: :func:`default_focus`, the serious
        condition the evidence raised most, or the most probable serious one when nothing was
        raised).
    threshold : float, optional
        A decision threshold on ``condition`` (e.g. 0.05: refer for imaging above 5%); adds
        ``p_cross``, the probability that the result moves the patient across it.
    candidates : iterable of str, optional
        Variables to consider (default: every unobserved finding and test).
    include_risk_factors : bool
        Also rank unobserved risk factors (questions about history).
    sort_by : {"entropy", "focus", "change", "cross", "decision"}, optional
        Ranking key: expected entropy reduction over the serious conditions, information about
        ``condition`` (``focus_information``), expected change of ``condition``, ``p_cross`` or
        ``decision_value``. Default: ``decision`` with a threshold, else ``focus`` when
        ``condition`` is given, else ``entropy``.

    Returns
    -------
    DataFrame
        Indexed by variable: ``kind``, ``expected_entropy_reduction`` (bits),
        ``focus_information`` (bits about ``condition``), ``expected_change`` (of ``condition``),
        ``p_cross`` and ``decision_value`` (with a threshold), ``results`` (each
        result's probability and the posterior of ``condition`` after it, as text), sorted.
        ``attrs`` holds ``focus``, ``current`` (its posterior now), ``threshold``, ``entropy``
        (bits now) and ``outcomes`` (the long table of :func:`outcomes`).

    Examples
    --------
    >>> import bayesnet
    >>> nt = next_tests(bayesnet.load_model(), {"iv_drug_use": "yes", "fever": "yes"}, threshold=0.05)
    >>> nt.attrs["focus"]
    'vertebral_osteomyelitis'
    >>> list(nt.columns)[:6]
    ['kind', 'expected_entropy_reduction', 'focus_information', 'expected_change', 'p_cross', 'decision_value']
    """
    if threshold is not None and (
        isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not 0.0 < threshold < 1.0
    ):
        raise EvidenceError(f"threshold must be a probability strictly between 0 and 1; got {threshold!r}")
    if sort_by is None:
        sort_by = "decision" if threshold is not None else ("focus" if condition is not None else "entropy")
    if sort_by not in SORT_KEYS:
        raise UnknownNameError("sort key", sort_by, SORT_KEYS)
    if sort_by in ("cross", "decision") and threshold is None:
        raise EvidenceError(f"sort_by={sort_by!r} needs a threshold, e.g. threshold=0.05")
    arr = _outcome_arrays(model, evidence, candidates, include_risk_factors)
    conds = arr["conditions"]
    current, after_all, p = arr["current"], arr["after"], arr["probability"]
    if condition is None:
        condition = _focus(model, current)
    elif condition not in model.conditions:
        raise UnknownNameError("condition", condition, model.conditions)
    _, _, serious = model._condition_arrays()
    h_now = float(binary_entropy(current[serious]).sum())
    h_after = binary_entropy(after_all[:, serious]).sum(axis=1)
    ci = conds.index(condition)
    now = float(current[ci])
    after = after_all[:, ci]
    scores = {
        "gain": p * (h_now - h_after),
        "focus": p * (float(binary_entropy(np.array([now]))[0]) - binary_entropy(after)),
        "change": p * np.abs(after - now),
    }
    if threshold is not None:
        t = float(threshold)

        def loss(q):
            return np.minimum(q * (1.0 - t), (1.0 - q) * t)

        scores["cross"] = p * ((after >= threshold) != (now >= threshold))
        scores["decision"] = p * (float(loss(np.array([now]))[0]) - loss(after))
    # the results of one variable are contiguous rows: sum each group's terms
    rows = arr["rows"]
    variables = [v for v, _ in rows]
    starts = [i for i, v in enumerate(variables) if i == 0 or v != variables[i - 1]]
    names = [variables[i] for i in starts]
    bounds = [*starts, len(rows)]
    states = model.tables.states
    text = [f"{states[v][s]} {pr:.1%} -> {a:.1%}" for (v, s), pr, a in zip(rows, p, after, strict=True)]
    summed = {k: np.add.reduceat(x, starts) if starts else np.zeros(0) for k, x in scores.items()}
    # tiny negative sums are rounding; the exact values are >= 0 (Jensen: the losses are concave)
    for k in ("gain", "focus") + (("decision",) if threshold is not None else ()):
        summed[k] = np.where(summed[k] > 1e-12, summed[k], 0.0)
    columns = {"gain": "expected_entropy_reduction", "focus": "focus_information", "change": "expected_change",
               "cross": "p_cross", "decision": "decision_value"}
    data = {"kind": [model.tables.kinds[v] for v in names]}
    data.update({columns[k]: v for k, v in summed.items()})
    data["results"] = ["; ".join(text[a:b]) for a, b in pairwise(bounds)]
    res = pd.DataFrame(data, index=pd.Index(names, name="variable"))
    key = columns[{"entropy": "gain"}.get(sort_by, sort_by)]
    secondary = "expected_entropy_reduction" if key != "expected_entropy_reduction" else "expected_change"
    res = res.sort_values([key, secondary], ascending=False, kind="stable")
    res.index.name = "variable"
    res.attrs.update(focus=condition, current=now, threshold=threshold, entropy=h_now, sort_by=sort_by,
                     outcomes=_outcomes_frame(model, arr))
    return as_result(res, NextTests)
