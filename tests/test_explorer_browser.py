"""The served explorer in a real headless browser (Debian's Chromium driven by Playwright).

The server is the real command (``python -m bayesnet.present.explorer --port 0``, the same code as
``bayesnet explore``) in a subprocess. The page must load, clicking red flags must change the
displayed posterior to the value the Python API gives, and the browser console must stay free of
errors.

Chromium is found through ``BAYESNET_CHROMIUM`` (a path), else ``chromium`` or
``chromium-browser`` on the PATH. Without it these tests skip, unless ``BAYESNET_REQUIRE_BROWSER=1``
(which ``.ci/run`` sets after installing Debian's ``chromium``): then they fail, so that CI cannot
pass silently without the browser. Timings are printed (run with ``-s`` to see them).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import CHROMIUM_ARGS, OVERFLOW_JS, REQUIRED, chromium_path  # noqa: F401

import bayesnet
from bayesnet.present.display import format_probability
from bayesnet.present.labels import state_label
from bayesnet.reasoning.next_tests import default_focus

TIMEOUT_MS = 30_000


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[str]:
    """``python -m bayesnet.present.explorer --port 0`` in a subprocess; yields the URL it prints."""
    log = tmp_path_factory.mktemp("explorer") / "server.log"
    with open(log, "w") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bayesnet.present.explorer", "--port", "0", "--address", "127.0.0.1"],
            stdout=subprocess.PIPE, stderr=err, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
        lines: list[str] = []
        reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)  # drains the pipe
        reader.start()
        try:
            url = _wait_for_url(proc, lines, log)
            yield url
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:  # pragma: no cover
                proc.kill()
                proc.wait()


def _wait_for_url(proc: subprocess.Popen, lines: list[str], log: Path, timeout: float = 60.0) -> str:
    deadline = time.monotonic() + timeout
    url = None
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise AssertionError(f"explorer server exited with {proc.returncode}: {log.read_text()[-2000:]}")
        found = [m.group(0) for line in list(lines) for m in [re.search(r"http://[\d.]+:\d+/", line)] if m]
        if found:
            url = found[0]
            try:
                with urllib.request.urlopen(url, timeout=10) as resp:
                    if resp.status == 200:
                        return url
            except OSError:
                pass
        time.sleep(0.1)
    raise AssertionError(f"explorer server did not answer at {url} within {timeout:.0f} s: {log.read_text()[-2000:]}")


class Page:
    """A page of the explorer with its console errors recorded."""

    def __init__(self, browser, url: str, viewport: tuple[int, int] = (1400, 900)):
        phone = viewport[0] < 500
        self.page = browser.new_page(viewport={"width": viewport[0], "height": viewport[1]}, is_mobile=phone,
                                     has_touch=phone)
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("console", lambda m: self.errors.append(f"console: {m.text}") if m.type == "error" else None)
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))
        self.page.on("requestfailed", lambda r: self.errors.append(f"request failed: {r.url} {r.failure}"))
        start = time.perf_counter()
        self.page.goto(url)
        self.row("spinal_metastasis").wait_for()
        self.first_render_s = time.perf_counter() - start

    def ranking(self, setting: str, evidence: dict):
        """The differential computed from exactly this setting and evidence (Playwright pierces shadow DOM)."""
        ev = json.dumps(evidence, sort_keys=True)
        return self.page.locator(f".bn-ranking[data-setting='{setting}'][data-evidence='{ev}']")

    def row(self, condition: str):
        return self.page.locator(f'.bn-ranking tr[data-condition="{condition}"]')

    def complete(self, setting: str, evidence: dict):
        """The status line once every output of this setting and evidence is shown."""
        ev = json.dumps(evidence, sort_keys=True)
        return self.page.locator(f".bn-status[data-state='complete'][data-setting='{setting}'][data-evidence='{ev}']")

    def click(self, css_class: str, label: str, expect_setting: str, expect_evidence: dict) -> float:
        """Click a button of a control (by its label on the page); wait until every output shows the new state;
        return the seconds until the differential did."""
        start = time.perf_counter()
        self.page.locator(css_class).get_by_role("button", name=label, exact=True).click()
        self.ranking(expect_setting, expect_evidence).wait_for()
        seconds = time.perf_counter() - start
        self.complete(expect_setting, expect_evidence).wait_for()
        return seconds

    def shown(self, condition: str) -> tuple[float, str]:
        row = self.row(condition)
        return float(row.get_attribute("data-posterior")), row.locator(".bn-posterior").inner_text().strip()


def test_red_flags_move_the_displayed_posterior_to_the_api_value(browser, server):
    page = Page(browser, server)
    try:
        model = bayesnet.load_model()
        before, text = page.shown("spinal_metastasis")
        prior = model.diagnose({}).ranking.loc["spinal_metastasis", "posterior"]
        assert before == pytest.approx(prior, abs=1e-12) and text == format_probability(prior)

        latencies = []
        evidence: dict[str, str] = {}
        for var, state in (("history_of_cancer", "yes"), ("age_group", "70_plus"), ("unexplained_weight_loss", "yes")):
            evidence[var] = state
            latencies.append(page.click(f".bn-var-{var}", state_label(var, state), "primary_care", evidence))
            api = model.diagnose(evidence).ranking.loc["spinal_metastasis", "posterior"]
            shown, text = page.shown("spinal_metastasis")
            assert shown == pytest.approx(api, abs=1e-9)
            assert text == format_probability(api)
            assert shown != before
            before = shown
        # the explanation and the next test follow the same evidence
        dx = model.diagnose(evidence)
        focus = default_focus(model, dx.ranking["posterior"])
        expl = page.page.locator(".bn-explanation")
        assert expl.get_attribute("data-condition") == focus
        assert page.page.locator(".bn-summary").inner_text().strip() == dx.summary(focus)
        shown = [(r.get_attribute("data-variable"), float(r.get_attribute("data-score")))
                 for r in page.page.locator(".bn-next-tests tr[data-variable]").all()]
        nt = model.next_tests(evidence, condition=focus)
        assert [v for v, _ in shown] == list(nt.index[: len(shown)])
        assert [x for _, x in shown] == list(nt["focus_information"][: len(shown)])
        print(f"\nexplorer: first render {page.first_render_s:.2f} s; per-toggle update "
              + ", ".join(f"{t * 1000:.0f}" for t in latencies) + " ms")
        assert page.errors == []
    finally:
        page.page.close()


def test_setting_switch_and_reset_in_the_page(browser, server):
    page = Page(browser, server)
    try:
        t1 = page.click(".bn-var-fever", "yes", "primary_care", {"fever": "yes"})
        t2 = page.click(".bn-setting", "Emergency department", "emergency", {"fever": "yes"})
        api = bayesnet.load_model("emergency").diagnose({"fever": "yes"}).ranking
        for cond in ("epidural_abscess", "spinal_metastasis", "pulmonary_embolism"):
            assert page.shown(cond)[0] == pytest.approx(api.loc[cond, "posterior"], abs=1e-9)
        start = time.perf_counter()
        page.page.locator(".bn-reset").get_by_role("button").click()
        page.ranking("emergency", {}).wait_for()
        t3 = time.perf_counter() - start
        prior = bayesnet.load_model("emergency").diagnose({}).ranking
        assert page.shown("epidural_abscess")[0] == pytest.approx(prior.loc["epidural_abscess", "posterior"], abs=1e-9)
        print(f"\nexplorer: first render {page.first_render_s:.2f} s; toggle {t1 * 1000:.0f} ms, "
              f"setting {t2 * 1000:.0f} ms, reset {t3 * 1000:.0f} ms")
        assert page.errors == []
    finally:
        page.page.close()


def test_focus_in_the_page_explains_what_moved_and_ranks_the_next_tests_for_it(browser, server):
    """Fever alone explains the condition fever raised most; choosing cauda equina syndrome as the focus
    puts urinary retention first, with the scores and the words the API's table gives."""
    page = Page(browser, server)
    try:
        model = bayesnet.load_model()
        page.click(".bn-var-fever", "yes", "primary_care", {"fever": "yes"})
        focus = default_focus(model, model.diagnose({"fever": "yes"}).ranking["posterior"])
        assert page.page.locator(".bn-explanation").get_attribute("data-condition") == focus != "compression_fracture"
        ev = {"history_of_cancer": "yes", "age_group": "70_plus", "unexplained_weight_loss": "yes"}
        for var, state in ev.items():
            page.click(f".bn-var-{var}", state_label(var, state), "primary_care", {"fever": "yes", **dict(
                list(ev.items())[: list(ev).index(var) + 1])})
        page.page.locator(".bn-explain select").select_option(label="Cauda equina syndrome")
        tests = page.page.locator(".bn-next-tests[data-focus='cauda_equina_syndrome']")
        tests.wait_for()
        full = {"fever": "yes", **ev}
        page.complete("primary_care", full).wait_for()
        nt = model.next_tests(full, condition="cauda_equina_syndrome")
        rows = page.page.locator(".bn-next-tests tr[data-variable]")
        assert rows.first.get_attribute("data-variable") == nt.index[0] == "urinary_retention"
        assert float(rows.first.get_attribute("data-score")) == nt["focus_information"].iloc[0]
        words = page.page.locator(".bn-score-words").last.inner_text()
        assert "expected to tell about cauda equina syndrome, in bits" in words
        assert page.errors == []
    finally:
        page.page.close()


@pytest.mark.parametrize("viewport", [(1400, 900), (900, 900), (390, 844)], ids=["desktop", "narrow-window", "phone"])
def test_layout_keeps_the_results_in_view(browser, server, viewport):
    """A structural check of the layout, not a look: after clicking the last finding (far down the page) the
    differential is inside the viewport; nothing scrolls or clips sideways, the page or any table in it; on the
    phone no text is below 12 px."""
    width, height = viewport
    page = Page(browser, server, viewport)
    try:
        p = page.page
        assert p.locator("meta[name='viewport']").count() == 1
        page.click(".bn-var-warm_or_discoloured_leg", "yes", "primary_care", {"warm_or_discoloured_leg": "yes"})
        assert p.evaluate("() => window.scrollY") > 0  # the control was far down: the page scrolled to it
        ranking = p.locator(".bn-ranking").bounding_box()
        results = p.locator(".bn-results").bounding_box()
        control = p.locator(".bn-var-warm_or_discoloured_leg").bounding_box()
        assert 0 <= results["y"] and results["y"] + results["height"] <= height + 1
        assert 0 <= ranking["y"] < height - 100  # its heading and first rows are on screen
        assert 0 <= control["y"] < height  # and so is the control just clicked
        assert p.evaluate("() => document.documentElement.scrollWidth") <= width
        assert p.locator("body").evaluate(OVERFLOW_JS) == []  # no table or control scrolls or clips sideways
        # the row of the condition the finding raised is visible on screen
        dvt = p.locator('.bn-ranking tr[data-condition="dvt"]').bounding_box()
        assert dvt is not None and 0 <= dvt["y"] and dvt["y"] + dvt["height"] <= height
        if width >= 1000:  # side by side, the results using the width to the right of the controls
            assert results["x"] >= control["x"] + control["width"] - 1
            assert results["x"] + results["width"] >= width - 20 and results["width"] >= 0.5 * width
        else:  # one above the other, each the width of the screen
            assert results["width"] >= width - 20 and control["width"] >= width - 40
            assert results["y"] + results["height"] <= control["y"] + 1
        smallest = p.evaluate("""() => {
            let least = 1e9, what = '';
            const visit = (root) => {
              for (const el of root.querySelectorAll('*')) {
                if (el.shadowRoot) visit(el.shadowRoot);
                const own = Array.from(el.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
                const size = parseFloat(getComputedStyle(el).fontSize);
                if (own && el.getClientRects().length && size < least) { least = size; what = el.outerHTML.slice(0, 80); }
              }
            };
            visit(document);
            return [least, what];
        }""")
        assert smallest[0] >= 12, f"text at {smallest[0]}px: {smallest[1]}"
        assert page.errors == []
    finally:
        page.page.close()
