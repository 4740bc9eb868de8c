"""Text and HTML rendering of results (no computation here)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import pandas as pd

if TYPE_CHECKING:  # pragma: no cover
    from .diagnosis import Diagnosis

__all__ = ["ranking_text", "ranking_html", "format_probability", "explanation_text", "next_tests_text", "uncertainty_text", "sensitivity_text"]

_BAR_WIDTH = 24


def format_probability(p: float) -> str:
    """Readable percentage keeping small probabilities visible.

    >>> format_probability(0.000123)
    '0.012%'
    >>> format_probability(0.4567)
    '45.7%'
    """
    pct = 100.0 * p
    if pct >= 10:
        return f"{pct:.1f}%"
    if pct >= 1:
        return f"{pct:.2f}%"
    if pct >= 0.01:
        return f"{pct:.3f}%"
    return f"{pct:.1e}%"


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
            f"{r.variable:<26} {str(r.state):<12} {r.contribution:>+12.3f} {r.likelihood_ratio:>9.3g} "
            f"{format_probability(r.posterior_without):>11}"
        )
    if not len(ex):
        lines.append("(no evidence)")
    lines.append("")
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
