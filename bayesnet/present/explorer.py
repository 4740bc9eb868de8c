"""Interactive explorer for teaching: toggle what is known, watch the differential move.

One Panel app serves both uses: displayed inline in Jupyter and served as a web page on
localhost by ``bayesnet explore`` (or ``python -m bayesnet.present.explorer``). It needs the ``app``
extra (``pip install 'bayesnet[app]'``, which installs Panel); the rest of the package does not.

Controls (left; below the results when the explorer is narrower than ``NARROW`` (1,000) px, as on a
phone or in a notebook's column: the layout follows the explorer's own width, not the screen's):
the clinical setting; for every risk factor, finding and test a choice between ``unknown`` and
each of its states, grouped by kind in
collapsible cards, each with its clinical label (:mod:`bayesnet.present.labels`) and a line
saying what it means; a reset button. A control that is set is drawn in colour, one left at
``unknown`` in grey, and each card's title counts how many of its controls are set.

Results (right, and kept in view while the controls scroll: on a narrow screen they stay at the
top): the ranked differential with probability bars, optionally each posterior's 95% interval
(:meth:`~bayesnet.model.BackPainModel.uncertainty`, 200 draws of the published numbers, cached
per evidence), the focus condition (by default the serious condition the evidence raised most,
:func:`~bayesnet.reasoning.next_tests.default_focus`), why it has its probability
(:meth:`~bayesnet.reasoning.diagnosis.Diagnosis.summary` and each finding's weight), and the next
best observations for it, ranked by what their result is expected to tell about it
(``focus_information``, :meth:`~bayesnet.model.BackPainModel.next_tests` with ``condition=``), the
score explained in words. If an update fails, the results on screen are marked out of date
with the error, never left looking current.

In a notebook (JupyterLab 4, with the extension that ships in the Panel package), displaying an
explorer loads Panel's and Bokeh's JavaScript inline, from the installed package: it needs no
network access. Where that JavaScript cannot run (an untrusted notebook, a static viewer), the
cell shows a message saying so and a static copy of the differential
(:meth:`Explorer.fallback_html`) instead of staying empty.

An update comes in two steps, each one patch of the page: the differential and the explanation
(a few milliseconds of Python), then the next tests (and intervals) in the next tick of the
server's event loop. In a served page a step starts once the websocket is free (the server's
reply to the click written), so that its patch leaves the moment it is made rather than at
Panel's next 10 ms poll; in a notebook the kernel's comm is held during a step and pushed once.
Only changed markup travels: the stylesheets are attached to each output pane once, when it is
built, a pane whose markup did not change sends nothing, and Panel's 50 ms debounce of widget
changes is turned off for the controls.

The differential reuses :func:`~bayesnet.present.display.ranking_html`, the explanation
:func:`~bayesnet.present.display.explanation_html` (the functions that draw them in Jupyter),
called with ``style=False``. Every number a test may want to check carries a stable hook: each
row of the differential is an element with ``data-condition``, ``data-posterior`` and
``data-prior`` (the full-precision ``repr`` of the float), inside an element with class
``bn-ranking`` whose ``data-setting`` and ``data-evidence`` (sorted JSON) say what it was
computed from; the status line (class ``bn-status``) carries the same ``data-evidence`` and
``data-state="complete"`` once every output of that evidence is shown.

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
>>> nt = dx.model.next_tests({"history_of_cancer": "yes"}, condition="spinal_metastasis")
>>> 'data-variable="mri_malignancy"' in next_tests_fragment(nt, top=3)
True
"""

from __future__ import annotations

import html
import ipaddress
import json
import logging
import socket
import sys
import threading
import time
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

import click

from bayesnet.errors import BayesNetError
from bayesnet.present import display
from bayesnet.present.commands import run_standalone
from bayesnet.present.display import DISCLAIMER, format_probability
from bayesnet.present.labels import setting_label, state_label, variable_label
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
    "next_tests_fragment",
    "serve",
    "websocket_origins",
]

log = logging.getLogger(__name__)

UNKNOWN = "unknown"
LEADING = "serious condition the evidence raised most"
KINDS = (("risk_factor", "Risk factors"), ("finding", "Findings"), ("test", "Tests"))
PANEL_MISSING = "the explorer needs Panel, which is not installed: pip install 'bayesnet[app]'"
#: Parameter draws behind the optional 95% intervals (a modest number: ~10 ms per evidence, cached).
INTERVAL_DRAWS = 200
#: Width (CSS px) of the explorer below which the results go above the controls. A container query,
#: not a media query: inline in a notebook the explorer is as wide as the notebook's column, not the screen.
NARROW = 1000
#: Width (CSS px) of the results column below which its tables are compacted.
NARROW_RESULTS = 600
#: Below this width the next tests drop their score bar and list each result on its own line (a phone).
SMALL_RESULTS = 480
#: Below this width (a phone's notebook column) the differential drops its bars, the explanation its
#: log-odds and the next tests their rank: the numbers that matter stay, and long words may break.
TINY_RESULTS = 340

#: The explorer's own rules, after :data:`bayesnet.present.display.STYLESHEET` in every pane.
EXPLORER_CSS = """\
.bn-view .bn-note, .bn-view small { font-size: 12px; }
.bn-view .bn-score-words { font-size: 13px; color: #333; margin: 2px 0 6px 0; }
.bn-view .bn-res { white-space: nowrap; margin-right: 10px; }
.bn-view .bn-res small { color: #555; font-size: 12px; }
.bn-stale { opacity: 0.45; filter: grayscale(1); }
.bn-view .bn-alert { color: #922b21; background: #fdedec; border: 1px solid #e6b0aa; padding: 6px 8px;
  font-size: 14px; border-radius: 3px; }
.bn-view .bn-status.bn-busy { color: #7d6608; }
.bn-ctl { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; line-height: 1.25; }
.bn-ctl .bn-name { font-size: 14px; font-weight: 600; }
.bn-ctl .bn-desc { font-size: 12px; color: #555; }
.bn-view { overflow-x: auto; }
@container (max-width: NARROWpx) {
  .bn-view .bn-track { width: 90px; }
  .bn-view .bn-track.bn-diverging { width: 80px; }
  .bn-view td, .bn-view th { padding: 2px 3px; }
  .bn-ranking td:nth-child(4), .bn-ranking th:nth-child(4) { display: none; }
}
@container (max-width: SMALLpx) {
  .bn-next-tests td:nth-child(4), .bn-next-tests th:nth-child(4) { display: none; }
  .bn-view .bn-res { display: block; white-space: normal; margin-right: 0; }
  .bn-view th.num { white-space: normal; }
  .bn-view td, .bn-view th { padding: 2px 2px; }
}
@container (max-width: TINYpx) {
  .bn-ranking td:nth-child(5), .bn-ranking th:nth-child(5) { display: none; }
  .bn-explanation td:nth-child(4), .bn-explanation th:nth-child(4) { display: none; }
  .bn-next-tests td:nth-child(1), .bn-next-tests th:nth-child(1) { display: none; }
  .bn-view .bn-track.bn-diverging { width: 60px; }
  .bn-view th, .bn-view td { overflow-wrap: anywhere; }
}
""".replace("NARROW", str(NARROW_RESULTS)).replace("SMALL", str(SMALL_RESULTS)).replace("TINY", str(TINY_RESULTS))

#: The whole explorer is the container its layout rules query (its own width, whatever the screen's).
_LAYOUT_CSS = ":host { container-type: inline-size; }"

#: The flex box of results and controls. Results first, laid out right to left: beside the controls when
#: the explorer is wide enough, above them when not; kept in view while the controls scroll (the flex
#: box's items are the children of its display: contents wrappers).
_BODY_CSS = """\
[id^="flex-item-0"] > * { position: sticky !important; top: 0 !important; align-self: flex-start !important; z-index: 2 !important; flex: 1 1 500px !important; min-width: 0 !important;
  background: white !important; }
[id^="flex-item-1"] > * { flex: 0 1 460px !important; min-width: 0 !important; }
@container (max-width: NARROWpx) {
  [id^="flex-item-0"] > * { flex: 1 1 100% !important; border-bottom: 2px solid #bbb !important; }
  [id^="flex-item-1"] > * { flex: 1 1 100% !important; }
}
""".replace("NARROW", str(NARROW - 1))

#: The results column scrolls within the screen's height (half of it when above the controls); its width is
#: the container its tables' rules query.
_RESULTS_CSS = """\
:host { max-height: 100vh; overflow-y: auto !important; container-type: inline-size; }
@container (max-width: NARROWpx) { :host { max-height: 50vh; } }
""".replace("NARROW", str(NARROW - 1))

#: A widget's title wraps in a narrow column instead of running past it.
_WRAP_LABEL_CSS = "label { white-space: normal; overflow-wrap: anywhere; }"

#: A control's button labels wrap in a narrow column ("70 or / over") instead of running past it.
_WRAP_BUTTONS_CSS = ".bk-btn { white-space: normal; overflow-wrap: anywhere; }"

#: The setting buttons wrap on a narrow screen.
_SETTING_CSS = ".bk-btn-group { flex-wrap: wrap; } .bk-btn { flex: 1 1 auto; }"

#: Jinja block added to the served page: a phone lays the page out at its own width.
PAGE_TEMPLATE = """\
{% block postamble %}<meta name="viewport" content="width=device-width, initial-scale=1">{% endblock %}
"""

_MODELS: dict[str, BackPainModel] = {}
_MODELS_LOCK = threading.Lock()
_INTERVALS: OrderedDict[tuple, Any] = OrderedDict()
_INTERVALS_LOCK = threading.Lock()
_INTERVALS_KEPT = 256


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


def intervals(setting: str, evidence: Mapping[str, str]) -> pd.DataFrame:
    """The 95% intervals of every posterior (:data:`INTERVAL_DRAWS` draws, seed 0), cached per setting and evidence.

    Shared by every session of the process (the last 256 evidences are kept).
    """
    key = (setting, tuple(sorted(evidence.items())))
    with _INTERVALS_LOCK:
        hit = _INTERVALS.get(key)
        if hit is not None:
            _INTERVALS.move_to_end(key)
            return hit
    unc = get_model(setting).uncertainty(dict(evidence), draws=INTERVAL_DRAWS, seed=0)
    with _INTERVALS_LOCK:
        _INTERVALS[key] = unc
        while len(_INTERVALS) > _INTERVALS_KEPT:
            _INTERVALS.popitem(last=False)
    return unc


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


_PROMPT: dict[type, type] = {}


def _prompt(cls: type) -> type:
    """``cls`` without Panel's 50 ms debounce of changes from the browser (a click is one change, not a drag)."""
    sub = _PROMPT.get(cls)
    if sub is None:
        sub = _PROMPT[cls] = type(cls.__name__, (cls,), {"_debounce": 0, "__module__": __name__})
    return sub


_FRAGMENT: list[type] = []


def _fragment_pane(pn: Any) -> type:
    """An HTML pane whose updates send only the markup.

    Panel's HTML pane sends every property again when its object changes, the stylesheets among
    them (new stylesheet models each time, so never equal to the old ones): 6-8 KB of identical
    CSS per pane per update. This pane sends the stylesheets once, when its model is built, and
    on an update computes and sends the text alone (Panel would rebuild every property, its
    stylesheet models included, to drop them again: about 1 ms per pane). Markup equal to what
    the page shows is not sent at all.
    """
    if not _FRAGMENT:
        base = pn.pane.HTML

        def _update(self: Any, ref: str, model: Any) -> None:
            text = self._transform_object(self.object)["object"]
            if model.text != text:
                model.text = text

        _FRAGMENT.append(type("Fragment", (base,), {"_update": _update, "__module__": __name__}))
    return _FRAGMENT[0]


# --------------------------------------------------------------------------- next tests, in words
def _score_words(sort_by: str, focus: str, threshold: float | None) -> tuple[str, str, str]:
    """(column, title, plain words) of the score a next-tests table is sorted by."""
    name = variable_label(focus).lower() if focus else "the focus condition"
    if sort_by == "focus":
        return ("focus_information", f"bits about {name}",
                (f"Score: how much the result is expected to tell about {name}, in bits. 0 means no result could "
                f"change its probability; 1 bit is what a result settling a 50:50 question would be worth. "
                "Arrows: each possible result, how likely it is now, and the probability of "
                f"{name} if it comes back that way."))
    if sort_by == "decision" and threshold is not None:
        return ("decision_value", "value",
                (f"Score: what the result is expected to save in the decision 'act if {name} is above "
                f"{format_probability(threshold)}', in missed cases per patient net of false alarms "
                "(a result that only nudges it across the line is worth little)."))
    if sort_by == "change":
        return ("expected_change", "expected move",
                f"Score: how far the result is expected to move the probability of {name}, either way.")
    if sort_by == "cross" and threshold is not None:
        return ("p_cross", "P(cross)",
                f"Score: the chance that the result moves {name} across {format_probability(threshold)}.")
    return ("expected_entropy_reduction", "bits, all serious",
            "Score: how much the result is expected to tell about all the serious conditions together, in bits.")


def next_tests_fragment(nt: pd.DataFrame, top: int | None = 5) -> str:
    """The next best observations as the explorer shows them: clinical labels, the sort score and its meaning in words.

    Parameters
    ----------
    nt : DataFrame
        The result of :meth:`~bayesnet.model.BackPainModel.next_tests`.
    top : int or None, default 5
        Rows shown (None: all).

    Returns
    -------
    str
        ``<div class="bn-view bn-next-tests" data-focus=... data-sort=... data-current=...>`` with one
        ``<tr data-variable=... data-score=... data-gain=... data-focus-information=... data-change=...>``
        per observation, in the table's order, and a ``<p class="bn-score-words">`` saying what the
        score means.
    """
    focus = str(nt.attrs.get("focus", ""))
    sort_by = str(nt.attrs.get("sort_by", "entropy"))
    current = nt.attrs.get("current")
    column, title, words = _score_words(sort_by, focus, nt.attrs.get("threshold"))
    t = nt if top is None else nt.head(top)
    outcomes = nt.attrs.get("outcomes")
    # each shown row's results, from plain columns (grouping the frame copies its attrs for every group)
    by_var: dict[str, list[tuple[Any, float, float]]] = {}
    if outcomes is not None and focus in outcomes.columns:
        wanted = set(t.index)
        for v, s, p, after in zip(outcomes["variable"].tolist(), outcomes["state"].tolist(),
                                  outcomes["probability"].tolist(), outcomes[focus].tolist(), strict=True):
            if v in wanted:
                by_var.setdefault(v, []).append((s, p, after))
    scale = float(t[column].max()) if len(t) else 0.0
    rows = []
    records = zip(t.index, t[column].tolist(), t["expected_entropy_reduction"].tolist(), t["focus_information"].tolist(),
                  t["expected_change"].tolist(), t["kind"].tolist(), strict=True)
    for i, (var, score, gain, information, change, kind) in enumerate(records, start=1):
        score = float(score)
        results = []
        if var in by_var:
            for s, p, after in by_var[var]:
                results.append(f'<span class="bn-res">{html.escape(state_label(var, s))} '
                               f'<small>({format_probability(p)})</small> &rarr; <b>{format_probability(after)}</b></span>')
        else:  # pragma: no cover - a table without its outcomes
            results.append(html.escape(str(t.loc[var].get("results", ""))))
        width = 100.0 * score / scale if scale > 0 else 0.0
        rows.append(
            f'<tr data-variable="{html.escape(str(var), quote=True)}" data-gain="{float(gain)!r}" '
            f'data-score="{score!r}" data-focus-information="{float(information)!r}" '
            f'data-change="{float(change)!r}" class="bn-kind-{html.escape(str(kind), quote=True)}">'
            f'<td class="num">{i}</td><td><b>{html.escape(variable_label(var))}</b></td>'
            f'<td class="num">{score:.3f}</td>'
            f'<td><div class="bn-track" style="width:90px"><div class="bn-fill" style="left:0;width:{width:.1f}%">'
            f"</div></div></td><td>{' '.join(results)}</td></tr>"  # a space: the results wrap in a narrow column
        )
    body = "".join(rows) or '<tr><td colspan="5">every finding and test is already known</td></tr>'
    name = html.escape(variable_label(focus)) if focus else ""
    now = f" (now {format_probability(current)})" if current is not None else ""
    return (
        f'<div class="bn-view bn-next-tests" data-focus="{html.escape(focus, quote=True)}" '
        f'data-sort="{html.escape(sort_by, quote=True)}"'
        + (f' data-current="{float(current)!r}"' if current is not None else "") + ">"
        f"<h3>Next best questions and tests for {name}{now}</h3>"
        f'<p class="bn-score-words">{html.escape(words)}</p>'
        f'<table><thead><tr><th class="num">#</th><th>observe</th><th class="num">{html.escape(title)}</th><th></th>'
        f"<th>if the result is (how likely now) &rarr; P({name})</th></tr></thead><tbody>{body}</tbody></table>"
        '<div class="bn-note">red: tests, blue: questions and examination findings.</div></div>'
    )


# --------------------------------------------------------------------------- the app
class Explorer:
    """The interactive differential explorer (a Panel app).

    Display it in Jupyter (it renders itself; ``pn.extension(inline=True)`` is loaded if needed), or
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
        One choice per risk factor, finding and test; value ``"unknown"`` or a state id (the
        buttons show clinical labels).
    setting_widget, condition_widget, intervals_widget, reset_button
        The other controls: the setting, the focus condition (``LEADING`` or a condition id),
        whether to show 95% intervals, and reset.
    ranking_pane, intervals_pane, explanation_pane, next_tests_pane, status_pane : panel.pane.HTML
        The outputs: :func:`~bayesnet.present.display.ranking_html`,
        :func:`~bayesnet.present.display.uncertainty_html`,
        :func:`~bayesnet.present.display.explanation_html` and :func:`next_tests_fragment`
        fragments, and the status line (update time, or the error that left the results out of date).
    diagnosis : Diagnosis
        The diagnosis currently displayed.
    focus : str
        The condition explained and the next tests are ranked for.
    next_best : DataFrame
        The next-tests table currently displayed.
    stale : str or None
        The error of the last update if it failed (the results shown are then marked out of
        date), else None.
    last_update_ms : float
        Time the last complete update took in Python (inference and HTML), in milliseconds.
    layout : panel.layout.Column
        The whole app.
    """

    def __init__(self, setting: str = "primary_care", *, evidence: Mapping[str, str] | None = None,
                 top_tests: int = 5):
        pn = _require_panel()
        self._pn = pn
        self.top_tests = int(top_tests)
        model = get_model(setting)
        self._holding = False
        self._waiting: list[Any] = []
        self._generation = 0
        self._started = 0.0
        self.diagnosis: Diagnosis | None = None
        self.focus: str | None = None
        self.next_best: pd.DataFrame | None = None
        self.stale: str | None = None
        self.last_update_ms = float("nan")
        Choice = _prompt(pn.widgets.RadioButtonGroup)
        self._color = "color" if "color" in Choice.param else "button_type"
        Pane = _fragment_pane(pn)

        self.setting_widget = _widget(
            Choice, label="Setting", options={setting_label(s): s for s in model.priors.settings}, value=setting,
            color="primary", variant="outline", css_classes=["bn-setting"], sizing_mode="stretch_width",
            stylesheets=[_SETTING_CSS],
        )
        self.reset_button = _widget(
            pn.widgets.Button, label="Reset: nothing known", color="warning", css_classes=["bn-reset"],
            sizing_mode="stretch_width",
        )
        self.condition_widget = _widget(
            _prompt(pn.widgets.Select), label="Focus: the condition explained and the next tests are ranked for",
            options={"Automatic: the serious condition the evidence raised most": LEADING,
                     **{variable_label(c): c for c in model.conditions}},
            value=LEADING, css_classes=["bn-explain"], sizing_mode="stretch_width", max_width=520,
            stylesheets=[_WRAP_LABEL_CSS],
        )
        self.intervals_widget = _widget(
            _prompt(pn.widgets.Checkbox),
            label=f"Show 95% intervals (uncertainty of the published numbers, {INTERVAL_DRAWS} draws)",
            value=False, css_classes=["bn-intervals-toggle"],
        )
        css = [display.STYLESHEET + EXPLORER_CSS]
        self.widgets: dict[str, Any] = {}
        self._drawn_set: dict[str, bool] = {}
        self._cards: dict[str, tuple[Any, str, list[str]]] = {}
        cards = []
        for kind, title in KINDS:
            rows = []
            names = [v for v, k in model.tables.kinds.items() if k == kind]
            for var in names:
                states = model.tables.states[var]
                widget = _widget(
                    Choice, label=variable_label(var), options={UNKNOWN: UNKNOWN, **{state_label(var, s): s for s in states}},
                    value=UNKNOWN, color="light", variant="outline", css_classes=["bn-var", f"bn-var-{var}"],
                    sizing_mode="stretch_width", margin=(0, 5, 8, 5), stylesheets=[_WRAP_BUTTONS_CSS],
                )
                self.widgets[var] = widget
                self._drawn_set[var] = False
                description = html.escape(model.tables.descriptions.get(var, ""))
                label = pn.pane.HTML(
                    f'<div class="bn-ctl"><span class="bn-name">{html.escape(variable_label(var))}</span>'
                    f'<div class="bn-desc">{description}</div></div>',
                    stylesheets=css, sizing_mode="stretch_width", margin=(4, 5, 2, 5),
                )
                rows += [label, widget]
            # the header is a pane of ours: a new count sends its text only (a Card's title re-sends its stylesheets,
            # which in a notebook point at Panel's CDN)
            header = Pane(self._card_header(title, 0, len(names)), css_classes=["card-title"], sizing_mode="stretch_width")
            card = pn.Card(pn.Column(*rows, sizing_mode="stretch_width", margin=0), header=header,
                           collapsed=(kind == "test"), sizing_mode="stretch_width", css_classes=[f"bn-card-{kind}"])
            self._cards[kind] = (card, header, title, names)
            cards.append(card)

        self.ranking_pane = Pane("", stylesheets=css, sizing_mode="stretch_width", css_classes=["bn-out"])
        self.intervals_pane = Pane("", stylesheets=css, sizing_mode="stretch_width", visible=False,
                                   css_classes=["bn-intervals"])
        self.explanation_pane = Pane("", stylesheets=css, sizing_mode="stretch_width", css_classes=["bn-explanation-out"])
        self.next_tests_pane = Pane("", stylesheets=css, sizing_mode="stretch_width", css_classes=["bn-tests-out"])
        self.status_pane = Pane("", stylesheets=css, sizing_mode="stretch_width", css_classes=["bn-status-out"])

        header = pn.pane.HTML(
            "<div class='bn-view'><h2 style='margin:4px 0;font-size:20px'>Serious causes of back pain: "
            "differential explorer</h2>"
            "<div class='bn-score-words'>Set what is known about the patient; everything left at 'unknown' is "
            "averaged over. The results update at once and stay in view.</div>"
            f"<div class='bn-note'>{DISCLAIMER}</div></div>",
            stylesheets=css, sizing_mode="stretch_width",
        )
        controls = pn.Column(self.setting_widget, self.reset_button, *cards, sizing_mode="stretch_width",
                             css_classes=["bn-controls"])
        self.results = pn.Column(
            self.status_pane, self.ranking_pane, self.intervals_widget, self.intervals_pane, self.condition_widget,
            self.explanation_pane, self.next_tests_pane,
            sizing_mode="stretch_width", css_classes=["bn-results"], stylesheets=[_RESULTS_CSS],
        )
        body = pn.FlexBox(self.results, controls, flex_direction="row-reverse", flex_wrap="wrap",
                          align_items="flex-start", sizing_mode="stretch_width", css_classes=["bn-body"],
                          stylesheets=[_BODY_CSS])
        self.layout = pn.Column(header, body, sizing_mode="stretch_width", css_classes=["bn-explorer"],
                                stylesheets=[_LAYOUT_CSS])

        for widget in (*self.widgets.values(), self.setting_widget, self.condition_widget, self.intervals_widget):
            widget.param.watch(self._on_change, "value")
        self.reset_button.on_click(lambda _event: self._when_sent(self.reset))
        if evidence:
            self.set_evidence(evidence, defer=False)
        else:
            self.update(defer=False)

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

    def set_evidence(self, evidence: Mapping[str, str], *, clear: bool = True, defer: bool | None = None) -> None:
        """Set controls programmatically, then update the outputs once.

        Parameters
        ----------
        evidence : mapping
            ``{variable: state}``; validated like :meth:`BackPainModel.diagnose`.
        clear : bool, default True
            Set every other control back to ``unknown`` first.
        defer : bool, optional
            See :meth:`update`.
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
        self.update(defer=defer)

    def reset(self) -> None:
        """Set every risk factor, finding and test back to ``unknown`` (the setting stays)."""
        self.set_evidence({}, clear=True)

    def _on_change(self, _event: Any) -> None:
        if not self._holding:
            self._when_sent(self.update)

    @contextmanager
    def _batch(self) -> Iterator[None]:
        """The changes made inside reach the page as one patch.

        In a served page, Panel's hold. In a notebook, Panel pushes each change over the kernel's
        comm as a message of its own (every pane, every colour: 8 messages a click): the comm is
        held instead, then pushed once.
        """
        pn = self._pn
        views = pn.state._views
        in_notebook = any(views.get(ref, (None, None, None, None))[3] is not None for ref in self.layout._models)
        if not in_notebook:
            with pn.io.hold():
                yield
            return
        from panel.io.notebook import block_comm

        try:
            with block_comm():
                yield
        finally:
            pn.io.push_notebook(self.layout)

    def _when_sent(self, step: Any) -> None:
        """Run ``step`` now, or in a served page once the page's websocket is free.

        A change from the browser is answered by the server with a short reply, written while
        Panel already runs the callbacks it triggered. A patch made then waits for that reply, and
        Panel polls for it every 10 ms: waiting for the websocket first (its write lock; the reply
        takes a fraction of a millisecond) lets the patch of the step go out the moment it is made.
        A step already waiting is not queued twice (it reads the controls when it runs).
        """
        doc = self._pn.state.curdoc
        if doc is None or doc.session_context is None:
            step()
            return
        if step in self._waiting:
            return
        self._waiting.append(step)
        from panel.io.state import set_curdoc

        async def run() -> None:
            session = getattr(doc.session_context, "session", None)
            for conn in list(getattr(session, "_subscribed_connections", ())):
                lock = getattr(getattr(conn, "_socket", None), "write_lock", None)
                if lock is not None:
                    async with lock:
                        pass
            self._waiting.remove(step)
            with set_curdoc(doc):
                step()

        doc.add_next_tick_callback(run)

    @staticmethod
    def _card_title(title: str, n_set: int, n: int) -> str:
        return f"{title}: {n_set} of {n} set" if n_set else f"{title} ({n}, none set)"

    @classmethod
    def _card_header(cls, title: str, n_set: int, n: int) -> str:
        return f"<h3>{html.escape(cls._card_title(title, n_set, n))}</h3>"

    def card_titles(self) -> dict[str, str]:
        """The title of each card of controls (``risk_factor``, ``finding``, ``test``), counting the controls set."""
        is_set = {var: w.value not in (UNKNOWN, None) for var, w in self.widgets.items()}
        return {kind: self._card_title(title, sum(is_set[v] for v in names), len(names))
                for kind, (_card, _header, title, names) in self._cards.items()}

    def _style_controls(self) -> None:
        """Set controls in colour, unset ones grey; each card's title counts its set controls (changes only)."""
        is_set = {var: w.value not in (UNKNOWN, None) for var, w in self.widgets.items()}
        changed = [var for var, v in is_set.items() if self._drawn_set.get(var) != v]
        if not changed:
            return
        for var in changed:
            widget = self.widgets[var]
            setattr(widget, self._color, "primary" if is_set[var] else "light")
            self._drawn_set[var] = is_set[var]
        for _card, header, title, names in self._cards.values():
            text = self._card_header(title, sum(is_set[v] for v in names), len(names))
            if header.object != text:
                header.object = text

    # ------------------------------------------------------------------ outputs
    def _deferred(self) -> bool:
        """Whether this update runs in a server session (then the slower outputs follow in the next tick)."""
        doc = self._pn.state.curdoc
        return doc is not None and doc.session_context is not None

    def update(self, *, defer: bool | None = None) -> None:
        """Recompute and redraw every output for the current controls.

        The differential and the explanation are drawn first; the next tests (and the intervals,
        when shown) follow: in a served page in the next tick of the event loop, once the
        differential's patch is on the websocket, so that it reaches the browser without waiting
        for them; elsewhere at once.

        Parameters
        ----------
        defer : bool, optional
            Force (True) or forbid (False) the second step's deferral (default: defer when in a
            server session).
        """
        self._generation += 1
        generation = self._generation
        self._started = start = time.perf_counter()
        model, setting, evidence = self.model, self.setting, self.evidence
        try:
            dx = model.diagnose(evidence)
            chosen = self.condition_widget.value
            condition = default_focus(model, dx.ranking["posterior"]) if chosen in (LEADING, None) else str(chosen)
            ex = dx.explain(condition)
            summary = dx.summary(condition, explanation=ex)
            ranking = display.ranking_html(dx, lead=condition, style=False)
            explanation = display.explanation_html(ex, summary=summary, style=False)
        except Exception as exc:  # shown on the page, then re-raised unless it is a known error
            self._flag_stale(exc, evidence)
            if not isinstance(exc, BayesNetError):
                raise
            return
        self.diagnosis, self.focus, self.stale = dx, condition, None
        first_ms = 1000.0 * (time.perf_counter() - start)
        with self._batch():  # one patch: the controls' colours, the differential, the explanation
            self._style_controls()
            self.ranking_pane.object = ranking
            self.explanation_pane.object = explanation
            self.status_pane.object = self._status(setting, evidence, f"Differential updated in {first_ms:.0f} ms; "
                                                   "next tests coming...", complete=False)
        if defer is None:
            defer = self._deferred()
        doc = self._pn.state.curdoc
        if defer and doc is not None:
            # in the next tick, once the differential's patch is on the websocket
            self._when_sent(partial(self._finish, generation, setting, evidence, condition))
        else:
            self._finish(generation, setting, evidence, condition)

    def _finish(self, generation: int, setting: str, evidence: dict[str, str], condition: str) -> None:
        """The second step of :meth:`update`: the next tests and the intervals (skipped if a newer update began)."""
        if generation != self._generation:
            return
        model = get_model(setting)
        try:
            nt = model.next_tests(evidence, condition=condition)
            tests = next_tests_fragment(nt, self.top_tests)
            show = bool(self.intervals_widget.value)
            uncertainty = display.uncertainty_html(intervals(setting, evidence), style=False) if show else ""
        except Exception as exc:  # shown on the page, then re-raised unless it is a known error
            self._flag_stale(exc, evidence)
            if not isinstance(exc, BayesNetError):
                raise
            return
        self.next_best = nt
        self.last_update_ms = 1000.0 * (time.perf_counter() - self._started)
        with self._batch():
            self.next_tests_pane.object = tests
            self.intervals_pane.object = uncertainty
            self.intervals_pane.visible = show
            self.status_pane.object = self._status(
                setting, evidence, f"Updated in {self.last_update_ms:.0f} ms (exact inference on the compiled network).",
                complete=True)

    def _status(self, setting: str, evidence: dict[str, str], text: str, *, complete: bool) -> str:
        ev = html.escape(json.dumps(evidence, sort_keys=True), quote=True)
        state = "complete" if complete else "partial"
        busy = "" if complete else " bn-busy"
        ms = f" data-update-ms='{self.last_update_ms:.2f}'" if complete else ""
        return (f"<div class='bn-view'><div class='bn-status bn-note{busy}' data-state='{state}' "
                f"data-setting='{html.escape(setting, quote=True)}' data-evidence=\"{ev}\"{ms}>{html.escape(text)}"
                "</div></div>")

    def _flag_stale(self, exc: BaseException, evidence: dict[str, str]) -> None:
        """A failed update: mark every output on screen out of date and say why (never leave it looking current)."""
        message = str(exc) if isinstance(exc, BayesNetError) else f"internal error: {type(exc).__name__}: {exc}"
        if not isinstance(exc, BayesNetError):
            log.exception("explorer update failed")
        self.stale = message
        known = ", ".join(f"{variable_label(k)} = {state_label(k, v)}" for k, v in evidence.items()) or "nothing"
        with self._batch():
            for pane in (self.ranking_pane, self.intervals_pane, self.explanation_pane, self.next_tests_pane):
                pane.object = _mark_stale(pane.object, message)
            self.status_pane.object = (
                "<div class='bn-view'><div class='bn-status bn-alert' role='alert' data-state='failed' "
                f"data-error=\"{html.escape(message, quote=True)}\">Could not update for {html.escape(known)}: "
                f"{html.escape(message)}. The results below are out of date (they are for the evidence they name); "
                "change a control or reset.</div></div>"
            )

    # ------------------------------------------------------------------ display
    def __panel__(self) -> Any:
        return self.layout

    def servable(self, title: str = "bayesnet explorer", **kwargs: Any) -> Any:
        """Mark the app for ``panel serve`` (see :meth:`panel.viewable.Viewable.servable`)."""
        doc = self._pn.state.curdoc
        if doc is not None:
            doc.template = PAGE_TEMPLATE
        return self.layout.servable(title=title, **kwargs)

    def show(self, **kwargs: Any) -> Any:
        """Serve this one explorer in a thread and open it in the browser (see ``panel.viewable.Viewable.show``)."""
        return self.layout.show(**kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> Any:
        """Panel's bundle (its JavaScript inline: no network needed) behind a plain-HTML stand-in.

        The stand-in (class ``bn-fallback``: what is wrong and the current differential as a
        static table) is shown where the JavaScript cannot run (an untrusted notebook, a viewer
        without Panel's extension, Panel's scripts missing); a style rule hides it as soon as the
        explorer has rendered.
        """
        _load_notebook_extension(self._pn)
        bundle = self.layout._repr_mimebundle_(include, exclude)
        data, meta = bundle if bundle is not None else ({}, {})
        data = {**data, "text/plain": repr(self),
                "text/html": f'<div class="bn-inline">{_INLINE_CSS}{self.fallback_html()}{data.get("text/html", "")}</div>'}
        return data, meta

    def fallback_html(self) -> str:
        """The plain-HTML stand-in for the explorer: why it is not interactive here, and the current differential.

        Returns
        -------
        str
            ``<div class="bn-fallback" role="status">``: a message, then
            :func:`~bayesnet.present.display.ranking_html` of ``diagnosis``.
        """
        known = ", ".join(f"{variable_label(k)} = {state_label(k, v)}" for k, v in self.evidence.items()) or "nothing"
        ranking = display.ranking_html(self.diagnosis, lead=self.focus) if self.diagnosis is not None else ""
        return (
            '<div class="bn-fallback" role="status" style="border:1px solid #e6b0aa;background:#fdedec;padding:8px 10px;'
            'margin:4px 0;font-family:system-ui,sans-serif;font-size:14px;color:#222">'
            "<p style='margin:0 0 6px 0'><b>The interactive explorer cannot run here</b>: its JavaScript (Panel and "
            "Bokeh, loaded from the Python package, no network needed) did not run. In JupyterLab, trust the notebook "
            "(command palette: <i>Trust Notebook</i>) and run the cell again; a viewer without Panel's extension "
            "(GitHub, nbviewer) shows only this. If <code>pn.extension()</code> was called before, call "
            "<code>pn.extension(inline=True)</code> instead to work offline.</p>"
            f"<p style='margin:0 0 6px 0'>Below, a static copy of the differential ({html.escape(setting_label(self.setting))}; "
            f"known: {html.escape(known)}).</p>{ranking}</div>"
        )

    def __repr__(self) -> str:
        return f"<Explorer setting={self.setting!r} evidence={self.evidence!r}>"


#: Rules for the notebook's own page (outside the explorer's shadow roots): hide the plain-HTML stand-in once
#: the explorer's root has rendered; let JupyterLab's output area holding the explorer overflow, so that the
#: results can stay in view (sticky) while the notebook scrolls (it fits the column: nothing needs the
#: output area's own scroll bar).
_INLINE_CSS = """<style>
.bn-inline:has([data-root-id] > *) > .bn-fallback { display: none; }
.jp-OutputArea:has(.bn-inline), .jp-OutputArea-child:has(.bn-inline), .jp-OutputArea-output:has(.bn-inline) {
  overflow: visible !important; }
</style>"""


def _mark_stale(fragment: str, message: str) -> str:
    """``fragment`` wrapped as out of date (class ``bn-stale``, the error in ``data-error``), once."""
    if not fragment or fragment.startswith('<div class="bn-stale"'):
        return fragment
    return f'<div class="bn-stale" data-error="{html.escape(message, quote=True)}">{fragment}</div>'


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
        pn.extension(inline=True)


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
        doc = pn.state.curdoc
        if doc is not None:
            doc.template = PAGE_TEMPLATE  # the viewport meta tag
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
    return run_standalone(explore, argv, "bayesnet explore")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
