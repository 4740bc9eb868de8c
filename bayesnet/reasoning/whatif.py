"""What-if helpers: scenario grids, one-variable sweeps and synthetic cohorts.

Three questions researchers otherwise answer with hand-written loops:

* :func:`scenario_grid` -- every combination of the states of a few variables, as a table of
  scenarios that :meth:`~bayesnet.BackPainModel.posteriors` and ``bayesnet batch`` accept;
* :func:`what_if` / :func:`sweep` -- run such a grid through the model, in one or several
  settings, and return a tidy (long) table ready for seaborn: one row per scenario, setting and
  condition, with the prior, the posterior and the likelihood ratio (posterior odds / prior odds,
  as in ``Diagnosis.ranking``);
* :func:`sample_cohort` -- a synthetic population drawn from the network by vectorised ancestral
  sampling (every variable, conditions included), for population-level questions: how many
  patients with a positive D-dimer have a pulmonary embolism, how posteriors are distributed
  across a clinic, how often a rule would fire.

Grid columns are pandas categoricals whose categories are the states, in the model's order (or in
the order you listed them), so plots keep a sensible order and ten million rows stay small.
A ``None`` in a list of states means "not observed" (NaN in the grid), which lets you compare
"test positive / negative / not done" in one table.

Examples
--------
>>> import bayesnet
>>> from bayesnet.reasoning.whatif import sample_cohort, sweep, what_if
>>> model = bayesnet.load_model()
>>> res = what_if(model, {"age_group": ["under_50", "70_plus"], "fever": ["yes", "no"]},
...               evidence={"iv_drug_use": "yes"}, conditions=["epidural_abscess"])
>>> res.columns.tolist()
['setting', 'age_group', 'fever', 'condition', 'prior', 'posterior', 'likelihood_ratio']
>>> len(res)
4

A population-level question: what share of patients with a positive D-dimer have a pulmonary
embolism? The cohort's frequency estimates what the exact posterior gives directly:

>>> cohort = sample_cohort(model, 20_000, seed=1, evidence={"recent_surgery_or_immobilisation": "yes"})
>>> positive = cohort[cohort["d_dimer"] == "positive"]
>>> share = (positive["pulmonary_embolism"] == "yes").mean()   # Monte Carlo estimate
>>> ev = {"recent_surgery_or_immobilisation": "yes", "d_dimer": "positive"}
>>> exact = model.diagnose(ev).ranking.loc["pulmonary_embolism", "posterior"]
>>> se = (exact * (1 - exact) / len(positive)) ** 0.5   # Monte Carlo standard error
>>> bool(abs(share - exact) < 4 * se)
True
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Iterable, Mapping, Sequence
from graphlib import TopologicalSorter
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from bayesnet.errors import EvidenceError, ImpossibleEvidenceError, UnknownNameError
from bayesnet.inference.evidence import Evidence, normalise_evidence
from bayesnet.reasoning.results import Sweep, WhatIf, as_result

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.model import BackPainModel

__all__ = ["MAX_COHORT_CELLS", "MAX_ROWS", "sample_cohort", "scenario_grid", "sweep", "what_if"]

#: Largest table (rows) that :func:`scenario_grid`, :func:`what_if` and :func:`sweep` will build.
#: Beyond it, stream scenarios through ``bayesnet batch`` (which works chunk by chunk) instead.
MAX_ROWS = 10_000_000

#: Largest cohort :func:`sample_cohort` will hold in memory, in rows x columns (one byte each).
MAX_COHORT_CELLS = 2_000_000_000

#: Rows drawn per random block in :func:`sample_cohort`; each block and variable has its own
#: random stream, so a cohort does not depend on memory settings and a smaller ``n`` gives a prefix.
_BLOCK_ROWS = 1 << 16


# ---------------------------------------------------------------------------------- validation
def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def _hard_evidence(model: BackPainModel, evidence: Mapping | None, what: str) -> dict[str, str]:
    ev: Evidence = normalise_evidence(evidence, model.tables.states)
    if ev.soft:
        raise EvidenceError(
            f"{what} takes hard evidence only (a state per variable); {', '.join(ev.soft)} "
            "was given as likelihoods: use model.diagnose for soft evidence"
        )
    return dict(ev.hard)


def _variable(model: BackPainModel, name: Any) -> str:
    states = model.tables.states
    if not isinstance(name, str) or name not in states:
        raise UnknownNameError("variable", name, states)
    return name


def _levels(model: BackPainModel, variables: Any) -> dict[str, list[str | None]]:
    """Validate the grid variables: name -> list of states (None = not observed)."""
    states = model.tables.states
    if isinstance(variables, str):
        variables = [variables]
    if isinstance(variables, Mapping):
        items = list(variables.items())
    elif isinstance(variables, Iterable):
        items = [(v, None) for v in variables]
    else:
        raise EvidenceError(
            "variables must be a list of variable names or a mapping name -> list of states; "
            f"got {type(variables).__name__}"
        )
    levels: dict[str, list[str | None]] = {}
    for var, chosen in items:
        var = _variable(model, var)
        if var in levels:
            raise EvidenceError(f"variable {var!r} is listed twice in the grid")
        valid = states[var]
        if chosen is None:
            levels[var] = list(valid)
            continue
        if isinstance(chosen, str):
            chosen = [chosen]
        if not isinstance(chosen, Iterable) or isinstance(chosen, Mapping):
            raise EvidenceError(f"the states of {var!r} must be given as a list (e.g. {list(valid)}); got {chosen!r}")
        chosen = list(chosen)
        if not chosen:
            raise EvidenceError(f"empty list of states for {var!r}; give at least one of: {', '.join(valid)}")
        picked: list[str | None] = []
        for s in chosen:
            if _is_missing(s):
                s = None
            elif not isinstance(s, str | np.str_):
                raise EvidenceError(f"states of {var!r} must be state names ({', '.join(valid)}); got {s!r}")
            elif s not in valid:
                raise UnknownNameError("state", s, valid, context=f"of variable {var!r}")
            else:
                s = str(s)
            if s in picked:
                raise EvidenceError(f"state {s!r} of {var!r} is listed twice")
            picked.append(s)
        levels[var] = picked
    return levels


def _names(values: Any, valid: Sequence[str], kind: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, Iterable):
        raise EvidenceError(f"{kind}s must be a name or a list of names; got {values!r}")
    out: list[str] = []
    for v in values:
        if not isinstance(v, str) or v not in valid:
            raise UnknownNameError(kind, v, valid)
        if v not in out:
            out.append(v)
    if not out:
        raise EvidenceError(f"empty list of {kind}s; give at least one of: {', '.join(valid)}")
    return out


def _check_size(rows: int, what: str, hint: str) -> None:
    if rows > MAX_ROWS:
        raise EvidenceError(
            f"{what} would have {rows:,} rows, more than the limit of {MAX_ROWS:,} (bayesnet.reasoning.whatif.MAX_ROWS); {hint}"
        )


_GRID_HINT = (
    "use fewer variables or states, fix some of them with evidence=..., or write the scenarios "
    "in pieces and stream them through `bayesnet batch`"
)


# ---------------------------------------------------------------------------------- grids
def _grid(levels: dict[str, list[str | None]], evidence: Mapping[str, str]) -> pd.DataFrame:
    n = math.prod(len(v) for v in levels.values())
    cols: dict[str, pd.Categorical] = {}
    inner = n
    for var, lv in levels.items():
        k = len(lv)
        inner //= k
        outer = n // (inner * k)
        cats = [s for s in lv if s is not None]
        code_of = np.array([cats.index(s) if s is not None else -1 for s in lv], dtype=np.int8 if k < 128 else np.int32)
        codes = np.tile(np.repeat(code_of, inner), outer)
        cols[var] = pd.Categorical.from_codes(codes, categories=cats)
    for var, state in evidence.items():
        cols[var] = pd.Categorical.from_codes(np.zeros(n, dtype=np.int8), categories=[state])
    return pd.DataFrame(cols, index=pd.RangeIndex(n))


def scenario_grid(
    model: BackPainModel,
    variables: Sequence[str] | Mapping[str, Sequence[str | None]],
    *,
    evidence: Mapping | None = None,
) -> pd.DataFrame:
    """Every combination of the states of some variables: one row per scenario.

    Parameters
    ----------
    model : BackPainModel
    variables : list of str, or mapping
        Variable names (every state of each), or ``{name: [states]}`` to choose states and their
        order. ``None`` in a list of states means "not observed" (NaN in the grid).
    evidence : mapping, optional
        ``{variable: state}`` fixed in every row (added as constant columns).

    Returns
    -------
    DataFrame
        One categorical column per grid variable, then one per evidence variable; rows in
        :func:`itertools.product` order (the first variable varies slowest). Pass it to
        :meth:`~bayesnet.BackPainModel.posteriors`, or write it with ``to_csv(index=False)`` for
        ``bayesnet batch``.

    Raises
    ------
    UnknownNameError
        Unknown variable or state (with the closest valid name).
    EvidenceError
        Empty or repeated states, a variable both in the grid and in ``evidence``, soft
        evidence, or a grid larger than :data:`MAX_ROWS`.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> grid = scenario_grid(model, ["age_group", "sex"], evidence={"fever": "yes"})
    >>> grid.shape
    (6, 3)
    >>> grid.iloc[0].tolist()
    ['under_50', 'female', 'yes']
    >>> model.posteriors(grid).shape
    (6, 15)
    """
    levels, ev = _grid_inputs(model, variables, evidence, "scenario_grid")
    _check_size(math.prod(len(v) for v in levels.values()), "the scenario grid", _GRID_HINT)
    return _grid(levels, ev)


def _grid_inputs(model: BackPainModel, variables: Any, evidence: Mapping | None, what: str) -> tuple[dict, dict]:
    """The grid's levels and fixed hard evidence, checked to share no variable."""
    levels = _levels(model, variables)
    ev = _hard_evidence(model, evidence, what)
    both = [v for v in levels if v in ev]
    if both:
        raise EvidenceError(
            f"{', '.join(map(repr, both))} is both a grid variable and in evidence; "
            "vary it in the grid or fix it in evidence, not both"
        )
    return levels, ev


def _odds_ratio(post: np.ndarray, prior: np.ndarray) -> np.ndarray:
    """Posterior odds / prior odds, as :class:`~bayesnet.reasoning.diagnosis.Diagnosis` computes it."""
    with np.errstate(divide="ignore", invalid="ignore"):
        lr = (post / (1.0 - post)) / (prior / (1.0 - prior))
    lr = np.where(post >= 1.0, np.inf, lr)
    return np.where(post <= 0.0, 0.0, lr)


def _describe(grid: pd.DataFrame, row: int) -> str:
    return ", ".join(f"{c}={v}" for c, v in grid.iloc[row].items() if not _is_missing(v)) or "no evidence"


def _posteriors(m: BackPainModel, grid: pd.DataFrame, conditions: list[str]) -> np.ndarray:
    try:
        post = m.posteriors(grid)
    except ImpossibleEvidenceError as exc:
        rows = list(exc.rows)
        first = _describe(grid, int(rows[0])) if rows else "?"
        raise ImpossibleEvidenceError(
            f"{len(rows)} of {len(grid)} scenarios have probability zero in setting {m.setting!r} "
            f"(e.g. scenario {rows[0] if rows else '?'}: {first}); remove the contradictory combinations",
            rows=rows,
        ) from None
    return post[conditions].to_numpy(dtype=float)


def what_if(
    model: BackPainModel,
    variables: Sequence[str] | Mapping[str, Sequence[str | None]],
    *,
    evidence: Mapping | None = None,
    settings: str | Sequence[str] | None = None,
    conditions: str | Sequence[str] | None = None,
    tidy: bool = True,
) -> pd.DataFrame:
    """Posterior of each condition for every scenario of a grid, in one or several settings.

    Parameters
    ----------
    model : BackPainModel
    variables : list of str, or mapping
        The grid, as in :func:`scenario_grid`.
    evidence : mapping, optional
        ``{variable: state}`` fixed in every scenario.
    settings : str or list of str, optional
        Settings to cross the grid with (default: the model's own). Models for other settings are
        built from the same priors (``model.with_setting(setting)``).
    conditions : str or list of str, optional
        Conditions to report (default: all, in ``model.conditions`` order).
    tidy : bool, default True
        Long format (one row per setting, scenario and condition) for seaborn; ``False`` gives
        one row per setting and scenario with one posterior column per condition.

    Returns
    -------
    DataFrame
        Tidy: ``setting``, one column per grid variable, ``condition``, ``prior`` (P(condition)
        with no evidence, in that setting), ``posterior`` and ``likelihood_ratio`` (posterior
        odds / prior odds). Wide: ``setting``, the grid variables, then one column per
        condition. Rows run by setting, then scenario (grid order), then condition. Fixed
        evidence is not repeated as columns; it is kept in ``result.attrs["evidence"]``.

    Raises
    ------
    UnknownNameError, EvidenceError
        As in :func:`scenario_grid`, plus an unknown setting or condition, or an output larger
        than :data:`MAX_ROWS`.
    ImpossibleEvidenceError
        Some scenarios have probability zero (named in the message; ``.rows`` lists them).

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> res = what_if(model, ["history_of_cancer", "age_group"], settings=["primary_care", "emergency"],
    ...               conditions="spinal_metastasis")
    >>> res.shape
    (12, 7)
    >>> import seaborn as sns  # doctest: +SKIP
    >>> sns.catplot(res, x="age_group", y="posterior", hue="history_of_cancer", col="setting", kind="point")  # doctest: +SKIP
    >>> wide = what_if(model, ["age_group"], tidy=False)
    >>> wide.columns[:3].tolist()
    ['setting', 'age_group', 'mechanical_pain']
    """
    levels, ev = _grid_inputs(model, variables, evidence, "what_if")
    conds = list(model.conditions) if conditions is None else _names(conditions, model.conditions, "condition")
    setting_names = [model.setting] if settings is None else _names(settings, list(model.priors.settings), "setting")
    n = math.prod(len(v) for v in levels.values())
    n_set = len(setting_names)
    k = len(conds) if tidy else 1
    rows = n * n_set * k
    _check_size(rows, "the result", _GRID_HINT + " (or ask for fewer conditions)")
    grid = _grid(levels, ev)
    blocks_post, blocks_prior = [], []
    for m in (model.with_setting(s) for s in setting_names):
        blocks_post.append(_posteriors(m, grid, conds))
        prior = m.prior_probabilities()
        blocks_prior.append(np.array([prior[c] for c in conds]))
    out: dict[str, Any] = {
        "setting": pd.Categorical.from_codes(np.repeat(np.arange(n_set, dtype=np.int8), n * k), setting_names)
    }
    for var in levels:
        col = grid[var].array
        out[var] = pd.Categorical.from_codes(np.tile(np.repeat(col.codes, k), n_set), categories=col.categories)
    if tidy:
        out["condition"] = pd.Categorical.from_codes(np.tile(np.arange(len(conds), dtype=np.int16), n * n_set), conds)
        post = np.concatenate([p.reshape(-1) for p in blocks_post]) if rows else np.zeros(0)
        prior = np.concatenate([np.tile(p, n) for p in blocks_prior]) if rows else np.zeros(0)
        out.update(prior=prior, posterior=post, likelihood_ratio=_odds_ratio(post, prior))
    else:
        stacked = np.concatenate(blocks_post, axis=0) if blocks_post else np.zeros((0, len(conds)))
        for j, c in enumerate(conds):
            out[c] = stacked[:, j]
    df = pd.DataFrame(out, index=pd.RangeIndex(rows))
    df.attrs["evidence"] = dict(ev)
    return as_result(df, WhatIf)


def sweep(
    model: BackPainModel,
    variable: str,
    *,
    states: Sequence[str | None] | None = None,
    evidence: Mapping | None = None,
    settings: str | Sequence[str] | None = None,
    conditions: str | Sequence[str] | None = None,
) -> pd.DataFrame:
    """How each condition's posterior changes across the states of one variable.

    Parameters
    ----------
    model : BackPainModel
    variable : str
        The variable to sweep.
    states : list of str, optional
        Its states to use, in order (default: all). ``None`` adds a "not observed" row
        (NaN state), i.e. the posterior given ``evidence`` alone.
    evidence : mapping, optional
        ``{variable: state}`` held fixed.
    settings : str or list of str, optional
        As in :func:`what_if`.
    conditions : str or list of str, optional
        As in :func:`what_if`.

    Returns
    -------
    DataFrame
        Tidy: ``setting``, ``variable``, ``state``, ``condition``, ``prior``, ``posterior``,
        ``likelihood_ratio``. Sweeps of several variables can be stacked with
        :func:`pandas.concat`.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> s = sweep(model, "age_group", conditions="spinal_metastasis")
    >>> s["state"].tolist()
    ['under_50', '50_to_69', '70_plus']
    >>> bool(s["posterior"].iloc[-1] > s["posterior"].iloc[0])
    True
    """
    variable = _variable(model, variable)
    res = what_if(
        model,
        {variable: states} if states is not None else [variable],
        evidence=evidence,
        settings=settings,
        conditions=conditions,
    )
    res = res.rename(columns={variable: "state"})
    res.insert(1, "variable", variable)
    return as_result(res, Sweep)


# ---------------------------------------------------------------------------------- sampling
def _sample_codes(
    order: Iterable[Any],
    parents: Mapping[Any, Sequence[Any]],
    tables: Mapping[Any, np.ndarray],
    n: int,
    uniform: Callable[[Any, int], np.ndarray],
    fixed: Mapping[Any, int] | None = None,
) -> dict[Any, np.ndarray]:
    """Vectorised ancestral sampling of integer state codes.

    Parameters
    ----------
    order : iterable
        Variables in topological order (parents before children).
    parents : mapping
        Variable -> its parents, in the order of the table's axes.
    tables : mapping
        Variable -> CPT of shape ``(card, *parent cards)``, child axis first, parent axes indexed
        by the parents' own state codes; each column sums to 1 (it is rescaled if not).
    n : int
        Rows to draw.
    uniform : callable
        ``uniform(variable, n)`` returns ``n`` uniform numbers in [0, 1) (any shape of that size).
    fixed : mapping, optional
        Variable -> state code to use instead of drawing (only meaningful for roots).

    Returns
    -------
    dict
        Variable -> array of ``n`` state codes (the smallest unsigned integer type that fits).
    """
    fixed = fixed or {}
    codes: dict[Any, np.ndarray] = {}
    for v in order:
        table = np.asarray(tables[v], dtype=float)
        card = table.shape[0]
        dtype = np.min_scalar_type(max(card - 1, 0))  # uint8 for up to 256 states: small blocks
        if v in fixed:
            codes[v] = np.full(n, fixed[v], dtype=dtype)
            continue
        cum_table = np.cumsum(table.reshape(card, -1).T, axis=1)  # (parent configurations, card)
        ps = list(parents[v])
        flat = np.ravel_multi_index([codes[p] for p in ps], table.shape[1:]) if ps else np.zeros(n, dtype=np.intp)
        # inverse CDF: the code is the number of cumulative probabilities below u (the last one never
        # counts, which also guards against rounding); u is scaled by the column total
        u = np.asarray(uniform(v, n), dtype=float).reshape(-1) * cum_table[flat, -1]
        code = np.zeros(n, dtype=dtype)
        for j in range(card - 1):
            code += u >= cum_table[flat, j]
        codes[v] = code
    return codes


def _entropy(seed: Any) -> int | Sequence[int]:
    if seed is None:
        return np.random.SeedSequence().entropy
    if isinstance(seed, np.random.SeedSequence):
        return seed.entropy
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(0, 2**63))
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise EvidenceError(f"seed must be a non-negative integer, a numpy Generator or None; got {seed!r}")
    return int(seed)


def sample_cohort(
    model: BackPainModel,
    n: int,
    *,
    seed: int | np.random.Generator | None = None,
    evidence: Mapping | None = None,
    columns: Sequence[str] | None = None,
) -> pd.DataFrame:
    """A synthetic cohort: ``n`` patients drawn from the network (forward sampling).

    Each row is one patient's full configuration -- risk factors, the true conditions, findings
    and test results -- drawn variable by variable from the model's tables, vectorised over
    blocks of rows, so memory stays at about one byte per cell plus a small working set.

    Parameters
    ----------
    model : BackPainModel
        Its setting fixes the population.
    n : int
        Number of patients (0 gives an empty frame with the right columns).
    seed : int, numpy Generator or None
        Same seed, same cohort (whatever ``n``: a smaller cohort is a prefix of a larger one, and
        a column's values do not depend on ``columns``). ``None`` draws fresh entropy; the seed
        used is kept in ``cohort.attrs["seed"]``.
    evidence : mapping, optional
        ``{risk factor: state}`` fixed for everyone: a cohort of, say, patients over 70. Risk
        factors are roots of the network, so fixing them is exact conditioning. Other variables
        cannot be fixed this way (that would be an intervention, not an observation): filter the
        cohort instead (``cohort[cohort["fever"] == "yes"]``), or use ``model.posteriors`` /
        ``model.diagnose`` for exact conditional probabilities.
    columns : list of str, optional
        Variables to return (default all, in ``model.states`` order). Only these are kept, which
        bounds memory for very large cohorts; their values are the same as in the full cohort.

    Returns
    -------
    DataFrame
        One categorical column per variable (categories = states, in model order), RangeIndex.
        To ask the model about the cohort, hide the truth first, e.g.
        ``model.posteriors(cohort.drop(columns=model.conditions))``, and compare the posteriors
        with ``cohort[model.conditions]`` (calibration, rule yield, positive predictive values).

    Raises
    ------
    EvidenceError
        ``n`` negative or not an integer, a bad seed, evidence on a variable that is not a risk
        factor, soft evidence, or a cohort over :data:`MAX_COHORT_CELLS` cells.
    UnknownNameError
        Unknown variable, state or column.

    Examples
    --------
    >>> import bayesnet
    >>> model = bayesnet.load_model()
    >>> cohort = sample_cohort(model, 10_000, seed=0)
    >>> cohort.shape == (10_000, len(model.states))
    True
    >>> cohort["age_group"].cat.categories.tolist()
    ['under_50', '50_to_69', '70_plus']
    >>> older = sample_cohort(model, 1_000, seed=0, evidence={"age_group": "70_plus"},
    ...                       columns=["age_group", "spinal_metastasis", "esr_crp"])
    >>> older["age_group"].eq("70_plus").all().item()
    True
    >>> post = model.posteriors(older[["age_group", "esr_crp"]])   # what the model says per patient
    >>> post.shape
    (1000, 15)
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise EvidenceError(f"n (the number of patients) must be a non-negative integer; got {n!r}")
    n = int(n)
    tables = model.tables
    states = tables.states
    ev = _hard_evidence(model, evidence, "sample_cohort")
    for var in ev:
        if tables.parents[var]:
            raise EvidenceError(
                f"sample_cohort can only fix risk factors (root variables); {var!r} is a {tables.kinds[var]}, so "
                "fixing it would be an intervention, not an observation. Sample without it and filter the cohort "
                f"(cohort[cohort[{var!r}] == {ev[var]!r}]), or use model.posteriors for exact answers"
            )
    cols = list(states) if columns is None else _names(columns, list(states), "variable")
    if n * len(cols) > MAX_COHORT_CELLS:
        raise EvidenceError(
            f"a cohort of {n:,} x {len(cols)} columns is over the limit of {MAX_COHORT_CELLS:,} cells "
            "(bayesnet.reasoning.whatif.MAX_COHORT_CELLS); ask for fewer columns, or sample in pieces with different seeds"
        )
    entropy = _entropy(seed)

    # only the ancestors of the requested columns are drawn
    needed: set[str] = set()
    stack = list(cols)
    while stack:
        v = stack.pop()
        if v not in needed:
            needed.add(v)
            stack.extend(tables.parents[v])
    order = list(TopologicalSorter({v: tables.parents[v] for v in needed}).static_order())
    keys = {v: zlib.crc32(v.encode()) for v in order}
    fixed = {v: states[v].index(s) for v, s in ev.items() if v in needed}

    out = {v: np.empty(n, dtype=np.int8 if len(states[v]) < 128 else np.int32) for v in cols}
    for block, start in enumerate(range(0, n, _BLOCK_ROWS)):
        stop = min(n, start + _BLOCK_ROWS)

        def uniform(v: str, size: int, _block: int = block) -> np.ndarray:
            ss = np.random.SeedSequence(entropy, spawn_key=(_block, keys[v]))
            return np.random.default_rng(ss).random(size)

        codes = _sample_codes(order, tables.parents, tables.cpts, stop - start, uniform, fixed)
        for v in cols:
            out[v][start:stop] = codes[v]
        del codes
    # wrap the code arrays without copying them (pop frees each one as soon as it is wrapped)
    frame = {v: pd.Categorical.from_codes(out.pop(v), categories=list(states[v])) for v in cols}
    df = pd.DataFrame(frame, index=pd.RangeIndex(n), copy=False)
    df.attrs["seed"] = entropy
    df.attrs["setting"] = model.setting
    if ev:
        df.attrs["evidence"] = dict(ev)
    return df
