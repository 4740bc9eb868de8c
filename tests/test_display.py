"""One HTML renderer per result (bayesnet.present.display), shared by Jupyter and the explorer.

The numbers in the ``data-*`` attributes are the API's; the explorer's fragments and a
Diagnosis's ``_repr_html_`` are the output of the same functions.
"""

from __future__ import annotations

import html
import json
import math
import re
import types
from html.parser import HTMLParser

import pandas as pd
import pytest

import bayesnet
from bayesnet.present import display

EVIDENCE = {"history_of_cancer": "yes", "age_group": "70_plus", "fever": "no"}
_STYLE = f"<style>{display.STYLESHEET}</style>"


class _Elements(HTMLParser):
    """Every start tag as (tag, attrs), checking that tags are balanced."""

    def __init__(self, text: str):
        super().__init__()
        self.stack: list[str] = []
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.feed(text)
        assert not self.stack, self.stack

    def handle_starttag(self, tag, attrs):
        self.stack.append(tag)
        self.elements.append((tag, dict(attrs)))

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, (tag, self.stack)
        self.stack.pop()


def rows(text: str, key: str) -> list[dict[str, str]]:
    """The attributes of every ``<tr>`` carrying ``data-<key>``, in document order."""
    return [a for tag, a in _Elements(text).elements if tag == "tr" and f"data-{key}" in a]


def root(text: str, cls: str) -> dict[str, str]:
    [found] = [a for _, a in _Elements(text).elements if cls in a.get("class", "").split()]
    return found


def six(x: float) -> str:
    return f"{float(x):.6g}"


@pytest.fixture(scope="module")
def dx():
    return bayesnet.load_model().diagnose(EVIDENCE)


# ---------------------------------------------------------------------------------- Jupyter
def test_repr_html_of_a_diagnosis_is_ranking_html_with_the_stylesheet_once(dx):
    out = dx._repr_html_()
    assert out == display.ranking_html(dx)
    assert out == f"<div>{_STYLE}{display.ranking_html(dx, style=False)}</div>"
    assert out.count("<style>") == 1 and display.ranking_html(dx, style=False).count("<style>") == 0


def test_ranking_html_carries_the_api_numbers(dx):
    shown = rows(dx._repr_html_(), "posterior")
    api = dx.ranking
    assert [r["data-condition"] for r in shown] == list(api.index)
    for r in shown:
        cond = r["data-condition"]
        assert six(r["data-posterior"]) == six(api.loc[cond, "posterior"])
        assert float(r["data-posterior"]) == api.loc[cond, "posterior"]  # repr round-trips exactly
        assert float(r["data-prior"]) == api.loc[cond, "prior"]
        assert float(r["data-likelihood-ratio"]) == api.loc[cond, "likelihood_ratio"]
        assert ("bn-serious" in r["class"].split()) == bool(api.loc[cond, "serious"])
    meta = root(dx._repr_html_(), "bn-ranking")
    assert meta["data-setting"] == "primary_care" and json.loads(meta["data-evidence"]) == EVIDENCE


def test_ranking_html_uses_clinical_labels_log_bars_and_marks_the_lead(dx):
    text = display.ranking_html(dx, lead="spinal_metastasis", style=False)
    assert '<td class="name">Spinal metastasis</td>' in text
    assert "<h3>Differential diagnosis (Primary care)</h3>" in text
    assert "Known: History of cancer = yes, Age = 70 or over, Fever = no" in text
    [lead] = [r for r in rows(text, "condition") if "bn-lead" in r["class"].split()]
    assert lead["data-condition"] == "spinal_metastasis"
    # bars on a log scale from 0.01% to 100%
    p = dx.ranking.loc["spinal_metastasis", "posterior"]
    width = 100 * (math.log10(p) + 4) / 4
    row = re.search(r'data-condition="spinal_metastasis".*?</tr>', text).group(0)
    assert f'class="bn-fill" style="left:0.00%;width:{width:.2f}%"' in row


def test_ranking_html_shows_soft_evidence():
    dx = bayesnet.load_model().diagnose({"fever": {"yes": 0.8, "no": 0.2}, "iv_drug_use": "yes"})
    text = display.ranking_html(dx)
    ev = json.loads(root(text, "bn-ranking")["data-evidence"])
    assert ev["iv_drug_use"] == "yes" and set(ev["fever"]) == {"yes", "no"}
    assert "Fever ~ yes:" in html.unescape(text)


def test_explanation_html_carries_the_api_numbers(dx):
    ex = dx.explain("spinal_metastasis")
    text = display.explanation_html(ex, summary=dx.summary("spinal_metastasis"))
    meta = root(text, "bn-explanation")
    assert meta["data-condition"] == "spinal_metastasis"
    assert six(meta["data-posterior"]) == six(dx.ranking.loc["spinal_metastasis", "posterior"])
    assert float(meta["data-prior"]) == dx.ranking.loc["spinal_metastasis", "prior"]
    shown = rows(text, "contribution")
    assert [r["data-variable"] for r in shown] == list(ex["variable"])
    assert [float(r["data-contribution"]) for r in shown] == list(ex["contribution"])
    assert html.escape(dx.summary("spinal_metastasis"), quote=False) in text
    assert "<td>History of cancer</td>" in text


def test_explanation_html_of_certain_and_empty_cases():
    model = bayesnet.load_model()
    ex = model.diagnose({"dvt": "yes", "fever": "yes"}).explain("dvt")  # inf and NaN weights
    text = display.explanation_html(ex)
    by_var = {r["data-variable"]: float(r["data-contribution"]) for r in rows(text, "contribution")}
    assert by_var.keys() == set(ex["variable"])
    assert math.isinf(by_var["dvt"]) and math.isnan(by_var["fever"])
    assert "nan%" not in text and "inf%" not in text  # bars stay finite
    assert html.escape(ex.attrs["note"], quote=False) in text
    empty = display.explanation_html(model.diagnose({}).explain("dvt"))
    assert "(no evidence)" in empty and "<table>" not in empty


def test_next_tests_html_carries_the_api_numbers():
    model = bayesnet.load_model()
    nt = model.next_tests({"iv_drug_use": "yes", "fever": "yes"}, threshold=0.05)
    text = display.next_tests_html(nt, top=4)
    assert root(text, "bn-next-tests")["data-focus"] == nt.attrs["focus"]
    shown = rows(text, "gain")
    assert [r["data-variable"] for r in shown] == list(nt.index[:4])
    for r in shown:
        v = r["data-variable"]
        assert float(r["data-gain"]) == nt.loc[v, "expected_entropy_reduction"]
        assert float(r["data-change"]) == nt.loc[v, "expected_change"]
        assert float(r["data-p-cross"]) == nt.loc[v, "p_cross"]
        assert f"bn-kind-{nt.loc[v, 'kind']}" in r["class"]
    assert len(rows(display.next_tests_html(nt, top=None), "gain")) == len(nt)


def test_uncertainty_and_sensitivity_html_carry_the_api_numbers():
    model = bayesnet.load_model()
    unc = model.uncertainty({"history_of_cancer": "yes"}, draws=40, seed=0)
    shown = rows(display.uncertainty_html(unc), "low")
    assert {r["data-condition"] for r in shown} == set(unc.index)
    for r in shown:
        c = r["data-condition"]
        assert [float(r[f"data-{k}"]) for k in ("posterior", "low", "high")] == list(unc.loc[c, ["posterior", "low", "high"]])
    tor = model.sensitivity({"dyspnoea": "yes"}, "pulmonary_embolism")
    text = display.sensitivity_html(tor, top=5)
    assert float(root(text, "bn-sensitivity")["data-base"]) == tor.attrs["base"]
    shown = rows(text, "swing")
    assert [float(r["data-swing"]) for r in shown] == list(tor["swing"].head(5))
    assert [r["data-parameter"] for r in shown] == list(tor["parameter"].head(5))


def test_every_renderer_is_well_formed_and_embeds_the_stylesheet_once(dx):
    model = bayesnet.load_model()
    outputs = [
        display.ranking_html(dx),
        display.explanation_html(dx.explain("spinal_metastasis")),
        display.next_tests_html(model.next_tests(EVIDENCE)),
        display.uncertainty_html(model.uncertainty(EVIDENCE, draws=20, seed=1)),
        display.sensitivity_html(model.sensitivity(EVIDENCE, "spinal_metastasis")),
    ]
    for out in outputs:
        _Elements(out)
        assert out.startswith(f"<div>{_STYLE}<div class=\"bn-view ") and out.count("<style>") == 1
        assert "<table>" in out


def test_stylesheet_is_scoped_under_the_wrapper_class():
    rules = re.findall(r"([^{}]+)\{[^{}]*\}", display.STYLESHEET)
    assert rules
    for selectors in rules:
        for sel in selectors.split(","):
            assert sel.strip().startswith(".bn-view"), sel


def test_renderers_read_results_through_accessors(dx):
    """A result object with the same data (attributes instead of DataFrame.attrs) renders identically."""
    ex = dx.explain("spinal_metastasis")
    obj = types.SimpleNamespace(table=pd.DataFrame(ex), **ex.attrs)
    obj.table.attrs = {}
    assert display.explanation_html(obj) == display.explanation_html(ex)
    assert display.explanation_text(obj) == display.explanation_text(ex)


def test_label():
    # table cells show the clinical labels of bayesnet.present.labels; sentences their inline form
    assert display.label("cauda_equina_syndrome") == "Cauda equina syndrome"
    assert display.label("primary_care") == "Primary care"
    assert display.label("esr_crp") == "ESR/CRP" and display.inline_label("esr_crp") == "ESR/CRP"
    assert display.inline_label("dvt") == "deep vein thrombosis (DVT)"
    assert display.label("some_new_node") == "some new node"


# ---------------------------------------------------------------------------------- the explorer
@pytest.fixture(scope="module")
def explorer():
    from bayesnet.present.explorer import Explorer  # panel is a declared test extra: a missing one fails

    return Explorer(evidence=EVIDENCE, top_tests=4)


def test_explorer_fragments_come_from_the_display_renderers(explorer):
    dx, nt = explorer.diagnosis, explorer.next_best
    lead = dx.leading_serious
    assert explorer.ranking_pane.object == display.ranking_html(dx, lead=lead, style=False)
    assert explorer.explanation_pane.object == display.explanation_html(
        dx.explain(lead), summary=dx.summary(lead), style=False)
    from bayesnet.present.explorer import next_tests_fragment

    # the explorer's next tests: its own fragment (clinical labels, the sort score said in words)
    assert explorer.next_tests_pane.object == next_tests_fragment(nt, 4)
    # the Jupyter form of the same diagnosis is the same fragment plus the stylesheet
    assert dx._repr_html_() == f"<div>{_STYLE}{display.ranking_html(dx, style=False)}</div>"
    assert re.sub(' bn-lead"', '"', explorer.ranking_pane.object) == display.ranking_html(dx, style=False)


def test_explorer_posteriors_equal_the_api_and_jupyter(explorer):
    api = bayesnet.load_model().diagnose(EVIDENCE).ranking
    from_explorer = {r["data-condition"]: r["data-posterior"] for r in rows(explorer.ranking_pane.object, "posterior")}
    from_jupyter = {r["data-condition"]: r["data-posterior"]
                    for r in rows(explorer.diagnosis._repr_html_(), "posterior")}
    assert list(from_explorer) == list(api.index) == list(from_jupyter)
    for cond, post in from_explorer.items():
        assert six(post) == six(api.loc[cond, "posterior"]) == six(from_jupyter[cond])
    lead = explorer.diagnosis.leading_serious
    assert six(root(explorer.explanation_pane.object, "bn-explanation")["data-posterior"]) == six(api.loc[lead, "posterior"])


def test_explorer_attaches_the_stylesheet_once_and_updates_send_markup_only(explorer):
    from bayesnet.present import explorer as module

    for pane in (explorer.ranking_pane, explorer.explanation_pane, explorer.next_tests_pane):
        assert pane.stylesheets == [display.STYLESHEET + module.EXPLORER_CSS]  # the display's rules, then its own
        assert "<style" not in pane.object
    explorer.widgets["night_pain"].value = "yes"
    try:
        assert "<style" not in explorer.ranking_pane.object
        assert "explain" not in vars(explorer.diagnosis)  # no instance patching of Diagnosis.explain
    finally:
        explorer.set_evidence(EVIDENCE)
    for name in ("ranking_html", "explanation_html", "next_tests_html", "_summary", "_label", "_CSS"):
        assert not hasattr(module, name), name


# ---------------------------------------------------------------------------------- rich display of every result
def _cells(text: str) -> list[dict[str, str]]:
    return [a for tag, a in _Elements(text).elements if tag == "td" and "data-posterior" in a]


def test_every_result_displays_as_its_formatted_table_in_jupyter():
    """Each reasoning result is a DataFrame whose ``_repr_html_`` is its renderer's table, with the API's numbers."""
    model = bayesnet.load_model()
    ev = {"iv_drug_use": "yes", "fever": "yes"}
    results = {
        "bn-ranking": model.diagnose(ev).ranking,
        "bn-explanation": model.diagnose(ev).explain("epidural_abscess"),
        "bn-next-tests": model.next_tests(ev),
        "bn-uncertainty": model.uncertainty(ev, draws=40, seed=1),
        "bn-sensitivity": model.sensitivity(ev, "epidural_abscess"),
        "bn-what-if": model.what_if(["night_pain"], evidence=ev),
        "bn-most-probable": model.most_probable(ev, k=4),
    }
    for cls, result in results.items():
        assert isinstance(result, pd.DataFrame)  # the contract: every tool returns a DataFrame
        text = result._repr_html_()
        assert text.startswith("<div><style>") and cls in root(text, cls)["class"].split(), cls
        assert "e-0" not in re.sub(r"<[^>]*>", " ", text), cls  # no scientific notation in what a reader sees
        # anything derived from a result is plain data again, displayed by pandas
        assert type(result.head(2)) is pd.DataFrame and "bn-view" not in (result.head(2)._repr_html_() or "")
    # the numbers in the tables are the API's; the ranking alone displays as its diagnosis does
    dx = model.diagnose(ev)
    assert dx.ranking._repr_html_() == dx._repr_html_()
    ex = results["bn-explanation"]
    assert [float(r["data-contribution"]) for r in rows(ex._repr_html_(), "variable")] == list(ex["contribution"])
    unc = results["bn-uncertainty"]
    shown = {r["data-condition"]: float(r["data-low"]) for r in rows(unc._repr_html_(), "condition")}
    assert shown == unc["low"].to_dict()
    mp = results["bn-most-probable"]
    assert [float(r["data-probability"]) for r in rows(mp._repr_html_(), "rank")] == list(mp["probability"])


def test_what_if_grid_pivots_tidy_and_wide_results_to_the_same_cells():
    model = bayesnet.load_model()
    kwargs = dict(evidence={"fever": "yes"}, settings=["primary_care", "emergency"],
                  conditions=["epidural_abscess", "pyelonephritis"])
    tidy = model.what_if(["iv_drug_use", "dysuria"], **kwargs)
    wide = model.what_if(["iv_drug_use", "dysuria"], tidy=False, **kwargs)
    cells_tidy, cells_wide = _cells(tidy._repr_html_()), _cells(wide._repr_html_())
    assert len(cells_tidy) == len(tidy) == 2 * 4 * 2
    assert [(c["data-condition"], float(c["data-posterior"])) for c in cells_tidy] == \
        [(c["data-condition"], float(c["data-posterior"])) for c in cells_wide]
    by_scenario = tidy.set_index(["setting", "iv_drug_use", "dysuria", "condition"])["posterior"]
    assert sorted(float(c["data-posterior"]) for c in cells_tidy) == sorted(by_scenario)
    text = tidy._repr_html_()
    assert "<th>Emergency department</th>" not in text and "<td>Emergency department</td>" in text  # labels
    sweep = model.sweep("age_group", evidence={"fever": "yes"}, conditions=["vertebral_osteomyelitis"])
    text = sweep._repr_html_()
    assert "<td>70 or over</td>" in text and len(_cells(text)) == 3


def test_derived_tables_drop_the_result_class_but_keep_the_data():
    nt = bayesnet.load_model().next_tests({"fever": "yes"})
    plain = nt.to_frame()
    assert type(plain) is pd.DataFrame and plain.attrs["focus"] == nt.attrs["focus"]
    pd.testing.assert_frame_equal(plain, nt, check_frame_type=False)


@pytest.mark.parametrize("p, text", [(0.5, "50.0%"), (0.012345, "1.23%"), (0.00012345, "0.012%"),
                                     (1.2e-6, "0.00012%"), (3e-9, "<0.0001%"), (0.0, "0%"),
                                     # float noise does not change the precision: one value, one text
                                     (9.99999e-05, "0.010%"), (1e-4, "0.010%"), (0.0999999, "10.0%"),
                                     # near certainty the digits follow the distance from 100%
                                     (0.99995, "99.995%"), (0.999, "99.9%"), (1.0, "100.0%"),
                                     (1 - 1e-9, ">99.9999%")])
def test_one_number_formatter_never_switches_to_scientific_notation(p, text):
    assert display.format_probability(p) == text
