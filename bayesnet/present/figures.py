"""Regenerate every figure in ``figures/`` in one call (``bayesnet figures``).

:func:`make_figures` draws, from the shipped priors and a few example patients:

========================  ==========================================================================
file                      content
========================  ==========================================================================
network.png               the network in layers: risk factors -> conditions -> findings -> tests
network_cancer.png        the same for the cancer patient: observed nodes marked, posterior bars
ranking_cancer.png        differential of a patient with cancer red flags (prior and posterior)
ranking_infection.png     ... of an injection drug user with fever
ranking_clot.png          ... of a patient with unilateral leg swelling and dyspnoea
waterfall_metastasis.png  why spinal metastasis is likely in the cancer patient (weight of evidence)
next_tests_infection.png  what to ask or test next in the injection drug user with fever
tornado_pe.png            which published numbers P(pulmonary embolism) depends on (leg swelling case)
uncertainty_cancer.png    95% intervals of the cancer patient's posteriors (parameter uncertainty)
whatif_heatmap.png        P(spinal metastasis) over cancer history x weight loss x age, both settings
validation.png            published post-test probabilities against the model's (bayesnet validate)
engine_speed.png          posterior queries per second: compiled engine, pyAgrum, pgmpy, drawn from
                          the saved ``engine_speed.json`` (``bayesnet bench --json``) in ``outdir``
========================  ==========================================================================

Everything is deterministic (fixed seeds). The speed figure is drawn from saved benchmark numbers
(``bayesnet bench --json > figures/engine_speed.json``, or ``bench_json``), never by running the
benchmark here: timings depend on the machine and live apart from the figures; without saved
numbers that figure is skipped. Figures are drawn on :class:`matplotlib.figure.Figure` objects directly (the Agg
canvas), so pyplot's global state and the notebook backend are left alone.

Examples
--------
>>> from bayesnet.present.figures import make_figures
>>> paths = make_figures("figures", quick=True)  # doctest: +SKIP
>>> [p.name for p in paths][:2]  # doctest: +SKIP
['network.png', 'network_cancer.png']
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import click
import numpy as np

from bayesnet.formatting import format_probability
from bayesnet.present import plots

__all__ = ["BENCH_NETWORKS", "FIGURES", "PATIENTS", "figures_command", "make_figures", "speed_figure"]

#: example patients used by the figures (and the notebooks): label, evidence
PATIENTS: dict[str, tuple[str, dict[str, str]]] = {
    "cancer": (
        "history of cancer, age 70+, weight loss, no improvement after 4-6 weeks",
        {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes",
         "failure_to_improve": "yes"},
    ),
    "infection": ("injection drug use, fever", {"iv_drug_use": "yes", "fever": "yes"}),
    "clot": ("unilateral leg swelling, dyspnoea", {"unilateral_leg_swelling": "yes", "dyspnoea": "yes"}),
}

#: networks of the speed figure (the back-pain model and three of pgmpy's bundled ones)
BENCH_NETWORKS = ("back_pain", "asia", "alarm", "hepar2")

#: file stems written by :func:`make_figures`, in order
FIGURES = (
    "network", "network_cancer", "ranking_cancer", "ranking_infection", "ranking_clot", "waterfall_metastasis",
    "next_tests_infection", "tornado_pe", "uncertainty_cancer", "whatif_heatmap", "validation", "engine_speed",
)

_TOOL_COLOURS = {"engine": "#c0392b", "pyAgrum": "#e6a23c", "pgmpy": "#2471a3"}


def _figure(size: tuple[float, float]) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    fig = Figure(figsize=size, layout="constrained")
    return fig, fig.add_subplot()


def _rows(n: int, base: float = 1.2, per_row: float = 0.4, width: float = 7.5) -> tuple[float, float]:
    return (width, per_row * n + base)


def _save(fig: Any, outdir: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    paths = []
    for fmt in formats:
        path = outdir / f"{stem}.{fmt}"
        metadata = {"png": {"Software": None}, "svg": {"Date": None}, "pdf": {"CreationDate": None}}.get(fmt)
        fig.savefig(path, dpi=150 if fmt == "png" else None, metadata=metadata)
        paths.append(path)
    return paths


# ---------------------------------------------------------------------------------- the figures
def _network(model: Any) -> Any:
    fig, ax = _figure((14.8, 8.6))
    plots.network(model, ax=ax, title="The back-pain network: risk factors -> conditions -> findings and tests")
    return fig


def _network_cancer(model: Any) -> Any:
    label, ev = PATIENTS["cancer"]
    fig, ax = _figure((14.8, 9.0))
    plots.network(model, model.diagnose(ev), ax=ax, title=f"Patient: {label} ({model.setting.replace('_', ' ')})")
    return fig


def _ranking(model: Any, key: str) -> Any:
    label, ev = PATIENTS[key]
    dx = model.diagnose(ev)
    fig, ax = _figure(_rows(len(dx.ranking), base=1.5))
    plots.ranking(dx, ax=ax)
    ax.set_xlim(right=2.5)  # room for the labels of bars near 100% (no tick beyond 10^0)
    ax.spines[["top", "right"]].set_visible(False)
    _titles(fig, ax, label)
    return fig


def _waterfall(model: Any) -> Any:
    label, ev = PATIENTS["cancer"]
    ex = model.diagnose(ev).explain("spinal_metastasis")
    fig, ax = _figure(_rows(len(ex) + 2, base=1.5, per_row=0.45))
    plots.waterfall(ex, ax=ax)
    _titles(fig, ax, label)
    return fig


def _next_tests(model: Any) -> Any:
    label, ev = PATIENTS["infection"]
    nt = model.next_tests(ev)
    top = 12
    fig, ax = _figure(_rows(min(top, len(nt)), base=1.5))
    plots.next_tests(nt, ax=ax, top=top)
    _titles(fig, ax, label)
    return fig


def _tornado(model: Any) -> Any:
    label, ev = PATIENTS["clot"]
    tor = model.sensitivity(ev, "pulmonary_embolism")
    top = 12
    fig, ax = _figure((8.5, 0.42 * top + 1.7))
    plots.tornado(tor, ax=ax, top=top)
    _titles(fig, ax, label)
    ends = tor.head(top)[["posterior_low", "posterior_high"]].to_numpy()
    lo, hi = float(ends.min()), float(ends.max())
    pad = 0.05 * (hi - lo or 1e-3)
    ax.set_xlim(max(0.0, lo - pad), hi + pad)
    ax.xaxis.set_major_formatter(_percent_formatter())
    fig.supxlabel("[grade] of each number: A primary study or meta-analysis, B review or guideline, C expert estimate",
                  fontsize=8)
    return fig


def _uncertainty(model: Any, draws: int) -> Any:
    label, ev = PATIENTS["cancer"]
    unc = model.uncertainty(ev, draws=draws, seed=0)
    fig, ax = _figure(_rows(len(unc), base=1.5))
    plots.intervals(unc, ax=ax)
    _titles(fig, ax, label, f"{draws} draws of the published numbers, seed 0")
    return fig


def _validation(model: Any, draws: int) -> Any:
    df = model.validate(draws=draws, seed=0)
    return plots.calibration_plot(df).figure  # its own layout: probabilities, likelihood ratios, key


def _titles(fig: Any, ax: Any, patient: str, extra: str = "") -> None:
    """Move the axes title to the figure (centred on the whole figure) with the patient under it."""
    main = ax.get_title()
    ax.set_title("")
    fig.suptitle(f"{main}\nPatient: {patient}" + (f"\n{extra}" if extra else ""), fontsize=10)


def _percent_formatter() -> Any:
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda x, _pos: format_probability(x) if x > 0 else "0%")


def _whatif(model: Any) -> Any:
    from matplotlib.colors import LogNorm

    grid = model.what_if(
        ["history_of_cancer", "unexplained_weight_loss", "age_group"],
        settings=["primary_care", "emergency"],
        conditions="spinal_metastasis",
    )
    settings = list(grid["setting"].cat.categories)
    ages = list(grid["age_group"].cat.categories)
    rows = [(c, w) for c in ("yes", "no") for w in ("yes", "no")]
    norm = LogNorm(vmin=float(grid["posterior"].min()), vmax=float(grid["posterior"].max()))
    from matplotlib.figure import Figure

    fig = Figure(figsize=(11, 4.2), layout="constrained")
    axes = fig.subplots(1, len(settings), sharey=True)
    image = None
    for ax, setting in zip(np.atleast_1d(axes), settings, strict=True):
        sub = grid[grid["setting"] == setting]
        post = dict(zip(zip(sub["history_of_cancer"], sub["unexplained_weight_loss"], sub["age_group"]),
                        sub["posterior"].astype(float), strict=True))
        values = np.array([[post[c, w, a] for a in ages] for c, w in rows])
        image = ax.imshow(values, cmap="Reds", norm=norm, aspect="auto")
        for i in range(values.shape[0]):
            for j in range(values.shape[1]):
                dark = norm(values[i, j]) > 0.6
                ax.text(j, i, format_probability(values[i, j]), ha="center", va="center", fontsize=9,
                        color="white" if dark else "black")
        ax.set_xticks(range(len(ages)), [a.replace("_", " ") for a in ages])
        ax.set_xlabel("age group")
        ax.set_title(setting.replace("_", " "))
    first = np.atleast_1d(axes)[0]
    first.set_yticks(range(len(rows)), [f"cancer {c}, weight loss {w}" for c, w in rows])
    fig.colorbar(image, ax=axes, label="P(spinal metastasis) (log scale)", shrink=0.9)
    fig.suptitle("What if: P(spinal metastasis) by history of cancer, unexplained weight loss and age")
    return fig


def _load_bench(path: str | os.PathLike) -> tuple[list[dict], dict]:
    """Results and machine info from ``bayesnet bench --json`` output (or a bare list of results)."""
    try:
        data = json.loads(Path(path).read_text())
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"{path} is not JSON ({exc.msg}, line {exc.lineno})", param_hint="--bench-json")
    results = data.get("results") if isinstance(data, Mapping) else data
    info = data.get("machine", {}) if isinstance(data, Mapping) else {}
    if not isinstance(results, list) or not all(isinstance(r, Mapping) and "network" in r for r in results):
        raise click.BadParameter(
            f"{path} does not hold benchmark results (expected the output of 'bayesnet bench --json')",
            param_hint="--bench-json",
        )
    return list(results), dict(info or {})


def speed_figure(results: Sequence[Mapping], info: Mapping | None = None) -> Any:
    """Bar chart (log scale) of posterior queries per second, per network and tool.

    Parameters
    ----------
    results : list of dict
        :func:`benchmarks.harness.run` results (``network``, ``engine_rows_per_s``,
        ``pyagrum_rows_per_s``, ``pgmpy_rows_per_s``, ``max_abs_diff_pgmpy``...).
    info : dict, optional
        :func:`benchmarks.harness.machine` (shown under the title).

    Returns
    -------
    matplotlib.figure.Figure
    """
    tools = [("engine", "engine_rows_per_s", "bayesnet engine (batch)"),
             ("pyAgrum", "pyagrum_rows_per_s", "pyAgrum LazyPropagation (row by row)"),
             ("pgmpy", "pgmpy_rows_per_s", "pgmpy VariableElimination (row by row)")]
    # one row per network, top to bottom in the given order: labels stay readable for every bundled network
    n = len(results)
    fig, ax = _figure((8.5, 1.6 + 0.42 * max(n, 1)))
    y = np.arange(n)[::-1].astype(float)
    height = 0.26
    top, bottom = 1.0, np.inf
    for k, (tool, key, label) in enumerate(tools):
        # a missing number (absent or null) has no bar; a measured 0 keeps its bar and its label
        vals = np.array([np.nan if r.get(key) is None else float(r[key]) for r in results])
        if np.all(np.isnan(vals)):
            continue
        pos = y + (1 - k) * height
        ax.barh(pos, vals, height=height, color=_TOOL_COLOURS[tool], label=label)
        top = max(top, float(np.nanmax(vals)))
        if np.any(vals > 0):
            bottom = min(bottom, float(np.nanmin(vals[vals > 0])))
        for p, v in zip(pos, vals, strict=True):
            if v > 0 and np.isfinite(v):
                ax.text(v * 1.15, p, f"{v:,.0f}", ha="left", va="center", fontsize=6.5)
            elif v == 0:  # a log axis cannot reach 0: write it at the foot of the axis
                ax.text(0.005, p, "0", ha="left", va="center", fontsize=6.5, transform=ax.get_yaxis_transform())
    # the ratios in a column of their own at the right, outside the bars
    for yi, r in zip(y, results, strict=True):
        parts = [f"x{r[k]:,.{d}f} {who}" for k, who, d in (("vs_pgmpy", "pgmpy", 0), ("vs_pyagrum", "pyAgrum", 1))
                 if r.get(k)]
        if parts:
            ax.text(1.01, yi, ", ".join(parts), ha="left", va="center", fontsize=7, fontweight="bold",
                    color=_TOOL_COLOURS["engine"], transform=ax.get_yaxis_transform())
    labels = [f"{str(r['network']).replace('_', ' ')} ({r.get('nodes', '?')} nodes)" for r in results]
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(left=max(min(bottom, top) / 3, 1e-3) if np.isfinite(bottom) else None, right=top * 12)
    ax.set_ylim(-0.6, n - 0.4)
    ax.set_xlabel("scenarios per second (log scale); at the right: the engine's throughput over each reference's")
    worst = max((float(r.get("max_abs_diff_pgmpy") or 0.0) for r in results), default=0.0)
    title = "Exact posteriors per second on the same random scenarios"
    sub = f"largest difference from pgmpy: {worst:.1e}"
    if info:
        sub = f"{info.get('cpu', '?')}, {info.get('cores', '?')} cores; " + sub
    ax.set_title(f"{title}\n{sub}", fontsize=10)
    fig.legend(fontsize=8, loc="outside lower center", ncols=3, frameon=False)
    return fig


# ---------------------------------------------------------------------------------- entry points
def make_figures(
    outdir: str | os.PathLike = "figures",
    formats: Iterable[str] = ("png",),
    quick: bool = False,
    bench_json: str | os.PathLike | None = None,
    *,
    setting: str = "primary_care",
    progress: Callable[[Path], None] | None = None,
) -> list[Path]:
    """Regenerate every figure into ``outdir``; return the paths written.

    Parameters
    ----------
    outdir : path-like, default "figures"
        Created if missing; existing files of the same names are replaced.
    formats : iterable of str, default ("png",)
        Any format matplotlib writes (``png``, ``svg``, ``pdf``...); one file per figure and format.
    quick : bool, default False
        Fewer parameter draws (200 instead of 1000 for the intervals, 200 instead of 500 for the
        validation), for tests.
    bench_json : path-like, optional
        Draw the speed figure from this file (``bayesnet bench --json`` output); default
        ``outdir/engine_speed.json`` when it exists (otherwise the speed figure is skipped).
    setting : str, default "primary_care"
        Setting of the patient figures (the what-if heatmap always shows both).
    progress : callable, optional
        Called with each path as it is written.

    Returns
    -------
    list of Path
        In :data:`FIGURES` order (``engine_speed`` only when saved numbers exist).

    Examples
    --------
    >>> paths = make_figures("figures")  # doctest: +SKIP
    """
    from bayesnet.model import load_model

    formats = tuple(formats)
    if not formats:
        raise ValueError("formats is empty; give at least one, e.g. ('png',)")
    out = Path(outdir)
    if bench_json is None and (out / "engine_speed.json").is_file():
        bench_json = out / "engine_speed.json"
    saved = _load_bench(bench_json) if bench_json is not None else None  # a bad file fails before any drawing
    out.mkdir(parents=True, exist_ok=True)
    model = load_model(setting)
    draws = 200 if quick else 1000
    makers: dict[str, Callable[[], Any]] = {
        "network": lambda: _network(model),
        "network_cancer": lambda: _network_cancer(model),
        "ranking_cancer": lambda: _ranking(model, "cancer"),
        "ranking_infection": lambda: _ranking(model, "infection"),
        "ranking_clot": lambda: _ranking(model, "clot"),
        "waterfall_metastasis": lambda: _waterfall(model),
        "next_tests_infection": lambda: _next_tests(model),
        "tornado_pe": lambda: _tornado(model),
        "uncertainty_cancer": lambda: _uncertainty(model, draws),
        "whatif_heatmap": lambda: _whatif(model),
        "validation": lambda: _validation(model, 200 if quick else 500),  # 500: the default of bayesnet validate
    }
    import matplotlib

    paths: list[Path] = []

    def emit(new: list[Path]) -> None:
        paths.extend(new)
        if progress is not None:
            for p in new:
                progress(p)

    with matplotlib.rc_context({"svg.hashsalt": "bayesnet", "font.size": 9}):
        for stem, make in makers.items():
            emit(_save(make(), out, stem, formats))
        if saved is not None:
            emit(_save(speed_figure(*saved), out, "engine_speed", formats))
    return paths


@click.command("figures")
@click.option("--outdir", default="figures", show_default=True, type=click.Path(file_okay=False),
              help="Folder to write the figures to (created if missing).")
@click.option("--quick", is_flag=True, help="Use 200 parameter draws for the intervals and the validation.")
@click.option("--bench-json", "bench_json", type=click.Path(exists=True, dir_okay=False), default=None,
              metavar="FILE", help="Draw the speed figure from this saved 'bayesnet bench --json' output "
              "(default: OUTDIR/engine_speed.json when it exists).")
@click.option("--format", "formats", multiple=True, default=("png",), show_default=True,
              type=click.Choice(["png", "svg", "pdf"]), help="Output format; repeat for several.")
def figures_command(outdir: str, quick: bool, bench_json: str | None, formats: tuple[str, ...]) -> None:
    """Regenerate every figure (network, rankings, waterfall, next tests, tornado, intervals, what-if, speed).

    Deterministic; the speed figure is drawn from saved 'bayesnet bench --json' numbers.
    """
    make_figures(outdir, formats=formats, quick=quick, bench_json=bench_json,
                 progress=lambda p: click.echo(str(p)))


if __name__ == "__main__":  # pragma: no cover
    figures_command()
