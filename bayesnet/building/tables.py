"""The network as plain numpy arrays (:class:`Tables`), and exact marginals of them.

Every table has the child axis first, then the parents in order; the one table builder
(:func:`bayesnet.building.parametric.build_vectorised`) fills them, and
:mod:`bayesnet.building.network` wraps them as a pgmpy network.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from bayesnet.errors import BayesNetError

__all__ = ["KINDS", "MAX_MARGINAL_VARIABLES", "Tables", "ancestors", "marginal"]

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
