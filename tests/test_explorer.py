"""The teaching explorer without a browser: widgets drive the displayed numbers, which equal the API's."""

from __future__ import annotations

import html
import json
import math
import re
import sys
import time
import urllib.request

import pytest
from click.testing import CliRunner

import bayesnet
from bayesnet.errors import BayesNetError, UnknownNameError
from bayesnet.present import display
from bayesnet.present.display import format_probability
from bayesnet.present.explorer import (
    LEADING,
    PANEL_MISSING,
    UNKNOWN,
    Explorer,
    build_explorer,
    explore,
    get_model,
    main,
    serve,
)
from bayesnet.reasoning.next_tests import default_focus

_ROW = re.compile(r'<tr[^>]*data-condition="([a-z_]+)" data-posterior="([^"]+)" data-prior="([^"]+)"')


def shown(ex: Explorer) -> dict[str, tuple[float, float]]:
    """condition -> (posterior, prior) as carried by the displayed differential."""
    return {c: (float(post), float(prior)) for c, post, prior in _ROW.findall(ex.ranking_pane.object)}


def shown_evidence(ex: Explorer) -> dict:
    m = re.search(r'class="[^"]*\bbn-ranking\b[^"]*" data-setting="([a-z_]+)" data-evidence="([^"]*)"',
                  ex.ranking_pane.object)
    return {"setting": m.group(1), "evidence": json.loads(html.unescape(m.group(2)))}


@pytest.fixture(scope="module")
def explorer() -> Explorer:
    return build_explorer()


def test_build_explorer_shows_the_prior_differential(explorer):
    explorer.reset()
    api = bayesnet.load_model().diagnose({}).ranking
    disp = shown(explorer)
    assert list(disp) == list(api.index)  # same order: sorted by posterior
    for cond, (post, prior) in disp.items():
        assert post == api.loc[cond, "posterior"] and prior == api.loc[cond, "prior"]
    assert shown_evidence(explorer) == {"setting": "primary_care", "evidence": {}}
    assert set(explorer.widgets) == {v for v, k in get_model().tables.kinds.items() if k != "condition"}
    assert all(w.value == UNKNOWN for w in explorer.widgets.values())


def test_toggling_a_red_flag_updates_every_output_to_the_api_values(explorer):
    explorer.reset()
    explorer.widgets["history_of_cancer"].value = "yes"
    explorer.widgets["age_group"].value = "70_plus"
    ev = {"history_of_cancer": "yes", "age_group": "70_plus"}
    model = bayesnet.load_model()
    dx = model.diagnose(ev)
    assert explorer.evidence == ev
    assert shown_evidence(explorer)["evidence"] == ev
    post, _ = shown(explorer)["spinal_metastasis"]
    assert post == dx.ranking.loc["spinal_metastasis", "posterior"]  # exact: repr round-trips
    assert f"<b>{format_probability(post)}</b>" in explorer.ranking_pane.object
    # explanation of the serious condition the evidence raised most, with the API's summary
    lead = default_focus(model, dx.ranking["posterior"])
    assert f'class="bn-view bn-explanation" data-condition="{lead}"' in explorer.explanation_pane.object
    assert html.escape(dx.summary(lead)) in explorer.explanation_pane.object
    # next best tests for it
    nt = model.next_tests(ev, condition=lead)
    rows = re.findall(r'<tr data-variable="([a-z_0-9]+)" data-gain', explorer.next_tests_pane.object)
    assert rows == list(nt.index[:5])


def test_explaining_a_chosen_condition(explorer):
    explorer.set_evidence({"dyspnoea": "yes", "unilateral_leg_swelling": "yes"})
    explorer.condition_widget.value = "dvt"
    try:
        assert 'class="bn-view bn-explanation" data-condition="dvt"' in explorer.explanation_pane.object
        assert 'data-focus="dvt"' in explorer.next_tests_pane.object
        assert 'class="bn-row bn-serious bn-lead" data-condition="dvt"' in explorer.ranking_pane.object
    finally:
        explorer.condition_widget.value = LEADING


def test_switching_setting_changes_priors_and_keeps_evidence(explorer):
    explorer.set_evidence({"fever": "yes"})
    primary = shown(explorer)
    explorer.setting_widget.value = "emergency"
    try:
        emergency = shown(explorer)
        api = bayesnet.load_model("emergency").diagnose({"fever": "yes"}).ranking
        assert shown_evidence(explorer) == {"setting": "emergency", "evidence": {"fever": "yes"}}
        assert emergency["epidural_abscess"][1] > primary["epidural_abscess"][1]
        for cond, (post, prior) in emergency.items():
            assert post == api.loc[cond, "posterior"] and prior == api.loc[cond, "prior"]
    finally:
        explorer.setting_widget.value = "primary_care"


def test_reset_button_clears_evidence(explorer):
    explorer.set_evidence({"fever": "yes", "iv_drug_use": "yes", "esr_crp": "elevated"})
    explorer.reset_button.clicks += 1  # what a click in the page does
    assert explorer.evidence == {}
    assert all(w.value == UNKNOWN for w in explorer.widgets.values())
    assert all(post == prior for post, prior in shown(explorer).values())
    assert "Nothing is known about the patient yet" in explorer.explanation_pane.object


def test_bad_evidence_is_rejected_with_the_usual_errors(explorer):
    with pytest.raises(UnknownNameError, match="did you mean 'fever'"):
        explorer.set_evidence({"fevr": "yes"})
    with pytest.raises(BayesNetError, match="is a condition"):
        explorer.set_evidence({"dvt": "yes"})
    with pytest.raises(UnknownNameError, match="setting"):
        Explorer("emergancy")


def test_models_are_cached_per_setting():
    assert get_model("emergency") is get_model("emergency")
    assert get_model("emergency") is not get_model("primary_care")


def test_initial_evidence_and_repr():
    ex = Explorer("emergency", evidence={"saddle_anaesthesia": "yes"}, top_tests=3)
    # pyelonephritis (10.5% in the emergency department) stays the most probable serious condition,
    # but the explanation is of the one the red flag raised
    assert ex.diagnosis.leading_serious == "pyelonephritis"
    assert 'data-condition="cauda_equina_syndrome"' in ex.explanation_pane.object
    assert ex.next_tests_pane.object.count("<tr data-variable=") == 3
    assert repr(ex) == "<Explorer setting='emergency' evidence={'saddle_anaesthesia': 'yes'}>"
    assert ex.__panel__() is ex.layout


def test_ranking_html_escapes_and_marks_every_condition():
    dx = bayesnet.load_model().diagnose({"fever": "yes"})
    text = display.ranking_html(dx, style=False)
    assert text.count("data-posterior=") == len(dx.ranking)
    assert 'data-evidence="{&quot;fever&quot;: &quot;yes&quot;}"' in text


def test_explore_help():
    res = CliRunner().invoke(explore, ["--help"])
    assert res.exit_code == 0, res.output
    for opt in ("--port", "--setting", "--address", "--show / --no-browser", "5006", "127.0.0.1"):
        assert opt in res.output


def test_explore_bad_setting_is_one_line(capsys):
    assert main(["--setting", "emergancy", "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "did you mean 'emergency'" in err


def test_missing_panel_gives_one_clear_line(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "panel", None)  # `import panel` now raises ImportError
    with pytest.raises(BayesNetError, match=re.escape("pip install 'bayesnet[app]'")):
        explore.main(args=["--port", "0"], standalone_mode=False)
    with pytest.raises(BayesNetError, match="not installed"):
        Explorer()
    assert main(["--port", "0"]) == 2
    assert capsys.readouterr().err == f"error: {PANEL_MISSING}\n"


def test_served_page_answers_over_http():
    thread = serve(port=0, threaded=True, verbose=False)
    try:
        assert thread.url.startswith("http://127.0.0.1:")
        deadline = time.monotonic() + 30
        while True:
            try:
                with urllib.request.urlopen(thread.url, timeout=30) as resp:
                    status, page = resp.status, resp.read().decode()
                break
            except OSError:  # not listening yet
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        assert status == 200 and "<title>bayesnet explorer</title>" in page
        assert "bk-root" in page or "bokeh" in page.lower()
    finally:
        thread.stop()


def test_port_in_use_is_one_line(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["--port", str(port)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"cannot listen on 127.0.0.1:{port}" in err


# ------------------------------------------------------------------ teaching flow, labels, intervals, failures
def test_a_single_red_flag_explains_the_condition_it_moved(explorer):
    """Fever alone: not 'why compression fracture 0.68% -> 0.68%' but the serious condition fever raised most."""
    explorer.set_evidence({"fever": "yes"})
    model = bayesnet.load_model()
    dx = model.diagnose({"fever": "yes"})
    rise = (dx.ranking["posterior"] - dx.ranking["prior"])[model.serious_conditions]
    assert explorer.focus == rise.idxmax() != "compression_fracture"
    assert dx.ranking.loc[explorer.focus, "posterior"] > dx.ranking.loc[explorer.focus, "prior"]
    assert f'data-condition="{explorer.focus}"' in explorer.explanation_pane.object
    assert "compression" not in re.search(r"<h3>Why [^<]*</h3>", explorer.explanation_pane.object).group(0)


def test_a_chosen_focus_ranks_the_next_tests_by_what_they_tell_about_it(explorer):
    ev = {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"}
    explorer.set_evidence(ev)
    explorer.condition_widget.value = "cauda_equina_syndrome"
    try:
        model = bayesnet.load_model()
        nt = model.next_tests(ev, condition="cauda_equina_syndrome")
        shown_rows = re.findall(r'<tr data-variable="([a-z_0-9]+)"[^>]* data-score="([^"]+)"', explorer.next_tests_pane.object)
        assert [v for v, _ in shown_rows] == list(nt.index[:5])
        assert [float(s) for _, s in shown_rows] == list(nt["focus_information"][:5])
        assert shown_rows[0][0] == "urinary_retention"  # what the review found ranked 8th
        # the shown score is information about the focus: the mutual information of result and condition,
        # computed here from the outcome table by its definition (sum over results and states of p log p/pq)
        out = nt.attrs["outcomes"]
        rows = out[out["variable"] == "urinary_retention"]
        now = nt.attrs["current"]
        mi = 0.0
        for p_r, after in zip(rows["probability"], rows["cauda_equina_syndrome"], strict=True):
            for joint, marginal in ((p_r * after, now), (p_r * (1 - after), 1 - now)):
                mi += joint * math.log2(joint / (p_r * marginal)) if joint > 0 else 0.0
        assert float(shown_rows[0][1]) == pytest.approx(mi, rel=1e-9)
        words = re.search(r'<p class="bn-score-words">([^<]*)</p>', explorer.next_tests_pane.object).group(1)
        assert "expected to tell about cauda equina syndrome, in bits" in words
        assert "data-sort=\"focus\"" in explorer.next_tests_pane.object
    finally:
        explorer.condition_widget.value = LEADING


def test_controls_and_outputs_use_clinical_labels(explorer):
    from bayesnet.present.labels import VARIABLE_LABELS, setting_label, state_label, variable_label

    model = get_model()
    assert set(model.tables.kinds) <= set(VARIABLE_LABELS)  # no raw id shown for any variable
    assert explorer.setting_widget.labels[:2] == ["Primary care", "Emergency department"]
    assert explorer.widgets["esr_crp"].name == "ESR/CRP" and variable_label("ctpa") == "CT pulmonary angiography"
    assert explorer.widgets["age_group"].labels == ["unknown", "under 50", "50 to 69", "70 or over"]
    assert setting_label("primary_care") == "Primary care" and state_label("age_group", "70_plus") == "70 or over"
    for var, states in model.tables.states.items():  # labels tell the states apart
        assert len({state_label(var, s) for s in states} | {UNKNOWN}) == len(states) + 1
    explorer.set_evidence({"iv_drug_use": "yes", "fever": "yes"})
    assert "<b>MRI: epidural collection</b>" in explorer.next_tests_pane.object or \
        "<b>MRI: discitis/osteomyelitis</b>" in explorer.next_tests_pane.object
    # descriptions are on the page under each control, not only in a tooltip
    texts = [str(o.object) for o in explorer.layout.select(explorer._pn.pane.HTML)]
    assert any("Current or recent injection drug use." in t and 'class="bn-desc"' in t for t in texts)
    assert not any("title=" in t for t in texts if "bn-ctl" in t)


def test_set_controls_look_set_and_cards_count_them(explorer):
    explorer.set_evidence({"fever": "yes", "night_pain": "no", "history_of_cancer": "yes"})
    colour = "color" if "color" in explorer.widgets["fever"].param else "button_type"
    assert getattr(explorer.widgets["fever"], colour) == getattr(explorer.widgets["night_pain"], colour) == "primary"
    assert getattr(explorer.widgets["dyspnoea"], colour) == "light"
    titles = explorer.card_titles()
    for kind, (_card, header, _title, _names) in explorer._cards.items():  # what the page shows
        assert header.object == f"<h3>{html.escape(titles[kind])}</h3>"
    assert titles["finding"].startswith("Findings: 2 of ") and titles["risk_factor"].startswith("Risk factors: 1 of ")
    assert titles["test"].startswith("Tests (") and "none set" in titles["test"]
    explorer.reset()
    assert getattr(explorer.widgets["fever"], colour) == "light"


def test_intervals_view_equals_the_api_and_is_cached(explorer):
    from bayesnet.present import explorer as explorer_module

    ev = {"history_of_cancer": "yes"}
    explorer.set_evidence(ev)
    explorer.intervals_widget.value = True
    try:
        assert explorer.intervals_pane.visible
        unc = bayesnet.load_model().uncertainty(ev, draws=explorer_module.INTERVAL_DRAWS, seed=0)
        rows = re.findall(r'<tr data-condition="([a-z_]+)" data-posterior="([^"]+)" data-low="([^"]+)" '
                          r'data-high="([^"]+)"', explorer.intervals_pane.object)
        assert len(rows) == len(unc)
        for cond, post, low, high in rows:
            assert float(low) == pytest.approx(unc.loc[cond, "low"], abs=1e-12)
            assert float(high) == pytest.approx(unc.loc[cond, "high"], abs=1e-12)
            assert float(post) == pytest.approx(unc.loc[cond, "posterior"], abs=1e-12)
        assert explorer_module.intervals("primary_care", ev) is explorer_module.intervals("primary_care", ev)
    finally:
        explorer.intervals_widget.value = False
    assert not explorer.intervals_pane.visible


def test_a_failed_update_marks_the_results_out_of_date(explorer, monkeypatch):
    explorer.set_evidence({"fever": "yes"})
    model = get_model()

    def broken(*args, **kwargs):
        raise BayesNetError("the engine could not propagate this evidence (test)")

    monkeypatch.setattr(model, "next_tests", broken)
    explorer.widgets["night_pain"].value = "yes"
    assert explorer.stale == "the engine could not propagate this evidence (test)"
    status = explorer.status_pane.object
    assert "data-state='failed'" in status and "could not propagate this evidence (test)" in status
    assert "out of date" in status
    for pane in (explorer.ranking_pane, explorer.explanation_pane, explorer.next_tests_pane):
        assert pane.object.startswith('<div class="bn-stale"')
    monkeypatch.undo()
    explorer.widgets["night_pain"].value = "no"  # the next good update clears the flag
    assert explorer.stale is None and "bn-stale" not in explorer.ranking_pane.object
    assert "data-state='complete'" in explorer.status_pane.object


def test_updates_send_markup_only_not_the_stylesheets_again():
    """Panel's HTML pane would re-send every stylesheet with each update (6-8 KB per pane); the explorer's do not."""
    from bokeh.document import Document

    ex = Explorer()
    doc = Document()
    ex.layout.server_doc(doc)
    outputs = {p._models[next(iter(p._models))][0].id: name for name, p in (
        ("ranking", ex.ranking_pane), ("explanation", ex.explanation_pane), ("tests", ex.next_tests_pane),
        ("status", ex.status_pane))}
    changed: list[tuple[str, str]] = []

    def record(event):
        model = getattr(event, "model", None)
        if model is not None and model.id in outputs:
            changed.append((outputs[model.id], event.attr))

    doc.on_change(record)
    ex.widgets["fever"].value = "yes"
    assert {a for _, a in changed} == {"text"}, changed
    assert {n for n, _ in changed} == {"ranking", "explanation", "tests", "status"}


def test_notebook_output_carries_a_plain_html_stand_in_with_the_current_ranking():
    """Where the JavaScript cannot run, the cell shows why and the differential (hidden by a style rule once rendered)."""
    ev = {"history_of_cancer": "yes"}
    ex = build_explorer(evidence=ev)
    data, _meta = ex._repr_mimebundle_()  # outside a kernel: Panel's extension is not loaded, the stand-in remains
    page = data["text/html"]
    assert page.startswith('<div class="bn-inline">') and "bn-fallback" in page and "cannot run here" in page
    assert ".bn-inline:has([data-root-id] > *) > .bn-fallback { display: none; }" in page
    api = bayesnet.load_model().diagnose(ev).ranking
    rows = _ROW.findall(page)
    assert [c for c, _, _ in rows] == list(api.index)
    assert all(float(post) == api.loc[c, "posterior"] for c, post, _ in rows)
    assert data["text/plain"] == repr(ex)
