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

The outputs are the HTML renderers of :mod:`bayesnet.present.display`, the same functions that
draw a diagnosis in Jupyter, called with ``style=False``: the display stylesheet is attached to the
output panes once, when the app is built, and each update sends only the markup. Every displayed
number that a test may want to check carries a stable hook: each row of the differential is an
element with ``data-condition``, ``data-posterior`` and ``data-prior`` (the full-precision ``repr``
of the float), inside an element with class ``bn-ranking`` whose ``data-setting`` and
``data-evidence`` (sorted JSON) say what it was computed from.

Examples
--------
In a notebook:

>>> from bayesnet.present.explorer import Explorer
>>> ex = Explorer(setting="primary_care")  # doctest: +SKIP
>>> ex  # doctest: +SKIP

From a shell: ``bayesnet explore --port 5006`` and open the printed address.

The HTML fragments are plain functions of the results, usable without Panel:

>>> import bayesnet
>>> from bayesnet.present import display
>>> dx = bayesnet.load_model().diagnose({"history_of_cancer": "yes"})
>>> 'data-condition="spinal_metastasis"' in display.ranking_html(dx, style=False)
True
"""

from __future__ import annotations

import html
import ipaddress
import socket
import sys
import threading
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import click

from bayesnet.errors import BayesNetError
from bayesnet.present import display
from bayesnet.present.display import DISCLAIMER
from bayesnet.reasoning.next_tests import default_focus

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd

    from bayesnet.model import BackPainModel
    from bayesnet.reasoning.diagnosis import Diagnosis

__all__ = [
    "Explorer",
    "build_explorer",
    "explore",
    "get_model",
    "is_loopback",
    "serve",
    "websocket_origins",
]

UNKNOWN = "unknown"
LEADING = "serious condition the evidence raised most"
KINDS = (("risk_factor", "Risk factors"), ("finding", "Findings"), ("test", "Tests"))
PANEL_MISSING = "the explorer needs Panel, which is not installed: pip install 'bayesnet[app]'"

_MODELS: dict[str, BackPainModel] = {}
_MODELS_LOCK = threading.Lock()

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
        The outputs: :func:`~bayesnet.present.display.ranking_html`,
        :func:`~bayesnet.present.display.explanation_html` and
        :func:`~bayesnet.present.display.next_tests_html` fragments, and the update time.
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
                    f'<span title="{description}">{html.escape(display.label(var))}</span>', width=160, margin=(6, 5, 2, 5),
                )
                rows += [label, widget]
            # one grid per card (label, choice) rather than a Row per variable: half the models to build
            grid = pn.GridBox(*rows, ncols=2, margin=0)
            cards.append(
                pn.Card(grid, title=f"{title} ({len(rows) // 2})", collapsed=(kind == "test"), width=470,
                        css_classes=[f"bn-card-{kind}"])
            )

        # the display stylesheet, attached once to each pane that shows fragments; updates send markup only
        css = [display.STYLESHEET]
        self.ranking_pane = pn.pane.HTML("", stylesheets=css, sizing_mode="stretch_width", css_classes=["bn-out"])
        self.explanation_pane = pn.pane.HTML("", stylesheets=css, sizing_mode="stretch_width")
        self.next_tests_pane = pn.pane.HTML("", stylesheets=css, sizing_mode="stretch_width")
        self.status_pane = pn.pane.HTML("", stylesheets=css, sizing_mode="stretch_width")

        header = pn.pane.HTML(
            "<div class='bn-view'><h2 style='margin:4px 0'>Serious causes of back pain: differential explorer</h2>"
            f"<div class='bn-note'>Set what is known; everything left 'unknown' is averaged over. {DISCLAIMER}</div>"
            "</div>",
            stylesheets=css, sizing_mode="stretch_width",
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
            condition = default_focus(model, dx.ranking["posterior"]) if chosen in (LEADING, None) else str(chosen)
            ex = dx.explain(condition)
            summary = dx.summary(condition, explanation=ex)
            nt = model.next_tests(evidence, condition=condition)
            ranking = display.ranking_html(dx, lead=condition, style=False)
            explanation = display.explanation_html(ex, summary=summary, style=False)
            tests = display.next_tests_html(nt, self.top_tests, style=False)
        except BayesNetError as exc:
            message = html.escape(str(exc))
            self.status_pane.object = f"<div class='bn-view'><div class='bn-error'>error: {message}</div></div>"
            return
        self.diagnosis, self.next_best = dx, nt
        self.last_update_ms = 1000.0 * (time.perf_counter() - start)
        status = (
            f"<div class='bn-view'><div class='bn-status bn-note' data-update-ms='{self.last_update_ms:.2f}'>"
            f"Updated in {self.last_update_ms:.0f} ms (exact inference on the compiled network).</div></div>"
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
LOOPBACK = "127.0.0.1"
ORIGIN_NEEDED = (
    "listening on {address} lets other machines reach the explorer: name the web addresses their browsers "
    "will use with --allow-websocket-origin HOST[:PORT] (repeatable), e.g. --allow-websocket-origin "
    "{example}:{port}"
)


def is_loopback(address: str) -> bool:
    """Whether listening on ``address`` keeps the server reachable from this machine only.

    ``127.0.0.0/8``, ``::1`` and ``localhost`` are loopback; ``""``, ``0.0.0.0`` and ``::`` (every
    interface), and any other address or host name, are not.

    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("0.0.0.0"), is_loopback("")
    (True, True, False, False)
    """
    if address == "localhost":
        return True
    try:
        return ipaddress.ip_address(address).is_loopback
    except ValueError:  # a host name other than localhost, or "" (every interface)
        return False


def websocket_origins(origins: Iterable[str], address: str, port: int) -> list[str]:
    """The ``HOST:PORT`` patterns a page may open the explorer's websocket from.

    The loopback names of ``port`` are always allowed (a browser on this machine). Any other
    origin must be named (``HOST`` or ``HOST:PORT``; without a port, 80 as in Bokeh); the server
    refuses to listen on a non-loopback ``address`` without one.

    Parameters
    ----------
    origins : iterable of str
        ``--allow-websocket-origin`` values, e.g. ``["teaching.example.org:5006"]``.
    address : str
        The interface the server listens on.
    port : int

    Returns
    -------
    list of str
        Bokeh's ``allow_websocket_origin`` list.

    Raises
    ------
    BayesNetError
        A malformed origin (a scheme, a path, a bad port, a bare ``*``), or no origin for a
        non-loopback ``address``; the message names the value.

    Examples
    --------
    >>> websocket_origins([], "127.0.0.1", 5006)
    ['127.0.0.1:5006', 'localhost:5006']
    >>> websocket_origins(["192.0.2.7:5006"], "0.0.0.0", 5006)
    ['127.0.0.1:5006', '192.0.2.7:5006', 'localhost:5006']
    """
    from bokeh.server.util import create_hosts_allowlist

    named = []
    for origin in origins:
        text = str(origin).strip()
        if "://" in text or "/" in text:
            raise BayesNetError(f"websocket origin {origin!r} must be HOST or HOST:PORT, without a scheme or a path "
                                "(e.g. teaching.example.org:5006)")
        if text.split(":")[0] == "":
            raise BayesNetError(f"websocket origin {origin!r} has no host; give HOST or HOST:PORT")
        if text.split(":")[0].strip("*.") == "":
            raise BayesNetError(f"websocket origin {origin!r} allows every host; name the hosts (HOST[:PORT])")
        try:
            (host,) = create_hosts_allowlist([text], port)
        except ValueError as exc:
            raise BayesNetError(f"websocket origin {origin!r} must be HOST or HOST:PORT ({exc})") from None
        origin_port = host.rsplit(":", 1)[1]
        if origin_port != "*" and not 0 < int(origin_port) < 65536:
            raise BayesNetError(f"websocket origin {origin!r}: the port must be between 1 and 65535")
        named.append(host)
    if not named and not is_loopback(address):
        example = "this-machine.example.org" if address in ("", "0.0.0.0", "::") else address
        raise BayesNetError(ORIGIN_NEEDED.format(address=address or "every interface", example=example, port=port))
    local = [f"{LOOPBACK}:{port}", f"localhost:{port}"]
    if is_loopback(address) and address not in ("localhost", LOOPBACK):
        local.append(f"{address}:{port}")
    return sorted(set(local) | set(named))


def _free_port(address: str) -> int:
    """A port free on ``address`` (on loopback for every-interface addresses)."""
    host = address if address not in ("", "0.0.0.0", "::", "localhost") else LOOPBACK
    try:
        with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
            return int(s.getsockname()[1])
    except OSError as exc:  # an address of another machine, a name that does not resolve...
        raise BayesNetError(f"cannot listen on {address}: {exc.strerror or exc}") from None


def serve(setting: str = "primary_care", port: int = 5006, address: str = LOOPBACK, *, show: bool = False,
          start: bool = True, threaded: bool = False, verbose: bool = True,
          allow_websocket_origin: Iterable[str] = ()) -> Any:
    """Serve the explorer on ``http://address:port/``; each browser tab gets its own explorer.

    Parameters
    ----------
    setting : str
        The setting selected when a page opens.
    port : int, default 5006
        0 picks a free port.
    address : str, default "127.0.0.1"
        Interface to listen on. The loopback default keeps the explorer on this machine; any
        other address (``0.0.0.0``: every interface) needs ``allow_websocket_origin``.
    show : bool
        Open the page in the default browser.
    start : bool
        Run the server (blocks until interrupted, unless ``threaded``).
    threaded : bool
        Run it in a background thread and return that thread (``.stop()`` ends it).
    verbose : bool
        Print the address.
    allow_websocket_origin : iterable of str
        ``HOST[:PORT]`` of the pages allowed to open the explorer's websocket besides this
        machine's (see :func:`websocket_origins`); required for a non-loopback ``address``.

    Returns
    -------
    bokeh.server.server.Server or panel.io.threads.StoppableThread
        With ``url`` and ``origins`` attributes. A thread may take a moment before it accepts
        connections.

    Raises
    ------
    BayesNetError
        Unknown setting, Panel missing, a malformed origin or none for a non-loopback address,
        an address or port that cannot be listened on.
    """
    pn = _require_panel()
    allow_websocket_origin = list(allow_websocket_origin)
    websocket_origins(allow_websocket_origin, address, int(port) or 5006)  # refused before anything listens
    port = _free_port(address) if port == 0 else int(port)
    origins = websocket_origins(allow_websocket_origin, address, port)
    get_model(setting)  # validates the setting (one line naming the closest) and warms the cache
    host = LOOPBACK if address in ("", "0.0.0.0", "::") else address
    url = f"http://{host}:{port}/"

    def app() -> Any:
        return Explorer(setting).layout

    kwargs = {"port": port, "address": address, "websocket_origin": origins, "show": show,
              "title": "bayesnet explorer", "verbose": False}
    where = "" if is_loopback(address) else f"; listening on {address or 'every interface'}, pages allowed from " \
        f"{', '.join(origins)}"
    if threaded:
        server = pn.serve(app, threaded=True, **kwargs)
        server.url, server.origins = url, origins
        if verbose:
            click.echo(f"bayesnet explorer: {url}{where}")
        return server
    try:
        server = pn.serve(app, start=False, **kwargs)
    except OSError as exc:  # port in use, address not on this machine...
        raise BayesNetError(f"cannot listen on {address}:{port}: {exc.strerror or exc}; "
                            "choose another --port (0 picks a free one)") from exc
    server.url, server.origins = url, origins
    if verbose:
        click.echo(f"bayesnet explorer: {url}  (setting {setting}{where}; Ctrl+C to stop)")
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
@click.option("--address", default=LOOPBACK, show_default=True,
              help="Interface to listen on. Any other than loopback (e.g. 0.0.0.0) needs --allow-websocket-origin.")
@click.option("--allow-websocket-origin", "origins", multiple=True, metavar="HOST[:PORT]",
              help="Web address (host and port) from which other machines' browsers may use the explorer; repeat "
              "for each. Required with a non-loopback --address.")
@click.option("--show/--no-browser", "show", default=False, show_default=True,
              help="Open the page in the default web browser (default: only print its address).")
def explore(port: int, setting: str, address: str, origins: tuple[str, ...], show: bool) -> None:
    """Serve the interactive differential explorer as a web page on localhost.

    Toggle risk factors, findings and test results, switch the setting, and watch the ranked
    differential, the explanation and the next best test update at once. Needs Panel:
    pip install 'bayesnet[app]'. In Jupyter, display bayesnet.present.explorer.Explorer() instead.
    """
    if not origins and not is_loopback(address):
        raise click.UsageError(ORIGIN_NEEDED.format(
            address=address or "every interface", port=port or 5006,
            example="this-machine.example.org" if address in ("", "0.0.0.0", "::") else address))
    try:
        websocket_origins(origins, address, port or 5006)
    except BayesNetError as exc:
        raise click.BadParameter(str(exc), param_hint="'--allow-websocket-origin'") from None
    serve(setting=setting, port=port, address=address, show=show, allow_websocket_origin=origins)


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
