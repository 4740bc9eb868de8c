"""Red-flag rules on synthetic cohorts, drawn: text and HTML tables, the decision curve, ``bayesnet rule``.

Nothing here computes probabilities: the numbers come from
:func:`bayesnet.reasoning.rules.evaluate_rule` (:class:`~bayesnet.reasoning.rules.RuleEvaluation`).
Importing this module registers the text and HTML forms of a ``RuleEvaluation`` (its ``repr``
and Jupyter display).

Examples
--------
>>> import matplotlib
>>> matplotlib.use("Agg")
>>> import bayesnet
>>> from bayesnet.present import rules as rules_view
>>> from bayesnet.reasoning.rules import evaluate_rule
>>> res = evaluate_rule(bayesnet.load_model(), ["deyo_diehl_1988", "downie_2013"], draws=50)
>>> print(rules_view.rules_text(res, condition="any_serious").splitlines()[0])
Red-flag rules in primary_care: 50 parameter draws (seed 0), 95% intervals from parameter uncertainty (no study size given)
>>> ax = rules_view.decision_curve_plot(res)
>>> ax.get_xlabel()
'threshold probability'
"""

from __future__ import annotations

import html
import json
import math
import sys
from typing import Any

import click

from bayesnet.errors import UnknownNameError
from bayesnet.formatting import format_probability, register_renderer
from bayesnet.present.commands import check_figure_path, run_standalone
from bayesnet.present.display import DISCLAIMER, STYLESHEET, label
from bayesnet.reasoning.rules import ANY_SERIOUS, METRICS, RuleEvaluation, evaluate_rule

__all__ = ["decision_curve_plot", "main", "rule_command", "rules_html", "rules_text"]

HEADINGS = {"sensitivity": "sensitivity", "specificity": "specificity", "ppv": "PPV", "npv": "NPV",
            "flagged": "flagged", "flagged_per_case": "flagged/case"}
_NAME_WIDTH = 26
_CELL_WIDTH = 24


def _label(condition: str) -> str:
    return "any serious condition" if condition == ANY_SERIOUS else label(condition)


def _value(x: float, metric: str) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "undefined"
    if metric == "flagged_per_case":
        return "inf" if math.isinf(x) else f"{x:.3g}"
    return format_probability(x)


def _cell(r: Any, metric: str) -> str:
    text = _value(r["value"], metric)
    if not (math.isnan(r["low"]) and math.isnan(r["high"])):
        text += f" ({_value(r['low'], metric)}-{_value(r['high'], metric)})"
    if r["defined"] == r["defined"] and r["defined"] < 1.0:  # not NaN and below 1
        text += "*"
    return text


def _header(res: RuleEvaluation) -> str:
    pct = f"{100 * res.level:g}%"
    if not res.draws:
        return f"Red-flag rules in {res.setting}: exact values under the published numbers (no intervals: draws=0)"
    where = (f"a study of {res.cohort_size:,} patients (sampling and parameter uncertainty)" if res.cohort_size
             else "parameter uncertainty (no study size given)")
    return (f"Red-flag rules in {res.setting}: {res.draws:,} parameter draws (seed {res.seed}), {pct} intervals "
            f"from {where}")


def _rows(res: RuleEvaluation) -> dict[tuple[str, str], dict[str, dict]]:
    out: dict[tuple[str, str], dict[str, dict]] = {}
    for rec in res.metrics.to_dict("records"):
        out.setdefault((rec["rule"], rec["condition"]), {})[rec["metric"]] = rec
    return out


def rules_text(res: RuleEvaluation, condition: str | None = None) -> str:
    """Plain-text tables: the rules side by side for any serious condition, then each rule by condition.

    Parameters
    ----------
    res : RuleEvaluation
    condition : str, optional
        Show only this condition (``any_serious`` or a serious condition).
    """
    if condition is not None and condition not in res.conditions:
        raise UnknownNameError("condition", condition, res.conditions)
    rows = _rows(res)
    width = min(40, max([_NAME_WIDTH - 2, *(len(r.name) for r in res.rules)]) + 2)
    head = (f"{'':<{width}}" + "".join(f"{HEADINGS[m]:<{_CELL_WIDTH}}" for m in METRICS)).rstrip()
    lines = [_header(res), ""]
    starred = False

    def line(name: str, cells: dict) -> str:
        nonlocal starred
        texts = [_cell(cells[m], m) for m in METRICS]
        starred = starred or any(t.endswith("*") for t in texts)
        return f"{name[:width - 1]:<{width}}" + "".join(f"{t:<{_CELL_WIDTH}}" for t in texts).rstrip()

    shown = [condition] if condition is not None else [ANY_SERIOUS]
    for c in shown:
        prev = float(res.cells.xs(c, level="condition")["prevalence"].iloc[0])
        lines += [f"{_label(c)} (prevalence {format_probability(prev)})", head]
        lines += [line(r.name, rows[(r.name, c)]) for r in res.rules]
        lines.append("")
    if condition is None:
        for r in res.rules:
            lines.append(f"{r.name}: {r.describe()}")
            if r.citation:
                lines.append(f"  {r.citation}")
            if r.unmapped:
                lines.append(f"  no variable for: {'; '.join(r.unmapped)}")
            lines.append(head)
            lines += [line(_label(c), rows[(r.name, c)]) for c in res.conditions]
            lines.append("")
    if res.cohort is not None:
        lines.append(f"Sampled cohort: {res.cohort_n:,} patients forward-sampled (seed {res.seed}); exact binomial "
                     f"{100 * res.level:g}% intervals")
        sub = res.cohort[res.cohort["condition"] == (condition or ANY_SERIOUS)]
        lines.append(head)
        for r in res.rules:
            cells = {rec["metric"]: {**rec, "defined": 1.0} for rec in sub[sub["rule"] == r.name].to_dict("records")}
            lines.append(line(r.name, cells))
        lines.append("")
    if starred:
        lines.append("* defined in only some simulated studies (no case, or no one flagged, in the others); the "
                     "interval is over those where it is")
    lines.append("flagged = share of patients the rule flags; flagged/case = patients flagged per serious case found "
                 f"(1/PPV). {DISCLAIMER}")
    return "\n".join(lines)


def _num(x: float) -> str:
    return repr(float(x))


def rules_html(res: RuleEvaluation, *, style: bool = True, condition: str | None = None) -> str:
    """HTML tables of a :class:`RuleEvaluation` (the rules side by side for any serious condition, then by rule).

    Every row is a ``<tr data-rule=... data-condition=...>`` whose cells carry ``data-metric``,
    ``data-value``, ``data-low`` and ``data-high`` (full-precision floats).

    Examples
    --------
    >>> import bayesnet
    >>> from bayesnet.reasoning.rules import evaluate_rule
    >>> res = evaluate_rule(bayesnet.load_model(), "downie_2013", draws=0)
    >>> rules_html(res).count('data-metric="ppv"') == len(res.conditions) + 1
    True
    """
    rows = _rows(res)
    e = html.escape

    def table(title: str, keys: list[tuple[str, str, str]]) -> str:
        head = "".join(f'<th class="num">{e(HEADINGS[m])}</th>' for m in METRICS)
        body = []
        for rule, cond, name in keys:
            cells = []
            for m in METRICS:
                r = rows[(rule, cond)][m]
                cells.append(f'<td class="num" data-metric="{m}" data-value="{_num(r["value"])}" '
                             f'data-low="{_num(r["low"])}" data-high="{_num(r["high"])}">{e(_cell(r, m))}</td>')
            body.append(f'<tr data-rule="{e(rule, quote=True)}" data-condition="{e(cond, quote=True)}">'
                        f'<td class="name">{e(name)}</td>{"".join(cells)}</tr>')
        return f"<h3>{e(title)}</h3><table><thead><tr><th></th>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"

    c0 = condition or ANY_SERIOUS
    parts = [table(f"{_label(c0)}: the rules side by side", [(r.name, c0, r.name) for r in res.rules])]
    if condition is None:
        for r in res.rules:
            parts.append(table(r.name, [(r.name, c, _label(c)) for c in res.conditions]))
            note = e(r.describe()) + (f"<br>{e(r.citation)}" if r.citation else "")
            if r.unmapped:
                note += f"<br>no variable for: {e('; '.join(r.unmapped))}"
            parts.append(f'<div class="bn-note">{note}</div>')
    fragment = (f'<div class="bn-view bn-rules" data-setting="{e(res.setting, quote=True)}" data-draws="{res.draws}" '
                f'data-cohort-size="{res.cohort_size or ""}"><div class="bn-note">{e(_header(res))}</div>'
                + "".join(parts) + f'<div class="bn-note">{e(DISCLAIMER)}</div></div>')
    return f"<div><style>{STYLESHEET}</style>{fragment}</div>" if style else fragment


def decision_curve_plot(result: RuleEvaluation, ax: Any = None, condition: str = ANY_SERIOUS,
                        thresholds: Any = None, intervals: bool = True) -> Any:
    """Net benefit of each rule against flagging everyone and no one, across threshold probabilities.

    Parameters
    ----------
    result : RuleEvaluation
    ax : matplotlib Axes, optional
    condition : str, default "any_serious"
    thresholds : sequence of float, optional
        See :meth:`RuleEvaluation.decision_curve`.
    intervals : bool, default True
        Shade each rule's interval (when the result has draws).

    Returns
    -------
    matplotlib Axes
    """
    curve = result.decision_curve(condition, thresholds)
    if ax is None:
        import matplotlib.pyplot as plt

        _, ax = plt.subplots(figsize=(7.5, 4.5), layout="constrained")
    peak = 0.0
    for strategy, part in curve.groupby("strategy", sort=False):
        x = part["threshold"].to_numpy()
        y = part["net_benefit"].to_numpy()
        style = {"flag everyone": {"color": "#555555", "linestyle": "--"},
                 "flag no one": {"color": "#999999", "linestyle": ":"}}.get(strategy, {})
        (line,) = ax.plot(x, y, label=strategy, linewidth=1.8, **style)
        if intervals and strategy not in ("flag everyone", "flag no one") and part["low"].notna().any():
            ax.fill_between(x, part["low"], part["high"], color=line.get_color(), alpha=0.15, linewidth=0)
        peak = max(peak, float(max(y.max(), 0.0)))
    prevalence = float(result.cells.xs(condition, level="condition")["prevalence"].iloc[0])
    top = max(peak, prevalence, 1e-6) * 1.15
    ax.set_ylim(-0.25 * top, top)
    ax.set_xlim(float(curve["threshold"].min()), float(curve["threshold"].max()))
    from matplotlib.ticker import FuncFormatter

    ax.xaxis.set_major_formatter(FuncFormatter(_percent_format))
    ax.set_xlabel("threshold probability")
    ax.set_ylabel("net benefit (true positives per patient)")
    ax.set_title(f"Decision curve: {_label(condition)} ({_label(result.setting)})")
    ax.axhline(0.0, color="#cccccc", linewidth=0.8)
    ax.legend(fontsize=8, frameon=False)
    return ax


def _percent_format(x: float, _pos: Any = None) -> str:
    return f"{100 * x:.3g}%"


register_renderer("rule_evaluation", "text", rules_text)
register_renderer("rule_evaluation", "html", rules_html)


# ---------------------------------------------------------------------------------- command line
@click.command("rule", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("files", nargs=-1, required=True, metavar="FILE [FILE...]")
@click.option("--setting", default="primary_care", show_default=True,
              help="Population: a shipped setting or the path of a setting file of your own.")
@click.option("--draws", type=click.IntRange(min=0), default=1000, show_default=True,
              help="Parameter draws from the published intervals for the 95% intervals (0 = exact values only).")
@click.option("--cohort-size", "cohort_size", type=click.IntRange(min=1), default=None, metavar="N",
              help="Patients in the study the intervals simulate (sampling and parameter uncertainty); "
              "default: parameter uncertainty alone.")
@click.option("--seed", type=click.IntRange(min=0), default=0, show_default=True, help="Seed of the draws.")
@click.option("--sample-cohort", "cohort", type=click.IntRange(min=1), default=None, metavar="N",
              help="Also forward-sample N patients and report the metrics counted in them (with exact binomial "
              "intervals).")
@click.option("--condition", default=None, help="Show only this condition (e.g. spinal_metastasis, any_serious).")
@click.option("--figure", type=click.Path(dir_okay=False), default=None,
              help="Also write the decision curve (for --condition, default any_serious) to this file (.png, .svg, "
              ".pdf).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of tables.")
@click.option("--priors", type=click.Path(), default=None, help="Folder of priors files to use instead of the shipped ones.")
def rule_command(files: tuple[str, ...], setting: str, draws: int, cohort_size: int | None, seed: int,
                 cohort: int | None, condition: str | None, figure: str | None, as_json: bool,
                 priors: str | None) -> None:
    """How red-flag rules perform in a setting: sensitivity, specificity, PPV, NPV, share flagged, flagged per case.

    FILE is a rule file (YAML or JSON: any/all/not of variable: state tests, see
    bayesnet.reasoning.rules) or the name of a shipped rule. Every serious condition and "any
    serious condition" get exact values from the network and 95% intervals over parameter draws
    (and, with --cohort-size, a simulated study of that many patients). Several files are shown
    side by side.

    Example: bayesnet rule deyo_diehl_1988 acp_aps_2007 --cohort-size 1000
    """

    check_figure_path(figure)
    from bayesnet.model import load_model

    model = load_model(setting=setting, priors=priors)
    res = evaluate_rule(model, list(files), draws=draws, seed=seed, cohort_size=cohort_size, cohort=cohort)
    if condition is not None and condition not in res.conditions:
        raise UnknownNameError("condition", condition, res.conditions)
    if figure is not None:
        import matplotlib

        matplotlib.use("Agg")
        ax = decision_curve_plot(res, condition=condition or ANY_SERIOUS)
        ax.figure.savefig(figure, dpi=150)
    if as_json:
        out = res.to_dict()
        if figure is not None:
            out["figure"] = str(figure)
        click.echo(json.dumps(out, indent=2))
    else:
        click.echo(rules_text(res, condition=condition))
        if figure is not None:
            click.echo(f"wrote the decision curve to {figure}")


def main(argv: list[str] | None = None) -> int:
    """``python -m bayesnet.present.rules``: the ``rule`` command with the package's exit statuses."""
    return run_standalone(rule_command, argv, "bayesnet rule")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
