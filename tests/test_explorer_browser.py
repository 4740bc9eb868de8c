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
import shutil
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

import bayesnet
from bayesnet.present.display import format_probability

REQUIRED = os.environ.get("BAYESNET_REQUIRE_BROWSER") == "1"
# Flags for a closed network and a root user: no sandbox, no background connections to Google.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
    "--no-first-run",
]
TIMEOUT_MS = 30_000


def _unavailable(reason: str) -> None:
    if REQUIRED:
        pytest.fail(f"{reason} (BAYESNET_REQUIRE_BROWSER=1: the browser tests must run)", pytrace=False)
    pytest.skip(reason)


def chromium_path() -> str | None:
    """Debian's Chromium: ``$BAYESNET_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    env = os.environ.get("BAYESNET_CHROMIUM")
    if env:
        return env if Path(env).exists() else None
    return shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def browser() -> Iterator:
    executable = chromium_path()
    if executable is None:
        _unavailable("Chromium is not installed (apt-get install chromium, or set BAYESNET_CHROMIUM)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install '.[test]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            b.close()


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

    def __init__(self, browser, url: str):
        self.page = browser.new_page(viewport={"width": 1400, "height": 1000})
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

    def click(self, css_class: str, label: str, expect_setting: str, expect_evidence: dict) -> float:
        """Click a button of a control; wait until the differential shows the new state; return seconds."""
        start = time.perf_counter()
        self.page.locator(css_class).get_by_role("button", name=label, exact=True).click()
        self.ranking(expect_setting, expect_evidence).wait_for()
        return time.perf_counter() - start

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
            latencies.append(page.click(f".bn-var-{var}", state, "primary_care", evidence))
            api = model.diagnose(evidence).ranking.loc["spinal_metastasis", "posterior"]
            shown, text = page.shown("spinal_metastasis")
            assert shown == pytest.approx(api, abs=1e-9)
            assert text == format_probability(api)
            assert shown != before
            before = shown
        # the explanation and the next test follow the same evidence
        dx = model.diagnose(evidence)
        expl = page.page.locator(".bn-explanation")
        assert expl.get_attribute("data-condition") == dx.leading_serious
        assert page.page.locator(".bn-summary").inner_text().strip() == dx.summary(dx.leading_serious)
        top = page.page.locator(".bn-next-tests tr[data-variable]").first.get_attribute("data-variable")
        assert top == model.next_tests(evidence, condition=dx.leading_serious).index[0]
        print(f"\nexplorer: first render {page.first_render_s:.2f} s; per-toggle update "
              + ", ".join(f"{t * 1000:.0f}" for t in latencies) + " ms")
        assert page.errors == []
    finally:
        page.page.close()


def test_setting_switch_and_reset_in_the_page(browser, server):
    page = Page(browser, server)
    try:
        t1 = page.click(".bn-var-fever", "yes", "primary_care", {"fever": "yes"})
        t2 = page.click(".bn-setting", "emergency", "emergency", {"fever": "yes"})
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
