"""Benchmark of the compiled engine against pgmpy and pyAgrum, on the back-pain model and reference networks.

For each network, mixed random scenarios are drawn (a full configuration is
forward-sampled with numpy and a random subset of it observed, so every
scenario has non-zero probability; for the back-pain model only risk factors,
findings and tests are observed).  The compiled engine (:mod:`bayesnet.inference.engine`)
evaluates all of them; pgmpy's ``VariableElimination`` (one ``joint=False``
query per row) and pyAgrum's ``LazyPropagation`` (when installed; one inference
per row) evaluate the first rows, for the same targets (every condition of the
back-pain model; a fixed set of root and middle variables elsewhere).  The
engine's answers are compared with pgmpy's on those rows.

Use :func:`run` or :func:`bench_network` from code, or the command line::

    bayesnet bench --quick
    bayesnet bench --networks back_pain alarm --rows 20000 --json
    python benchmarks/bench_engine.py --quick

Examples
--------
>>> model = load_reference("asia")
>>> row = bench_network(model, "asia", n_rows=200, n_ref=5, seed=0, pyagrum=False)
>>> row["max_abs_diff_pgmpy"] < 1e-9
True
"""

from __future__ import annotations

import gzip
import math
import pathlib
import resource
import sys
import time
import tracemalloc
import warnings
from collections.abc import Sequence
from typing import Any

import networkx as nx
import numpy as np
import pandas as pd

from bayesnet.inference.engine import compile_network

__all__ = [
    "DEFAULT_NETWORKS",
    "QUICK_ROWS",
    "bench_back_pain",
    "bench_network",
    "example_models_dir",
    "format_table",
    "forward_sample",
    "load_reference",
    "machine",
    "main",
    "mixed_scenarios",
    "pick_targets",
    "run",
    "to_pyagrum",
]

#: largest difference from pgmpy accepted as exact
EXACT_TOLERANCE = 1e-9

#: networks benchmarked by default
DEFAULT_NETWORKS = ("back_pain", "asia", "alarm", "child", "insurance", "hepar2", "win95pts", "hailfinder")

#: networks on which one pgmpy VariableElimination query takes too long to be worth timing here
#: (minutes to hours, or more memory than the machine has); pyAgrum is their reference
PGMPY_TOO_SLOW = frozenset({"barley", "diabetes", "link", "mildew", "munin", "munin1", "munin2", "munin3", "munin4"})

#: seconds of pgmpy queries per network at most (at least one row is always answered)
PGMPY_BUDGET_S = 60.0


def all_networks() -> list[str]:
    """Every network pgmpy bundles as ``.bif.gz`` (sorted), after the back-pain model."""
    return ["back_pain", *sorted(p.name[: -len(".bif.gz")] for p in example_models_dir().glob("*.bif.gz"))]

#: engine rows per network in --quick mode (bigger networks get fewer)
QUICK_ROWS = 20_000


def example_models_dir() -> pathlib.Path:
    """Directory of the BIF files bundled with pgmpy."""
    import pgmpy

    return pathlib.Path(pgmpy.__file__).parent / "utils" / "example_models"


def load_reference(name: str, normalize: bool = False) -> Any:
    """Load one of pgmpy's bundled networks (``asia``, ``alarm``...) without network access.

    Parameters
    ----------
    name : str
        File stem under :func:`example_models_dir` (``<name>.bif.gz``).
    normalize : bool
        Renormalise every CPT column to sum to exactly 1 (the files carry ~1e-7
        rounding).  Off by default: the benchmark compares the engine with pgmpy and
        pyAgrum on the CPTs as the files give them.

    Returns
    -------
    pgmpy.models.DiscreteBayesianNetwork
    """
    path = example_models_dir() / f"{name}.bif.gz"
    if not path.exists():
        choices = sorted(p.name[: -len(".bif.gz")] for p in example_models_dir().glob("*.bif.gz"))
        raise FileNotFoundError(f"no bundled network {name!r}; available: {', '.join(choices)}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.readwrite import BIFReader

        with gzip.open(path, "rt") as fh:
            model = BIFReader(string=fh.read()).get_model()
    if normalize:
        for cpd in model.get_cpds():
            cpd.normalize()
    return model


def forward_sample(model: Any, n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Draw ``n`` full configurations (state names) by ancestral sampling with numpy.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
    n : int
        Number of configurations.
    rng : numpy.random.Generator

    Returns
    -------
    pandas.DataFrame
        One column per variable (object dtype, state names).

    Notes
    -----
    The sampling itself is :func:`bayesnet.reasoning.whatif._sample_codes` (shared with
    :func:`bayesnet.reasoning.whatif.sample_cohort`); here each CPT is aligned to its parents' own state
    order and one stream ``rng`` is used in topological order.
    """
    from bayesnet.reasoning.whatif import _sample_codes

    order = list(nx.topological_sort(model))
    names: dict = {}
    parents: dict = {}
    tables: dict = {}
    for v in order:
        cpd = model.get_cpds(v)
        vals = np.asarray(cpd.values, dtype=float)
        parents[v] = list(cpd.variables[1:])
        for ax, p in enumerate(parents[v], start=1):  # parent axes indexed by the parent's own state codes
            pos = {s: k for k, s in enumerate(cpd.state_names[p])}
            vals = np.take(vals, [pos[s] for s in names[p]], axis=ax)
        tables[v] = vals
        names[v] = list(cpd.state_names[v])
    codes = _sample_codes(order, parents, tables, n, lambda v, size: rng.random((size, 1)))
    return pd.DataFrame({v: np.array(names[v], dtype=object)[codes[v]] for v in model.nodes()})


def mixed_scenarios(
    model: Any, n: int, seed: int = 0, max_fraction: float = 1.0, observable: Sequence | None = None
) -> pd.DataFrame:
    """Scenarios observing a random subset of a sampled configuration.

    Each row observes each variable with its own probability drawn uniformly
    from ``[0, max_fraction]``, so rows range from nearly empty to nearly full.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
    n : int
        Number of scenarios.
    seed : int
        Random seed.
    max_fraction : float
        Largest per-row observation probability.
    observable : sequence, optional
        Only these variables are ever observed (default: all).

    Returns
    -------
    pandas.DataFrame
        NaN where a variable is not observed.
    """
    rng = np.random.default_rng(seed)
    full = forward_sample(model, n, rng)
    mask = rng.random(full.shape) < rng.random((n, 1)) * max_fraction
    if observable is not None:
        mask &= np.isin(full.columns, list(observable))[None, :]
    return full.where(mask)


def pick_targets(model: Any, k: int = 8) -> list:
    """A fixed target set: roots and middle variables (by topological depth), ``k`` at most."""
    order = list(nx.topological_sort(model))
    roots = [v for v in order if model.in_degree(v) == 0 and model.out_degree(v) > 0]
    middle = [v for v in order if model.in_degree(v) > 0 and model.out_degree(v) > 0]
    picked = roots[: k // 2] + middle[: k - min(len(roots), k // 2)]
    for v in order:
        if len(picked) >= k:
            break
        if v not in picked:
            picked.append(v)
    return picked[:k]


def to_pyagrum(model: Any) -> Any:
    """Build a pyAgrum ``BayesNet`` with exactly the CPTs of a pgmpy model.

    Raises
    ------
    ImportError
        If pyAgrum is not installed.
    """
    try:
        import pyagrum as gum
    except ImportError:  # older releases
        import pyAgrum as gum  # type: ignore[no-redef]

    bn = gum.BayesNet("reference")
    states = {}
    for cpd in model.get_cpds():
        v = cpd.variable
        states[v] = [str(s) for s in cpd.state_names[v]]
    for v in model.nodes():
        bn.add(gum.LabelizedVariable(str(v), str(v), states[v]))
    for a, b in model.edges():
        bn.addArc(str(a), str(b))
    for cpd in model.get_cpds():
        v = cpd.variable
        values = np.asarray(cpd.values, dtype=float)
        cvars = list(cpd.variables)
        for ax, u in enumerate(cvars):  # align state order with the variable's own
            names = [str(s) for s in cpd.state_names[u]]
            if names != states[u]:
                values = np.take(values, [names.index(s) for s in states[u]], axis=ax)
        pot = bn.cpt(str(v))
        order = list(pot.names)[::-1]  # fillWith order: the first name varies fastest
        str_vars = [str(c) for c in cvars]
        arr = np.transpose(values, [str_vars.index(u) for u in order])
        pot.fillWith(arr.reshape(-1).tolist())
    return bn


def _rss_mb() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024.0 if sys.platform != "darwin" else usage / 2**20


def bench_network(
    model: Any,
    name: str,
    n_rows: int = 100_000,
    n_ref: int = 100,
    seed: int = 0,
    targets: Sequence | None = None,
    pyagrum: bool = True,
    n_single: int = 200,
    chunk_size: int | None = None,
    observable: Sequence | None = None,
    max_fraction: float = 1.0,
    pgmpy: bool = True,
    pgmpy_budget_s: float = PGMPY_BUDGET_S,
) -> dict:
    """Time the engine, pgmpy and pyAgrum on one network.

    Parameters
    ----------
    model : pgmpy.models.DiscreteBayesianNetwork
        The network (CPT columns should sum to 1 for exact agreement).
    name : str
        Label for the report.
    n_rows : int
        Scenarios evaluated by the engine.
    n_ref : int
        Scenarios (the first ones) evaluated by pgmpy and pyAgrum.
    seed : int
        Random seed for the scenarios.
    targets : list, optional
        Target variables (default :func:`pick_targets`).
    pyagrum : bool
        Also time pyAgrum's LazyPropagation if it is installed.
    n_single : int
        Scenarios used to measure the single-row latency of the engine.
    chunk_size : int, optional
        Engine chunk size (default: the engine's choice).
    observable : sequence, optional
        Variables the scenarios may observe (default: all).
    max_fraction : float
        Largest per-row observation probability (:func:`mixed_scenarios`; 0.6 observes
        about 30% of the variables).
    pgmpy : bool
        Time pgmpy at all (False for networks where one query takes minutes).
    pgmpy_budget_s : float
        pgmpy answers the first rows until this many seconds have passed (at least one).

    Returns
    -------
    dict
        ``network, nodes, cliques, max_clique, total_clique, compile_ms, first_call_ms,
        engine_rows_per_s, engine_all_rows_per_s, engine_ref_rows_per_s, single_row_us,
        single_row_all_us, pgmpy_rows_per_s, pyagrum_rows_per_s, vs_pgmpy,
        vs_pyagrum, same_rows_vs_pgmpy, same_rows_vs_pyagrum, max_abs_diff_pgmpy,
        max_abs_diff_pyagrum, peak_mb, rss_mb, n_rows, n_ref, n_pgmpy, targets``.
        ``engine_ref_rows_per_s`` is the engine's rate on exactly the rows pyAgrum
        answers (``n_ref``), and ``same_rows_vs_*`` the ratios on those rows (pgmpy's
        on the rows it answered); ``vs_*`` use the engine's rate on all ``n_rows``.
        ``first_call_ms`` is the engine's first two calls (256 rows and one row: its compiled
        kernels loaded or compiled, their schedule built), timed before everything else.
    """
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.inference import VariableElimination

    t0 = time.perf_counter()
    net = compile_network(model)
    compile_ms = (time.perf_counter() - t0) * 1e3
    targets = list(targets) if targets is not None else pick_targets(model)
    n_rows = max(int(n_rows), int(n_ref), 1)
    scen = mixed_scenarios(model, n_rows, seed, max_fraction=max_fraction, observable=observable)[net.variables]

    # first calls (the compiled kernels loaded from numba's cache, or compiled, and their schedule
    # built), timed apart so that the throughput below is the steady one
    t0 = time.perf_counter()
    net.posteriors(scen.iloc[: min(n_rows, 256)], targets=targets, chunk_size=chunk_size)
    net.posteriors(scen.iloc[:1], targets=targets, chunk_size=chunk_size)
    first_ms = (time.perf_counter() - t0) * 1e3

    # engine, fixed targets (peak memory traced on a separate run so timing is clean)
    t0 = time.perf_counter()
    post = net.posteriors(scen, targets=targets, chunk_size=chunk_size)
    engine_s = time.perf_counter() - t0
    n_all = min(n_rows, max(1000, n_rows // 4) if name not in HEAVY_ROWS else 100)
    t0 = time.perf_counter()
    net.posteriors(scen.iloc[:n_all], chunk_size=chunk_size)
    engine_all_s = time.perf_counter() - t0
    # the engine on exactly the rows the references answer (the "same rows" ratio)
    ref_scen = scen.iloc[:n_ref]
    net.posteriors(ref_scen.iloc[:1], targets=targets, chunk_size=chunk_size)
    t0 = time.perf_counter()
    net.posteriors(ref_scen, targets=targets, chunk_size=chunk_size)
    engine_ref_s = time.perf_counter() - t0
    tracemalloc.start()
    net.posteriors(scen.iloc[: min(n_rows, 20_000)], targets=targets, chunk_size=chunk_size)
    peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()

    # single-row latency (dict fast path), fixed targets and all targets
    dict_rows = [
        {k: v for k, v in row.items() if isinstance(v, str)}
        for row in scen.iloc[: max(1, n_single)].to_dict("records")
    ]
    net.posteriors_dict(dict_rows[0], targets=targets)
    t0 = time.perf_counter()
    for ev in dict_rows:
        net.posteriors_dict(ev, targets=targets)
    single_us = (time.perf_counter() - t0) / len(dict_rows) * 1e6
    t0 = time.perf_counter()
    for ev in dict_rows:
        net.posteriors_dict(ev)
    single_all_us = (time.perf_counter() - t0) / len(dict_rows) * 1e6

    # pgmpy, row by row: one query per row for every unobserved target (joint=False, pgmpy's
    # fastest way to get several marginals; it is ~8x faster than one query per target)
    ref_rows = [
        {k: v for k, v in row.items() if isinstance(v, str)} for row in scen.iloc[:n_ref].to_dict("records")
    ]
    diff = None
    ref_values = []
    pgmpy_s = 0.0
    if pgmpy:
        ve = VariableElimination(model)
        diff = 0.0
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for ev in ref_rows:
                t0 = time.perf_counter()
                wanted = [t for t in targets if t not in ev]
                res = ve.query(wanted, evidence=ev, joint=False, show_progress=False) if wanted else {}
                ref_values.append({t: (list(q.state_names[t]), np.asarray(q.values)) for t, q in res.items()})
                pgmpy_s += time.perf_counter() - t0
                if pgmpy_s > pgmpy_budget_s:
                    break
    for r, vals in enumerate(ref_values):
        for t, (names, values) in vals.items():
            got = post.iloc[r][t]
            ref = np.array([values[names.index(s)] for s in net.states[t]])
            diff = max(diff, float(np.abs(got.to_numpy() - ref).max()))

    # pyAgrum LazyPropagation, row by row
    pyagrum_rate = None
    diff_ag = None
    if pyagrum:
        try:
            bn = to_pyagrum(model)
        except ImportError:
            bn = None
        if bn is not None:
            try:
                import pyagrum as gum
            except ImportError:
                import pyAgrum as gum  # type: ignore[no-redef]
            ie = gum.LazyPropagation(bn)
            ie.eraseAllTargets()
            for t in targets:
                ie.addTarget(str(t))
            diff_ag = 0.0
            t0 = time.perf_counter()
            ag_values = []
            for ev in ref_rows:
                ie.eraseAllEvidence()
                if ev:
                    ie.setEvidence({str(k): str(v) for k, v in ev.items()})
                ie.makeInference()
                ag_values.append([ie.posterior(str(t)).toarray() for t in targets])
            ag_s = time.perf_counter() - t0
            pyagrum_rate = len(ref_rows) / ag_s
            for r, vals in enumerate(ag_values):
                got = np.concatenate([post.iloc[r][t].to_numpy() for t in targets])
                diff_ag = max(diff_ag, float(np.abs(got - np.concatenate(vals)).max()))

    engine_rate = n_rows / engine_s
    engine_ref_rate = len(ref_rows) / engine_ref_s
    pgmpy_rate = len(ref_values) / pgmpy_s if ref_values else None
    jt = net.junction_tree
    return {
        "network": name,
        "nodes": len(net.variables),
        "cliques": len(jt.cliques),
        "max_clique": net.max_clique_size,
        "total_clique": net.total_clique_size,
        "compile_ms": compile_ms,
        "engine_rows_per_s": engine_rate,
        "engine_all_rows_per_s": n_all / engine_all_s,
        "single_row_us": single_us,
        "single_row_all_us": single_all_us,
        "pgmpy_rows_per_s": pgmpy_rate,
        "pyagrum_rows_per_s": pyagrum_rate,
        "engine_ref_rows_per_s": engine_ref_rate,
        "vs_pgmpy": engine_rate / pgmpy_rate if pgmpy_rate else None,
        "vs_pyagrum": engine_rate / pyagrum_rate if pyagrum_rate else None,
        "same_rows_vs_pgmpy": engine_ref_rate / pgmpy_rate if pgmpy_rate else None,
        "same_rows_vs_pyagrum": engine_ref_rate / pyagrum_rate if pyagrum_rate else None,
        "first_call_ms": first_ms,
        "max_abs_diff_pgmpy": diff,
        "max_abs_diff_pyagrum": diff_ag,
        "peak_mb": peak_mb,
        "rss_mb": _rss_mb(),
        "n_rows": n_rows,
        "n_ref": len(ref_rows),
        "n_pgmpy": len(ref_values),
        "targets": [str(t) for t in targets],
    }


#: engine rows of the networks where a row costs milliseconds (full runs; --quick takes a fifth)
HEAVY_ROWS = {
    "insurance": 25_000, "hailfinder": 50_000, "water": 5_000, "pathfinder": 5_000, "andes": 5_000,
    "pigs": 2_000, "munin1": 1_000, "diabetes": 500, "munin": 500, "munin2": 500, "munin3": 500,
    "munin4": 500, "link": 500, "mildew": 500, "barley": 500,
}


def _rows_for(name: str, quick: bool, rows: int | None) -> int:
    if rows is not None:
        return rows
    full = HEAVY_ROWS.get(name, 100_000)
    return max(100, full // 5) if quick else full


#: names accepted by :func:`run` for the back-pain model itself, with their setting
BACK_PAIN = {"back_pain": "primary_care", "back_pain_emergency": "emergency"}


def bench_back_pain(setting: str = "primary_care", n_rows: int = 100_000, n_ref: int = 200, **kwargs: Any) -> dict:
    """Benchmark the back-pain model: all condition posteriors for mixed scenarios.

    Scenarios observe random subsets of risk factors, findings and tests (never the conditions
    themselves); pgmpy and pyAgrum answer the same scenarios row by row. Adds ``diagnose_us``,
    the time of one :meth:`~bayesnet.model.BackPainModel.diagnose` call.

    Parameters
    ----------
    setting : str
        ``primary_care`` or ``emergency``.
    n_rows, n_ref : int
        Scenarios for the engine, and for pgmpy/pyAgrum.
    **kwargs
        Passed to :func:`bench_network`.
    """
    from bayesnet.model import load_model

    model = load_model(setting)
    observable = [v for v, k in model.tables.kinds.items() if k != "condition"]
    name = "back_pain" if setting == "primary_care" else f"back_pain_{setting}"
    # every engine runs the network the model's engine runs: mechanical_pain (the absence of every
    # condition) as a chain of two-parent nodes, the same distribution with small cliques
    network = model.engine_network
    res = bench_network(
        network, name, n_rows=n_rows, n_ref=n_ref, targets=model.conditions, observable=observable, **kwargs
    )
    res.update(_bench_batch_path(model, network, n_rows, n_ref, observable, kwargs))
    scen = mixed_scenarios(model.network, 200, seed=kwargs.get("seed", 0) + 1, observable=observable)
    rows = [{k: v for k, v in r.items() if isinstance(v, str)} for r in scen.to_dict("records")]
    model.diagnose(rows[0])
    t0 = time.perf_counter()
    for ev in rows:
        model.diagnose(ev)
    res["diagnose_us"] = (time.perf_counter() - t0) / len(rows) * 1e6
    return res


def _bench_batch_path(model: Any, network: Any, n_rows: int, n_ref: int, observable: Sequence[str],
                      kwargs: Mapping[str, Any]) -> dict:
    """The model's own batch path (``model.posteriors``: every condition, two small networks in place of the
    absence chain) on the rows :func:`bench_network` gave the engine, against pgmpy on the first of them."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from pgmpy.inference import VariableElimination

    n_rows = max(int(n_rows), int(n_ref), 1)
    scen = mixed_scenarios(network, n_rows, kwargs.get("seed", 0), max_fraction=kwargs.get("max_fraction", 0.6),
                           observable=observable)[list(observable)]
    model.posteriors(scen.iloc[: min(n_rows, 256)])  # its networks compiled, kernels loaded
    t0 = time.perf_counter()
    post = model.posteriors(scen)
    batch_s = time.perf_counter() - t0
    ref = scen.iloc[:n_ref]
    t0 = time.perf_counter()
    model.posteriors(ref)
    ref_s = time.perf_counter() - t0
    # exactness: pgmpy on the model's one-table network, first rows (every condition, mechanical pain included)
    ve = VariableElimination(model.network)
    diff = 0.0
    checked = min(len(scen), 20)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(checked):
            ev = {k: v for k, v in scen.iloc[r].items() if isinstance(v, str)}
            q = ve.query(model.conditions, evidence=ev, joint=False, show_progress=False)
            for c in model.conditions:
                diff = max(diff, abs(float(post.iloc[r][c]) - float(q[c].values[q[c].state_names[c].index("yes")])))
    return {"batch_rows_per_s": n_rows / batch_s, "batch_ref_rows_per_s": len(ref) / ref_s,
            "batch_max_abs_diff_pgmpy": diff, "batch_checked_rows": checked}


def machine() -> dict:
    """Where the figures come from: CPU, cores, Python and library versions."""
    import platform

    cpu = platform.processor() or platform.machine()
    try:
        for line in pathlib.Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    for mod in ("numpy", "pandas", "pgmpy", "pyagrum"):
        try:
            versions[mod] = __import__(mod).__version__
        except ImportError:
            versions[mod] = None
    import os

    return {"cpu": cpu, "cores": os.cpu_count(), "python": platform.python_version(), **versions}


def run(
    names: Sequence[str] = DEFAULT_NETWORKS,
    quick: bool = False,
    rows: int | None = None,
    n_ref: int | None = None,
    seed: int = 0,
    pyagrum: bool = True,
    progress: Any = None,
    max_fraction: float = 0.6,
    pgmpy_budget_s: float = PGMPY_BUDGET_S,
) -> list[dict]:
    """Benchmark the back-pain model and bundled networks; one dict per network (see :func:`bench_network`).

    ``names`` may contain ``back_pain`` (primary care), ``back_pain_emergency`` and any bundled
    network (``asia``, ``alarm``...).  pgmpy is skipped on :data:`PGMPY_TOO_SLOW` (pyAgrum is
    then the reference of the exactness check); scenarios observe each variable with a per-row
    probability drawn from ``[0, max_fraction]`` (0.6: about 30% observed; for the back-pain model
    the observable variables only).
    """
    results = []
    for name in names:
        kwargs = {
            "n_rows": _rows_for(name, quick, rows),
            "n_ref": n_ref if n_ref is not None else (50 if quick else 100),
            "seed": seed,
            "pyagrum": pyagrum,
            "n_single": 20 if name in HEAVY_ROWS else (100 if quick else 500),
            "max_fraction": max_fraction,
            "pgmpy": name not in PGMPY_TOO_SLOW,
            "pgmpy_budget_s": pgmpy_budget_s,
        }
        if name in BACK_PAIN:
            res = bench_back_pain(BACK_PAIN[name], **kwargs)
        else:
            res = bench_network(load_reference(name), name, **kwargs)
        results.append(res)
        if progress is not None:
            progress(res)
    return results


def _fmt(x: Any, spec: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return format(x, spec)


def format_table(results: Sequence[dict], info: dict | None = None) -> str:
    """Plain-text table of :func:`run` results, with the machine and the exactness check."""
    header = [
        ("network", "<19", "network", "s"),
        ("nodes", ">5", "nodes", "d"),
        ("max clique", ">10", "max_clique", ",d"),
        ("1-row us", ">8", "single_row_all_us", ",.0f"),
        ("engine rows/s", ">13", "engine_rows_per_s", ",.0f"),
        ("same rows/s", ">11", "engine_ref_rows_per_s", ",.0f"),
        ("pgmpy rows/s", ">12", "pgmpy_rows_per_s", ",.1f"),
        ("pyAgrum rows/s", ">14", "pyagrum_rows_per_s", ",.0f"),
        ("x pgmpy", ">8", "same_rows_vs_pgmpy", ",.0f"),
        ("x pyAgrum", ">9", "same_rows_vs_pyagrum", ",.1f"),
        ("diff pgmpy", ">10", "max_abs_diff_pgmpy", ".1e"),
        ("diff pyAgrum", ">12", "max_abs_diff_pyagrum", ".1e"),
        ("peak MB", ">7", "peak_mb", ",.0f"),
    ]
    lines = []
    if info:
        libs = ", ".join(f"{k} {v}" for k, v in info.items() if k not in ("cpu", "cores") and v)
        lines.append(f"machine: {info.get('cpu')}, {info.get('cores')} cores; {libs}")
    lines.append("  ".join(format(h, a) for h, a, _, _ in header))
    for r in results:
        lines.append("  ".join(format(_fmt(r.get(k), f), a) for _, a, k, f in header))
    for r in results:
        if r.get("diagnose_us") is not None:
            lines.append(f"{r['network']}: one diagnosis (all conditions) {r['diagnose_us']:,.0f} us")
        if r.get("batch_rows_per_s") is not None:
            pg = r.get("pgmpy_rows_per_s")
            ratio = f", x{r['batch_rows_per_s'] / pg:,.0f} pgmpy" if pg else ""
            same = f" (x{r['batch_ref_rows_per_s'] / pg:,.0f} on pgmpy's {r['n_ref']} rows)" if pg else ""
            lines.append(
                f"{r['network']}: model.posteriors (the batch path, every condition) {r['batch_rows_per_s']:,.0f} "
                f"rows/s{ratio}{same}; largest difference from pgmpy on its first {r['batch_checked_rows']} rows "
                f"{r['batch_max_abs_diff_pgmpy']:.1e}")
    worst = max((r["max_abs_diff_pgmpy"] for r in results if r.get("max_abs_diff_pgmpy") is not None), default=0.0)
    verdict = "exact" if worst <= EXACT_TOLERANCE else "NOT EXACT"
    lines.append(f"largest difference from pgmpy VariableElimination: {worst:.1e} ({verdict}, tolerance 1e-9)")
    rest = [r["max_abs_diff_pyagrum"] for r in results
            if r.get("max_abs_diff_pgmpy") is None and r.get("max_abs_diff_pyagrum") is not None]
    if rest:
        worst_ag = max(rest)
        verdict = "exact" if worst_ag <= EXACT_TOLERANCE else "NOT EXACT"
        lines.append(f"largest difference from pyAgrum LazyPropagation where pgmpy is not run: {worst_ag:.1e} "
                     f"({verdict}, tolerance 1e-9)")
    lines.append(
        "engine rows/s: all rows in vectorised chunks; same rows/s: the engine on exactly the rows pyAgrum answers "
        "(the ratios x pgmpy and x pyAgrum are on those rows; pgmpy answers the first of them, within its time "
        "budget); pgmpy and pyAgrum: one query per row (same scenarios, same targets, CPTs as the files give them)."
    )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Script entry point: the same as ``bayesnet bench`` (see ``bayesnet bench --help``)."""
    from bayesnet.cli import main as cli_main

    return cli_main(["bench", *(sys.argv[1:] if argv is None else argv)])


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
