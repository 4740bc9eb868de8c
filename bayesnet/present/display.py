"""Text and HTML rendering of results (no computation here).

Each result has one HTML renderer, used both by Jupyter (``Diagnosis._repr_html_`` and the
notebooks) and by the explorer (:mod:`bayesnet.present.explorer`): semantic markup whose numbers a
test or a script can read back (``data-*`` attributes holding the full-precision ``repr`` of each
float), styled by :data:`STYLESHEET`. By default a renderer returns ``<div><style>...</style>
fragment</div>``, the stylesheet embedded once per output; ``style=False`` returns the bare
fragment, for the explorer, which attaches the stylesheet to its panes once rather than with every
update. Every rule of the stylesheet is scoped under the class ``bn-view`` of the fragments.

The renderers read results only through the accessors below (``_table``, ``_meta``, ``_ranking``,
``_setting``, ``_evidence``): they are the one place to change if results stop being DataFrames
with ``attrs``.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from bayesnet.formatting import format_probability, register_renderer
from bayesnet.present.labels import SETTING_LABELS, inline, setting_label, state_label, variable_label
from bayesnet.reasoning.validation import summary

if TYPE_CHECKING:  # pragma: no cover
    from bayesnet.reasoning.diagnosis import Diagnosis

__all__ = [
    "DISCLAIMER",
    "STYLESHEET",
    "explanation_html",
    "explanation_text",
    "format_probability",
    "inline_label",
    "label",
    "most_probable_html",
    "next_tests_html",
    "next_tests_text",
    "ranking_html",
    "ranking_text",
    "sensitivity_html",
    "sensitivity_text",
    "uncertainty_html",
    "uncertainty_text",
    "what_if_html",
]

DISCLAIMER = "Research and teaching tool, not a medical device."

_BAR_WIDTH = 24


# ---------------------------------------------------------------------------------- accessors
# The only functions that know how a result carries its data. Today: a Diagnosis with a ``ranking``
# DataFrame, and DataFrames with scalars in ``attrs``; a result object with attributes works too.
def _table(result: Any) -> pd.DataFrame:
    """The rows of a result: the DataFrame itself, or ``result.table`` of a result object."""
    return result if isinstance(result, pd.DataFrame) else result.table


def _meta(result: Any, key: str, default: Any = None) -> Any:
    """A scalar a result carries: ``attrs[key]`` of a DataFrame, or the attribute of a result object."""
    if isinstance(result, pd.DataFrame):
        return result.attrs.get(key, default)
    return getattr(result, key, default)


def _ranking(dx: Diagnosis | pd.DataFrame) -> pd.DataFrame:
    """The differential: indexed by condition, columns prior, posterior, likelihood_ratio, serious.

    A Diagnosis, or its ``ranking`` table itself (which carries the setting and evidence in ``attrs``).
    """
    return dx if isinstance(dx, pd.DataFrame) else dx.ranking


def _setting(dx: Diagnosis | pd.DataFrame) -> str:
    return str(dx.attrs.get("setting", "")) if isinstance(dx, pd.DataFrame) else str(dx.setting)


def _evidence(dx: Diagnosis | pd.DataFrame) -> tuple[dict[str, str], dict[str, dict[str, float]]]:
    """``(hard, soft)``: ``{variable: state}`` and ``{variable: {state: likelihood}}``."""
    if isinstance(dx, pd.DataFrame):
        return dict(dx.attrs.get("evidence", {})), dict(dx.attrs.get("soft_evidence", {}))
    return dict(dx.evidence.hard), dict(dx.evidence.soft_dicts)


def label(name: str) -> str:
    """The clinical label of an id (variable or setting), as a table cell shows it (:mod:`~bayesnet.present.labels`).

    >>> label("cauda_equina_syndrome"), label("esr_crp"), label("primary_care")
    ('Cauda equina syndrome', 'ESR/CRP', 'Primary care')
    """
    name = str(name)
    return setting_label(name) if name in SETTING_LABELS else variable_label(name)


def inline_label(name: str) -> str:
    """The label of an id inside a sentence: lower case first, unless it starts with an abbreviation.

    >>> inline_label("cauda_equina_syndrome"), inline_label("esr_crp"), inline_label("dvt")
    ('cauda equina syndrome', 'ESR/CRP', 'deep vein thrombosis (DVT)')
    """
    return inline(label(name))


# ---------------------------------------------------------------------------------- plain text
def _bar(p: float, width: int = _BAR_WIDTH) -> str:
    """A text bar on the log scale of every probability bar (0.01% to 100%, as in the HTML tables).

    >>> _bar(1.0, 8), _bar(0.01, 8), _bar(1e-4, 8), _bar(0.0, 8)
    ('########', '####....', '........', '........')
    """
    n = round(_log_percent(p) / 100.0 * width)
    return "#" * n + "." * (width - n)


def _evidence_line(dx: Diagnosis) -> str:
    hard, soft = _evidence(dx)
    parts = [f"{k}={v}" for k, v in hard.items()]
    parts += [f"{k}~{v}" for k, v in soft.items()]
    return ", ".join(parts) if parts else "(none)"


def ranking_text(dx: Diagnosis) -> str:
    """Plain-text table of a diagnosis, with probability bars."""
    lines = [
        f"Differential diagnosis ({_setting(dx)})",
        f"Evidence: {_evidence_line(dx)}",
        "",
        f"{'condition':<24} {'prior':>9} {'posterior':>10} {'LR':>9}  {'':<{_BAR_WIDTH}}",
    ]
    for cond, r in _ranking(dx).iterrows():
        lr = r.likelihood_ratio
        lr_text = "inf" if lr == float("inf") else f"{lr:.3g}"
        flag = "" if r.serious else " (not serious)"
        lines.append(
            f"{cond:<24} {format_probability(r.prior):>9} {format_probability(r.posterior):>10} "
            f"{lr_text:>9}  {_bar(r.posterior)}{flag}"
        )
    lines += ["", f"LR = posterior odds / prior odds; bars: posterior on a log scale from 0.01% to 100%. {DISCLAIMER}"]
    return "\n".join(lines)


def explanation_text(ex: pd.DataFrame) -> str:
    """Plain-text table of :meth:`Diagnosis.explain`."""
    cond = _meta(ex, "condition", "")
    lines = [
        (f"Why {cond}: prior {format_probability(_meta(ex, 'prior'))} -> posterior "
        f"{format_probability(_meta(ex, 'posterior'))}"),
        "",
        f"{'finding':<26} {'state':<12} {'contribution':>12} {'LR':>9} {'without it':>11}",
    ]
    t = _table(ex)
    for r in t.itertuples():
        lines.append(
            f"{r.variable:<26} {r.state!s:<12} {r.contribution:>+12.2f} {r.likelihood_ratio:>9.3g} "
            f"{format_probability(r.posterior_without):>11}"
        )
    if not len(t):
        lines.append("(no evidence)")
    lines.append("")
    if _meta(ex, "note"):
        lines.append(str(_meta(ex, "note")))
    lines.append("contribution = change in log-odds when the finding is removed; LR = exp(contribution).")
    return "\n".join(lines)


def next_tests_text(nt: pd.DataFrame) -> str:
    """Plain-text table of :meth:`BackPainModel.next_tests`."""
    focus = _meta(nt, "focus", "")
    threshold = _meta(nt, "threshold")
    lines = [
        (f"Next best observations (focus: {focus}, now {format_probability(_meta(nt, 'current', math.nan))}; "
        f"uncertainty {_meta(nt, 'entropy', math.nan):.3f} bits)"),
        "",
    ]
    t = _table(nt)
    cross = "p_cross" in t.columns
    head = f"{'variable':<24} {'kind':<8} {'info, bits':>10} {'on focus':>9} {'E|change|':>10}"
    head += f" {'P(cross)':>9} {'value':>9}" if cross else ""
    lines.append(head + "  results: P(result) -> P(" + str(focus) + ")")
    for v, r in t.iterrows():
        line = (f"{v:<24} {r.kind:<8} {r.expected_entropy_reduction:>10.3f} {r.focus_information:>9.3f} "
                f"{format_probability(r.expected_change):>10}")
        line += f" {format_probability(r.p_cross):>9} {r.decision_value:>9.4f}" if cross else ""
        lines.append(f"{line}  {r.results}")
    sort_by = _meta(nt, "sort_by", "entropy")
    order = {"entropy": "info, bits", "focus": "on focus", "change": "E|change|", "cross": "P(cross)",
             "decision": "value"}.get(sort_by, sort_by)
    lines += [
        "",
        (f"Sorted by {order}. info, bits: expected fall in uncertainty about all the serious conditions; "
        f"on focus: the same about {focus} alone; E|change|: expected move of P({focus}), either way."),
    ]
    if cross:
        lines.append(
            f"With the threshold {format_probability(threshold)}: P(cross) is the chance that the result moves "
            f"P({focus}) across it; value is what the result is expected to save, in missed cases per patient "
            "net of false alarms weighted by the threshold (a nudge across the line is worth little).")
    return "\n".join(lines)


def uncertainty_text(dx: Diagnosis, unc: pd.DataFrame, draws: int) -> str:
    """The ranking with a 95% interval per posterior (``diagnose --uncertainty``)."""
    lines = [
        f"Differential diagnosis ({_setting(dx)}), with 95% intervals from {draws} draws of the published numbers",
        f"Evidence: {_evidence_line(dx)}",
        "",
        f"{'condition':<24} {'prior':>9} {'posterior':>10} {'95% interval':>22}",
    ]
    u = _table(unc)
    for cond, r in _ranking(dx).iterrows():
        lo, hi = u.loc[cond, "low"], u.loc[cond, "high"]
        interval = f"{format_probability(lo)} - {format_probability(hi)}"
        lines.append(f"{cond:<24} {format_probability(r.prior):>9} {format_probability(r.posterior):>10} {interval:>22}")
    lines += ["", DISCLAIMER]
    return "\n".join(lines)


def sensitivity_text(tor: pd.DataFrame) -> str:
    """Plain-text tornado table of :meth:`BackPainModel.sensitivity`."""
    cond = _meta(tor, "condition", "")
    lines = [
        (f"Sensitivity of P({cond}) = {format_probability(_meta(tor, 'base', math.nan))} "
        "to each published number (moved to the ends of its interval)"),
        "",
        f"{'node':<24} {'parameter':<44} {'grade':>5} {'at low':>9} {'at high':>9} {'swing':>10}",
    ]

    def cut(text: str, width: int) -> str:
        return text if len(text) <= width else text[: width - 1] + "…"

    for r in _table(tor).itertuples():
        lines.append(
            f"{cut(r.node, 24):<24} {cut(r.parameter, 44):<44} {r.grade:>5} {format_probability(r.posterior_low):>9} "
            f"{format_probability(r.posterior_high):>9} {format_probability(r.swing):>10}"
        )
    lines += ["", ("at low / at high: the posterior with the number at the low / high end of its interval; swing: "
              "their difference, in percentage points.")]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- HTML
# One renderer per result, for Jupyter and the explorer alike. In a notebook:
#     from IPython.display import HTML
#     HTML(explanation_html(dx.explain("spinal_metastasis")))

STYLESHEET = """\
.bn-view { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px; line-height: 1.35; }
.bn-view h3 { margin: 4px 0 6px 0; font-size: 15px; font-weight: 600; }
.bn-view table { border-collapse: collapse; margin: 0; }
.bn-view th { text-align: left; font-weight: 600; border-bottom: 1px solid #bbb; padding: 3px 6px; }
.bn-view td { text-align: left; padding: 2px 6px; border-bottom: 1px solid #eee; vertical-align: middle; }
.bn-view td.num, .bn-view th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
.bn-view tr.bn-serious td.name { color: #922b21; }
.bn-view tr.bn-lead td { background: #fdf2e9; }
.bn-view .bn-track { position: relative; background: #eee; width: 220px; height: 12px; }
.bn-view .bn-track.bn-diverging { width: 180px; background: #f4f4f4; }
.bn-view .bn-fill { position: absolute; top: 0; height: 12px; background: #7f8c8d; }
.bn-view .bn-serious .bn-fill, .bn-view .bn-fill.bn-up, .bn-view .bn-kind-test .bn-fill { background: #c0392b; }
.bn-view .bn-fill.bn-down, .bn-view .bn-kind-finding .bn-fill { background: #2471a3; }
.bn-view .bn-fill.bn-span { background: #e6a29a; }
.bn-view .bn-tick { position: absolute; top: -2px; width: 2px; height: 16px; background: #222; }
.bn-view .bn-mid { position: absolute; left: 50%; top: -2px; width: 1px; height: 16px; background: #888; }
.bn-view .bn-note { color: #555; font-size: 11px; }
.bn-view .bn-summary { font-size: 14px; line-height: 1.45; margin: 4px 0 6px 0; }
.bn-view .bn-error { color: #922b21; }
"""
"""The stylesheet of every HTML fragment (all rules scoped under ``.bn-view``)."""

_STYLE_TAG = f"<style>{STYLESHEET}</style>"

# Probability bars use a log scale from 0.01% to 100%, so that a serious condition moving from
# 0.3% to 9% is visible next to mechanical pain at 90%.
_LOG_FLOOR = 1e-4


def _number(x: object) -> str:
    """Full-precision text of a float for data attributes (``repr`` round-trips exactly)."""
    return repr(float(x))


def _attr(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(value: object) -> str:
    return html.escape(str(value), quote=False)


def _wrap(fragment: str, style: bool) -> str:
    """``<div><style>`` + fragment + ``</div>`` for Jupyter (one stylesheet per output), or the bare fragment."""
    return f"<div>{_STYLE_TAG}{fragment}</div>" if style else fragment


def _lr_text(lr: float) -> str:
    if lr == math.inf:
        return "&infin;"
    if math.isnan(lr):
        return "undefined"
    return f"{lr:.3g}"


def _log_percent(p: float, floor: float = _LOG_FLOOR) -> float:
    """Position of probability ``p`` on a log10 track from ``floor`` to 1, in percent (0 for 0 or NaN)."""
    if not p > 0:
        return 0.0
    x = (math.log10(min(float(p), 1.0)) - math.log10(floor)) / -math.log10(floor)
    return 100.0 * min(max(x, 0.0), 1.0)


def _floor_of(values: list[float]) -> float:
    """The power of ten at or below the smallest positive value (at most 1e-4, at least 1e-9)."""
    positive = [float(v) for v in values if v > 0]
    lowest = max(1e-9, min(positive + [_LOG_FLOOR]))
    return 10.0 ** math.floor(math.log10(lowest))


def _track(*, fill: float | None = None, span: tuple[float, float] | None = None, tick: float | None = None,
           fill_class: str = "", title: str = "", diverging: bool = False) -> str:
    """A bar: a fill from ``fill`` (left, width) or ``span`` (start, end) percent, and a tick at ``tick`` percent."""
    parts = []
    if diverging:
        parts.append('<div class="bn-mid"></div>')
    if fill is not None or span is not None:
        left, right = span if span is not None else (0.0, fill)
        cls = " ".join(c for c in ("bn-fill", fill_class) if c)
        parts.append(f'<div class="{cls}" style="left:{left:.2f}%;width:{max(right - left, 0.0):.2f}%"></div>')
    if tick is not None:
        parts.append(f'<div class="bn-tick" style="left:{tick:.2f}%"></div>')
    cls = "bn-track bn-diverging" if diverging else "bn-track"
    tip = f' title="{_attr(title)}"' if title else ""
    return f'<div class="{cls}"{tip}>{"".join(parts)}</div>'


def _head(*cells: tuple[str, str]) -> str:
    """``<thead>`` from (text, kind) pairs; kind ``num`` right-aligns, any other text is a tooltip."""
    out = []
    for text, kind in cells:
        if kind == "num":
            out.append(f'<th class="num">{text}</th>')
        elif kind:
            out.append(f'<th title="{_attr(kind)}">{text}</th>')
        else:
            out.append(f"<th>{text}</th>")
    return f"<thead><tr>{''.join(out)}</tr></thead>"


def _evidence_shown(hard: dict, soft: dict) -> str:
    parts = [f"{label(k)} = {state_label(k, v)}" for k, v in hard.items()]
    parts += [f"{label(k)} ~ " + ", ".join(f"{s}:{w:.3g}" for s, w in v.items()) for k, v in soft.items()]
    return ", ".join(parts) or "nothing yet"


def ranking_html(dx: Diagnosis, lead: str | None = None, *, style: bool = True) -> str:
    """The ranked differential as an HTML table with log-scale probability bars.

    This is the ``_repr_html_`` of a :class:`~bayesnet.reasoning.diagnosis.Diagnosis` and the
    differential of the explorer.

    Parameters
    ----------
    dx : Diagnosis
    lead : str, optional
        A condition to highlight (class ``bn-lead``; the explorer's explained condition).
    style : bool, default True
        Embed :data:`STYLESHEET` (``False``: the bare fragment).

    Returns
    -------
    str
        A ``<div class="bn-view bn-ranking" data-setting=... data-evidence=...>`` (``data-evidence``:
        sorted JSON of the evidence) holding one ``<tr class="bn-row ..." data-condition=...
        data-posterior=... data-prior=... data-likelihood-ratio=...>`` per condition, classes
        ``bn-serious`` for serious conditions and ``bn-lead`` for ``lead``.

    Examples
    --------
    >>> import bayesnet
    >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes"})
    >>> ranking_html(dx).count("data-posterior=")
    15
    >>> 'data-condition="spinal_metastasis"' in ranking_html(dx, style=False)
    True
    """
    setting = _setting(dx)
    hard, soft = _evidence(dx)
    evidence = json.dumps({**hard, **soft}, sort_keys=True, default=float)
    rows = []
    for cond, r in _ranking(dx).iterrows():
        cond = str(cond)
        classes = ["bn-row"] + (["bn-serious"] if r.serious else []) + (["bn-lead"] if cond == lead else [])
        post, prior = format_probability(r.posterior), format_probability(r.prior)
        bar = _track(fill=_log_percent(r.posterior), tick=_log_percent(r.prior), title=f"posterior {post}; prior {prior}")
        rows.append(
            f'<tr class="{" ".join(classes)}" data-condition="{_attr(cond)}" data-posterior="{_number(r.posterior)}" '
            f'data-prior="{_number(r.prior)}" data-likelihood-ratio="{_number(r.likelihood_ratio)}">'
            f'<td class="name">{_text(label(cond))}{"" if r.serious else " <small>(not serious)</small>"}</td>'
            f'<td class="num">{prior}</td><td class="num bn-posterior"><b>{post}</b></td>'
            f'<td class="num">{_lr_text(r.likelihood_ratio)}</td><td>{bar}</td></tr>'
        )
    head = _head(("condition", ""), ("prior", "num"), ("posterior", "num"), ("LR", "posterior odds / prior odds"),
                 ("posterior (log scale 0.01% to 100%; | = prior)", ""))
    fragment = (
        f'<div class="bn-view bn-ranking" data-setting="{_attr(setting)}" data-evidence="{_attr(evidence)}">'
        f"<h3>Differential diagnosis ({_text(label(setting))})</h3>"
        f'<div class="bn-note">Known: {_text(_evidence_shown(hard, soft))}</div>'
        f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"
        f'<div class="bn-note">LR = posterior odds / prior odds. {DISCLAIMER}</div></div>'
    )
    return _wrap(fragment, style)


def explanation_html(ex: pd.DataFrame, *, summary: str | None = None, style: bool = True) -> str:
    """Why one condition has its probability (:meth:`Diagnosis.explain`): each finding's weight as a bar.

    Bars run from the centre, right (red, class ``bn-up``) for findings that raise the odds and
    left (blue, ``bn-down``) for those that lower them, scaled to the largest finite weight (at
    least a factor of 10); a weight of ``inf`` fills its half, an undefined (NaN) one draws nothing.

    Parameters
    ----------
    ex : DataFrame
        The result of ``dx.explain(condition)``.
    summary : str, optional
        A plain-language paragraph (``dx.summary(condition)``) shown as ``<p class="bn-summary">``.
    style : bool, default True
        Embed :data:`STYLESHEET`.

    Returns
    -------
    str
        A ``<div class="bn-view bn-explanation" data-condition=... data-posterior=... data-prior=...>``
        with one ``<tr data-variable=... data-contribution=... data-likelihood-ratio=...>`` per finding.

    Examples
    --------
    >>> import bayesnet
    >>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes", "fever": "no"})
    >>> "<h3>Why spinal metastasis: " in explanation_html(dx.explain("spinal_metastasis"))
    True
    """
    cond = str(_meta(ex, "condition", "condition"))
    prior, post = float(_meta(ex, "prior", math.nan)), float(_meta(ex, "posterior", math.nan))
    t = _table(ex)
    finite = [abs(c) for c in t["contribution"] if math.isfinite(c)]
    scale = max(finite + [math.log(10.0)])
    rows = []
    for r in t.itertuples():
        c = float(r.contribution)
        half = 0.0 if math.isnan(c) else 50.0 * min(abs(c) / scale, 1.0)
        direction = "bn-up" if c >= 0 else "bn-down"
        bar = _track(span=(50.0, 50.0 + half) if c >= 0 else (50.0 - half, 50.0), fill_class=direction,
                     diverging=True, title=f"log-odds {c:+.2f}")
        weight = "undefined" if math.isnan(c) else f"{c:+.2f}"
        rows.append(
            f'<tr data-variable="{_attr(r.variable)}" data-contribution="{_number(c)}" '
            f'data-likelihood-ratio="{_number(r.likelihood_ratio)}">'
            f"<td>{_text(label(r.variable))}</td><td>{_text(r.state)}</td>"
            f'<td class="num">&times;{_lr_text(r.likelihood_ratio)}</td><td class="num">{weight}</td><td>{bar}</td>'
            f'<td class="num">{format_probability(r.posterior_without)}</td></tr>'
        )
    head = _head(("finding", ""), ("state", ""), ("odds", "factor on the odds"),
                 ("log-odds", "change in log-odds when the finding is removed"),
                 ("weight (red raises, blue lowers)", ""), ("without it", "num"))
    table = f"<table>{head}<tbody>{''.join(rows)}</tbody></table>" if rows else ""
    parts = [
        (f'<div class="bn-view bn-explanation" data-condition="{_attr(cond)}" data-posterior="{_number(post)}" '
         f'data-prior="{_number(prior)}">'),
        f"<h3>Why {_text(inline_label(cond))}: {format_probability(prior)} &rarr; {format_probability(post)}</h3>",
    ]
    if summary:
        parts.append(f'<p class="bn-summary">{_text(summary)}</p>')
    elif not rows:
        parts.append('<p class="bn-summary">(no evidence)</p>')
    parts.append(table)
    note = _meta(ex, "note")
    if note:
        parts.append(f'<div class="bn-note bn-certainty">{_text(note)}</div>')
    if rows:
        parts.append('<div class="bn-note">log-odds = change in log-odds when the finding is removed (its weight '
                     "of evidence given the rest); odds = the factor it multiplies the odds by.</div>")
    parts.append("</div>")
    return _wrap("".join(parts), style)


def next_tests_html(nt: pd.DataFrame, top: int | None = 12, *, style: bool = True) -> str:
    """The best next observations (:meth:`BackPainModel.next_tests`) with a bar of the expected information gain.

    Parameters
    ----------
    nt : DataFrame
        The result of ``model.next_tests(evidence, ...)``.
    top : int or None, default 12
        How many rows to show (None: all).
    style : bool, default True
        Embed :data:`STYLESHEET`.

    Returns
    -------
    str
        A ``<div class="bn-view bn-next-tests" data-focus=...>`` with one ``<tr data-variable=...
        data-gain=... data-change=...>`` per observation (and ``data-p-cross`` with a threshold).

    Examples
    --------
    >>> import bayesnet
    >>> nt = bayesnet.load_model().next_tests({"iv_drug_use": "yes", "fever": "yes"})
    >>> 'data-variable="mri_epidural_collection"' in next_tests_html(nt, top=3)
    True
    """
    full = _table(nt)
    t = full if top is None else full.head(top)
    focus = str(_meta(nt, "focus", ""))
    threshold = _meta(nt, "threshold")
    current = _meta(nt, "current")
    cross = "p_cross" in t.columns
    # the bar and the bits column show the score the table is sorted by: information about the focus
    # when a focus was chosen, about every serious condition otherwise
    on_focus = _meta(nt, "sort_by", "entropy") == "focus" and "focus_information" in t.columns
    score = "focus_information" if on_focus else "expected_entropy_reduction"
    scale = float(t[score].max()) if len(t) else 0.0
    rows = []
    for i, (var, r) in enumerate(t.iterrows(), start=1):
        gain = float(getattr(r, score))
        attrs = f'data-variable="{_attr(var)}" data-gain="{_number(gain)}" data-change="{_number(r.expected_change)}"'
        if cross:
            attrs += f' data-p-cross="{_number(r.p_cross)}"'
        cells = [
            f'<td class="num">{i}</td>',
            f'<td><b>{_text(label(var))}</b> <span class="bn-note">{_text(r.kind)}</span></td>',
            f'<td class="num">{gain:.3f}</td>',
            f"<td>{_track(fill=100.0 * gain / scale if scale > 0 else 0.0)}</td>",
            f'<td class="num">{format_probability(r.expected_change)}</td>',
        ]
        if cross:
            cells.append(f'<td class="num">{format_probability(r.p_cross)}</td>')
        cells.append(f'<td class="bn-note">{_text(r.results)}</td>')
        rows.append(f'<tr {attrs} class="bn-kind-{_attr(r.kind)}">{"".join(cells)}</tr>')
    columns = 7 if cross else 6
    body = "".join(rows) or f'<tr><td colspan="{columns}">every finding and test is already known</td></tr>'
    bits_note = (f"expected fall in uncertainty about {_text(inline_label(focus))}" if on_focus
                 else "expected fall in uncertainty about the serious conditions")
    head = [("#", "num"), ("observe", ""), ("bits", bits_note),
            ("", ""), (f"E|change| in P({_text(inline_label(focus))})", "expected absolute change of the focus condition")]
    if cross:
        head.append((f"P(cross {format_probability(threshold)})",
                     "probability that the result moves the focus across the threshold"))
    head.append((f"results: P(result) &rarr; P({_text(inline_label(focus))})", ""))
    title = f"Next best questions and tests (focus: {_text(inline_label(focus))}"
    title += f", now {format_probability(current)})" if current is not None else ")"
    fragment = (
        f'<div class="bn-view bn-next-tests" data-focus="{_attr(focus)}"'
        + (f' data-current="{_number(current)}"' if current is not None else "") + ">"
        f"<h3>{title}</h3><table>{_head(*head)}<tbody>{body}</tbody></table>"
        f'<div class="bn-note">bits = {bits_note} (sorted by it); '
        "red: tests, blue: findings.</div></div>"
    )
    return _wrap(fragment, style)


def uncertainty_html(unc: pd.DataFrame, *, style: bool = True) -> str:
    """Posteriors of :meth:`BackPainModel.uncertainty`, each interval drawn on a log-scale track.

    The shaded span is the interval, the dark tick the point estimate; the track runs from the
    smallest lower bound (rounded down to a power of ten, at most 0.01%) to 100%.

    Returns
    -------
    str
        A ``<div class="bn-view bn-uncertainty" data-level=...>`` with one ``<tr data-condition=...
        data-posterior=... data-low=... data-high=...>`` per condition, most probable first.

    Examples
    --------
    >>> import bayesnet
    >>> u = bayesnet.load_model().uncertainty({"history_of_cancer": "yes"}, draws=100, seed=0)
    >>> uncertainty_html(u).count("<tr data-condition=")
    15
    """
    level = float(_meta(unc, "level", 0.95))
    draws = _meta(unc, "draws")
    t = _table(unc).sort_values("posterior", ascending=False)
    floor = _floor_of(list(t["low"]))
    rows = []
    for cond, r in t.iterrows():
        bar = _track(span=(_log_percent(r.low, floor), max(_log_percent(r.high, floor), _log_percent(r.low, floor) + 0.5)),
                     tick=_log_percent(r.posterior, floor), fill_class="bn-span",
                     title=f"{format_probability(r.low)} to {format_probability(r.high)}")
        rows.append(
            f'<tr data-condition="{_attr(cond)}" data-posterior="{_number(r.posterior)}" data-low="{_number(r.low)}" '
            f'data-high="{_number(r.high)}"><td class="name">{_text(label(cond))}</td>'
            f'<td class="num">{format_probability(r.posterior)}</td><td class="num">{format_probability(r.low)}</td>'
            f'<td class="num">{format_probability(r.high)}</td><td>{bar}</td></tr>'
        )
    title = f"Posteriors with {level:.0%} intervals" + (f" ({draws} draws of the published numbers)" if draws else "")
    head = _head(("condition", ""), ("posterior", "num"), ("low", "num"), ("high", "num"),
                 (f"log scale, {format_probability(floor)} to 100%", ""))
    fragment = (
        f'<div class="bn-view bn-uncertainty" data-level="{_number(level)}">'
        f"<h3>{_text(title)}</h3><table>{head}<tbody>{''.join(rows)}</tbody></table>"
        '<div class="bn-note">interval from the uncertainty of the published numbers '
        "(grade-C numbers carry wide intervals).</div></div>"
    )
    return _wrap(fragment, style)


def sensitivity_html(tor: pd.DataFrame, top: int | None = 12, *, style: bool = True) -> str:
    """Tornado table of :meth:`BackPainModel.sensitivity`, largest swing first.

    Each row's bar spans the posterior with the number at the low and at the high end of its
    interval, on a log-scale track; the tick is the posterior with every number at its estimate.

    Returns
    -------
    str
        A ``<div class="bn-view bn-sensitivity" data-condition=... data-base=...>`` with one
        ``<tr data-node=... data-parameter=... data-low=... data-high=... data-swing=...>`` per number.

    Examples
    --------
    >>> import bayesnet
    >>> tor = bayesnet.load_model().sensitivity({"dyspnoea": "yes"}, "pulmonary_embolism")
    >>> sensitivity_html(tor, top=3).count("<tr data-node=")
    3
    """
    full = _table(tor)
    t = full if top is None else full.head(top)
    cond = str(_meta(tor, "condition", ""))
    base = float(_meta(tor, "base", math.nan))
    floor = _floor_of([base, *t["posterior_low"], *t["posterior_high"]])
    rows = []
    for r in t.itertuples():
        a, b = sorted((_log_percent(r.posterior_low, floor), _log_percent(r.posterior_high, floor)))
        bar = _track(span=(a, max(b, a + 0.5)), tick=_log_percent(base, floor), fill_class="bn-span",
                     title=f"{format_probability(r.posterior_low)} at the low end, "
                           f"{format_probability(r.posterior_high)} at the high end")
        rows.append(
            f'<tr data-node="{_attr(r.node)}" data-parameter="{_attr(r.parameter)}" '
            f'data-low="{_number(r.posterior_low)}" data-high="{_number(r.posterior_high)}" '
            f'data-swing="{_number(r.swing)}"><td>{_text(label(r.node))}</td><td>{_text(r.parameter)}</td>'
            f'<td>{_text(r.grade)}</td><td class="num">{format_probability(r.posterior_low)}</td>'
            f'<td class="num">{format_probability(r.posterior_high)}</td><td class="num">{format_probability(r.swing)}</td>'
            f"<td>{bar}</td></tr>"
        )
    head = _head(("node", ""), ("parameter", ""), ("grade", ""), ("at low end", "num"), ("at high end", "num"),
                 ("swing", "num"), (f"log scale, {format_probability(floor)} to 100%; | = estimate", ""))
    fragment = (
        f'<div class="bn-view bn-sensitivity" data-condition="{_attr(cond)}" data-base="{_number(base)}">'
        f"<h3>Sensitivity of P({_text(inline_label(cond))}) = {format_probability(base)}</h3>"
        f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"
        '<div class="bn-note">each number moved to the ends of its published interval, '
        "the others at their estimates.</div></div>"
    )
    return _wrap(fragment, style)


_GRID_ROWS = 60
_OUTCOME_COLUMNS = ("condition", "prior", "posterior", "likelihood_ratio")


def _heat(p: float) -> str:
    """Cell shading for a probability: a red whose strength follows the log-scale bar position."""
    alpha = 0.55 * _log_percent(p) / 100.0
    return f"background:rgba(192,57,43,{alpha:.2f})"


def what_if_html(wi: pd.DataFrame, top: int | None = _GRID_ROWS, *, style: bool = True) -> str:
    """Posteriors of :meth:`BackPainModel.what_if` (or ``sweep``) as a grid: one row per scenario, one column per condition.

    Tidy results (a ``condition`` column) are pivoted; wide ones are shown as they are. Each cell
    is shaded on the log scale of the probability bars (0.01% to 100%).

    Parameters
    ----------
    wi : DataFrame
        The result of ``model.what_if(...)`` or ``model.sweep(...)``, tidy or wide.
    top : int or None, default 60
        How many scenarios to show (None: all).
    style : bool, default True
        Embed :data:`STYLESHEET`.

    Returns
    -------
    str
        A ``<div class="bn-view bn-what-if">`` with one ``<tr data-scenario=...>`` per scenario and
        one ``<td data-condition=... data-posterior=...>`` per condition.

    Examples
    --------
    >>> import bayesnet
    >>> wi = bayesnet.load_model().what_if(["fever"], conditions=["epidural_abscess", "pyelonephritis"])
    >>> what_if_html(wi).count("<tr data-scenario=")
    2
    """
    t = _table(wi)
    if "condition" in t.columns and "posterior" in t.columns:
        keys = [c for c in t.columns if c not in _OUTCOME_COLUMNS]
        grid = t.pivot_table(index=keys, columns="condition", values="posterior", sort=False, observed=True,
                             aggfunc="first").reset_index()
        grid.columns.name = None
        conditions = [c for c in grid.columns if c not in keys]
    else:
        conditions = [c for c in t.columns if pd.api.types.is_float_dtype(t[c])]
        keys = [c for c in t.columns if c not in conditions]
        grid = t
    shown = grid if top is None else grid.head(top)
    rows = []
    for i, r in enumerate(shown.itertuples(index=False)):
        values = dict(zip(shown.columns, r, strict=True))
        cells = [f"<td>{_text(_scenario_value(k, values))}</td>" for k in keys]
        for c in conditions:
            p = float(values[c])
            cells.append(f'<td class="num" data-condition="{_attr(c)}" data-posterior="{_number(p)}" '
                         f'style="{_heat(p)}">{format_probability(p)}</td>')
        rows.append(f'<tr data-scenario="{i}">{"".join(cells)}</tr>')
    head = _head(*[(_text(label(k)), "") for k in keys], *[(_text(label(c)), "num") for c in conditions])
    evidence = _meta(wi, "evidence") or {}
    parts = [
        '<div class="bn-view bn-what-if">',
        f"<h3>What if: {len(grid)} scenario{'s' if len(grid) != 1 else ''}</h3>",
        f'<div class="bn-note">fixed evidence: {_text(_evidence_shown(dict(evidence), {}))}</div>',
        f"<table>{head}<tbody>{''.join(rows)}</tbody></table>",
    ]
    if len(shown) < len(grid):
        parts.append(f'<div class="bn-note">first {len(shown)} of {len(grid)} scenarios shown.</div>')
    parts.append('<div class="bn-note">cells: P(condition | scenario), shaded on a log scale from 0.01% to 100%; '
                 "a blank state is not observed.</div></div>")
    return _wrap("".join(parts), style)


def _scenario_value(key: str, values: dict) -> str:
    """A scenario cell: the setting's label, a variable's state label, blank for not observed."""
    v = values[key]
    if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
        return ""
    if key == "setting":
        return label(v)
    if key == "state" and "variable" in values:
        return state_label(values["variable"], v)
    if key == "variable":
        return label(v)
    return state_label(key, v)


def most_probable_html(mp: pd.DataFrame, *, style: bool = True) -> str:
    """The most probable joint configurations of the conditions (:meth:`BackPainModel.most_probable`).

    Returns
    -------
    str
        A ``<div class="bn-view bn-most-probable">`` with one ``<tr data-rank=... data-probability=...>``
        per configuration.

    Examples
    --------
    >>> import bayesnet
    >>> mp = bayesnet.load_model().most_probable({"fever": "yes"}, k=3)
    >>> most_probable_html(mp).count("<tr data-rank=")
    3
    """
    t = _table(mp)
    fixed = {"rank", "probability", "present", "n_present"}
    conditions = [c for c in t.columns if c not in fixed]
    rows = []
    for r in t.to_dict("records"):
        present = [label(c) for c in conditions if r[c] == "yes"]
        rows.append(
            f'<tr data-rank="{int(r["rank"])}" data-probability="{_number(r["probability"])}">'
            f'<td class="num">{int(r["rank"])}</td><td class="num">{format_probability(r["probability"])}</td>'
            f"<td>{_track(fill=_log_percent(r['probability']))}</td>"
            f"<td>{_text(' + '.join(present) if present else 'none of the conditions')}</td></tr>"
        )
    head = _head(("#", "num"), ("probability", "num"), ("log scale, 0.01% to 100%", ""), ("conditions present", ""))
    evidence = _meta(mp, "evidence") or {}
    fragment = (
        '<div class="bn-view bn-most-probable">'
        f"<h3>Most probable combinations of conditions ({_text(label(_meta(mp, 'setting', '')))})</h3>"
        f'<div class="bn-note">evidence: {_text(_evidence_shown(dict(evidence), {}))}</div>'
        f"<table>{head}<tbody>{''.join(rows)}</tbody></table>"
        '<div class="bn-note">each row is one joint state of every condition (the others absent), '
        "with its posterior probability.</div></div>"
    )
    return _wrap(fragment, style)


# ---------------------------------------------------------------------------------- validation
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

    def intervals(value: str, low: str, high: str) -> list[str]:
        return [_fmt_interval(*row) for row in zip(df[value], df[low], df[high], df["measure"], strict=True)]

    out = pd.DataFrame(
        {
            "#": range(1, len(df) + 1),
            "id": df["id"],
            "setting": df["setting"].map(lambda s: Path(s).stem if str(s).endswith(".yaml") else s),
            "published [95% CI]": intervals("published", "low", "high"),
            "model [interval]": intervals("model", "model_low", "model_high"),
            "inside": df["inside"].map({True: "yes", False: "no"}),
            "overlap": df["overlap"].map({True: "yes", False: "no"}),
            "independent": df["independent"].map({True: "yes", False: "no"}),
            "target": df["target"],
        }
    )
    cells = out.astype(str)
    widths = {c: max(len(c), int(cells[c].str.len().max()) if len(cells) else 0) for c in cells.columns}
    right = {"#", "published [95% CI]", "model [interval]"}

    def fmt_row(values) -> str:
        return " ".join(v.rjust(widths[c]) if c in right else v.ljust(widths[c])
                        for c, v in zip(cells.columns, values, strict=True)).rstrip()

    table = "\n".join([fmt_row(list(cells.columns)), *(fmt_row(list(r)) for r in cells.itertuples(index=False))])
    return (
        f"{table}\n\n"
        "#: the number of the point in the calibration figure. setting: the shipped setting, or the study's own\n"
        "population file (priors/validation/settings/). inside: the model's value lies in the published 95%\n"
        "interval; overlap: the model's interval over parameter draws meets it; independent: the published\n"
        "figure is not used by the priors (each scenario's 'independence' field in the validation file says why)."
    )


register_renderer("diagnosis", "text", ranking_text)
register_renderer("diagnosis", "html", ranking_html)
register_renderer("ranking", "html", ranking_html)
register_renderer("explanation", "html", explanation_html)
register_renderer("next_tests", "html", next_tests_html)
register_renderer("uncertainty", "html", uncertainty_html)
register_renderer("sensitivity", "html", sensitivity_html)
register_renderer("what_if", "html", what_if_html)
register_renderer("sweep", "html", what_if_html)
register_renderer("most_probable", "html", most_probable_html)
