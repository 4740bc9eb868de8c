"""Text and HTML rendering of results (no computation here)."""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING

import pandas as pd

from bayesnet.formatting import format_probability, register_renderer
from bayesnet.reasoning.validation import summary

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.reasoning.diagnosis import Diagnosis

__all__ = ["explanation_text", "format_probability", "next_tests_text", "ranking_html", "ranking_text", "sensitivity_text", "uncertainty_text"]

_BAR_WIDTH = 24


def _bar(p: float, width: int = _BAR_WIDTH) -> str:
    n = int(round(p * width))
    return "#" * n + "." * (width - n)


def _evidence_line(dx: Diagnosis) -> str:
    parts = [f"{k}={v}" for k, v in dx.evidence.hard.items()]
    parts += [f"{k}~{v}" for k, v in dx.evidence.soft_dicts.items()]
    return ", ".join(parts) if parts else "(none)"


def ranking_text(dx: Diagnosis) -> str:
    """Plain-text table of a diagnosis, with probability bars."""
    lines = [
        f"Differential diagnosis ({dx.setting})",
        f"Evidence: {_evidence_line(dx)}",
        "",
        f"{'condition':<24} {'prior':>9} {'posterior':>10} {'LR':>9}  {'':<{_BAR_WIDTH}}",
    ]
    for cond, r in dx.ranking.iterrows():
        lr = r.likelihood_ratio
        lr_text = "inf" if lr == float("inf") else f"{lr:.3g}"
        flag = "" if r.serious else " (not serious)"
        lines.append(
            f"{cond:<24} {format_probability(r.prior):>9} {format_probability(r.posterior):>10} "
            f"{lr_text:>9}  {_bar(r.posterior)}{flag}"
        )
    lines.append("")
    lines.append("LR = posterior odds / prior odds. Research and teaching tool, not a medical device.")
    return "\n".join(lines)


def ranking_html(dx: Diagnosis) -> str:
    """HTML table with inline probability bars (for Jupyter)."""
    rows = []
    for cond, r in dx.ranking.iterrows():
        width = max(0.0, min(100.0, 100.0 * r.posterior))
        colour = "#c0392b" if r.serious else "#7f8c8d"
        lr = r.likelihood_ratio
        lr_text = "&infin;" if lr == float("inf") else f"{lr:.3g}"
        rows.append(
            "<tr>"
            f"<td style='text-align:left'>{html.escape(cond)}</td>"
            f"<td>{format_probability(r.prior)}</td>"
            f"<td>{format_probability(r.posterior)}</td>"
            f"<td>{lr_text}</td>"
            "<td style='min-width:160px'><div style='background:#eee;width:160px'>"
            f"<div style='background:{colour};width:{width:.1f}%;height:10px'></div></div></td>"
            "</tr>"
        )
    return (
        f"<div><b>Differential diagnosis</b> ({html.escape(dx.setting)})<br>"
        f"<small>Evidence: {html.escape(_evidence_line(dx))}</small>"
        "<table><thead><tr><th>condition</th><th>prior</th><th>posterior</th><th>LR</th><th></th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        "<small>LR = posterior odds / prior odds. Research and teaching tool, not a medical device.</small></div>"
    )


def explanation_text(ex: pd.DataFrame) -> str:
    """Plain-text table of :meth:`Diagnosis.explain`."""
    cond = ex.attrs.get("condition", "")
    lines = [
        f"Why {cond}: prior {format_probability(ex.attrs['prior'])} -> posterior "
        f"{format_probability(ex.attrs['posterior'])}",
        "",
        f"{'finding':<26} {'state':<12} {'contribution':>12} {'LR':>9} {'without it':>11}",
    ]
    for r in ex.itertuples():
        lines.append(
            f"{r.variable:<26} {r.state!s:<12} {r.contribution:>+12.3f} {r.likelihood_ratio:>9.3g} "
            f"{format_probability(r.posterior_without):>11}"
        )
    if not len(ex):
        lines.append("(no evidence)")
    lines.append("")
    if ex.attrs.get("note"):
        lines.append(str(ex.attrs["note"]))
    lines.append("contribution = change in log-odds when the finding is removed; LR = exp(contribution).")
    return "\n".join(lines)


def next_tests_text(nt: pd.DataFrame) -> str:
    """Plain-text table of :meth:`BackPainModel.next_tests`."""
    focus = nt.attrs.get("focus", "")
    threshold = nt.attrs.get("threshold")
    lines = [
        f"Next best observations (focus: {focus}, now {format_probability(nt.attrs.get('current', float('nan')))}; "
        f"uncertainty {nt.attrs.get('entropy', float('nan')):.3f} bits)",
        "",
    ]
    cross = "p_cross" in nt.columns
    head = f"{'variable':<24} {'kind':<8} {'entropy -bits':>13} {'E|change|':>10}"
    head += f" {'P(cross ' + str(threshold) + ')':>14}" if cross else ""
    lines.append(head + "  results: P(result) -> P(" + str(focus) + ")")
    for v, r in nt.iterrows():
        line = f"{v:<24} {r.kind:<8} {r.expected_entropy_reduction:>13.4f} {r.expected_change:>10.4f}"
        line += f" {r.p_cross:>14.3f}" if cross else ""
        lines.append(f"{line}  {r.results}")
    return "\n".join(lines)


def uncertainty_text(dx: Diagnosis, unc: pd.DataFrame, draws: int) -> str:
    """The ranking with a 95% interval per posterior (``diagnose --uncertainty``)."""
    lines = [
        f"Differential diagnosis ({dx.setting}), with 95% intervals from {draws} draws of the published numbers",
        f"Evidence: {_evidence_line(dx)}",
        "",
        f"{'condition':<24} {'prior':>9} {'posterior':>10} {'95% interval':>22}",
    ]
    for cond, r in dx.ranking.iterrows():
        lo, hi = unc.loc[cond, "low"], unc.loc[cond, "high"]
        interval = f"{format_probability(lo)} - {format_probability(hi)}"
        lines.append(f"{cond:<24} {format_probability(r.prior):>9} {format_probability(r.posterior):>10} {interval:>22}")
    lines.append("")
    lines.append("Research and teaching tool, not a medical device.")
    return "\n".join(lines)


def sensitivity_text(tor: pd.DataFrame) -> str:
    """Plain-text tornado table of :meth:`BackPainModel.sensitivity`."""
    cond = tor.attrs.get("condition", "")
    lines = [
        f"Sensitivity of P({cond}) = {format_probability(tor.attrs.get('base', float('nan')))} "
        "to each published number (moved to the ends of its interval)",
        "",
        f"{'node':<24} {'parameter':<34} {'grade':>5} {'at low':>9} {'at high':>9} {'swing':>9}",
    ]
    for r in tor.itertuples():
        lines.append(
            f"{r.node:<24} {r.parameter[:34]:<34} {r.grade:>5} {format_probability(r.posterior_low):>9} "
            f"{format_probability(r.posterior_high):>9} {r.swing:>9.2g}"
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- HTML tables for Jupyter
# Light renderers of the analysis tables (explain, next_tests, uncertainty, sensitivity), with inline
# bars. They return HTML strings and leave the DataFrames untouched; in a notebook:
#     from IPython.display import HTML
#     HTML(explanation_html(dx.explain("spinal_metastasis")))

_UP, _DOWN, _GREY = "#c0392b", "#2471a3", "#7f8c8d"
_TRACK = 140  # bar width in pixels
_CELL = "padding:1px 6px"


def _td(text: object, align: str = "right", extra: str = "") -> str:
    return f"<td style='text-align:{align};{_CELL};{extra}'>{html.escape(str(text))}</td>"


def _th(text: str, align: str = "right") -> str:
    return f"<th style='text-align:{align};{_CELL}'>{html.escape(text)}</th>"


def _bar_html(fraction: float, colour: str, width: int = _TRACK) -> str:
    """A left-aligned bar filling ``fraction`` (0-1) of a grey track."""
    f = 0.0 if pd.isna(fraction) else max(0.0, min(1.0, float(fraction)))
    return (
        f"<td style='{_CELL}'><div style='background:#eee;width:{width}px;height:10px'>"
        f"<div style='background:{colour};width:{100 * f:.1f}%;height:10px'></div></div></td>"
    )


def _diverging_html(value: float, scale: float, width: int = _TRACK) -> str:
    """A bar from the centre of the track: right (red) for positive values, left (blue) for negative."""
    f = 0.0 if not scale or pd.isna(value) else max(-1.0, min(1.0, float(value) / scale))
    half = 50 * abs(f)
    left = 50.0 if f >= 0 else 50.0 - half
    colour = _UP if f >= 0 else _DOWN
    return (
        f"<td style='{_CELL}'><div style='position:relative;background:#eee;width:{width}px;height:10px'>"
        f"<div style='position:absolute;left:50%;top:-2px;width:1px;height:14px;background:#555'></div>"
        f"<div style='position:absolute;left:{left:.1f}%;width:{half:.1f}%;height:10px;background:{colour}'></div>"
        "</div></td>"
    )


def _table_html(title: str, head: list[str], rows: list[str], note: str = "") -> str:
    heads = "".join(_th(h, "left" if i == 0 else "right") for i, h in enumerate(head))
    foot = f"<small>{html.escape(note)}</small>" if note else ""
    return (
        f"<div><b>{html.escape(title)}</b>"
        f"<table><thead><tr>{heads}</tr></thead><tbody>{''.join(rows)}</tbody></table>{foot}</div>"
    )


def explanation_html(ex: pd.DataFrame) -> str:
    """HTML table of :meth:`Diagnosis.explain` with a diverging bar per finding (for Jupyter).

    Bars run right (red) for findings that raise the odds and left (blue) for those that lower
    them, scaled to the largest contribution.

    Examples
    --------
    >>> import bayesnet
    >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "fever": "no"})
    >>> explanation_html(dx.explain("spinal_metastasis")).startswith("<div><b>Why spinal metastasis")
    True
    """
    cond = str(ex.attrs.get("condition", "condition"))
    title = (
        f"Why {cond.replace('_', ' ')}: {format_probability(ex.attrs.get('prior', float('nan')))} -> "
        f"{format_probability(ex.attrs.get('posterior', float('nan')))}"
    )
    scale = float(ex["contribution"].abs().max()) if len(ex) else 0.0
    rows = [
        "<tr>"
        + _td(r.variable, "left")
        + _td(r.state, "left")
        + _td(f"{r.contribution:+.2f}")
        + _td(f"x{r.likelihood_ratio:.3g}")
        + _td(format_probability(r.posterior_without))
        + _diverging_html(r.contribution, scale)
        + "</tr>"
        for r in ex.itertuples()
    ]
    if not rows:
        rows = ["<tr><td colspan='6' style='text-align:left'>(no evidence)</td></tr>"]
    return _table_html(
        title,
        ["finding", "state", "log-odds", "odds", "without it", ""],
        rows,
        "log-odds = change in log-odds when the finding is removed (its weight of evidence given the rest); "
        "odds = the factor it multiplies the odds by.",
    )


def next_tests_html(nt: pd.DataFrame, top: int | None = 12) -> str:
    """HTML table of :meth:`BackPainModel.next_tests` with a bar of the expected information gain.

    Examples
    --------
    >>> import bayesnet
    >>> nt = bayesnet.load_model().next_tests({"iv_drug_use": "yes", "fever": "yes"})
    >>> "mri_infection" in next_tests_html(nt, top=3)
    True
    """
    t = nt if top is None else nt.head(top)
    focus = str(nt.attrs.get("focus", ""))
    threshold = nt.attrs.get("threshold")
    cross = "p_cross" in t.columns
    scale = float(t["expected_entropy_reduction"].max()) if len(t) else 0.0
    rows = []
    for v, r in t.iterrows():
        colour = _UP if r.kind == "test" else _DOWN if r.kind == "finding" else _GREY
        cells = [
            _td(v, "left"), _td(r.kind), _td(f"{r.expected_entropy_reduction:.3f}"),
            _bar_html(r.expected_entropy_reduction / scale if scale else 0.0, colour),
            _td(f"{r.expected_change:.3f}"),
        ]
        if cross:
            cells.append(_td(f"{r.p_cross:.2f}"))
        cells.append(_td(r.results, "left", "font-size:smaller"))
        rows.append("<tr>" + "".join(cells) + "</tr>")
    head = ["variable", "kind", "bits", "", f"E|change| in P({focus})"]
    if cross:
        head.append(f"P(cross {threshold})")
    head.append(f"results: P(result) -> P({focus})")
    current = nt.attrs.get("current")
    title = f"Next best observations (focus: {focus.replace('_', ' ')}"
    title += f", now {format_probability(current)})" if current is not None else ")"
    return _table_html(
        title, head, rows,
        "bits = expected fall in the summed entropy of the serious conditions; red: tests, blue: findings.",
    )


def _log_position(p: float, lo: float) -> float:
    """Position of ``p`` on a log10 track from ``lo`` to 1, in percent."""
    import math

    p = min(max(float(p), lo), 1.0)
    return 100.0 * (math.log10(p) - math.log10(lo)) / -math.log10(lo)


def uncertainty_html(unc: pd.DataFrame) -> str:
    """HTML table of :meth:`BackPainModel.uncertainty`: each interval drawn on a log-scale track.

    The shaded span is the interval, the dark tick the point estimate; the track runs from the
    smallest lower bound (rounded down to a power of ten) to 100%.

    Examples
    --------
    >>> import bayesnet
    >>> u = bayesnet.load_model().uncertainty({"history_of_cancer": "yes"}, draws=100, seed=0)
    >>> uncertainty_html(u).count("<tr>")
    10
    """
    import math

    level = float(unc.attrs.get("level", 0.95))
    t = unc.sort_values("posterior", ascending=False)
    floor = max(1e-9, float(t["low"].clip(lower=1e-9).min())) if len(t) else 1e-4
    lo = 10.0 ** math.floor(math.log10(floor))
    rows = []
    for cond, r in t.iterrows():
        a, b, p = _log_position(r.low, lo), _log_position(r.high, lo), _log_position(r.posterior, lo)
        track = (
            f"<td style='{_CELL}'><div style='position:relative;background:#eee;width:{_TRACK * 1.5:.0f}px;"
            f"height:10px'><div style='position:absolute;left:{a:.1f}%;width:{max(b - a, 0.5):.1f}%;height:10px;"
            f"background:#e6a29a'></div><div style='position:absolute;left:{p:.1f}%;top:-2px;width:2px;"
            f"height:14px;background:{_UP}'></div></div></td>"
        )
        rows.append(
            "<tr>" + _td(cond, "left") + _td(format_probability(r.posterior)) + _td(format_probability(r.low))
            + _td(format_probability(r.high)) + track + "</tr>"
        )
    draws = unc.attrs.get("draws")
    title = f"Posteriors with {level:.0%} intervals" + (f" ({draws} draws of the published numbers)" if draws else "")
    return _table_html(
        title, ["condition", "posterior", "low", "high", f"log scale, {format_probability(lo)} to 100%"], rows,
        "interval from the uncertainty of the published numbers (grade-C numbers carry wide intervals).",
    )


def sensitivity_html(tor: pd.DataFrame, top: int | None = 12) -> str:
    """HTML tornado table of :meth:`BackPainModel.sensitivity` (swing bars, largest first).

    Examples
    --------
    >>> import bayesnet
    >>> tor = bayesnet.load_model().sensitivity({"dyspnoea": "yes"}, "pulmonary_embolism")
    >>> sensitivity_html(tor, top=3).count("<tr>")
    4
    """
    t = tor if top is None else tor.head(top)
    cond = str(tor.attrs.get("condition", ""))
    scale = float(t["swing"].max()) if len(t) else 0.0
    rows = [
        "<tr>" + _td(r.node, "left") + _td(r.parameter, "left") + _td(r.grade)
        + _td(format_probability(r.posterior_low)) + _td(format_probability(r.posterior_high))
        + _td(f"{r.swing:.2g}") + _bar_html(r.swing / scale if scale else 0.0, _GREY) + "</tr>"
        for r in t.itertuples()
    ]
    return _table_html(
        f"Sensitivity of P({cond.replace('_', ' ')}) = {format_probability(tor.attrs.get('base', float('nan')))}",
        ["node", "parameter", "grade", "at low end", "at high end", "swing", ""], rows,
        "each number moved to the ends of its published interval, the others at their estimates.",
    )


__all__ += ["explanation_html", "next_tests_html", "sensitivity_html", "uncertainty_html"]


# validation

def _fmt(x: float, measure: str) -> str:

    if x is None or not math.isfinite(x):
        return "-"
    if measure == "likelihood_ratio":
        return f"{x:.3g}"
    return format_probability(x)


def _fmt_interval(v: float, lo: float, hi: float, measure: str) -> str:
    text = ("LR " if measure == "likelihood_ratio" else "") + _fmt(v, measure)
    if math.isfinite(lo) and math.isfinite(hi):
        text += f" [{_fmt(lo, measure)}, {_fmt(hi, measure)}]"
    return text


_COLUMNS = ["id", "setting", "target", "measure", "published", "low", "high", "model", "model_low", "model_high",
            "inside", "overlap", "ratio", "independent", "source", "excluded_draws"]


def validation_summary_line(df: pd.DataFrame) -> str:
    """The one-line summary printed by ``bayesnet validate``.

    >>> df = pd.DataFrame({"inside": [True, False], "overlap": [True, True], "independent": [True, False]})
    >>> df.attrs["draws"] = 500
    >>> validation_summary_line(df)
    '1 of 2 scenarios: model value inside the published 95% interval; 2 of 2 intervals overlap (independent scenarios: 1 of 1 inside, 1 of 1 overlap)'
    """
    s = summary(df)
    n, k = s["scenarios"], s["independent"]
    with_intervals = bool(df.attrs.get("draws", 1))
    line = f"{s['inside']} of {n} scenarios: model value inside the published 95% interval; "
    line += f"{s['overlap']} of {n} intervals overlap" if with_intervals else "model intervals not computed (--draws 0)"
    if k < n:
        line += f" (independent scenarios: {s['independent_inside']} of {k} inside"
        line += f", {s['independent_overlap']} of {k} overlap)" if with_intervals else ")"
    return line


def validation_text(df: pd.DataFrame) -> str:
    """The per-scenario table printed by ``bayesnet validate`` (the result of ``validate``)."""
    out = pd.DataFrame(
        {
            "id": df["id"],
            "setting": df["setting"].str.replace("primary_care", "primary"),
            "target": df["target"].map(lambda s: s if len(s) <= 38 else s[:35] + "..."),
            "published [95% CI]": [
                _fmt_interval(v, lo, hi, m)
                for v, lo, hi, m in zip(df["published"], df["low"], df["high"], df["measure"], strict=True)
            ],
            "model [interval]": [
                _fmt_interval(v, lo, hi, m)
                for v, lo, hi, m in zip(df["model"], df["model_low"], df["model_high"], df["measure"], strict=True)
            ],
            "inside": df["inside"].map({True: "yes", False: "no"}),
            "overlap": df["overlap"].map({True: "yes", False: "no"}),
            "indep": df["independent"].map({True: "yes", False: "no"}),
        }
    )
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 60, "display.width", 250):
        return out.to_string(index=False)


register_renderer("diagnosis", "text", ranking_text)
register_renderer("diagnosis", "html", ranking_html)
