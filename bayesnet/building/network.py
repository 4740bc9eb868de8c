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

The tables are built as plain numpy arrays (:class:`Tables`, child axis first, then the parents
in order) by the one table builder, :func:`bayesnet.building.parametric.build_vectorised`, of
which :func:`build_tables` is the one-draw case; :func:`build_network` wraps them as pgmpy
``TabularCPD`` objects. This is the only module that constructs pgmpy model classes.
"""

from __future__ import annotations

from bayesnet.building.parametric import build_vectorised, parameter_space
from bayesnet.building.tables import KINDS, MAX_MARGINAL_VARIABLES, Tables, ancestors, marginal
from bayesnet.data.priors import PriorSet

__all__ = ["KINDS", "MAX_MARGINAL_VARIABLES", "Tables", "ancestors", "build_network", "build_tables", "marginal"]


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
