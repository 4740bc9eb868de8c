"""Interactive explorer for teaching: toggle what is known, watch the differential move.

One Panel app serves both uses: displayed inline in Jupyter and served as a web page on
localhost by ``bayesnet explore`` (or ``python -m bayesnet.present.explorer``). It needs the ``app``
extra (``pip install 'bayesnet[app]'``, which installs Panel); the rest of the package does not.

Controls: the clinical setting; for every risk factor, finding and test a choice between
``unknown`` and each of its states, grouped by kind in collapsible cards; the condition to
explain (by default the leading serious one); a reset button. Outputs, recomputed together after
every change (20-40 ms in Python, of which exact inference is a few ms): the ranked differential with probability
bars, the explanation of one condition (:meth:`~bayesnet.reasoning.diagnosis.Diagnosis.summary` and the
weight of each finding), and the next best observations (:meth:`~bayesnet.model.BackPainModel.next_tests`).

Every displayed number that a test may want to check carries a stable hook: each row of the
differential is an element with ``data-condition``, ``data-posterior`` and ``data-prior`` (the
full-precision ``repr`` of the float), inside an element with class ``bn-ranking`` whose
``data-setting`` and ``data-evidence`` (sorted JSON) say what it was computed from.

Examples
--------
In a notebook:

>>> from bayesnet.present.explorer import Explorer
>>> ex = Explorer(setting="primary_care")  # doctest: +SKIP
>>> ex  # doctest: +SKIP

From a shell: ``bayesnet explore --port 5006`` and open the printed address.

The HTML fragments are plain functions of the results, usable without Panel:

>>> import bayesnet
>>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes"})
>>> 'data-condition="spinal_metastasis"' in ranking_html(dx)
True
"""

from __future__ import annotations

import html
import json
import math
import socket
import sys
import threading
import time
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import click

from bayesnet.errors import BayesNetError
from bayesnet.formatting import format_probability

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from bayesnet.model import BackPainModel
    from bayesnet.reasoning.diagnosis import Diagnosis

__all__ = [
    "Explorer",
    "build_explorer",
    "explanation_html",
    "explore",
    "get_model",
    "next_tests_html",
    "ranking_html",
    "serve",
]

UNKNOWN = "unknown"
LEADING = "leading serious condition"
KINDS = (("risk_factor", "Risk factors"), ("finding", "Findings"), ("test", "Tests"))
DISCLAIMER = "Research and teaching tool, not a medical device."
PANEL_MISSING = "the explorer needs Panel, which is not installed: pip install 'bayesnet[app]'"

# Bars of the differential use a log scale from 0.01% to 100%, so that a serious condition moving
# from 0.3% to 9% is visible next to mechanical pain at 90%.
_LOG_FLOOR = -4.0

_MODELS: dict[str, BackPainModel] = {}
_MODELS_LOCK = threading.Lock()

_CSS = """
:host { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; font-size: 13px; }
table.bn { border-collapse: collapse; width: 100%; }
table.bn th { text-align: left; font-weight: 600; border-bottom: 1px solid #bbb; padding: 3px 6px; }
table.bn td { padding: 2px 6px; border-bottom: 1px solid #eee; vertical-align: middle; }
table.bn td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.bn-serious td.name { color: #922b21; }
tr.bn-lead td { background: #fdf2e9; }
.bn-track { position: relative; background: #eee; width: 220px; height: 12px; }
.bn-fill { position: absolute; left: 0; top: 0; height: 12px; }
.bn-prior { position: absolute; top: -2px; width: 2px; height: 16px; background: #222; }
.bn-wtrack { position: relative; width: 180px; height: 12px; background: #f4f4f4; }
.bn-wmid { position: absolute; left: 50%; top: -2px; width: 1px; height: 16px; background: #888; }
.bn-wfill { position: absolute; top: 0; height: 12px; }
.bn-note { color: #555; font-size: 11px; }
.bn-summary { font-size: 14px; line-height: 1.45; }
h3 { margin: 4px 0 6px 0; font-size: 16px; }
"""


# --------------------------------------------------------------------------- models and panel
def get_model(setting: str = "primary_care") -> BackPainModel:
    """The model of one setting, built once per process and shared by every explorer session.

    Parameters
    ----------
    setting : str
        ``primary_care`` or ``emergency``.

    Returns
    -------
    BackPainModel
        With its compiled engine and priors already computed, so the first update is fast.
    """
    with _MODELS_LOCK:
        model = _MODELS.get(setting)
        if model is None:
            from bayesnet.model import load_model

            model = load_model(setting)
            model.prior_probabilities()  # compiles the engine
            _MODELS[setting] = model
        return model


def _require_panel() -> Any:
    """Import Panel, or raise a one-line :class:`BayesNetError` telling how to install it."""
    try:
        import panel as pn
    except ImportError as exc:
        raise BayesNetError(PANEL_MISSING) from exc
    return pn


_OLD_NAMES = {"label": "name", "color": "button_type", "variant": "button_style"}


def _widget(cls: Any, **params: Any) -> Any:
    """Build a Panel widget with the current parameter names (``label``, ``color``, ``variant``),
    falling back to the older ones (``name``, ``button_type``, ``button_style``) on older Panel."""
    for new, old in _OLD_NAMES.items():
        if new in params and new not in cls.param:
            params[old] = params.pop(new)
    return cls(**params)


def _number(x: float) -> str:
    """Full-precision text of a float for data attributes (``repr`` round-trips exactly)."""
    return repr(float(x))


def _label(name: str) -> str:
    return name.replace("_", " ")


def _log_width(p: float) -> float:
    """Bar length in percent of the track for probability ``p`` on the log scale."""
    if not p > 0:
        return 0.0
    x = (math.log10(min(float(p), 1.0)) - _LOG_FLOOR) / -_LOG_FLOOR
    return 100.0 * min(max(x, 0.0), 1.0)


def _lr_text(lr: float) -> str:
    if lr == math.inf:
        return "&infin;"
    return f"{lr:.3g}"


# --------------------------------------------------------------------------- HTML fragments
def ranking_html(dx: Diagnosis, lead: str | None = None) -> str:
    """The ranked differential as an HTML table with log-scale probability bars.

    Parameters
    ----------
    dx : Diagnosis
    lead : str, optional
        A condition to highlight (the one explained).

    Returns
    -------
    str
        A ``<div class="bn-ranking" data-setting=... data-evidence=...>`` holding one
        ``<tr data-condition=... data-posterior=... data-prior=...>`` per condition.

    Examples
    --------
    >>> import bayesnet
    >>> dx = bayesnet.load_model().diagnose()
    >>> ranking_html(dx).count("data-posterior=")
    9
    """
    evidence = json.dumps(dict(dx.evidence.hard), sort_keys=True)
    rows = []
    for r in dx.ranking.itertuples():
        cond = str(r.Index)
        classes = ["bn-row"] + (["bn-serious"] if r.serious else []) + (["bn-lead"] if cond == lead else [])
        colour = "#c0392b" if r.serious else "#7f8c8d"
        rows.append(
            f'<tr class="{" ".join(classes)}" data-condition="{html.escape(cond)}" '
            f'data-posterior="{_number(r.posterior)}" data-prior="{_number(r.prior)}">'
            f'<td class="name">{html.escape(_label(cond))}{"" if r.serious else " <small>(not serious)</small>"}</td>'
            f'<td class="num">{format_probability(r.prior)}</td>'
            f'<td class="num bn-posterior"><b>{format_probability(r.posterior)}</b></td>'
            f'<td class="num">{_lr_text(r.likelihood_ratio)}</td>'
            f'<td><div class="bn-track" title="posterior {format_probability(r.posterior)}; prior '
            f'{format_probability(r.prior)}"><div class="bn-fill" style="width:{_log_width(r.posterior):.2f}%;'
            f'background:{colour}"></div><div class="bn-prior" style="left:{_log_width(r.prior):.2f}%"></div>'
            "</div></td></tr>"
        )
    shown = ", ".join(f"{_label(k)} = {v}" for k, v in dx.evidence.hard.items()) or "nothing yet"
    return (
        f'<div class="bn-ranking" data-setting="{html.escape(dx.setting)}" '
        f'data-evidence="{html.escape(evidence, quote=True)}">'
        f"<h3>Differential diagnosis ({html.escape(_label(dx.setting))})</h3>"
        f'<div class="bn-note">Known: {html.escape(shown)}</div>'
        '<table class="bn"><thead><tr><th>condition</th><th>prior</th><th>posterior</th>'
        '<th title="posterior odds / prior odds">LR</th><th>posterior (log scale 0.01% to 100%; | = prior)</th>'
        f"</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<div class="bn-note">LR = posterior odds / prior odds. {DISCLAIMER}</div></div>'
    )


def explanation_html(dx: Diagnosis, condition: str, ex: pd.DataFrame | None = None) -> str:
    """Why one condition has its probability: the plain-language summary and each finding's weight.

    Parameters
    ----------
    dx : Diagnosis
    condition : str
    ex : DataFrame, optional
        ``dx.explain(condition)`` if already computed.

    Returns
    -------
    str
        A ``<div class="bn-explanation" data-condition=... data-posterior=...>``.

    Examples
    --------
    >>> import bayesnet
    >>> dx = bayesnet.load_model().diagnose({"fever": "yes"})
    >>> "bn-summary" in explanation_html(dx, "epidural_abscess")
    True
    """
    ex = dx.explain(condition) if ex is None else ex
    summary = _summary(dx, condition, ex)
    rows = []
    top = max([abs(c) for c in ex["contribution"]] + [math.log(10.0)])
    for r in ex.itertuples():
        half = 50.0 * min(abs(r.contribution) / top, 1.0)
        left = 50.0 if r.contribution >= 0 else 50.0 - half
        colour = "#c0392b" if r.contribution >= 0 else "#2471a3"
        rows.append(
            f'<tr data-variable="{html.escape(r.variable)}" data-contribution="{_number(r.contribution)}">'
            f"<td>{html.escape(_label(r.variable))}</td><td>{html.escape(str(r.state))}</td>"
            f'<td class="num">&times;{r.likelihood_ratio:.3g}</td>'
            f'<td><div class="bn-wtrack"><div class="bn-wmid"></div><div class="bn-wfill" '
            f'style="left:{left:.2f}%;width:{half:.2f}%;background:{colour}"></div></div></td>'
            f'<td class="num">{format_probability(r.posterior_without)}</td></tr>'
        )
    table = (
        '<table class="bn"><thead><tr><th>finding</th><th>state</th><th title="factor on the odds">odds</th>'
        "<th>weight (log-odds; red raises, blue lowers)</th><th>without it</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
        if rows
        else ""
    )
    post = float(dx.ranking.loc[condition, "posterior"])
    prior = float(dx.ranking.loc[condition, "prior"])
    return (
        f'<div class="bn-explanation" data-condition="{html.escape(condition)}" data-posterior="{_number(post)}">'
        f"<h3>Why {html.escape(_label(condition))}: {format_probability(prior)} &rarr; "
        f"{format_probability(post)}</h3>"
        f'<p class="bn-summary">{html.escape(summary)}</p>{table}</div>'
    )


def _summary(dx: Diagnosis, condition: str, ex: pd.DataFrame) -> str:
    """``dx.summary(condition)`` reusing an explanation already computed (it would recompute it)."""
    original = dx.explain

    def explain(c: str) -> pd.DataFrame:
        return ex if c == condition else original(c)

    dx.explain = explain  # type: ignore[method-assign]
    try:
        return dx.summary(condition)
    finally:
        del dx.explain


def next_tests_html(nt: pd.DataFrame, top: int = 5) -> str:
    """The best next observations (from :meth:`BackPainModel.next_tests`) as an HTML table.

    Parameters
    ----------
    nt : DataFrame
        The result of ``model.next_tests(evidence, ...)``.
    top : int
        How many rows to show.

    Examples
    --------
    >>> import bayesnet
    >>> nt = bayesnet.load_model().next_tests({"iv_drug_use": "yes", "fever": "yes"})
    >>> 'data-variable="mri_infection"' in next_tests_html(nt, top=3)
    True
    """
    focus = str(nt.attrs.get("focus", ""))
    rows = []
    for i, r in enumerate(nt.head(top).itertuples(), start=1):
        var = r.Index
        rows.append(
            f'<tr data-variable="{html.escape(str(var))}" data-gain="{_number(r.expected_entropy_reduction)}">'
            f'<td class="num">{i}</td><td><b>{html.escape(_label(str(var)))}</b> '
            f'<span class="bn-note">{html.escape(str(r.kind))}</span></td>'
            f'<td class="num">{r.expected_entropy_reduction:.3f}</td>'
            f'<td class="num">{format_probability(r.expected_change)}</td>'
            f'<td class="bn-note">{html.escape(str(r.results))}</td></tr>'
        )
    body = "".join(rows) or '<tr><td colspan="5">every finding and test is already known</td></tr>'
    return (
        f'<div class="bn-next-tests" data-focus="{html.escape(focus)}">'
        f"<h3>Next best questions and tests (focus: {html.escape(_label(focus))})</h3>"
        '<table class="bn"><thead><tr><th>#</th><th>observe</th><th title="expected fall in uncertainty about '
        'the serious conditions">bits</th><th title="expected absolute change of the focus condition">'
        f"E|change|</th><th>results: P(result) &rarr; P({html.escape(_label(focus))})</th></tr></thead>"
        f"<tbody>{body}</tbody></table>"
        '<div class="bn-note">bits = expected reduction in uncertainty about the serious conditions.</div></div>'
    )


# --------------------------------------------------------------------------- the app
class Explorer:
    """The interactive differential explorer (a Panel app).

    Display it in Jupyter (it renders itself; ``pn.extension()`` is loaded if needed), or
    serve it with :func:`serve` / ``bayesnet explore``. ``explorer.servable()`` marks it for
    ``panel serve``.

    Parameters
    ----------
    setting : str, default "primary_care"
    evidence : mapping, optional
        Initial ``{variable: state}`` (hard evidence on risk factors, findings and tests).
    top_tests : int, default 5
        Rows of the next-best-observation table.

    Attributes
    ----------
    widgets : dict of str to panel.widgets.RadioButtonGroup
        One three-way (or more) choice per risk factor, finding and test; value ``"unknown"``
        or a state.
    setting_widget, condition_widget, reset_button
        The other controls.
    ranking_pane, explanation_pane, next_tests_pane, status_pane : panel.pane.HTML
        The outputs.
    diagnosis : Diagnosis
        The diagnosis currently displayed.
    next_best : DataFrame
        The next-tests table currently displayed.
    last_update_ms : float
        Time the last update took in Python (inference and HTML), in milliseconds.
    layout : panel.layout.Row
        The whole app.
    """

    def __init__(self, setting: str = "primary_care", *, evidence: Mapping[str, str] | None = None,
                 top_tests: int = 5):
        pn = _require_panel()
        self._pn = pn
        self.top_tests = int(top_tests)
        model = get_model(setting)
        self._holding = False
        self.diagnosis: Diagnosis | None = None
        self.next_best: pd.DataFrame | None = None
        self.last_update_ms = float("nan")

        self.setting_widget = _widget(
            pn.widgets.RadioButtonGroup, label="Setting", options=list(model.priors.settings), value=setting,
            color="primary", variant="outline", css_classes=["bn-setting"], sizing_mode="stretch_width",
        )
        self.reset_button = _widget(
            pn.widgets.Button, label="Reset: nothing known", color="warning", css_classes=["bn-reset"],
            sizing_mode="stretch_width",
        )
        self.condition_widget = _widget(
            pn.widgets.Select, label="Explain", options=[LEADING, *model.conditions], value=LEADING,
            css_classes=["bn-explain"], width=260,
        )
        self.widgets: dict[str, Any] = {}
        cards = []
        for kind, title in KINDS:
            rows = []
            for var, k in model.tables.kinds.items():
                if k != kind:
                    continue
                widget = _widget(
                    pn.widgets.RadioButtonGroup, label=var, options=[UNKNOWN, *model.tables.states[var]],
                    value=UNKNOWN, color="primary", variant="outline", css_classes=["bn-var", f"bn-var-{var}"],
                    width=270, margin=(2, 5),
                )
                self.widgets[var] = widget
                description = html.escape(model.tables.descriptions.get(var, ""), quote=True)
                label = pn.pane.HTML(
                    f'<span title="{description}">{html.escape(_label(var))}</span>', width=160, margin=(6, 5, 2, 5),
                )
                rows += [label, widget]
            # one grid per card (label, choice) rather than a Row per variable: half the models to build
            grid = pn.GridBox(*rows, ncols=2, margin=0)
            cards.append(
                pn.Card(grid, title=f"{title} ({len(rows) // 2})", collapsed=(kind == "test"), width=470,
                        css_classes=[f"bn-card-{kind}"])
            )

        self.ranking_pane = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width", css_classes=["bn-out"])
        self.explanation_pane = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self.next_tests_pane = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")
        self.status_pane = pn.pane.HTML("", stylesheets=[_CSS], sizing_mode="stretch_width")

        header = pn.pane.HTML(
            "<h2 style='margin:4px 0'>Serious causes of back pain: differential explorer</h2>"
            f"<div class='bn-note'>Set what is known; everything left 'unknown' is averaged over. {DISCLAIMER}</div>",
            stylesheets=[_CSS], sizing_mode="stretch_width",
        )
        controls = pn.Column(self.setting_widget, self.reset_button, *cards, width=490)
        outputs = pn.Column(
            self.ranking_pane, self.condition_widget, self.explanation_pane, self.next_tests_pane, self.status_pane,
            sizing_mode="stretch_width", min_width=560,
        )
        self.layout = pn.Column(header, pn.Row(controls, outputs, sizing_mode="stretch_width"),
                                sizing_mode="stretch_width")

        for widget in (*self.widgets.values(), self.setting_widget, self.condition_widget):
            widget.param.watch(self._on_change, "value")
        self.reset_button.on_click(lambda _event: self.reset())
        if evidence:
            self.set_evidence(evidence)
        else:
            self.update()

    # ------------------------------------------------------------------ state
    @property
    def setting(self) -> str:
        """The setting currently selected."""
        return str(self.setting_widget.value)

    @property
    def model(self) -> BackPainModel:
        """The (cached) model of the current setting."""
        return get_model(self.setting)

    @property
    def evidence(self) -> dict[str, str]:
        """``{variable: state}`` of every control not set to ``unknown``."""
        return {v: str(w.value) for v, w in self.widgets.items() if w.value not in (UNKNOWN, None)}

    def set_evidence(self, evidence: Mapping[str, str], *, clear: bool = True) -> None:
        """Set controls programmatically, then update the outputs once.

        Parameters
        ----------
        evidence : mapping
            ``{variable: state}``; validated like :meth:`BackPainModel.diagnose`.
        clear : bool, default True
            Set every other control back to ``unknown`` first.
        """
        ev = self.model.check_evidence(dict(evidence))
        if ev.soft:
            raise BayesNetError("the explorer takes states, not likelihoods: "
                                f"{', '.join(sorted(ev.soft_dicts))} given as soft evidence")
        for var in ev.hard:
            if var not in self.widgets:
                raise BayesNetError(f"{var!r} is a condition; the explorer sets risk factors, findings and tests")
        self._holding = True
        try:
            for var, widget in self.widgets.items():
                if var in ev.hard:
                    widget.value = ev.hard[var]
                elif clear:
                    widget.value = UNKNOWN
        finally:
            self._holding = False
        self.update()

    def reset(self) -> None:
        """Set every risk factor, finding and test back to ``unknown`` (the setting stays)."""
        self.set_evidence({}, clear=True)

    def _on_change(self, _event: Any) -> None:
        if not self._holding:
            self.update()

    # ------------------------------------------------------------------ outputs
    def update(self) -> None:
        """Recompute the differential, the explanation and the next tests, and redraw them together."""
        start = time.perf_counter()
        model = self.model
        evidence = self.evidence
        try:
            dx = model.diagnose(evidence)
            chosen = self.condition_widget.value
            condition = dx.leading_serious if chosen in (LEADING, None) else str(chosen)
            ex = dx.explain(condition)
            nt = model.next_tests(evidence, condition=condition)
            ranking = ranking_html(dx, lead=condition)
            explanation = explanation_html(dx, condition, ex)
            tests = next_tests_html(nt, self.top_tests)
        except BayesNetError as exc:
            message = html.escape(str(exc))
            self.status_pane.object = f"<div class='bn-error' style='color:#922b21'>error: {message}</div>"
            return
        self.diagnosis, self.next_best = dx, nt
        self.last_update_ms = 1000.0 * (time.perf_counter() - start)
        status = (
            f"<div class='bn-status bn-note' data-update-ms='{self.last_update_ms:.2f}'>"
            f"Updated in {self.last_update_ms:.0f} ms (exact inference on the compiled network).</div>"
        )
        with self._pn.io.hold():
            self.ranking_pane.object = ranking
            self.explanation_pane.object = explanation
            self.next_tests_pane.object = tests
            self.status_pane.object = status

    # ------------------------------------------------------------------ display
    def __panel__(self) -> Any:
        return self.layout

    def servable(self, title: str = "bayesnet explorer", **kwargs: Any) -> Any:
        """Mark the app for ``panel serve`` (see :meth:`panel.viewable.Viewable.servable`)."""
        return self.layout.servable(title=title, **kwargs)

    def show(self, **kwargs: Any) -> Any:
        """Serve this one explorer in a thread and open it in the browser (see ``panel.viewable.Viewable.show``)."""
        return self.layout.show(**kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        _load_notebook_extension(self._pn)
        return self.layout._repr_mimebundle_(include, exclude)

    def __repr__(self) -> str:
        return f"<Explorer setting={self.setting!r} evidence={self.evidence!r}>"


def _load_notebook_extension(pn: Any) -> None:
    """Load Panel's notebook extension once, when running in a Jupyter kernel and not yet loaded."""
    from panel.config import panel_extension

    if panel_extension._loaded:
        return
    try:
        from IPython import get_ipython

        in_kernel = getattr(get_ipython(), "kernel", None) is not None
    except ImportError:  # pragma: no cover - no IPython at all
        in_kernel = False
    if in_kernel:
        pn.extension()


def build_explorer(setting: str = "primary_care", **kwargs: Any) -> Explorer:
    """Build an :class:`Explorer` (display it in Jupyter, or serve it).

    Parameters
    ----------
    setting : str, default "primary_care"
    **kwargs
        Passed to :class:`Explorer` (``evidence``, ``top_tests``).

    Returns
    -------
    Explorer

    Examples
    --------
    >>> from bayesnet.present.explorer import build_explorer
    >>> build_explorer("emergency", evidence={"fever": "yes"})  # doctest: +SKIP
    """
    return Explorer(setting, **kwargs)


# --------------------------------------------------------------------------- serving
def _free_port(address: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((address if address not in ("", "0.0.0.0") else "127.0.0.1", 0))
        return int(s.getsockname()[1])


def serve(setting: str = "primary_care", port: int = 5006, address: str = "127.0.0.1", *, show: bool = False,
          start: bool = True, threaded: bool = False, verbose: bool = True) -> Any:
    """Serve the explorer on ``http://address:port/``; each browser tab gets its own explorer.

    Parameters
    ----------
    setting : str
        The setting selected when a page opens.
    port : int, default 5006
        0 picks a free port.
    address : str, default "127.0.0.1"
        Interface to listen on (keep the loopback default unless students connect from elsewhere).
    show : bool
        Open the page in the default browser.
    start : bool
        Run the server (blocks until interrupted, unless ``threaded``).
    threaded : bool
        Run it in a background thread and return that thread (``.stop()`` ends it).
    verbose : bool
        Print the address.

    Returns
    -------
    bokeh.server.server.Server or panel.io.threads.StoppableThread
        With a ``url`` attribute. A thread may take a moment before it accepts connections.
    """
    pn = _require_panel()
    get_model(setting)  # validates the setting (one line naming the closest) and warms the cache
    port = _free_port(address) if port == 0 else int(port)
    host = "127.0.0.1" if address in ("", "0.0.0.0") else address
    url = f"http://{host}:{port}/"
    origins = sorted({f"{host}:{port}", f"localhost:{port}", f"127.0.0.1:{port}"})

    def app() -> Any:
        return Explorer(setting).layout

    kwargs = {"port": port, "address": address, "websocket_origin": origins, "show": show,
              "title": "bayesnet explorer", "verbose": False}
    if threaded:
        server = pn.serve(app, threaded=True, **kwargs)
        server.url = url
        if verbose:
            click.echo(f"bayesnet explorer: {url}")
        return server
    try:
        server = pn.serve(app, start=False, **kwargs)
    except OSError as exc:  # port in use, address not on this machine...
        raise BayesNetError(f"cannot listen on {address}:{port}: {exc.strerror or exc}; "
                            "choose another --port (0 picks a free one)") from exc
    server.url = url
    if verbose:
        click.echo(f"bayesnet explorer: {url}  (setting {setting}; Ctrl+C to stop)")
        sys.stdout.flush()
    if start:
        server.start()
        try:
            server.io_loop.start()
        except KeyboardInterrupt:  # pragma: no cover - interactive stop
            pass
    return server


@click.command("explore", context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--port", default=5006, show_default=True, type=click.IntRange(0, 65535),
              help="Port to serve on (0 picks a free one).")
@click.option("--setting", default="primary_care", show_default=True,
              help="Setting selected when the page opens: primary_care or emergency (switchable on the page).")
@click.option("--address", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--show/--no-browser", "show", default=False, show_default=True,
              help="Open the page in the default web browser (default: only print its address).")
def explore(port: int, setting: str, address: str, show: bool) -> None:
    """Serve the interactive differential explorer as a web page on localhost.

    Toggle risk factors, findings and test results, switch the setting, and watch the ranked
    differential, the explanation and the next best test update at once. Needs Panel:
    pip install 'bayesnet[app]'. In Jupyter, display bayesnet.present.explorer.Explorer() instead.
    """
    serve(setting=setting, port=port, address=address, show=show)


def main(argv: list[str] | None = None) -> int:
    """``python -m bayesnet.present.explorer``: the ``explore`` command with the package's exit statuses."""
    try:
        explore.main(args=argv, prog_name="bayesnet explore", standalone_mode=False)
        return 0
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.UsageError as exc:
        click.echo(f"error: {exc.format_message()}", err=True)
        return 2
    except BayesNetError as exc:
        click.echo(f"error: {exc}", err=True)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
