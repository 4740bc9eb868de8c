"""Recalibration shown: the text and HTML tables of a :class:`~bayesnet.reasoning.recalibration.Recalibration`,
and the ``bayesnet recalibrate`` command.

Importing this module registers the renderers (``repr`` and Jupyter's ``_repr_html_`` of a
recalibration use them). The command is defined here, like ``explore`` in
:mod:`bayesnet.present.explorer`, and added to the ``bayesnet`` group by :mod:`bayesnet.cli`.
"""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd

from bayesnet.formatting import register_renderer
from bayesnet.present.commands import run_standalone
from bayesnet.present.display import DISCLAIMER, STYLESHEET, label

__all__ = ["main", "recalibrate_command", "recalibration_html", "recalibration_text"]


def _fmt(x: float, kind: str) -> str:
    """A probability as a percentage (3 significant digits), a ratio as a number."""
    if x is None or not math.isfinite(x):
        return "-"
    if kind in ("odds_ratio", "relative_risk", "lr_positive", "lr_negative"):
        return f"{x:.3g}"
    pct = 100.0 * x
    return f"{pct:.3g}%" if pct >= 0.001 else f"{pct:.2g}%"


def _interval(v: float, lo: float, hi: float, kind: str) -> str:
    if lo is None or not (math.isfinite(lo) and math.isfinite(hi)):
        return _fmt(v, kind)
    return f"{_fmt(v, kind)} [{_fmt(lo, kind)}, {_fmt(hi, kind)}]"


def _moved(r: Any) -> str:
    """How far a number moved: the fold change and where the new value falls in the prior."""
    q = r.prior_quantile
    where = "" if not math.isfinite(q) else f", prior centile {100 * q:.0f}" if 0.005 <= q <= 0.995 else \
        f", {'below' if q < 0.5 else 'above'} the prior's 99% range"
    return f"x{r.fold:.3g}{where}"


def _rows(rec: Any) -> pd.DataFrame:
    t = rec.report
    return pd.DataFrame({
        "node": t["node"],
        "parameter": t["parameter"],
        "prior [95%]": [_interval(v, lo, hi, k) for v, lo, hi, k in
                        zip(t["prior_value"], t["prior_low"], t["prior_high"], t["kind"], strict=True)],
        "data": t["data"],
        "posterior [95%]": [_interval(v, lo, hi, k) for v, lo, hi, k in
                            zip(t["posterior_value"], t["posterior_low"], t["posterior_high"], t["kind"], strict=True)],
        "moved": [_moved(r) for r in t.itertuples()],
        "weight": [f"{w:.0%}" for w in t["data_weight"]],
        "grade": t["grade"],
    })


def recalibration_text(rec: Any) -> str:
    """The plain-text report of a recalibration: prior, data, posterior and how far each number moved.

    Examples
    --------
    >>> import bayesnet, pandas as pd
    >>> from bayesnet.reasoning.recalibration import recalibrate
    >>> counts = pd.DataFrame({"node": ["ctpa"], "parameter": ["sensitivity[pulmonary_embolism]"],
    ...                        "events": [40], "total": [50]})
    >>> text = recalibration_text(recalibrate(bayesnet.load_model("emergency_suspected_pe"), counts))
    >>> print(text.splitlines()[0])
    Recalibration of emergency_suspected_pe with user counts: 1 number updated
    """
    t = rec.report
    n = len(t)
    lines = [f"Recalibration of {rec.setting} with {rec.label}: {n} number{'s' if n != 1 else ''} updated", ""]
    with pd.option_context("display.max_rows", None, "display.max_colwidth", 70, "display.width", 250):
        lines.append(_rows(rec).to_string(index=False))
    lines += ["", ("posterior: the restated number (median of the updated distribution; mean for a distribution over "
                   "states) and its 95% interval; weight: the data's share of the posterior's information; "
                   "moved: posterior / prior and where the new value falls in the prior.")]
    if len(rec.skipped):
        reasons = rec.skipped["reason"].str.split(":").str[0].value_counts()
        lines.append(f"Not updated: {len(rec.skipped)} numbers ("
                     + "; ".join(f"{c} {r}" for r, c in reasons.items()) + "); see .skipped.")
    if rec.unsaveable:
        lines.append("Not saveable in a setting file (shared by every setting): " + ", ".join(rec.unsaveable) + ".")
    lines.append(DISCLAIMER)
    return "\n".join(lines)


def _e(x: Any) -> str:
    import html

    return html.escape(str(x), quote=True)


def _num(x: Any) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return ""
    return repr(x) if math.isfinite(x) else ""


def recalibration_html(rec: Any, *, style: bool = True) -> str:
    """The HTML report: one ``<tr data-node=... data-parameter=... data-prior=... data-posterior=...>`` per number.

    Examples
    --------
    >>> import bayesnet, pandas as pd
    >>> from bayesnet.reasoning.recalibration import recalibrate
    >>> counts = pd.DataFrame({"node": ["ctpa"], "parameter": ["sensitivity[pulmonary_embolism]"],
    ...                        "events": [40], "total": [50]})
    >>> recalibration_html(recalibrate(bayesnet.load_model("emergency_suspected_pe"), counts)).count("<tr data-node=")
    1
    """
    shown = _rows(rec)
    t = rec.report
    head = "".join(f"<th>{_e(c)}</th>" for c in shown.columns)
    body = []
    for (_, r), (_, s) in zip(t.iterrows(), shown.iterrows(), strict=True):
        cells = "".join(f'<td{" class=num" if c in ("prior [95%]", "data", "posterior [95%]", "weight") else ""}>'
                        f"{_e(label(v) if c == 'node' else v)}</td>" for c, v in s.items())
        body.append(f'<tr data-node="{_e(r["node"])}" data-parameter="{_e(r["parameter"])}" '
                    f'data-prior="{_num(r["prior_value"])}" data-posterior="{_num(r["posterior_value"])}" '
                    f'data-low="{_num(r["posterior_low"])}" data-high="{_num(r["posterior_high"])}">{cells}</tr>')
    note = (f"{len(rec.skipped)} numbers not updated (see <code>.skipped</code>). " if len(rec.skipped) else "")
    fragment = (f'<div class="bn-view bn-recalibration" data-setting="{_e(rec.setting)}" data-data="{_e(rec.label)}">'
                f"<h3>Recalibration of {_e(label(rec.setting))} with {_e(rec.label)}</h3>"
                f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"
                f'<div class="bn-note">{note}posterior: the restated number and its 95% interval; weight: the '
                f"data's share of the posterior's information. {_e(DISCLAIMER)}</div></div>")
    return f"<div><style>{STYLESHEET}</style>{fragment}</div>" if style else fragment


register_renderer("recalibration", "text", recalibration_text)
register_renderer("recalibration", "html", recalibration_html)


# ------------------------------------------------------------------------------------------ command
_SETTING_HELP = ("Population whose numbers are updated: primary_care (default), emergency, emergency_suspected_pe, "
                 "suspected_cauda_equina, or the path of a setting file of your own.")


@click.command("recalibrate", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.argument("counts", type=click.Path(dir_okay=False))
@click.option("--setting", default="primary_care", show_default=True, help=_SETTING_HELP)
@click.option("-o", "--output", type=click.Path(dir_okay=False), default=None,
              help="Write the new numbers as a setting file (.yaml), based on --setting; load it with "
              "--setting OUTPUT. Written only once it loads and reproduces the recalibrated network.")
@click.option("--parameter", "parameters", multiple=True, metavar="NODE:PARAMETER",
              help="Patient rows: count this number (repeat); default every probability whose population the rows "
              "observe fully.")
@click.option("--exclude", "exclude", multiple=True, metavar="NODE:PARAMETER",
              help="Leave this number as published (repeat).")
@click.option("--missing", type=click.Choice(["error", "drop"]), default="error", show_default=True,
              help="Patient rows, named numbers: a missing value needed to count one is an error, or its row is left "
              "out.")
@click.option("--ignore-column", "ignore_columns", multiple=True, metavar="NAME",
              help="Patient rows: a column that is not a variable (e.g. a patient id; repeat).")
@click.option("--grade", type=click.Choice(["A", "B", "C"]), default=None,
              help="Grade of the restated numbers (default A when the data carry at least half the information, "
              "else the published grade).")
@click.option("--label", default=None, help="Name of the data in the sources (default the file's name).")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object instead of a table.")
@click.option("--priors", type=click.Path(), default=None,
              help="Folder of priors files to use instead of the shipped ones.")
def recalibrate_command(counts: str, setting: str, output: str | None, parameters: tuple[str, ...],
                        exclude: tuple[str, ...], missing: str, ignore_columns: tuple[str, ...], grade: str | None,
                        label: str | None, as_json: bool, priors: str | None) -> None:
    """Update the model's numbers with your own counts, the published values as the prior.

    COUNTS is a CSV file: either a table of counts (columns node, parameter, events, total, and
    events_ref, total_ref for a ratio) or patient-level rows (one column per observed variable).
    Prints, for every number updated, the published value and interval, the data, the posterior
    and how far it moved. With -o the new numbers are saved as a setting file.

    Example: bayesnet recalibrate audit.csv --setting emergency_suspected_pe -o our_ed.yaml
    """
    from bayesnet.model import load_model
    from bayesnet.reasoning.recalibration import recalibrate

    if output is not None and Path(output).resolve() == Path(counts).resolve():
        raise click.BadParameter("the output would overwrite the counts file", param_hint="'-o'")
    if output is not None and Path(output).suffix not in (".yaml", ".yml"):
        raise click.BadParameter(f"a setting file must end in .yaml or .yml; got {output!r}", param_hint="'-o'")
    model = load_model(setting=setting, priors=priors)
    rec = recalibrate(model, counts, parameters=list(parameters) or None, label=label, grade=grade, missing=missing,
                      ignore_columns=list(ignore_columns), exclude=list(exclude))
    written = rec.save(output) if output is not None else None
    if as_json:
        out = rec.to_dict()
        out["output"] = None if written is None else str(written)
        click.echo(json.dumps(out, indent=2))
        return
    click.echo(recalibration_text(rec))
    if written is not None:
        click.echo(f"wrote setting {written.stem!r} to {written} (use --setting {written})")


def main(argv: list[str] | None = None) -> int:
    """``python -m bayesnet.present.recalibration``: the command with the package's exit statuses (2: bad input)."""
    return run_standalone(recalibrate_command, argv, "bayesnet recalibrate")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
