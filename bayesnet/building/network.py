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

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bayesnet.data.priors import PriorSet
from bayesnet.errors import BayesNetError

__all__ = ["KINDS", "MAX_MARGINAL_VARIABLES", "Tables", "ancestors", "build_network", "build_tables", "marginal"]

KINDS = ("risk_factor", "condition", "finding", "test")


@dataclass
class Tables:
    """The network as plain arrays, before it becomes a pgmpy model.

    Attributes
    ----------
    setting : str
    states : dict
        Variable -> tuple of state names (order used by every table).
    parents : dict
        Variable -> list of parent variables.
    cpts : dict
        Variable -> array of shape ``(card(var), *card(parents))``; sums to 1 over axis 0.
    kinds : dict
        Variable -> one of ``risk_factor``, ``condition``, ``finding``, ``test``.
    descriptions : dict
        Variable -> its description in the priors.
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
        """Exact joint distribution of ``variables`` (in that order), shape ``cards``.

        The one-draw case of :func:`marginal` (used for calibration and in tests).

        Raises
        ------
        BayesNetError
            When the variables and their ancestors are too many for one contraction.
        """
        needed = ancestors(list(variables), self.parents)
        return marginal({v: np.asarray(self.cpts[v])[None] for v in needed}, self.parents, variables)[0]


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


#: Most variables (a query and its ancestors) :func:`marginal` contracts: numpy's ``einsum``
#: takes at most 52 axis labels, and one is the draw axis.
MAX_MARGINAL_VARIABLES = 51

_MARGINAL_PATHS: dict[tuple, list] = {}


def marginal(cpts: Mapping[str, np.ndarray], parents: Mapping[str, list[str]], variables: Sequence[str]) -> np.ndarray:
    """Exact joint of ``variables`` (in that order) for every draw, shape ``(n, *cards)``.

    Sums the product of the tables of the variables and their ancestors with one ``einsum``
    (its contraction order depends only on the structure, so it is computed once and cached).

    Parameters
    ----------
    cpts : mapping
        Variable -> table with a leading draw axis, ``(n, card(var), *card(parents))``; only
        the variables and their ancestors are read.
    parents : mapping
        Variable -> list of parents.
    variables : sequence of str

    Raises
    ------
    BayesNetError
        When the variables and their ancestors are more than :data:`MAX_MARGINAL_VARIABLES`.

    Examples
    --------
    >>> cpts = {"a": np.array([[0.2, 0.8]]), "b": np.array([[[0.9, 0.5], [0.1, 0.5]]])}
    >>> marginal(cpts, {"a": [], "b": ["a"]}, ["b"]).round(6).tolist()  # 0.2 * 0.9 + 0.8 * 0.5
    [[0.58, 0.42]]
    """
    variables = list(variables)
    needed = ancestors(variables, parents)
    if len(needed) > MAX_MARGINAL_VARIABLES:
        raise BayesNetError(
            f"the joint of {', '.join(variables)} involves {len(needed)} variables with their ancestors, "
            f"more than the {MAX_MARGINAL_VARIABLES} one contraction can take; give fewer risk factors or "
            "causing conditions"
        )
    letters = {v: i + 1 for i, v in enumerate(needed)}
    operands: list = []
    for v in needed:
        operands.append(cpts[v])
        operands.append([0, letters[v], *(letters[p] for p in parents[v])])
    operands.append([0, *(letters[v] for v in variables)])
    n = np.shape(cpts[needed[0]])[0]
    key = (tuple((v, tuple(parents[v])) for v in needed), tuple(variables), n > 1)
    path = _MARGINAL_PATHS.get(key)
    if path is None:  # the contraction order does not depend on the values: compute it once
        path = _MARGINAL_PATHS[key] = np.einsum_path(*operands, optimize="greedy")[0]
    return np.einsum(*operands, optimize=path)


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
    from bayesnet.building.parametric import build_vectorised, parameter_space

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
