"""Command line: ``bayesnet diagnose | explain | next-test | sensitivity | sources | export | batch | bench |
explore | figures | validate | recalibrate | rule``.

Exit status: 0 on success; 2 on bad input (one line on stderr naming the culprit and, where one
exists, the closest valid name); 1 for anything else.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
from pathlib import Path
from typing import Any

import click

from bayesnet import __version__
from bayesnet.errors import BayesNetError, UnknownNameError
from bayesnet.present.commands import check_figure_path
from bayesnet.present.commands import one_line as _one_line

EXPORT_FORMATS = ("bif", "xmlbif", "xdsl", "net")

_SETTING_HELP = ("Population: primary_care (default), emergency, emergency_suspected_pe, suspected_cauda_equina, "
                 "or the path of a setting file of your own (priors/README.md).")
_PRIORS_HELP = "Folder of priors files to use instead of the shipped ones (see priors/README.md)."


def _model(setting: str, priors: str | None):
    from bayesnet.model import load_model

    return load_model(setting=setting, priors=priors)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="bayesnet")
def cli() -> None:
    """Estimate how likely each serious cause of back pain is, given what is known about a patient.

    A Bayesian network links risk factors to conditions (spinal metastasis, myeloma, epidural
    abscess, osteomyelitis, compression fracture, cauda equina syndrome, DVT, pulmonary embolism)
    and to symptoms, signs and tests. Every number comes from a cited source; see
    `bayesnet sources`.

    Research and teaching tool, not a medical device.
    """


_evidence_option = click.option(
    "-e",
    "--evidence",
    "evidence",
    multiple=True,
    metavar="NAME=STATE",
    help="An observed variable, e.g. -e history_of_cancer=yes -e age_group=70_plus. Repeat for each "
    "finding. Names and states are listed by `bayesnet sources --variables`.",
)
_setting_option = click.option("--setting", default="primary_care", show_default=True, help=_SETTING_HELP)
_json_option = click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
_priors_option = click.option("--priors", type=click.Path(), default=None, help=_PRIORS_HELP)


def _parse_evidence(evidence: tuple[str, ...], model: Any = None) -> dict[str, str]:
    """The ``-e`` options as a mapping, every problem reported at once.

    A variable given twice with different states is an error (the last one does not silently
    win); with ``model``, each name and state is checked against it, and all the bad ones are
    named in one error (each with the closest valid name).
    """
    from bayesnet.inference.evidence import parse_assignment

    out: dict[str, str] = {}
    problems: list[BayesNetError] = []
    for item in evidence:
        try:
            name, state = parse_assignment(item)
            if name in out and out[name] != state:
                raise BayesNetError(f"{name!r} is given twice, as {out[name]!r} and {state!r}; give each variable once")
            if model is not None:
                model.check_evidence({name: state})
        except BayesNetError as exc:
            problems.append(exc)
            continue
        out[name] = state
    if len(problems) == 1:
        raise problems[0]
    if problems:
        raise BayesNetError(f"{len(problems)} problems in the evidence: " + " | ".join(str(p) for p in problems))
    return out


def _json_value(v: Any) -> Any:
    """A plain Python value for JSON: numpy scalars unwrapped, NaN and infinity as null."""
    if hasattr(v, "item"):
        v = v.item()
    return None if isinstance(v, float) and not math.isfinite(v) else v


def _records(df, index_name: str) -> list[dict]:
    """DataFrame rows as JSON-safe dicts (NaN and infinity become null)."""
    return [({index_name: key} if index_name else {}) | {str(k): _json_value(v) for k, v in row.items()}
            for key, row in df.iterrows()]


@cli.command()
@_evidence_option
@_setting_option
@click.option("--uncertainty", "draws", type=click.IntRange(min=0), default=0, metavar="N",
              help="Also report a 95% interval for every posterior from N draws of the published numbers "
              "(e.g. 1000; 0 = off).")
@click.option("--seed", default=0, show_default=True, help="Seed of the parameter draws (with --uncertainty).")
@_json_option
@_priors_option
def diagnose(evidence: tuple[str, ...], setting: str, draws: int, seed: int, as_json: bool, priors: str | None) -> None:
    """Rank the causes of back pain for one patient.

    Prints, for every condition, its probability before (prior) and after (posterior) the
    evidence and the likelihood ratio (posterior odds / prior odds), most probable first.
    Variables not given are treated as unknown, not as absent. With --uncertainty N, each
    posterior gets the interval that the uncertainty of the published numbers implies.

    Example: bayesnet diagnose -e history_of_cancer=yes -e age_group=70_plus -e unexplained_weight_loss=yes
    """
    model = _model(setting, priors)
    ev = _parse_evidence(evidence, model)
    dx = model.diagnose(ev)
    unc = model.uncertainty(ev, draws=draws, seed=seed) if draws else None
    if as_json:
        out = dx.to_dict()
        if unc is not None:
            for row in out["ranking"]:
                row["low"] = float(unc.loc[row["condition"], "low"])
                row["high"] = float(unc.loc[row["condition"], "high"])
            out["uncertainty"] = {"draws": draws, "seed": seed, "level": 0.95}
        click.echo(json.dumps(out, indent=2))
    elif unc is None:
        click.echo(repr(dx))
    else:
        from bayesnet.present.display import uncertainty_text

        click.echo(uncertainty_text(dx, unc, draws))


@cli.command()
@_evidence_option
@click.option("-c", "--condition", default=None, help="Condition to explain (default: the leading serious one).")
@_setting_option
@_json_option
@_priors_option
def explain(evidence: tuple[str, ...], condition: str | None, setting: str, as_json: bool, priors: str | None) -> None:
    """Why a condition has its probability: each finding's weight of evidence, and a summary.

    For every observed variable: the change in log-odds of the condition when that variable is
    removed (its contribution) and the corresponding likelihood ratio given the rest of the
    evidence. Contributions add up to the total change only when the findings are independent
    given the condition.

    Example: bayesnet explain -e history_of_cancer=yes -e age_group=70_plus -c spinal_metastasis
    """
    model = _model(setting, priors)
    dx = model.diagnose(_parse_evidence(evidence, model))
    condition = condition or dx.leading_serious
    ex = dx.explain(condition)
    summary = dx.summary(condition)
    if as_json:
        out = {"setting": dx.setting, "condition": condition, "prior": ex.attrs["prior"],
               "posterior": ex.attrs["posterior"], "contributions": _records(ex, ""), "summary": summary}
        click.echo(json.dumps(out, indent=2))
    else:
        from bayesnet.present.display import explanation_text

        click.echo(f"{explanation_text(ex)}\n\n{summary}")


@cli.command("next-test")
@_evidence_option
@click.option("-c", "--condition", default=None,
              help="Condition whose probability matters (default: the serious condition the evidence raised "
              "most); when given, candidates are ranked by what they tell about it.")
@click.option("--threshold", type=float, default=None,
              help="Decision threshold on that condition (e.g. 0.05: image above 5%); adds the chance that the "
              "result moves the patient across it and the result's expected value for that decision, and ranks "
              "by that value.")
@click.option("--include-risk-factors", is_flag=True, help="Also rank unobserved risk factors (history questions).")
@click.option("--top", type=click.IntRange(min=1), default=10, show_default=True, help="How many to show.")
@_setting_option
@_json_option
@_priors_option
def next_test(evidence: tuple[str, ...], condition: str | None, threshold: float | None, include_risk_factors: bool,
              top: int, setting: str, as_json: bool, priors: str | None) -> None:
    """Which finding or test to observe next: expected value of information.

    For each unobserved finding or test: the probability of each result, the posterior of the
    condition after it, the expected reduction in uncertainty (bits) over the serious conditions
    and over the focus condition alone, and the expected change in its probability.

    Example: bayesnet next-test -e iv_drug_use=yes -e fever=yes --threshold 0.1
    """
    model = _model(setting, priors)
    nt = model.next_tests(_parse_evidence(evidence, model), condition=condition, threshold=threshold,
                                           include_risk_factors=include_risk_factors)
    shown = nt.head(top)
    if as_json:
        focus, outcomes = nt.attrs["focus"], nt.attrs["outcomes"]
        candidates = _records(shown.drop(columns="results"), "variable")
        for cand in candidates:
            rows = outcomes[outcomes["variable"] == cand["variable"]]
            cand["results"] = [{"state": r.state, "probability": float(r.probability),
                                "posterior": float(getattr(r, focus))} for r in rows.itertuples()]
        out = {"setting": setting, "condition": focus, "posterior": nt.attrs["current"],
               "threshold": threshold, "entropy_bits": nt.attrs["entropy"], "candidates": candidates}
        click.echo(json.dumps(out, indent=2))
    else:
        from bayesnet.present.display import next_tests_text

        click.echo(next_tests_text(shown))


@cli.command()
@_evidence_option
@click.option("-c", "--condition", default=None, help="Condition whose posterior is examined (default: the leading "
              "serious one).")
@click.option("--top", type=click.IntRange(min=1), default=15, show_default=True, help="How many parameters to show.")
@_setting_option
@_json_option
@_priors_option
def sensitivity(evidence: tuple[str, ...], condition: str | None, top: int, setting: str, as_json: bool,
                priors: str | None) -> None:
    """Which published numbers matter for this patient: one-way sensitivity (tornado data).

    Each parameter is moved to the low and to the high end of its published interval, the others
    held at their estimates; the table lists the condition's posterior at both ends, sorted by the
    swing between them.

    Example: bayesnet sensitivity -e dyspnoea=yes -e d_dimer=negative -c pulmonary_embolism
    """
    model = _model(setting, priors)
    ev = _parse_evidence(evidence, model)
    if condition is None:
        condition = model.diagnose(ev).leading_serious
    tor = model.sensitivity(ev, condition)
    shown = tor.head(top)
    if as_json:
        cols = ["node", "parameter", "grade", "source", "value", "low", "high", "posterior_low", "posterior_high",
                "swing"]
        out = {"setting": setting, "condition": condition, "posterior": tor.attrs["base"],
               "parameters": _records(shown[cols].set_index("node"), "node")}
        click.echo(json.dumps(out, indent=2))
    else:
        from bayesnet.present.display import sensitivity_text

        click.echo(sensitivity_text(shown))


@cli.command()
@click.option("--setting", default=None, help="Only the numbers the model of this setting uses.")
@click.option("--grade", type=click.Choice(["A", "B", "C"]), default=None, help="Only numbers of this grade.")
@click.option("--variables", "show_variables", is_flag=True, help="List the variables and their states instead.")
@click.option("--format", "fmt", type=click.Choice(["text", "csv", "json"]), default="text", show_default=True,
              help="text: one entry per number, wrapped to the terminal; csv: every column, for a spreadsheet; "
              "json: records.")
@click.option("--json", "as_json", is_flag=True, help="Same as --format json.")
@_priors_option
def sources(setting: str | None, grade: str | None, show_variables: bool, fmt: str, as_json: bool,
            priors: str | None) -> None:
    """List every number in the model with its source.

    For each number: the variable (node), which of its numbers (parameter), value, 95% interval
    (low, high), grade, the citation (source) and, with --format csv or json, the population it
    was measured in (setting), its counts and note. Grades: A = primary study or meta-analysis,
    B = review or guideline quoting one, C = expert estimate.
    """
    from bayesnet.data.priors import default_priors_dir, load_priors

    fmt = "json" if as_json else fmt
    ps = load_priors(priors if priors is not None else default_priors_dir())
    from bayesnet.model import BackPainModel, sources_table

    if show_variables:
        df = BackPainModel(ps, next(iter(ps.settings))).variables()
        df["states"] = df["states"].map(lambda s: "/".join(s))
        df["parents"] = df["parents"].map(lambda s: ", ".join(s))
    else:
        df = sources_table(ps)
        if setting is not None:
            if setting not in ps.settings:
                raise UnknownNameError("setting", setting, ps.settings)
            df = df[df["settings"].str.split().map(lambda used: setting in used)]
        if grade is not None:
            df = df[df["grade"] == grade]
    if fmt == "json":
        click.echo(df.to_json(orient="records", indent=2))
        return
    if fmt == "csv":
        click.echo(df.to_csv(index=False), nl=False)
        return
    click.echo(_wrapped_entries(df, show_variables))
    if not show_variables:
        counts = df["grade"].value_counts()
        click.echo(f"{len(df)} numbers: " + ", ".join(f"{g} {counts.get(g, 0)}" for g in "ABC")
                   + f" (grade C {counts.get('C', 0) / max(len(df), 1):.0%})")


def _wrapped_entries(df: Any, show_variables: bool) -> str:
    """One entry per row, left-aligned and wrapped to the terminal (80 columns when not a terminal)."""
    import shutil
    import textwrap

    width = max(60, min(shutil.get_terminal_size((80, 24)).columns, 120))
    blocks = []
    for r in df.itertuples(index=False):
        if show_variables:
            head = f"{r.name}  ({r.kind}: {r.states})"
            rest = [f"parents: {r.parents}" if r.parents else "", str(r.description)]
        else:
            head = f"{r.node}  {r.parameter}  {r.value:.4g} [{r.low:.4g}, {r.high:.4g}]  grade {r.grade}"
            rest = [str(r.source)]
        lines = textwrap.wrap(head, width, subsequent_indent="    ")
        for text in rest:
            if text:
                lines += textwrap.wrap(text, width, initial_indent="    ", subsequent_indent="    ")
        blocks.append("\n".join(lines))
    return "\n".join(blocks)


@cli.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(EXPORT_FORMATS),
    required=True,
    help="bif (BIF), xmlbif (XML-BIF), xdsl (GeNIe/SMILE), net (Hugin NET).",
)
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True), required=True,
              help="File to write, or - for standard output.")
@_setting_option
@_priors_option
def export(fmt: str, output: str, setting: str, priors: str | None) -> None:
    """Write the network to a file that other tools (GeNIe, Hugin, SamIam, pgmpy) can open."""
    import tempfile

    from bayesnet.io.exporting import export_network

    model = _model(setting, priors)
    if output == "-":  # pgmpy's writers take a file name: write to a temporary one, then copy it out
        with tempfile.TemporaryDirectory() as tmp:
            path = export_network(model.network, fmt, Path(tmp) / f"network.{fmt}")
            click.echo(path.read_text(), nl=False)
        return
    suffix = Path(output).suffix.lower().lstrip(".")
    if suffix and suffix != fmt and not (fmt == "xmlbif" and suffix == "xml"):
        click.echo(f"warning: {output!r} ends in .{suffix} but the format is {fmt}; other tools may read it by its "
                   "extension", err=True)
    path = export_network(model.network, fmt, output)
    click.echo(f"wrote {fmt} to {path}")


def _harness():
    """The benchmark harness of the source checkout (``benchmarks/harness.py``; not installed)."""
    import importlib.util

    try:
        from benchmarks import harness

        return harness
    except ImportError:
        pass
    for root in (Path.cwd(), *Path(__file__).resolve().parents):
        path = root / "benchmarks" / "harness.py"
        if path.is_file():
            spec = importlib.util.spec_from_file_location("benchmarks.harness", path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[spec.name] = module
            spec.loader.exec_module(module)
            return module
    raise BayesNetError(
        "bayesnet bench runs the benchmark harness of a source checkout (benchmarks/harness.py), which is not "
        "installed with the package: run it from the repository's folder"
    )


@cli.command()
@click.option("--networks", "networks", multiple=True, metavar="NAME",
              help="Network to benchmark; repeat for several. back_pain, back_pain_emergency, a pgmpy bundled "
              "network (asia, alarm, child, insurance, hepar2, win95pts, hailfinder, pigs, munin, barley...) or "
              "all (every bundled network). Default: back_pain and the seven reference networks.")
@click.option("--quick", is_flag=True, help="Fewer rows (a fifth of the engine rows, 50 pgmpy/pyAgrum rows).")
@click.option("--rows", type=click.IntRange(min=1), default=None,
              help="Engine rows per network (default 100,000; 500 to 50,000 on the big networks).")
@click.option("--ref", type=click.IntRange(min=1), default=None, help="Rows answered by pyAgrum and pgmpy (default 100).")
@click.option("--seed", default=0, show_default=True, help="Seed of the random scenarios.")
@click.option("--max-fraction", type=click.FloatRange(min=0.0, max=1.0), default=0.6, show_default=True,
              help="Each row observes each variable with a probability drawn from [0, this]: 0.6 observes about 30%.")
@click.option("--pgmpy-budget", type=click.FloatRange(min=0.0), default=60.0, show_default=True,
              help="Seconds of pgmpy queries per network (at least one row); pgmpy is not run on barley, diabetes, "
              "link, mildew and the munin networks (minutes per query).")
@click.option("--pyagrum/--no-pyagrum", default=True, show_default=True, help="Also time pyAgrum when installed.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object (machine, results) instead of a table.")
def bench(networks: tuple[str, ...], quick: bool, rows: int | None, ref: int | None, seed: int, max_fraction: float,
          pgmpy_budget: float, pyagrum: bool, as_json: bool) -> None:
    """Measure the compiled engine against pgmpy and pyAgrum on the same scenarios, in one run.

    For every network: scenarios per second of the engine (all rows, vectorised, and exactly the
    rows the references answer) and of pgmpy VariableElimination and pyAgrum LazyPropagation
    (row by row, same targets; for the back-pain model every condition), the ratios on the same
    rows, single-row latency, peak traced memory, and the largest difference from pgmpy (or from
    pyAgrum where pgmpy is not run): the exactness check, tolerance 1e-9, on the CPTs as the files
    give them.
    """
    b = _harness()

    names = list(networks) or list(b.DEFAULT_NETWORKS)
    if "all" in names:
        names = b.all_networks()
    available = [*b.BACK_PAIN, *sorted(p.name[: -len(".bif.gz")] for p in b.example_models_dir().glob("*.bif.gz"))]
    for name in names:
        if name not in available:
            raise UnknownNameError("network", name, available)

    def progress(res: dict) -> None:
        ratios = [f"x{res[k]:,.1f} {who}" for k, who in (("same_rows_vs_pgmpy", "pgmpy"),
                                                         ("same_rows_vs_pyagrum", "pyAgrum")) if res.get(k)]
        click.echo(f"  {res['network']}: {res['engine_rows_per_s']:,.0f} rows/s, {', '.join(ratios)}", err=True)

    results = b.run(names, quick=quick, rows=rows, n_ref=ref, seed=seed, pyagrum=pyagrum, progress=progress,
                    max_fraction=max_fraction, pgmpy_budget_s=pgmpy_budget)
    info = b.machine()
    if as_json:
        click.echo(json.dumps({"machine": info, "results": results}, indent=2))
    else:
        click.echo(b.format_table(results, info))


def _encoding_option(ctx: click.Context, param: click.Parameter, value: str) -> str:
    from bayesnet.io.batch import check_encoding

    try:
        return check_encoding(value)
    except BayesNetError as exc:
        raise click.BadParameter(str(exc)) from None


def _max_errors_option(ctx: click.Context, param: click.Parameter, value: str):
    from bayesnet.io.batch import ErrorLimit

    try:
        return ErrorLimit.parse(value)
    except BayesNetError as exc:
        raise click.BadParameter(str(exc)) from None


@cli.command()
@click.argument("input_file", type=click.Path(dir_okay=False))
@click.option("-o", "--output", type=click.Path(dir_okay=False), required=True,
              help="Output file (.csv, .csv.gz or .parquet); it must not be the input.")
@_setting_option
@click.option(
    "--engine",
    "engine",
    type=click.Choice(["local", "dask"]),
    default=None,
    help="Where to compute: local (vectorised, in this process; the default) or dask (partitions scored on a "
    "Dask cluster: a local one unless --scheduler is given; needs pip install 'bayesnet[dask]').",
)
@click.option(
    "--scheduler",
    metavar="ADDRESS",
    default=None,
    help="Address of a running Dask scheduler, e.g. tcp://10.0.0.5:8786; implies --engine dask. The workers "
    "read INPUT_FILE themselves, so it must be at the same path on every worker.",
)
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=None,
    help="Worker processes of the local Dask cluster started when no --scheduler is given [default: 2].",
)
@click.option(
    "--connect-timeout",
    type=click.FloatRange(min=0, min_open=True),
    default=10.0,
    show_default=True,
    help="Seconds to wait for the --scheduler before giving up (and to reconnect to it if the connection drops).",
)
@click.option(
    "--chunk-size",
    default=50_000,
    show_default=True,
    help="Rows read, scored and written at a time (with dask: about this many rows per partition; a file with "
    "many columns is read in fewer rows).",
)
@click.option("--encoding", default="utf-8", show_default=True, callback=_encoding_option,
              help="Text encoding of a CSV input, e.g. cp1252, latin-1, utf-16.")
@click.option("--resume", is_flag=True,
              help="Continue the interrupted run of OUTPUT (OUTPUT.partial) from its last complete chunk; the "
              "result is the same file as an uninterrupted run. Refused if the input or an option changed.")
@click.option("--max-errors", default="50%", show_default=True, callback=_max_errors_option, metavar="N|P%|none",
              help="Stop (exit 2, keeping OUTPUT.partial) when more than N rows have failed, or more than P% of the "
              "rows read once 1,000 have failed; none: never stop.")
@click.option("--progress/--no-progress", default=None, help="Progress bar (default: only on a terminal).")
@_priors_option
def batch(
    input_file: str,
    output: str,
    setting: str,
    engine: str | None,
    scheduler: str | None,
    workers: int | None,
    connect_timeout: float,
    chunk_size: int,
    encoding: str,
    resume: bool,
    max_errors,
    progress: bool | None,
    priors: str | None,
) -> int:
    """Score a table of scenarios: one row per patient or what-if, one column per variable.

    INPUT_FILE is a CSV or Parquet file whose columns are variable ids (e.g. age_group, fever,
    d_dimer) and whose cells are states; empty cells mean "not observed". The output has one
    row per input row, in the same order: `row` (0-based input row), P(yes) for every condition,
    and `error`: empty when the row was computed, else short codes such as unknown_state:fever or
    unknown_column:fevr, each explained once on stderr. The exit status is 2 if any row failed;
    all other rows are still written.

    Rows go to OUTPUT.partial, renamed onto OUTPUT only when the run is complete: a run that stops
    leaves the previous OUTPUT untouched, and --resume continues it.

    With --engine dask the same engine runs on a Dask cluster, partition by partition, and the
    output is the same file; without --scheduler a local cluster (--workers processes on
    127.0.0.1) is started and stopped.
    """
    engine = _batch_engine(engine, scheduler, workers)
    model = _model(setting, priors)
    from bayesnet.io.batch import manifest_path, partial_path

    partial = partial_path(Path(output))
    earlier = partial.exists()
    options = {"chunk_size": chunk_size, "progress": progress, "encoding": encoding, "resume": resume,
               "max_errors": max_errors}
    try:
        with _terminate_as_interrupt():
            if engine == "dask":
                from bayesnet.io.distributed import DEFAULT_WORKERS, run_batch_dask

                report = run_batch_dask(model, input_file, output, scheduler=scheduler,
                                        n_workers=workers or DEFAULT_WORKERS, connect_timeout=connect_timeout,
                                        **options)
            else:
                from bayesnet.io.batch import run_batch

                report = run_batch(model, input_file, output, **options)
    except (BayesNetError, KeyboardInterrupt) as exc:
        stopped = ("terminated (SIGTERM)" if isinstance(exc, _Terminated) else "interrupted"
                   if isinstance(exc, KeyboardInterrupt) else str(exc))
        if partial.exists():  # a run that stopped: say where its rows are, and that the output is untouched
            again = "; continue it with --resume" if manifest_path(Path(output)).exists() else ""
            message = (f"{stopped} (the rows written so far are in {str(partial)!r}; {str(output)!r} was not "
                       f"changed{again})")
        else:
            message = f"{stopped} ({str(output)!r} was not changed)" if isinstance(exc, KeyboardInterrupt) else stopped
        if isinstance(exc, KeyboardInterrupt):
            _error(message)
            raise click.exceptions.Exit(143 if isinstance(exc, _Terminated) else 130) from None
        raise BayesNetError(message) from None
    if report.resumed:
        click.echo(f"resumed the interrupted run after its first {report.resumed_from:,} rows", err=True)
    elif resume:
        click.echo(f"note: there was no interrupted run of {output} to resume; started from the first row", err=True)
    elif earlier:
        click.echo(f"note: started over; the unfinished earlier run in {partial} was replaced (--resume would have "
                   "continued it)", err=True)
    _batch_problems(report)
    click.echo(f"scored {report.rows - report.failed} of {report.rows} rows; wrote {output}", err=True)
    return 2 if report.failed else 0


def _batch_problems(report) -> None:
    """One stderr line per distinct problem of a batch run (code, rows, first row, explanation)."""
    problems = sorted(report.problems.values(), key=lambda p: p.first_row)  # the same whatever the chunking
    for p in problems[:20]:
        rows = f"{p.rows:,} row" + ("s" if p.rows != 1 else "")
        click.echo(_one_line(f"{p.code}: {rows}, first row {p.first_row}: {p.message}"), err=True)
    hidden = problems[20:]
    if hidden or report.unlisted:
        cells = sum(p.rows for p in hidden) + report.unlisted
        click.echo(f"... and more kinds of problem in {cells:,} more cells (see the error column)", err=True)


class _Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the command runs."""


@contextlib.contextmanager
def _terminate_as_interrupt():
    """SIGTERM ends the command like Ctrl-C (files closed, a local Dask cluster stopped), in the main thread."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum, frame):
        raise _Terminated

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _batch_engine(engine: str | None, scheduler: str | None, workers: int | None) -> str:
    """The engine `batch` uses: --scheduler implies dask; options that need dask are refused with local."""
    if engine is None:
        engine = "dask" if scheduler is not None else "local"
    if engine == "local" and scheduler is not None:
        raise click.UsageError("--scheduler needs --engine dask (or leave out --engine)")
    if engine == "local" and workers is not None:
        raise click.UsageError("--workers needs --engine dask")
    if scheduler is not None and workers is not None:
        raise click.UsageError("--workers sets the size of the local cluster; it cannot be used with --scheduler")
    return engine


# commands that live next to what they drive: imported only when run (or asked for their own help),
# so `bayesnet --help` and the commands above start without them; their one-line help is kept here
# (a test checks it equals each command's own)
LAZY_COMMANDS = {
    "explore": ("bayesnet.present.explorer", "explore"),
    "figures": ("bayesnet.present.figures", "figures_command"),
    "recalibrate": ("bayesnet.present.recalibration", "recalibrate_command"),
    "rule": ("bayesnet.present.rules", "rule_command"),
}
LAZY_SHORT_HELP = {
    "explore": "Serve the interactive differential explorer as a web page...",
    "figures": "Regenerate every figure (network, rankings, waterfall,...",
    "recalibrate": "Update the model's numbers with your own counts, the...",
    "rule": "How red-flag rules perform in a setting: sensitivity,...",
}


def _lazy_get_command(ctx: click.Context, name: str):
    if name in LAZY_COMMANDS:
        import importlib

        module, attr = LAZY_COMMANDS[name]
        return getattr(importlib.import_module(module), attr)
    return click.Group.get_command(cli, ctx, name)


def _lazy_list_commands(ctx: click.Context) -> list[str]:
    return sorted({*click.Group.list_commands(cli, ctx), *LAZY_COMMANDS})


def _lazy_format_commands(ctx: click.Context, formatter: click.HelpFormatter) -> None:
    rows = []
    for name in _lazy_list_commands(ctx):
        if name in LAZY_COMMANDS:
            rows.append((name, LAZY_SHORT_HELP[name]))
            continue
        cmd = click.Group.get_command(cli, ctx, name)
        if cmd is not None and not cmd.hidden:
            rows.append((name, cmd.get_short_help_str(formatter.width - 6 - max(len(n) for n in LAZY_COMMANDS))))
    if rows:
        with formatter.section("Commands"):
            formatter.write_dl(rows)


cli.get_command = _lazy_get_command
cli.list_commands = _lazy_list_commands
cli.format_commands = _lazy_format_commands


def _error(message: str) -> None:
    """Print one error line on stderr."""
    click.echo(f"error: {_one_line(message)}", err=True)


@cli.command("validate")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--draws", type=click.IntRange(min=0), default=500, show_default=True,
              help="Parameter draws for the model's interval (0 = no intervals).")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option("--figure", "figure", type=click.Path(dir_okay=False), default=None,
              help="Also write the calibration figure (published against model, log scale) to this file "
              "(.png, .svg, .pdf).")
@click.option("--file", "path", type=click.Path(dir_okay=False), default=None,
              help="Another validation file (default: the shipped priors/validation/scenarios.yaml).")
@_priors_option
def validate_command(as_json: bool, draws: int, seed: int, figure: str | None, path: str | None,
                     priors: str | None) -> None:
    """Compare the model with published post-test probabilities (clinical validation).

    Runs every scenario of the validation file in its setting and prints, per scenario, the
    published value with its 95% interval, the model's value with its interval over parameter
    draws, whether the model's value lies inside the published interval and whether the two
    intervals overlap; then a summary line. The exit status is 0 whatever the agreement (it is a
    report); 2 for a bad file.

    Example: bayesnet validate --figure validation.png
    """
    check_figure_path(figure)
    from bayesnet.present.display import validation_summary_line, validation_text
    from bayesnet.present.plots import calibration_plot

    df = _model("primary_care", priors).validate(path=path, draws=draws, seed=seed)
    if figure is not None:
        ax = calibration_plot(df)
        ax.figure.savefig(figure, dpi=150)
    if as_json:
        out = {
            "draws": draws,
            "seed": seed,
            "level": df.attrs["level"],
            "summary": {**df.attrs["summary"], "line": validation_summary_line(df)},
            "scenarios": [{k: _json_value(v) for k, v in rec.items()} for rec in df.to_dict("records")],
        }
        if figure is not None:
            out["figure"] = str(figure)
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(f"{validation_text(df)}\n\n{validation_summary_line(df)}")
        if figure is not None:
            click.echo(f"wrote the calibration figure to {figure}")


def _stdout_closed() -> None:
    """The reader of stdout went away (``bayesnet sources | head``): send what is left to /dev/null, so that
    the interpreter's final flush does not fail too."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # stdout without a file descriptor (captured in tests)
        pass


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit status (0 ok, 2 bad input, 1 other error).

    A closed pipe on stdout (``bayesnet sources | head``) ends the command quietly with status 0,
    whether it shows while writing or at the final flush.
    """
    status = _main(argv)
    try:
        sys.stdout.flush()
    except BrokenPipeError:
        _stdout_closed()
        return 0
    except (OSError, ValueError):  # stdout already closed: nothing more can be written anyway
        pass
    return status


def _main(argv: list[str] | None) -> int:
    stdout = sys.stdout
    try:
        rv = cli.main(args=argv, prog_name="bayesnet", standalone_mode=False)
        return int(rv) if isinstance(rv, int) else 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except SystemExit as exc:
        if sys.stdout is not stdout:  # click met a closed pipe (EPIPE) and wrapped stdout before exiting with 1
            sys.stdout = stdout
            _stdout_closed()
            return 0
        raise
    except click.exceptions.Abort:
        click.echo("error: aborted", err=True)
        return 1
    except click.exceptions.NoArgsIsHelpError as exc:  # a bare `bayesnet` (or group): its help, not an error
        click.echo(exc.ctx.get_help() if exc.ctx is not None else exc.format_message())
        return 0
    except click.UsageError as exc:
        msg = exc.format_message().replace("\n", " ")
        hint = f" (see 'bayesnet {exc.ctx.info_name} --help')" if exc.ctx is not None and exc.ctx.parent else ""
        _error(f"{msg}{hint}")
        return 2
    except BayesNetError as exc:
        _error(str(exc))
        return 2
    except FileNotFoundError as exc:
        _error(f"file not found: {exc.filename or exc}")
        return 2
    except BrokenPipeError:  # e.g. `bayesnet sources | head`
        _stdout_closed()
        return 0
    except Exception as exc:
        if os.environ.get("BAYESNET_DEBUG"):
            raise
        _error(f"unexpected {type(exc).__name__}: {exc} (set BAYESNET_DEBUG=1 for a traceback)")
        return 1


def run() -> None:  # pragma: no cover - used by `python -m bayesnet`
    sys.exit(main())


__all__ = ["EXPORT_FORMATS", "Path", "cli", "main"]
