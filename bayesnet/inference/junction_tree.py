"""Junction-tree construction for discrete Bayesian networks (graph part only).

This module knows nothing about probabilities: it turns the *families* of a
Bayesian network (each variable with its parents) and the variables'
cardinalities into a junction tree, i.e. a tree of cliques with the running
intersection property, ready for message passing (see :mod:`bayesnet.inference.engine`).

Steps
-----
1. **Moralise**: connect every variable to its parents and marry the parents of
   each variable (:func:`moral_graph`).
2. **Triangulate** by greedy variable elimination (:func:`triangulate`).  Two
   heuristics are tried, *min-fill* (fewest fill-in edges, ties broken by the
   smallest clique table) and *min-weight* (smallest clique table, ties broken
   by fewest fill-ins), and the one whose cliques have the smallest total table
   size wins.  The cliques are the maximal elimination cliques.
3. **Connect** the cliques by a maximum-weight spanning tree where an edge's
   weight is the size of the separator (number of shared variables), ties
   broken in favour of the smaller separator table (:func:`build_junction_tree`).
   Such a tree has the running-intersection property.  Disconnected parts of
   the network are joined by empty separators so the result is always one tree.

Variables are represented by integers ``0..n-1`` throughout; a clique is a
sorted tuple of them.

Examples
--------
>>> families = {0: [], 1: [0], 2: [0], 3: [1, 2]}
>>> jt = build_junction_tree(families, [2, 2, 2, 2])
>>> jt.cliques
[(0, 1, 2), (1, 2, 3)]
>>> jt.separator(0, 1)
(1, 2)
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import networkx as nx

__all__ = [
    "JunctionTree",
    "build_junction_tree",
    "merge_cliques",
    "moral_graph",
    "parents_first",
    "triangulate",
]


def parents_first(families: Mapping[int, Sequence[int]], n: int) -> list[int]:
    """Variables ``0..n-1`` in a topological order, parents before children.

    Depth-first from each variable in index order, each variable's parents in their listed order
    (so the order is a function of ``families`` alone).

    >>> parents_first({0: [1], 1: [], 2: [0, 1]}, 3)
    [1, 0, 2]
    """
    order: list[int] = []
    seen = [False] * n
    for v0 in range(n):
        if seen[v0]:
            continue
        seen[v0] = True
        stack = [(v0, iter(families[v0]))]
        while stack:
            v, it = stack[-1]
            for u in it:
                if not seen[u]:
                    seen[u] = True
                    stack.append((u, iter(families[u])))
                    break
            else:
                stack.pop()
                order.append(v)
    return order


def moral_graph(families: Mapping[int, Sequence[int]]) -> dict[int, set[int]]:
    """Return the moral graph of a DAG given as ``{child: parents}``.

    Parameters
    ----------
    families : mapping of int to sequence of int
        Every variable of the network mapped to its parents.

    Returns
    -------
    dict of int to set of int
        Undirected adjacency sets.

    Examples
    --------
    >>> sorted(moral_graph({0: [], 1: [], 2: [0, 1]})[0])
    [1, 2]
    """
    adj: dict[int, set[int]] = {v: set() for v in families}
    for child, parents in families.items():
        family = [child, *parents]
        for i, a in enumerate(family):
            for b in family[i + 1 :]:
                if a != b:
                    adj[a].add(b)
                    adj[b].add(a)
    return adj


def _fill_in(adj: dict[int, set[int]], v: int) -> int:
    """Number of edges missing between the neighbours of ``v``."""
    nbrs = list(adj[v])
    return sum(1 for i, a in enumerate(nbrs) for b in nbrs[i + 1 :] if b not in adj[a])


def _eliminate(
    adjacency: Mapping[int, set[int]], cards: Sequence[int], heuristic: str
) -> tuple[list[int], list[tuple[int, ...]]]:
    """Greedy elimination; return the order and the maximal elimination cliques."""
    adj = {v: set(n) for v, n in adjacency.items()}
    logc = {v: math.log(max(int(cards[v]), 1)) for v in adj}
    fill = {v: _fill_in(adj, v) for v in adj}

    def score(v: int) -> tuple[float, float, int]:
        weight = logc[v] + sum(logc[u] for u in adj[v])
        if heuristic == "min_fill":
            return (fill[v], round(weight, 9), v)
        return (round(weight, 9), fill[v], v)

    scores = {v: score(v) for v in adj}
    order: list[int] = []
    raw: list[frozenset[int]] = []
    while scores:
        v = min(scores, key=scores.__getitem__)
        nbrs = adj[v]
        raw.append(frozenset(nbrs | {v}))
        order.append(v)
        nl = list(nbrs)
        # fill-in counts are updated incrementally (a hub with thousands of neighbours
        # would otherwise be rescored from scratch, in quadratic time, at every step)
        changed = set(nl)
        for i, a in enumerate(nl):
            for b in nl[i + 1 :]:
                aa, ab = adj[a], adj[b]
                if b not in aa:
                    common = aa & ab  # their common neighbours gain the edge a-b
                    for w in common:
                        fill[w] -= 1
                    changed |= common
                    fill[a] += len(aa) - len(common)
                    fill[b] += len(ab) - len(common)
                    aa.add(b)
                    ab.add(a)
        av = adj[v]
        for a in nl:
            aa = adj[a]
            fill[a] -= len(aa) - 1 - len(aa & av)  # pairs (v, x) that were missing
            aa.discard(v)
        del adj[v]
        del scores[v]
        del fill[v]
        changed.discard(v)
        for a in changed:
            scores[a] = score(a)
    # keep only maximal cliques (an elimination clique can only be contained in an
    # earlier one if it is not maximal; check against all for simplicity)
    maximal: list[frozenset[int]] = []
    for c in sorted(set(raw), key=len, reverse=True):
        if not any(c <= m for m in maximal):
            maximal.append(c)
    cliques = sorted(tuple(sorted(c)) for c in maximal)
    return order, cliques


def _table_size(clique: Sequence[int], cards: Sequence[int]) -> int:
    return math.prod(int(cards[v]) for v in clique)


def triangulate(
    adjacency: Mapping[int, set[int]],
    cards: Sequence[int],
    heuristic: str = "best",
) -> tuple[list[int], list[tuple[int, ...]]]:
    """Triangulate an undirected graph by greedy elimination.

    Parameters
    ----------
    adjacency : mapping of int to set of int
        The (moral) graph.
    cards : sequence of int
        Cardinality of each variable, indexed by variable.
    heuristic : {"best", "min_fill", "min_weight"}
        Elimination heuristic; ``"best"`` runs both and keeps the cliques with the
        smaller total table size.

    Returns
    -------
    order : list of int
        The elimination order.
    cliques : list of tuple of int
        The maximal cliques of the triangulated graph, each sorted.

    Examples
    --------
    >>> adj = {0: {1, 3}, 1: {0, 2}, 2: {1, 3}, 3: {0, 2}}   # a 4-cycle
    >>> order, cliques = triangulate(adj, [2, 2, 2, 2])
    >>> [len(c) for c in cliques]
    [3, 3]
    """
    if heuristic not in ("best", "min_fill", "min_weight"):
        raise ValueError(f"unknown triangulation heuristic {heuristic!r}")
    names = ["min_fill", "min_weight"] if heuristic == "best" else [heuristic]
    results = [_eliminate(adjacency, cards, name) for name in names]
    # the first of equally cheap results wins
    return min(results, key=lambda r: sum(_table_size(c, cards) for c in r[1]))


@dataclass
class JunctionTree:
    """A rooted junction tree over integer variables.

    Attributes
    ----------
    cliques : list of tuple of int
        Sorted variable tuples, one per clique.
    edges : list of tuple of int
        Tree edges ``(i, j)`` between clique indices.
    root : int
        Index of the root clique (the one with the largest table).
    parent : list of int
        Parent clique of each clique (``-1`` for the root).
    children : list of list of int
        Children of each clique.
    postorder : list of int
        Cliques ordered so that every clique comes after all its children (the
        root is last): the order of the collect pass.
    cards : list of int
        Cardinality of each variable.
    """

    cliques: list[tuple[int, ...]]
    edges: list[tuple[int, int]]
    root: int
    parent: list[int]
    children: list[list[int]]
    postorder: list[int]
    cards: list[int] = field(default_factory=list)

    def separator(self, i: int, j: int) -> tuple[int, ...]:
        """Variables shared by cliques ``i`` and ``j`` (sorted)."""
        return tuple(sorted(set(self.cliques[i]) & set(self.cliques[j])))

    def table_size(self, i: int) -> int:
        """Number of entries in the table of clique ``i``."""
        return _table_size(self.cliques[i], self.cards)

    @property
    def max_clique_size(self) -> int:
        """Largest clique table (number of entries)."""
        return max((self.table_size(i) for i in range(len(self.cliques))), default=0)

    @property
    def total_clique_size(self) -> int:
        """Sum of all clique table sizes."""
        return sum(self.table_size(i) for i in range(len(self.cliques)))

    def check(self) -> None:
        """Assert the running-intersection property (for tests).

        Raises
        ------
        AssertionError
            If some variable's cliques do not form a connected subtree.
        """
        g = nx.Graph()
        g.add_nodes_from(range(len(self.cliques)))
        g.add_edges_from(self.edges)
        assert nx.is_tree(g) or len(self.cliques) <= 1
        variables = {v for c in self.cliques for v in c}
        for v in variables:
            holders = [i for i, c in enumerate(self.cliques) if v in c]
            assert nx.is_connected(g.subgraph(holders)), f"variable {v} breaks running intersection"


def build_junction_tree(
    families: Mapping[int, Sequence[int]],
    cards: Sequence[int],
    heuristic: str = "best",
) -> JunctionTree:
    """Build a junction tree for a Bayesian network.

    Parameters
    ----------
    families : mapping of int to sequence of int
        Every variable (``0..n-1``) mapped to its parents.
    cards : sequence of int
        Cardinality of each variable.
    heuristic : {"best", "min_fill", "min_weight"}
        Triangulation heuristic, see :func:`triangulate`.

    Returns
    -------
    JunctionTree
        Every family is contained in at least one clique.

    Examples
    --------
    >>> jt = build_junction_tree({0: [], 1: [0], 2: [1]}, [2, 3, 2])
    >>> jt.cliques, jt.edges
    ([(0, 1), (1, 2)], [(0, 1)])
    """
    cards = [int(c) for c in cards]
    adj = moral_graph(families)
    if not adj:
        return JunctionTree([], [], -1, [], [], [], cards)
    _, cliques = triangulate(adj, cards, heuristic)
    n = len(cliques)

    # candidate edges: cliques sharing at least one variable (disconnected parts are
    # joined by empty separators afterwards, so that the result is one tree)
    holders: dict[int, list[int]] = {}
    for i, c in enumerate(cliques):
        for v in c:
            holders.setdefault(v, []).append(i)
    cand = _candidate_edges(cliques, holders, cards)
    if sum(len(hs) * (len(hs) - 1) // 2 for hs in holders.values()) > _LARGE_CLIQUE_GRAPH:
        return _rooted(cliques, _max_spanning_edges(n, cand), cards)
    g = nx.Graph()
    g.add_nodes_from(range(n))
    g.add_weighted_edges_from((a, b, w) for w, a, b in cand)
    tree = nx.maximum_spanning_tree(g, weight="weight", algorithm="kruskal")
    edges = [tuple(sorted(e)) for e in tree.edges()]
    firsts = sorted(min(c) for c in nx.connected_components(tree))  # smallest clique of each component
    edges.extend(zip(firsts, firsts[1:]))
    return _rooted(cliques, sorted(edges), cards)


#: Clique graphs with more candidate edges than this (hubs with thousands of children)
#: get their maximum spanning tree from :func:`_max_spanning_edges` instead of networkx.
_LARGE_CLIQUE_GRAPH = 200_000


def _candidate_edges(
    cliques: list[tuple[int, ...]], holders: Mapping[int, list[int]], cards: list[int]
) -> list[tuple[float, int, int]]:
    """``(weight, a, b)`` for every pair of cliques sharing a variable, in the order met.

    The weight is the number of shared variables, minus (by less than 1, so that Kruskal's
    edge order stays lexicographic) a share that prefers small separator tables.
    """
    n = len(cliques)
    sets = [frozenset(c) for c in cliques]
    seen: set[int] = set()
    cand = []
    for hs in holders.values():
        for a_pos, a in enumerate(hs):
            sa = sets[a]
            for b in hs[a_pos + 1 :]:
                key = a * n + b
                if key in seen:
                    continue
                seen.add(key)
                sep = sa & sets[b]
                size = _table_size(tuple(sep), cards)
                cand.append((len(sep) - 0.5 * size / (size + 1.0), a, b))
    return cand


def _max_spanning_edges(n: int, cand: list[tuple[float, int, int]]) -> list[tuple[int, int]]:
    """Kruskal's maximum spanning tree of the graph of ``n`` cliques and candidate edges ``cand``, for large graphs.

    Ties are broken by the order in which the pairs were met; disconnected parts are joined
    by empty separators.  Any maximum spanning tree of this graph is a junction tree.
    """
    cand = sorted(cand, key=lambda t: -t[0])
    root = list(range(n))

    def find(x: int) -> int:
        while root[x] != x:
            root[x] = root[root[x]]
            x = root[x]
        return x

    edges = []
    for _, a, b in cand:
        ra, rb = find(a), find(b)
        if ra != rb:
            root[max(ra, rb)] = min(ra, rb)
            edges.append((min(a, b), max(a, b)))
    firsts = sorted({find(i) for i in range(n)})  # smallest clique of each component
    edges.extend(zip(firsts, firsts[1:]))
    return sorted(edges)


def _rooted(cliques: list[tuple[int, ...]], edges: list[tuple[int, int]], cards: list[int]) -> JunctionTree:
    """Root a clique tree at its largest clique and derive parents and orders."""
    n = len(cliques)
    sizes = [_table_size(c, cards) for c in cliques]
    root = max(range(n), key=lambda i: (sizes[i], -i))
    nbrs: list[list[int]] = [[] for _ in range(n)]
    for a, b in edges:
        nbrs[a].append(b)
        nbrs[b].append(a)
    parent = [-1] * n
    children: list[list[int]] = [[] for _ in range(n)]
    preorder = [root]
    seen = {root}
    stack = [root]
    while stack:
        i = stack.pop()
        for j in sorted(nbrs[i]):
            if j not in seen:
                seen.add(j)
                parent[j] = i
                children[i].append(j)
                preorder.append(j)
                stack.append(j)
    postorder = preorder[::-1]
    return JunctionTree(cliques, edges, root, parent, children, postorder, cards)


def merge_cliques(jt: JunctionTree, max_table: int) -> JunctionTree:
    """Coarsen a junction tree by merging neighbouring cliques with small unions.

    Merging two adjacent cliques of a junction tree gives another junction tree
    (the other separators are unchanged).  Fewer, somewhat larger cliques mean
    fewer array operations, which is what costs time when a single scenario is
    evaluated; large batches prefer the finest tree.  Merges are made smallest
    union first while the union table has at most ``max_table`` entries.

    Parameters
    ----------
    jt : JunctionTree
        The tree to coarsen (not modified).
    max_table : int
        Largest table size a merge may create.

    Returns
    -------
    JunctionTree

    Examples
    --------
    >>> jt = build_junction_tree({0: [], 1: [0], 2: [1], 3: [2]}, [2, 2, 2, 2])
    >>> len(jt.cliques), merge_cliques(jt, 16).cliques
    (3, [(0, 1, 2, 3)])
    """
    cards = jt.cards
    n = len(jt.cliques)
    if n == 0:
        return jt
    sets = [frozenset(c) for c in jt.cliques]
    nbrs: list[set[int]] = [set() for _ in range(n)]
    for a, b in jt.edges:
        nbrs[a].add(b)
        nbrs[b].add(a)
    alive = [True] * n
    version = [0] * n
    heap: list[tuple[int, int, int, int, int]] = []

    def push(i: int, j: int) -> None:
        size = _table_size(tuple(sets[i] | sets[j]), cards)
        if size <= max_table:
            a, b = min(i, j), max(i, j)
            heapq.heappush(heap, (size, a, b, version[a], version[b]))

    for a, b in jt.edges:
        push(a, b)
    while heap:
        _, a, b, va, vb = heapq.heappop(heap)
        if not (alive[a] and alive[b]) or version[a] != va or version[b] != vb:
            continue
        # merge b into a
        sets[a] = sets[a] | sets[b]
        alive[b] = False
        for k in nbrs[b]:
            if k != a:
                nbrs[k].discard(b)
                nbrs[k].add(a)
                nbrs[a].add(k)
        nbrs[a].discard(b)
        nbrs[b] = set()
        version[a] += 1
        for k in nbrs[a]:
            push(a, k)
    keep = [i for i in range(n) if alive[i]]
    new = {old: k for k, old in enumerate(keep)}
    cliques = [tuple(sorted(sets[i])) for i in keep]
    edges = sorted({(min(new[i], new[j]), max(new[i], new[j])) for i in keep for j in nbrs[i]})
    return _rooted(cliques, edges, list(cards))
