"""Build the back-pain Bayesian network from a :class:`~bayesnet.data.priors.PriorSet`.

Structure, in layers:

* **risk factors** are roots, with their prevalence among back-pain presenters in the setting;
* **conditions** depend on their risk factors and on the conditions that can cause them.
  ``P(C | risk factors, parent conditions) = 1 - (1 - expit(b + sum(log OR))) * prod(1 - q_j)``:
  risk-factor odds ratios combine on the odds scale, each parent condition ``j`` present causes
  ``C`` with probability ``q_j`` (noisy-OR), and the baseline ``b`` is solved so that the marginal
  probability of ``C`` equals its sourced prevalence in the setting;
* ``mechanical_pain`` is the absence of every serious condition (a deterministic node);
* **findings and tests** are leaky noisy-ORs of their conditions: the leak is the
  false-positive rate in patients without a serious cause (optionally by age group), and each
  link probability ``1 - (1 - s) / (1 - leak)`` reproduces the sourced sensitivity ``s``.

The tables are first built as plain numpy arrays (:class:`Tables`, child axis first, then the
parents in order), then wrapped as pgmpy ``TabularCPD`` objects. This is the only module that
constructs pgmpy model classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import brentq
from scipy.special import expit

from bayesnet.building.conversions import effect_log_odds_ratios, leak_probability, link_sensitivity, noisy_or_link
from bayesnet.data.priors import PriorSet
from bayesnet.errors import PriorsError, UnknownNameError

__all__ = ["KINDS", "Tables", "ancestors", "build_network", "build_tables"]

KINDS = ("risk_factor", "condition", "finding", "test")


@dataclass
class Tables:
    """The network as plain arrays, before it becomes a pgmpy model.

    Attributes
    ----------
    states : dict
        Variable -> tuple of state names (order used by every table).
    parents : dict
        Variable -> list of parent variables.
    cpts : dict
        Variable -> array of shape ``(card(var), *card(parents))``; sums to 1 over axis 0.
    kinds : dict
        Variable -> one of ``risk_factor``, ``condition``, ``finding``, ``test``.
    baselines : dict
        Condition -> solved baseline log-odds ``b``.
    """

    setting: str
    states: dict[str, tuple[str, ...]] = field(default_factory=dict)
    parents: dict[str, list[str]] = field(default_factory=dict)
    cpts: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)
    descriptions: dict[str, str] = field(default_factory=dict)
    baselines: dict[str, float] = field(default_factory=dict)

    def marginal(self, variables: list[str]) -> np.ndarray:
        """Exact joint distribution of ``variables`` (in that order) from the tables built so far.

        Sums the product of the tables of the variables' ancestors with one ``einsum``; used for
        calibration and in tests.
        """
        needed = ancestors(variables, self.parents)
        letters = {v: i for i, v in enumerate(needed)}
        operands: list = []
        for v in needed:
            operands.append(self.cpts[v])
            operands.append([letters[v], *(letters[p] for p in self.parents[v])])
        operands.append([letters[v] for v in variables])
        return np.einsum(*operands, optimize="greedy")


def ancestors(variables: list[str], parents: dict[str, list[str]]) -> list[str]:
    """``variables`` and all their ancestors (each once), in discovery order.

    >>> ancestors(["c"], {"a": [], "b": ["a"], "c": ["b"]})
    ['c', 'b', 'a']
    """
    needed: list[str] = []
    stack = list(variables)
    while stack:
        v = stack.pop()
        if v in needed:
            continue
        needed.append(v)
        stack.extend(parents[v])
    return needed


def _condition_order(priors: PriorSet) -> list[str]:
    order: list[str] = []
    conds = priors.conditions

    def visit(n: str) -> None:
        if n in order:
            return
        for c in conds[n].causes:
            visit(c.condition)
        order.append(n)

    for n, c in conds.items():
        if c.definition == "calibrated":
            visit(n)
    order.extend(n for n, c in conds.items() if c.definition != "calibrated")
    return order


def build_tables(priors: PriorSet, setting: str) -> Tables:
    """Compute every conditional probability table for one setting.

    Parameters
    ----------
    priors : PriorSet
        Validated priors (see :func:`bayesnet.data.priors.load_priors`).
    setting : str
        One of ``priors.settings``.

    Returns
    -------
    Tables

    Raises
    ------
    UnknownNameError
        For an unknown setting.
    PriorsError
        When the numbers cannot be reconciled (a prevalence below what the causing conditions
        already produce, a sensitivity below the false-positive rate...).
    """
    if setting not in priors.settings:
        raise UnknownNameError("setting", setting, priors.settings)
    t = Tables(setting)

    for name, rf in priors.risk_factors.items():
        t.states[name] = rf.states
        t.parents[name] = []
        t.cpts[name] = np.array([rf.prevalence[setting][s].value for s in rf.states], dtype=float)
        t.kinds[name] = "risk_factor"
        t.descriptions[name] = rf.description

    for name in _condition_order(priors):
        cond = priors.conditions[name]
        t.states[name] = ("yes", "no")
        t.kinds[name] = "condition"
        t.descriptions[name] = cond.description
        if cond.definition == "no_serious_condition":
            serious = [c for c, spec in priors.conditions.items() if spec.serious and spec.definition == "calibrated"]
            t.parents[name] = serious
            table = np.zeros((2,) + (2,) * len(serious))
            table[1] = 1.0
            table[(0,) + (1,) * len(serious)] = 1.0  # every serious condition absent ("no" is index 1)
            table[(1,) + (1,) * len(serious)] = 0.0
            t.cpts[name] = table
            continue
        _build_condition(t, priors, name, setting)

    for name, f in priors.findings.items():
        t.states[name] = f.states
        t.kinds[name] = f.kind
        t.descriptions[name] = f.description
        _build_finding(t, priors, name)
    return t


def _build_condition(t: Tables, priors: PriorSet, name: str, setting: str) -> None:
    cond = priors.conditions[name]
    factors: list[str] = []
    for e in cond.effects:
        if e.factor not in factors:
            factors.append(e.factor)
    # log odds ratio per state of each factor (reference state 0)
    lor: dict[str, np.ndarray] = {f: np.zeros(len(t.states[f])) for f in factors}
    for e in cond.effects:
        for state, value in effect_log_odds_ratios(e, priors.risk_factors[e.factor], setting).items():
            lor[e.factor][t.states[e.factor].index(state)] += value
    causes = [c.condition for c in cond.causes]
    q = np.array([c.param.value for c in cond.causes])
    parents = factors + causes
    t.parents[name] = parents
    shape = tuple(len(t.states[p]) for p in parents)

    eta = np.zeros(shape)
    for i, f in enumerate(factors):
        idx = [None] * len(parents)
        idx[i] = slice(None)
        eta = eta + lor[f][tuple(idx)]
    # probability that no parent condition causes C: prod (1 - q_j) over present parents (state 0 = yes)
    survive = np.ones(shape)
    for j in range(len(causes)):
        vec = np.array([1.0 - q[j], 1.0])
        idx = [None] * len(parents)
        idx[len(factors) + j] = slice(None)
        survive = survive * vec[tuple(idx)]

    joint = t.marginal(parents) if parents else np.ones(())
    target = cond.prevalence[setting].value

    def prevalence_at(b: float) -> float:
        p_yes = 1.0 - (1.0 - expit(b + eta)) * survive
        return float(np.sum(joint * p_yes))

    floor = float(np.sum(joint * (1.0 - survive)))
    if target <= floor + 1e-15:
        p = cond.prevalence[setting]
        raise PriorsError(
            f"prevalence {target:.4g} in {setting} is below the {floor:.4g} already caused by "
            f"{', '.join(causes)}; lower the caused_by probabilities or raise the prevalence",
            file=p.file,
            entry=p.entry,
        )
    try:
        b = brentq(lambda x: prevalence_at(x) - target, -60.0, 60.0, xtol=1e-14, rtol=1e-15, maxiter=500)
    except (ValueError, RuntimeError):
        p = cond.prevalence[setting]
        raise PriorsError(
            f"no baseline reproduces the prevalence {target:.4g} in {setting} with these risk-factor effects "
            "(an odds ratio or a proportion is too extreme); check the effects of this condition",
            file=p.file,
            entry=p.entry,
        ) from None
    t.baselines[name] = b
    p_yes = 1.0 - (1.0 - expit(b + eta)) * survive
    t.cpts[name] = np.stack([p_yes, 1.0 - p_yes])


def _build_finding(t: Tables, priors: PriorSet, name: str) -> None:
    f = priors.findings[name]
    conds = list(f.links)
    contexts = list(t.states[f.leak_by]) if f.leak_by else ["*"]
    parents = ([f.leak_by] if f.leak_by else []) + conds
    t.parents[name] = parents
    n = len(conds)
    cond_shape = (2,) * n
    tables = []
    for ctx in contexts:
        leak = leak_probability(f, ctx)
        links = [noisy_or_link(link_sensitivity(f, c, leak), leak, f.links[c]) for c in conds]
        survive = np.full(cond_shape, 1.0 - leak)
        for j, p in enumerate(links):
            vec = np.array([1.0 - p, 1.0])
            idx = [None] * n
            idx[j] = slice(None)
            survive = survive * vec[tuple(idx)]
        tables.append(1.0 - survive)
    p_pos = np.stack(tables) if f.leak_by else tables[0]
    t.cpts[name] = np.stack([p_pos, 1.0 - p_pos])


def build_network(tables: Tables):
    """Wrap :class:`Tables` as a checked pgmpy ``DiscreteBayesianNetwork``.

    Examples
    --------
    >>> from bayesnet.data.priors import load_priors
    >>> net = build_network(build_tables(load_priors(), "primary_care"))
    >>> net.check_model()
    True
    """
    from bayesnet._pgmpy import DiscreteBayesianNetwork, TabularCPD

    edges = [(p, v) for v in tables.cpts for p in tables.parents[v]]
    net = DiscreteBayesianNetwork(edges)
    net.add_nodes_from(tables.cpts)
    cpds = []
    for v, arr in tables.cpts.items():
        parents = tables.parents[v]
        card = len(tables.states[v])
        values = arr.reshape(card, -1) if parents else arr.reshape(card, 1)
        cpds.append(
            TabularCPD(
                v,
                card,
                values,
                evidence=parents or None,
                evidence_card=[len(tables.states[p]) for p in parents] or None,
                state_names={x: list(tables.states[x]) for x in [v, *parents]},
            )
        )
    net.add_cpds(*cpds)
    net.check_model()
    return net
