"""The documentation site builds with warnings as errors, and its pages say what the code does.

One Sphinx build (``python -m sphinx -W --keep-going -n``, nitpicky: every cross-reference must
resolve) into a temporary folder, with the notebooks and the concept pages executed. The checks
read the HTML and compare it with the package itself, computed here: the API pages exist for the
public objects, every public method of ``BackPainModel`` has its entry, each concept page shows
the numbers the API gives, each notebook is a tutorial with its outputs and no error, the model
card is ``MODEL_CARD.md``, the sources table has one row per ``model.sources()`` row and the
command-line page shows what ``bayesnet COMMAND --help`` prints.
"""

from __future__ import annotations

import csv
import html
import inspect
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

# declared in the "test" extra: a broken install fails here instead of skipping
import myst_nb  # noqa: F401
import numpydoc  # noqa: F401
import pydata_sphinx_theme  # noqa: F401
import pytest
import sphinx  # noqa: F401

import bayesnet

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
CONCEPTS = ["likelihood_ratio", "noisy_or", "value_of_information", "parameter_uncertainty"]


def _executed_notebooks(request) -> Path | None:
    """A folder of every notebook already executed in this session, if a fixture provides one.

    A session fixture ``executed_notebooks_dir`` (in ``conftest.py``, shared with
    ``test_notebooks.py``) lets the notebooks run once per test session; without it this build
    executes them itself.
    """
    try:
        return Path(request.getfixturevalue("executed_notebooks_dir"))
    except pytest.FixtureLookupError:
        return None


@pytest.fixture(scope="module")
def site(tmp_path_factory, request) -> Path:
    out = tmp_path_factory.mktemp("docs") / "html"
    cmd = [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-n", "-q", "-b", "html", str(DOCS),
           str(out)]
    env = {**os.environ, "PYTHONWARNINGS": "ignore::DeprecationWarning"}
    env.pop("BAYESNET_DOCS_EXECUTED_NOTEBOOKS", None)
    executed = _executed_notebooks(request)
    if executed is not None:
        env["BAYESNET_DOCS_EXECUTED_NOTEBOOKS"] = str(executed)
    proc = subprocess.run(cmd, check=False, capture_output=True, text=True, cwd=ROOT, env=env, timeout=900)
    if proc.returncode != 0:
        problems = [line for line in (proc.stderr + proc.stdout).splitlines()
                    if "WARNING" in line or "ERROR" in line or "rror:" in line]
        pytest.fail(f"sphinx-build exited with {proc.returncode}:\n" + "\n".join(problems[:60] or
                                                                               proc.stderr.splitlines()[-40:]),
                    pytrace=False)
    return out


def page(site: Path, name: str) -> str:
    path = site / f"{name}.html"
    assert path.is_file(), f"no page {name}.html in the built site"
    return path.read_text(encoding="utf-8")


def text(fragment: str) -> str:
    """Visible text of an HTML fragment, whitespace collapsed."""
    fragment = re.sub(r"<(script|style)\b.*?</\1>", " ", fragment, flags=re.DOTALL)
    return re.sub(r"\s+", " ", html.unescape(re.sub(r"<[^>]+>", " ", fragment))).strip()


class _Outputs(HTMLParser):
    """Collects the text of every ``<div class="cell_output ...">`` (MyST-NB's executed outputs)."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.found: list[str] = []
        self._depth = 0  # div depth inside the current output, 0 = outside

    def handle_starttag(self, tag, attrs):
        if tag != "div":
            return
        if self._depth:
            self._depth += 1
        elif "cell_output" in (dict(attrs).get("class") or "").split():
            self._depth = 1
            self.found.append("")

    def handle_endtag(self, tag):
        if tag == "div" and self._depth:
            self._depth -= 1

    def handle_data(self, data):
        if self._depth:
            self.found[-1] += data


def outputs(doc: str) -> list[str]:
    """The text of every executed cell's output on a page, whitespace collapsed."""
    parser = _Outputs()
    parser.feed(doc)
    return [re.sub(r"\s+", " ", o).strip() for o in parser.found]


NUMBER = r"(-?[0-9][0-9.]*(?:e-?[0-9]+)?)"


def numbers(pattern: str, doc: str) -> list[float]:
    """The numbers of ``pattern`` (a regex with ``{n}`` where each number stands) found in ``doc``."""
    found = re.search(pattern.format(n=NUMBER), doc)
    assert found, f"{pattern!r} not in the page's outputs"
    return [float(g) for g in found.groups()]


def test_api_reference_pages(site):
    load_model = page(site, "api/generated/bayesnet.load_model")
    assert 'id="bayesnet.load_model"' in load_model
    assert "Build the back-pain network for one clinical setting" in text(load_model)
    model_page = page(site, "api/generated/bayesnet.BackPainModel")
    public = [name for name, _ in inspect.getmembers(bayesnet.BackPainModel) if not name.startswith("_")]
    missing = [name for name in public if f'id="bayesnet.BackPainModel.{name}"' not in model_page]
    assert not missing, f"BackPainModel members without an entry in the API page: {missing}"
    for name in ["bayesnet.reasoning.diagnosis.Diagnosis", "bayesnet.present.plots", "bayesnet.present.figures",
                 "bayesnet.present.explorer"]:
        assert f'id="{name}' in page(site, f"api/generated/{name}"), name
    from bayesnet.reasoning import results

    results_page = page(site, "api/generated/bayesnet.reasoning.results")
    missing = [name for name in results.__all__ if f'id="bayesnet.reasoning.results.{name}"' not in results_page]
    assert not missing, f"result classes without an entry in the API: {missing}"
    assert 'id="bayesnet.present.explorer.build_explorer"' in page(site, "api/generated/bayesnet.present.explorer")
    engine = page(site, "api/engine")
    assert 'id="bayesnet.inference.engine.compile_network"' in engine
    assert 'id="bayesnet.inference.engine.CompiledNetwork.posteriors"' in engine
    # the docstring examples are rendered (and executed by pytest --doctest-modules)
    assert ">>> import bayesnet" in text(load_model)


def test_concept_pages_show_the_apis_numbers(site):
    docs = {name: page(site, f"concepts/{name}") for name in CONCEPTS}
    for name, doc in docs.items():
        outs = outputs(doc)
        assert outs, f"{name}: no executed output"
        assert not any("Traceback" in o or "Error" in o for o in outs), f"{name}: an example raised"

    # likelihood ratio: the post-test probability of a positive CTPA, by the odds form and by the model
    lr_text = " ".join(outputs(docs["likelihood_ratio"]))
    row = bayesnet.load_model("emergency_suspected_pe").diagnose({"ctpa": "positive"}).ranking.loc["pulmonary_embolism"]
    assert f"model: posterior {row['posterior']:.4f}, likelihood ratio {row['likelihood_ratio']:.2f}" in lr_text
    assert f"post-test {row['posterior']:.4f} (odds form)" in lr_text
    pe = bayesnet.load_model().diagnose({"dyspnoea": "yes", "pleuritic_chest_pain": "yes", "haemoptysis": "yes"})
    assert f"the model's likelihood ratio {pe.ranking.loc['pulmonary_embolism', 'likelihood_ratio']:.0f}" in lr_text

    # noisy-OR: the table equals the formula; the pyelonephritis link equals 1 - (1 - s) / (1 - leak)
    no_text = " ".join(outputs(docs["noisy_or"]))
    (worst,) = numbers(r"noisy-OR formula over all 8 rows: {n}", no_text)
    assert worst < 1e-12
    model = bayesnet.load_model()
    src = model.sources()
    s = src[(src["node"] == "fever") & src["parameter"].str.contains("pyelonephritis")]["value"].iloc[0]
    leak = model.network.get_cpds("fever").get_value(fever="yes", epidural_abscess="no", vertebral_osteomyelitis="no",
                                                    pyelonephritis="no")
    assert f"link in the table {1 - (1 - s) / (1 - leak):.4f}" in no_text

    # value of information: the hand computation and next_tests agree, and equal the API's numbers here
    voi_text = " ".join(outputs(docs["value_of_information"]))
    nt = model.next_tests({"iv_drug_use": "yes", "fever": "yes"}, threshold=0.05)
    for score in ["expected_entropy_reduction", "focus_information", "expected_change", "decision_value"]:
        by_hand, shown = numbers(score + r" by hand {n} next_tests {n}", voi_text)
        assert by_hand == shown == round(float(nt.loc["esr_crp", score]), 6), score

    # parameter uncertainty: the interval of the page is the API's, and the Beta update is recalibrate's
    pu_text = " ".join(outputs(docs["parameter_uncertainty"]))
    unc = model.uncertainty({"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"},
                            draws=1000, seed=0).loc["spinal_metastasis"]
    assert (f"spinal metastasis {unc['posterior']:.1%} (95% interval {unc['low']:.1%} to {unc['high']:.1%})"
            in pu_text)
    (by_hand,) = numbers(r"posterior median by hand {n}", pu_text)
    assert by_hand == pytest.approx(0.051284, abs=5e-7)  # recalibrate's value in BackPainModel.recalibrate's doctest
    assert "recalibrate: 0.051284" in pu_text


@pytest.mark.parametrize("notebook", [p.stem for p in NOTEBOOKS])
def test_every_notebook_is_a_tutorial_with_outputs(site, notebook):
    import nbformat

    doc = page(site, f"tutorials/{notebook}")
    assert notebook in text(page(site, "tutorials/index")) or f"{notebook}.html" in page(site, "tutorials/index")
    nb = nbformat.read(ROOT / "notebooks" / f"{notebook}.ipynb", as_version=4)
    code_cells = [c for c in nb.cells if c.cell_type == "code" and c.source.strip()]
    outs = outputs(doc)
    assert outs, f"{notebook}: the tutorial shows no output"
    assert not any("Traceback" in o for o in outs), f"{notebook}: a cell raised"
    assert doc.count('<div class="cell docutils container">') == len(code_cells)


def test_model_card_is_included(site):
    doc = text(page(site, "model_card"))
    card = (ROOT / "MODEL_CARD.md").read_text(encoding="utf-8")
    headings = [line.lstrip("#").strip() for line in card.splitlines() if line.startswith("#")]
    assert headings
    missing = [h for h in headings if text(h.replace("`", "")) not in doc.replace("`", "")]
    assert not missing, f"MODEL_CARD.md headings missing from the model card page: {missing}"


def test_sources_table_has_every_row(site):
    doc = page(site, "sources")
    table = re.search(r'<table[^>]*class="[^"]*bn-sources[^"]*"[^>]*>(.*?)</table>', doc, re.DOTALL)
    assert table, "no sources table"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(1), re.DOTALL).group(1)
    sources = bayesnet.load_model().sources()
    assert body.count("<tr") == len(sources)
    header = [text(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table.group(1), re.DOTALL)]
    assert header == list(sources.columns)
    first = [text(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body.split("</tr>")[0], re.DOTALL)]
    assert first[:2] == [sources.iloc[0]["node"], sources.iloc[0]["parameter"]]
    downloads = list((site / "_downloads").rglob("sources.csv"))
    assert len(downloads) == 1
    with downloads[0].open(newline="", encoding="utf-8") as f:
        assert sum(1 for _ in csv.DictReader(f)) == len(sources)


def test_cli_page_is_the_real_help(site):
    import click

    from bayesnet.cli import cli

    doc = text(page(site, "cli"))
    commands = cli.list_commands(click.Context(cli, info_name="bayesnet"))
    assert len(commands) >= 10
    for args in [[], *[[c] for c in commands]]:
        proc = subprocess.run([sys.executable, "-m", "bayesnet", *args, "--help"], check=False, capture_output=True,
                              text=True, env={**os.environ, "COLUMNS": "80"}, timeout=120)
        assert proc.returncode == 0, proc.stderr
        for line in proc.stdout.splitlines():
            assert text(html.escape(line)) in doc, f"bayesnet {' '.join(args)} --help: {line!r} not on the CLI page"
