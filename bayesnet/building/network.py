"""Build the back-pain Bayesian network from a :class:`~bayesnet.data.priors.PriorSet`.

Structure, in layers:

* **risk factors** are roots, with their prevalence among back-pain presenters in the setting;
* **conditions** depend on their risk factors and on the conditions that can cause them.
  ``P(C | risk factors, parent conditions) = 1 - (1 - expit(b + sum(log OR))) * prod(1 - q_j)``:
  risk-factor odds ratios combine on the odds scale, each parent condition ``j`` present causes
  ``C`` with probability ``q_j`` (noisy-OR), and the baseline ``b`` is solved so that the marginal
  probability of ``C`` equals its sourced prevalence in the setting;
* ``mechanical_pain`` is the absence of every modelled condition (a deterministic node);
* **findings and tests** are leaky noisy-ORs of their conditions: the leak is the
  false-positive rate in patients without a serious cause (optionally by age group), and each
  link probability ``1 - (1 - s) / (1 - leak)`` reproduces the sourced sensitivity ``s``.

The tables are built as plain numpy arrays (:class:`Tables`, child axis first, then the parents
in order) by the one table builder, :func:`bayesnet.building.parametric.build_vectorised`, of
which :func:`build_tables` is the one-draw case; :func:`build_network` wraps them as pgmpy
``TabularCPD`` objects. This is the only module that constructs pgmpy model classes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from bayesnet.building.parametric import build_vectorised, parameter_space
from bayesnet.building.tables import KINDS, MAX_MARGINAL_VARIABLES, Tables, ancestors, marginal
from bayesnet.data.priors import PriorSet

__all__ = ["KINDS", "MAX_MARGINAL_VARIABLES", "Tables", "ancestors", "build_network", "build_tables", "chain_families",
           "chain_orders", "clamp_name", "clamped", "engine_network", "marginal", "without"]


def build_tables(priors: PriorSet, setting: str) -> Tables:
    """Compute every conditional probability table for one setting.

    The point model is the one-draw case of the vectorised builder: this is draw 0 of
    :func:`bayesnet.building.parametric.build_vectorised` run on the point values, with every
    inconsistency raised instead of flagged.

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

    Examples
    --------
    >>> from bayesnet.data.priors import load_priors
    >>> t = build_tables(load_priors(), "primary_care")
    >>> t.cpts["spinal_metastasis"].shape, round(float(t.marginal(["spinal_metastasis"])[0]), 6)
    ((2, 2, 3), 0.0032)
    """
    space = parameter_space(priors, setting)
    return build_vectorised(space, space.values, strict=True).draw(0)


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


def chain_orders(parents: Sequence[str], cliques: Iterable[Iterable[str]]) -> list[list[str]]:
    """Candidate orders of ``parents`` for the chain of :func:`engine_network`, one per start.

    Greedy: from each starting parent, repeatedly append the parent that shares the most
    ``cliques`` (of the junction tree of the network without the absence node) with the last one
    (ties: the given order). The caller keeps the candidate whose junction tree is smallest.

    >>> chain_orders(["a", "b", "c"], [("a", "c"), ("c", "b")])[0]
    ['a', 'c', 'b']
    """
    parents = list(parents)
    cliques = [list(c) for c in cliques]
    together = {a: dict.fromkeys(parents, 0) for a in parents}
    for clique in cliques:
        inside = [p for p in clique if p in together]
        for a in inside:
            for b in inside:
                if a != b:
                    together[a][b] += 1
    out = []
    for start in parents:
        order, rest = [start], [p for p in parents if p != start]
        while rest:
            nxt = max(rest, key=lambda b: together[order[-1]][b])  # first of equals: the given order
            order.append(nxt)
            rest.remove(nxt)
        out.append(order)
    return out


def chain_families(node: str, order: Sequence[str]) -> dict[str, list[str]]:
    """The parents of each node of ``node``'s chain (see :func:`engine_network`), last one ``node``.

    >>> chain_families("m", ["a", "b", "c"])
    {'_m_1': ['a', 'b'], 'm': ['_m_1', 'c']}
    """
    out: dict[str, list[str]] = {}
    previous = order[0]
    for j, p in enumerate(order[1:], start=1):
        name = node if j == len(order) - 1 else f"_{node}_{j}"
        out[name] = [previous, p]
        previous = name
    return out


def engine_network(tables: Tables, absent: Iterable[str] = (), orders: Mapping[str, Sequence[str]] | None = None):
    """The network the compiled engine runs: :func:`build_network`, with each node of ``absent``
    ("yes" exactly when every parent is "no") built as a chain of two-parent nodes.

    ``mechanical_pain`` has every modelled condition as a parent: as one table it joins all of
    them in one clique of the junction tree (``2**15`` entries), and every evaluation pays for it.
    The chain ``_mechanical_pain_1 = (C1 = no and C2 = no)``, ``_mechanical_pain_j =
    (_mechanical_pain_{j-1} = yes and C_{j+1} = no)``, ..., ``mechanical_pain =
    (_mechanical_pain_{k-2} = yes and C_k = no)`` is the same distribution (each link is
    deterministic), with cliques of three variables. The extra nodes, named ``_<node>_<j>``, are
    internal to the engine; :attr:`~bayesnet.BackPainModel.network` keeps the one-table node.
    ``orders`` gives the order of a node's parents along its chain (default: the table's order;
    :func:`chain_orders` proposes ones that keep the junction tree small).

    Examples
    --------
    >>> from bayesnet.data.priors import load_priors
    >>> t = build_tables(load_priors(), "primary_care")
    >>> net = engine_network(t, ["mechanical_pain"])
    >>> len(net.get_parents("mechanical_pain")), "_mechanical_pain_1" in net.nodes()
    (2, True)
    """
    absent = [a for a in absent if len(tables.parents[a]) > 2]
    orders = orders or {}
    if not absent:
        return build_network(tables)
    chained = Tables(tables.setting)
    chained.states = dict(tables.states)
    chained.parents = {v: list(p) for v, p in tables.parents.items()}
    chained.kinds = dict(tables.kinds)
    chained.descriptions = dict(tables.descriptions)
    chained.cpts = dict(tables.cpts)
    for node in absent:
        parents = list(orders.get(node, tables.parents[node]))
        if sorted(parents) != sorted(tables.parents[node]):
            raise ValueError(f"the chain order of {node!r} must hold its parents, each once")
        if any(tuple(tables.states[p]) != ("yes", "no") for p in parents) or tuple(tables.states[node]) != ("yes", "no"):
            raise ValueError(f"{node!r}: a chain needs yes/no variables")
        both_no = np.zeros((2, 2, 2))  # [child, first, second]: yes iff first is "no"-so-far and second "no"
        both_no[1] = 1.0
        link = both_no.copy()
        both_no[0, 1, 1], both_no[1, 1, 1] = 1.0, 0.0  # first link: both conditions "no"
        link[0, 0, 1], link[1, 0, 1] = 1.0, 0.0  # later links: the chain so far "yes" and the next "no"
        for j, (name, fam) in enumerate(chain_families(node, parents).items(), start=1):
            chained.states[name] = ("yes", "no")
            chained.kinds[name] = tables.kinds[node]
            chained.descriptions.setdefault(name, f"internal link {j} of {node}")
            chained.parents[name] = fam
            chained.cpts[name] = both_no if j == 1 else link
    return build_network(chained)


def without(tables: Tables, drop: Iterable[str]) -> Tables:
    """``tables`` without the variables ``drop`` (childless ones: each must have no child left).

    Removing a childless node leaves the distribution of the others unchanged: the network of the
    conditions without ``mechanical_pain`` gives the same posteriors of every other variable.

    >>> from bayesnet.data.priors import load_priors
    >>> t = without(build_tables(load_priors(), "primary_care"), ["mechanical_pain"])
    >>> "mechanical_pain" in t.cpts
    False
    """
    drop = set(drop)
    for v, ps in tables.parents.items():
        if v not in drop and drop & set(ps):
            raise ValueError(f"{sorted(drop & set(ps))} cannot be removed: {v!r} depends on them")
    out = Tables(tables.setting)
    keep = [v for v in tables.cpts if v not in drop]
    out.states = {v: tables.states[v] for v in keep}
    out.parents = {v: list(tables.parents[v]) for v in keep}
    out.cpts = {v: tables.cpts[v] for v in keep}
    out.kinds = {v: tables.kinds[v] for v in keep}
    out.descriptions = {v: tables.descriptions.get(v, "") for v in keep}
    out.baselines = dict(tables.baselines)
    return out


def clamp_name(variable: str, state: str) -> str:
    """The indicator :func:`clamped` puts in place of ``variable`` held at ``state``.

    >>> clamp_name("dvt", "no")
    '_dvt_is_no'
    """
    return f"_{variable}_is_{state}"


def clamped(tables: Tables, fixed: Mapping[str, str]) -> Tables:
    """``tables`` with each variable of ``fixed`` held at its state, as a network of the other variables.

    Every table is sliced at the fixed parents' states; a fixed variable's own table, so sliced,
    becomes a yes/no indicator (:func:`clamp_name`) with ``P(yes | its free parents) = P(variable =
    state | parents)``. With every indicator observed ``yes``, the log-evidence of a row of the other
    variables is ``log P(row, every fixed variable at its state)`` in ``tables``: the probability of
    a joint event computed on a network without those variables, whose junction tree is small.

    >>> import numpy as np
    >>> from bayesnet.data.priors import load_priors
    >>> t = build_tables(load_priors(), "primary_care")
    >>> c = clamped(t, {"dvt": "no"})
    >>> c.parents["_dvt_is_no"] == t.parents["dvt"], "dvt" in c.cpts
    (True, False)
    >>> bool(np.allclose(c.cpts["_dvt_is_no"][0], t.cpts["dvt"][1]))
    True
    """
    index = {v: tables.states[v].index(s) for v, s in fixed.items()}
    out = Tables(tables.setting)
    for v, arr in tables.cpts.items():
        parents = tables.parents[v]
        cut = arr[(slice(None), *[index.get(p, slice(None)) for p in parents])]
        free = [p for p in parents if p not in index]
        if v in index:
            p_state = cut[index[v]]
            name = clamp_name(v, fixed[v])
            out.states[name] = ("yes", "no")
            out.parents[name] = free
            out.cpts[name] = np.stack([p_state, 1.0 - p_state])
            out.kinds[name] = "indicator"
            out.descriptions[name] = f"{v} = {fixed[v]}"
        else:
            out.states[v] = tables.states[v]
            out.parents[v] = free
            out.cpts[v] = np.ascontiguousarray(cut)
            out.kinds[v] = tables.kinds[v]
            out.descriptions[v] = tables.descriptions.get(v, "")
    return out
