"""Exact evaluation of the tables of many parameter sets (variable elimination over draws).

To be replaced by the junction-tree engine.
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bayesnet.building.parametric import DEFAULT_CHUNK_ELEMENTS, VectorTables
from bayesnet.errors import BayesNetError, EvidenceError, ImpossibleEvidenceError
from bayesnet.inference.evidence import Evidence

# --------------------------------------------------------------------------------------------
# evidence over scenarios


@dataclass
class EvidenceBatch:
    """Likelihood vectors of many scenarios.

    Attributes
    ----------
    n : int
        Number of scenarios.
    lik : dict
        Variable -> array ``(n, card)``: the likelihood of each state in each scenario (one-hot
        for hard evidence, a row of ones where the scenario does not observe the variable).
        Only variables observed in at least one scenario are listed.
    """

    n: int
    lik: dict[str, np.ndarray]

    @classmethod
    def from_evidence(cls, evidence: Sequence[Evidence], states: Mapping[str, tuple[str, ...]]) -> EvidenceBatch:
        """Stack validated :class:`~bayesnet.inference.evidence.Evidence` objects."""
        n = len(evidence)
        lik: dict[str, np.ndarray] = {}
        for i, ev in enumerate(evidence):
            for v, s in ev.hard.items():
                arr = lik.get(v)
                if arr is None:
                    arr = lik[v] = np.ones((n, len(states[v])))
                arr[i] = 0.0
                arr[i, states[v].index(s)] = 1.0
            for v, w in ev.soft.items():
                arr = lik.get(v)
                if arr is None:
                    arr = lik[v] = np.ones((n, len(states[v])))
                arr[i] = w
        return cls(n, lik)

    def rows(self, start: int, stop: int) -> EvidenceBatch:
        """Scenarios ``start:stop``, keeping only variables observed among them."""
        lik = {v: a[start:stop] for v, a in self.lik.items()}
        lik = {v: a for v, a in lik.items() if not np.all(a == 1.0)}
        return EvidenceBatch(stop - start, lik)

    def pattern(self) -> tuple[str, ...]:
        """The observed variables (sorted): scenarios with one pattern share an einsum path."""
        return tuple(sorted(self.lik))


def _as_batch(evidence: Any, states: Mapping[str, tuple[str, ...]]) -> EvidenceBatch:
    if isinstance(evidence, EvidenceBatch):
        return evidence
    if isinstance(evidence, Evidence):
        return EvidenceBatch.from_evidence([evidence], states)
    if isinstance(evidence, Sequence) and all(isinstance(e, Evidence) for e in evidence):
        return EvidenceBatch.from_evidence(list(evidence), states)
    raise EvidenceError(
        "evidence must be an Evidence, a list of Evidence or an EvidenceBatch (see model.check_evidence)"
    )


class _Layout:
    """Tables of a :class:`VectorTables` laid out for :func:`_contract` (built once per tables).

    Every array has its variable axes first, in a fixed global order, then the draw axis:
    ``(card(v1), card(v2), ..., n)``, so that products broadcast and sums reduce over leading
    axes while the inner loops run over draws (and scenarios), the long axes.
    """

    def __init__(self, vt: VectorTables):
        rfs = [v for v, k in vt.kinds.items() if k == "risk_factor"]
        self.conditions = vt.calibrated_conditions
        self.inner = rfs + self.conditions
        self.rfs = set(rfs)
        self.order = {v: i for i, v in enumerate(self.inner)}
        self.cards = {v: len(s) for v, s in vt.states.items()}
        # (sorted variables, array (cards..., n)) for risk factors and calibrated conditions
        self.tables: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for v in self.inner:
            self.tables[v] = self._sorted([v, *vt.parents[v]], vt.cpts[v])
        # P(first state | parents) of findings and tests, and whole tables of deterministic nodes
        self.positive: dict[str, tuple[tuple[str, ...], np.ndarray]] = {}
        for v, k in vt.kinds.items():
            if k in ("finding", "test") and len(vt.states[v]) == 2:
                self.positive[v] = self._sorted(list(vt.parents[v]), vt.cpts[v][:, 0])
            elif v not in self.order:
                self.positive[v] = self._sorted([v, *vt.parents[v]], vt.cpts[v])
        self.cache = _Cache()  # draw-only products, reused across scenario chunks

    def _sorted(self, variables: list[str], arr: np.ndarray) -> tuple[tuple[str, ...], np.ndarray]:
        """Move the draw axis last and the variable axes into the global order."""
        key = sorted(range(len(variables)), key=lambda i: self.order.get(variables[i], 10**6 + i))
        arr = np.moveaxis(np.asarray(arr), 0, -1)
        arr = np.ascontiguousarray(np.transpose(arr, [*key, len(variables)]))
        return tuple(variables[i] for i in key), arr


def _layout(vt: VectorTables) -> _Layout:
    lay = getattr(vt, "_layout_cache", None)
    if lay is None:
        lay = _Layout(vt)
        vt._layout_cache = lay  # type: ignore[attr-defined]
    return lay


class _Factor:
    """A table over some variables (global order) with trailing (draw, scenario) axes of size 1 or more.

    ``key`` names how a draw-only factor was computed from the tables (None once a scenario
    axis is involved), so that the same product is reused across chunks of scenarios.
    """

    __slots__ = ("arr", "key", "vars")

    def __init__(self, variables: tuple[str, ...], arr: np.ndarray, key: tuple | None = None):
        self.vars = variables
        self.arr = arr
        self.key = key

    @property
    def size(self) -> int:
        return int(np.prod(self.arr.shape))


class _Cache(dict):
    """Draw-only factors keyed by how they were computed; emptied when it outgrows ``limit`` bytes."""

    def __init__(self, limit: int = 64 * 2**20):
        super().__init__()
        self.limit = limit
        self.nbytes = 0

    def put(self, key: tuple, value: _Factor) -> None:
        size = value.arr.nbytes
        if self.nbytes + size > self.limit:
            self.clear()
            self.nbytes = 0
        self[key] = value
        self.nbytes += size


def _cached(cache: _Cache | None, key: tuple | None, compute) -> _Factor:
    if cache is None or key is None:
        out = compute()
        out.key = key
        return out
    out = cache.get(key)
    if out is None:
        out = compute()
        out.key = key
        cache.put(key, out)
    return out


def _multiply(f: _Factor, g: _Factor, order: Mapping[str, int], cache: _Cache | None = None) -> _Factor:
    union = tuple(sorted(set(f.vars) | set(g.vars), key=order.__getitem__))

    def spread(h: _Factor) -> np.ndarray:
        shape = [h.arr.shape[h.vars.index(v)] if v in h.vars else 1 for v in union]
        return h.arr.reshape(shape + list(h.arr.shape[-2:]))

    key = ("*", f.key, g.key) if f.key is not None and g.key is not None else None
    return _cached(cache, key, lambda: _Factor(union, spread(f) * spread(g)))


def _sum_out(f: _Factor, v: str, cache: _Cache | None = None) -> _Factor:
    i = f.vars.index(v)
    key = ("+", f.key, v) if f.key is not None else None
    return _cached(cache, key, lambda: _Factor(f.vars[:i] + f.vars[i + 1 :], np.add.reduce(f.arr, axis=i)))


def _scope_size(factors: Sequence[_Factor], cards: Mapping[str, int]) -> int:
    """Numbers in the product of ``factors`` (variables times draw and scenario axes)."""
    union: set[str] = set()
    d = s = 1
    for f in factors:
        union.update(f.vars)
        d = max(d, f.arr.shape[-2])
        s = max(s, f.arr.shape[-1])
    return math.prod(cards[v] for v in union) * d * s


def _product(
    factors: list[_Factor], order: Mapping[str, int], cards: Mapping[str, int], cache: _Cache | None = None
) -> _Factor:
    """Multiply factors: each into the smallest factor whose variables include its own, then the rest
    pairing first those whose product is smallest (greedy, on bit masks)."""
    if len(factors) == 1:
        return factors[0]
    variables = {v for f in factors for v in f.vars}
    bit = {v: 1 << order[v] for v in variables}
    binary = all(cards[v] == 2 for v in variables)
    logc = {v: math.log(cards[v]) for v in variables}

    def log_size(mask: int) -> float:
        if binary:
            return mask.bit_count() * 0.6931471805599453
        return sum(lc for v, lc in logc.items() if mask & bit[v])

    items = []
    for f in factors:
        mask = 0
        for v in f.vars:
            mask |= bit[v]
        items.append([f, mask, f.arr.shape[-2] * f.arr.shape[-1], f.arr.shape[-2], f.arr.shape[-1]])
    # absorb: smallest first, each into the covering factor (variables include its own) whose
    # product is smallest
    items.sort(key=lambda it: (it[1].bit_count(), it[2]))
    i = 0
    while i < len(items) and len(items) > 1:
        fi, mi, _, di, si = items[i]
        host = None
        for j in range(len(items)):
            if j == i or mi & ~items[j][1]:
                continue
            _, mj, _, dj, sj = items[j]
            cost = log_size(mj) + math.log(max(di, dj) * max(si, sj))
            if host is None or cost < host[0]:
                host = (cost, j)
        if host is None:
            i += 1
            continue
        j = host[1]
        fj, mj, _, dj, sj = items[j]
        d, s_ = max(di, dj), max(si, sj)
        items[j] = [_multiply(fj, fi, order, cache), mj, d * s_, d, s_]
        items.pop(i)
    while len(items) > 1:
        best = None
        for i in range(len(items)):
            _, mi, _, di, si = items[i]
            for j in range(i + 1, len(items)):
                _, mj, _, dj, sj = items[j]
                cost = log_size(mi | mj) + math.log(max(di, dj) * max(si, sj))
                if best is None or cost < best[0]:
                    best = (cost, i, j)
        _, i, j = best
        fj, mj, _, dj, sj = items.pop(j)
        fi, mi, _, di, si = items.pop(i)
        d, s_ = max(di, dj), max(si, sj)
        items.append([_multiply(fi, fj, order, cache), mi | mj, d * s_, d, s_])
    return items[0][0]


def _sum_block(
    table: _Factor, group: list[str], liks: Mapping[str, np.ndarray], cache: _Cache | None = None
) -> _Factor:
    """Sum the risk factors ``group`` out of a draw-only table, weighting by scenario likelihoods.

    ``table`` has shape ``(vars..., d, 1)``; ``liks`` maps the observed members of ``group`` to
    ``(s, card)`` arrays. The observed members are contracted in one matrix product (BLAS)
    with the outer product of their likelihoods; the result has shape ``(rest..., d, s)``.
    """
    for v in [g for g in group if g not in liks]:
        table = _sum_out(table, v, cache)
    observed = [g for g in group if g in liks]
    if not observed:
        return table
    pos = [table.vars.index(v) for v in observed]
    rest = tuple(v for v in table.vars if v not in observed)
    arr = table.arr[..., 0]
    arr = np.moveaxis(arr, pos, list(range(len(pos))))
    g_size = math.prod(arr.shape[: len(pos)])
    rest_shape = arr.shape[len(pos) :]
    t2 = arr.reshape(g_size, -1)
    lam = liks[observed[0]]
    for v in observed[1:]:
        lam = (lam[:, :, None] * liks[v][:, None, :]).reshape(lam.shape[0], -1)
    out = (t2.T @ lam.T).reshape(*rest_shape, lam.shape[0])
    return _Factor(rest, out)


def _slice(variables: tuple[str, ...], arr: np.ndarray, fixed: Mapping[str, int]) -> tuple[tuple[str, ...], np.ndarray]:
    """Take the observed state of every fixed variable (a view without those axes)."""
    if not any(v in fixed for v in variables):
        return variables, arr
    index = tuple(fixed.get(v, slice(None)) for v in variables)
    return tuple(v for v in variables if v not in fixed), arr[index]


def _contract(vt: VectorTables, batch: EvidenceBatch, d0: int, d1: int) -> _Factor:
    """Unnormalised joint of the calibrated conditions and the evidence, for draws ``d0:d1``.

    Variable elimination over broadcast arrays: risk factors and calibrated conditions keep their
    tables (draw axis); observed variables add their likelihoods (scenario axis); each observed
    finding or test enters as ``sum_f P(f | parents) lik(f)`` over (parents, draws, scenarios);
    the deterministic ``mechanical_pain`` enters only when observed. Unobserved findings and
    tests are barren and left out. Risk factors are summed out cheapest first (greedy on the
    size of the product, counting the draw and scenario axes); a risk factor whose tables carry
    no scenario axis yet is summed out together with every other risk factor confined to the
    same tables, in one matrix product with the outer product of their likelihoods. The
    remaining factors, all over conditions, are then multiplied into the joint. For a single
    scenario, a risk factor or condition observed in one state is sliced out of every table
    instead (no product, no sum).

    Returns
    -------
    _Factor
        Over ``vt.calibrated_conditions`` (global order), array ``(2, ..., 2, d, s)`` where ``s``
        is 1 when no scenario observes anything.
    """
    lay = _layout(vt)
    order, cards = lay.order, lay.cards
    cache = lay.cache
    # one scenario with a single possible state of a risk factor or condition (hard evidence):
    # slice that state out of every table instead of multiplying and summing
    fixed: dict[str, int] = {}
    weight = 1.0
    if batch.n == 1:
        for v, lik in batch.lik.items():
            if v in order:
                nz = np.flatnonzero(lik[0])
                if nz.size == 1:
                    fixed[v] = int(nz[0])
                    weight *= float(lik[0, nz[0]])
    factors: list[_Factor] = []
    rf_lik: dict[str, np.ndarray] = {}
    for v in lay.inner:
        variables, arr = lay.tables[v]
        arr = arr[..., d0:d1, None]
        sliced = tuple((u, fixed[u]) for u in variables if u in fixed)
        if sliced:
            variables, arr = _slice(variables, arr, fixed)
        lik = batch.lik.get(v)
        if lik is not None and v not in fixed:
            if v in lay.rfs:
                rf_lik[v] = lik
            else:
                factors.append(_Factor((v,), lik.T[:, None, :]))
        factors.append(_Factor(variables, arr, ("table", v, d0, d1, sliced)))
    for v, lik in batch.lik.items():
        if v in order:
            continue
        variables, arr = lay.positive[v]
        if v in vt.deterministic:  # sum_m lik(m) P(m | parents): no draw axis
            table = np.moveaxis(arr[..., 0], variables.index(v), -1)  # (parents..., card)
            fac = (table @ lik.T)[..., None, :]
            parents, fac = _slice(tuple(x for x in variables if x != v), fac, fixed)
            factors.append(_Factor(parents, fac))
            continue
        a, b = lik[:, 0], lik[:, 1]
        variables, pos = _slice(variables, arr[..., d0:d1, None], fixed)
        if batch.n == 1 and a[0] in (0.0, 1.0) and b[0] in (0.0, 1.0) and a[0] != b[0]:
            factors.append(_Factor(variables, pos if a[0] == 1.0 else 1.0 - pos))
        else:
            factors.append(_Factor(variables, b + pos * (a - b)))

    def lik_factor(v: str) -> _Factor:
        return _Factor((v,), rf_lik[v].T[:, None, :])

    remaining = [v for v in lay.inner if v in lay.rfs and v not in fixed]
    while remaining:
        best = None
        for v in remaining:
            touching = [f for f in factors if v in f.vars]
            if v in rf_lik:
                touching.append(lik_factor(v))
            cost = _scope_size(touching, cards)
            if best is None or cost < best[0]:
                best = (cost, v)
        v = best[1]
        touching = [f for f in factors if v in f.vars]
        if all(f.arr.shape[-1] == 1 for f in touching):
            # every table of v is draw-only: take the other risk factors confined to the same tables
            ids = {id(f) for f in touching}
            group = [u for u in remaining if all(id(f) in ids for f in factors if u in f.vars)]
            factors = [f for f in factors if id(f) not in ids]
            touching.sort(key=lambda f: f.size)
            factors.append(_sum_block(_product(touching, order, cards, cache), group, rf_lik, cache))
            for u in group:
                remaining.remove(u)
            continue
        remaining.remove(v)
        factors = [f for f in factors if v not in f.vars]
        if v in rf_lik:
            touching.append(lik_factor(v))
        touching.sort(key=lambda f: (f.arr.shape[-1] > 1, f.size))
        factors.append(_sum_out(_product(touching, order, cards, cache), v, cache))
    joint = _product(factors, order, cards, cache)
    if weight != 1.0:
        joint = _Factor(joint.vars, joint.arr * weight)
    if len(joint.vars) < len(lay.conditions):  # conditions observed (sliced out): put them back
        if any(c not in fixed for c in lay.conditions if c not in joint.vars):  # pragma: no cover
            raise BayesNetError("internal error: a condition vanished from the contraction")
        full = np.zeros((2,) * len(lay.conditions) + joint.arr.shape[-2:])
        full[tuple(fixed.get(c, slice(None)) for c in lay.conditions)] = joint.arr
        joint = _Factor(tuple(lay.conditions), full)
    if joint.arr.shape[-2] != d1 - d0:
        joint = _Factor(joint.vars, np.broadcast_to(joint.arr, (*joint.arr.shape[:-2], d1 - d0, joint.arr.shape[-1])))
    return joint


def _chunks(n_draws: int, n_scen: int, budget: int, per_pair: int) -> tuple[int, int]:
    """Draws and scenarios per chunk so that one chunk holds about ``budget`` numbers."""
    pairs = max(1, budget // max(per_pair, 1))
    if n_scen * n_draws <= pairs:
        return n_draws, n_scen
    if n_draws <= pairs:
        return n_draws, max(1, pairs // n_draws)
    return pairs, 1


def _reader(vt: VectorTables, conditions: Sequence[str]) -> np.ndarray:
    """Matrix ``(2**k, len(conditions) + 1)``: P(condition = yes | joint state), then a column of ones.

    Rows are the joint states of ``vt.calibrated_conditions`` in C order (state 0 = yes), so
    ``joint.reshape(2**k, -1).T @ reader`` gives every marginal and the normaliser at once.
    """
    calibrated = vt.calibrated_conditions
    k = len(calibrated)
    cols = []
    for c in conditions:
        if c in calibrated:
            shape = [1] * k
            shape[calibrated.index(c)] = 2
            col = np.broadcast_to(np.array([1.0, 0.0]).reshape(shape), (2,) * k)
        elif c in vt.deterministic:
            pa = vt.parents[c]
            table = np.asarray(vt.cpts[c][0][0], dtype=float)  # P(c = yes | parents), parents' order
            perm = sorted(range(len(pa)), key=lambda i: calibrated.index(pa[i]))
            table = np.transpose(table, perm)
            shape = [2 if x in pa else 1 for x in calibrated]
            col = np.broadcast_to(table.reshape(shape), (2,) * k)
        else:
            raise BayesNetError(f"{c!r} is not a condition of the network")
        cols.append(np.asarray(col, dtype=float).reshape(-1))
    cols.append(np.ones(2**k))
    return np.stack(cols, axis=1)


def condition_joint(vt: VectorTables, evidence: Any, *, normalise: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Joint posterior of the calibrated conditions for every draw and scenario.

    Parameters
    ----------
    vt : VectorTables
    evidence : Evidence, list of Evidence or EvidenceBatch
    normalise : bool, default True
        Divide by the probability of the evidence.

    Returns
    -------
    joint : ndarray
        Shape ``(n_draws, n_scenarios, 2, ..., 2)``, one axis per condition of
        ``vt.calibrated_conditions`` (state 0 = yes). Pairs whose evidence has probability zero
        are left at zero.
    evidence_probability : ndarray
        Shape ``(n_draws, n_scenarios)``.

    Notes
    -----
    The whole array is held in memory (``n_draws * n_scenarios * 2**k`` numbers); for many
    draws and scenarios use :func:`condition_posteriors`, which reduces chunk by chunk.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> vt = VectorTables.from_tables(model.tables)
    >>> joint, z = condition_joint(vt, model.check_evidence({"fever": "yes"}))
    >>> joint.shape, round(float(joint.sum()), 12)
    ((1, 1, 2, 2, 2, 2, 2, 2, 2, 2), 1.0)
    """
    batch = _as_batch(evidence, vt.states)
    fac = _contract(vt, batch, 0, vt.n)
    k = len(fac.vars)
    arr = np.broadcast_to(fac.arr, (*fac.arr.shape[:-1], batch.n))
    res = np.ascontiguousarray(np.transpose(arr, [k, k + 1, *range(k)]), dtype=float)
    z = res.reshape(res.shape[0], res.shape[1], -1).sum(axis=2)
    if normalise:
        zz = np.where(z > 0, z, 1.0).reshape(z.shape + (1,) * k)
        res = res / zz
    return res, z


def _order_by_pattern(batch: EvidenceBatch) -> np.ndarray:
    """Scenario order that puts scenarios observing the same variables next to each other."""
    if not batch.lik or batch.n <= 1:
        return np.arange(batch.n)
    observed = np.stack([~np.all(a == 1.0, axis=1) for a in batch.lik.values()], axis=1)
    keys = observed[:, ::-1].T  # lexsort uses the last key first
    return np.lexsort(keys)


def iter_condition_posteriors(
    vt: VectorTables,
    evidence: Any,
    conditions: Sequence[str],
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> Iterator[tuple[np.ndarray, int, int, np.ndarray, np.ndarray]]:
    """Yield ``(scenarios, d0, d1, posteriors, evidence_probability)`` chunk by chunk.

    ``scenarios`` are the positions of the chunk's scenarios in ``evidence`` (grouped by the
    variables they observe, so a chunk carries few unobserved likelihoods); ``posteriors`` has
    shape ``(d1 - d0, len(scenarios), len(conditions))`` (NaN where the evidence of a pair has
    probability zero) and ``evidence_probability`` shape ``(d1 - d0, len(scenarios))``.
    """
    batch = _as_batch(evidence, vt.states)
    k = len(vt.calibrated_conditions)
    reader = _reader(vt, conditions)
    per_pair = 6 * (2**k)
    dc, sc = _chunks(vt.n, batch.n, chunk_elements, per_pair)
    perm = _order_by_pattern(batch)
    for s0 in range(0, batch.n, sc):
        idx = perm[s0 : s0 + sc]
        lik = {v: a[idx] for v, a in batch.lik.items()}
        part = EvidenceBatch(len(idx), {v: a for v, a in lik.items() if not np.all(a == 1.0)})
        for d0 in range(0, vt.n, dc):
            d1 = min(vt.n, d0 + dc)
            fac = _contract(vt, part, d0, d1)
            arr = fac.arr
            flat = arr.reshape(2**k, -1)  # (joint states, draws * scenarios)
            sums = (flat.T @ reader).reshape(arr.shape[-2], arr.shape[-1], -1)
            if sums.shape[1] != part.n:
                sums = np.broadcast_to(sums, (sums.shape[0], part.n, sums.shape[2]))
            z = sums[:, :, -1]
            ok = z > 0
            with np.errstate(divide="ignore", invalid="ignore"):
                post = sums[:, :, :-1] / np.where(ok, z, 1.0)[:, :, None]
            post = np.where(ok[:, :, None], post, np.nan)
            yield idx, d0, d1, post, z


def condition_posteriors(
    vt: VectorTables,
    evidence: Any,
    conditions: Sequence[str] | None = None,
    *,
    chunk_elements: int = DEFAULT_CHUNK_ELEMENTS,
) -> np.ndarray:
    """P(condition = yes) for every draw, scenario and condition.

    Parameters
    ----------
    vt : VectorTables
    evidence : Evidence, list of Evidence or EvidenceBatch
    conditions : list of str, optional
        Default: every condition node (calibrated ones and ``mechanical_pain``) in table order.
    chunk_elements : int
        Memory budget of one chunk, in float64 numbers.

    Returns
    -------
    ndarray
        Shape ``(n_draws, n_scenarios, n_conditions)``; NaN where the evidence has probability
        zero under that draw (callers decide whether that is an error).
    """
    if conditions is None:
        conditions = [v for v, k in vt.kinds.items() if k == "condition"]
    batch = _as_batch(evidence, vt.states)
    out = np.empty((vt.n, batch.n, len(conditions)))
    for idx, d0, d1, post, _ in iter_condition_posteriors(vt, batch, conditions, chunk_elements=chunk_elements):
        out[d0:d1, idx] = post
    return out


def impossible_error(labels: Sequence[Any] | None = None) -> ImpossibleEvidenceError:
    """The error raised when evidence has probability zero under the point estimates."""
    if not labels:
        return ImpossibleEvidenceError(
            "the evidence has probability zero under the model, so no posterior exists; check for "
            "contradictory entries (e.g. mechanical_pain=yes together with a serious condition)"
        )
    shown = ", ".join(repr(x) for x in list(labels)[:5])
    more = f" and {len(labels) - 5} more" if len(labels) > 5 else ""
    return ImpossibleEvidenceError(
        f"the evidence of scenario(s) {shown}{more} has probability zero under the model, so no posterior exists",
        rows=list(labels),
    )
