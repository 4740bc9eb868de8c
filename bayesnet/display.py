"""Text and HTML rendering of results (no computation here)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from .diagnosis import Diagnosis

__all__ = ["ranking_text", "ranking_html", "format_probability"]

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
