"""The explorer inline in a real JupyterLab, offline, in headless Chromium (Debian's, driven by Playwright).

A JupyterLab server (this interpreter's, its kernel pinned to this interpreter) serves a copy of
``notebooks/08_explorer_inline.ipynb`` from a temporary root. The browser blocks every request to a
host other than this machine (so Panel's and Bokeh's JavaScript can only come from the Python
package: that is what offline means), runs all cells, clicks a red flag in the explorer and checks
the numbers the page then shows against :meth:`bayesnet.BackPainModel.diagnose` for that evidence,
through the display's own formatter; and that the explorer fits the notebook's column (about
800 px) without clipping anything.

Where the JavaScript cannot run, the cell must show a message and the current differential:
checked on the explorer's own HTML output in a page with JavaScript disabled, and in one where
Panel's scripts cannot load.

Chromium and skipping: as in ``tests/test_explorer_browser.py`` (``BAYESNET_CHROMIUM``;
``BAYESNET_REQUIRE_BROWSER=1`` turns a missing browser into a failure).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import OVERFLOW_JS

import bayesnet
from bayesnet.present.display import format_probability
from bayesnet.present.explorer import default_focus
from bayesnet.present.labels import state_label

NOTEBOOK = Path(__file__).resolve().parent.parent / "notebooks" / "08_explorer_inline.ipynb"
#: The evidence the notebook builds its explorer with (the test then clicks one more red flag).
NOTEBOOK_EVIDENCE = {"history_of_cancer": "yes", "age_group": "70_plus"}
#: The red flag clicked in the page.
CLICK = ("unexplained_weight_loss", "yes")
#: Browser window: with JupyterLab's file browser open, the notebook's output column is about 800 px.
VIEWPORT = {"width": 1230, "height": 900}
#: Windows the page is then resized to: the served explorer's desktop and phone viewports.
WINDOWS = ((1400, 900), (390, 844))
TIMEOUT_MS = 45_000
LOCAL_HOSTS = {"127.0.0.1", "localhost", "[::1]"}

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def lab(tmp_path_factory, browser) -> Iterator[dict]:
    """A JupyterLab server on a free loopback port, with a token, in a temporary root holding the notebook.

    Its configuration, data, settings and workspaces live in the temporary directory too, so that
    nothing of the machine's Jupyter set-up counts: the only ``python3`` kernel is this interpreter's
    (ipykernel's own spec, written there), JupyterLab does not ask about news or updates. The server
    is stopped by its PID (it shuts its kernels down first).
    """
    try:
        import jupyterlab  # noqa: F401
        from ipykernel.kernelspec import get_kernel_dict
    except ImportError:
        pytest.fail("jupyterlab and ipykernel are in the test extra: pip install '.[test]'", pytrace=False)
    top = tmp_path_factory.mktemp("jupyterlab")
    root, data = top / "root", top / "data"
    root.mkdir()
    shutil.copy(NOTEBOOK, root / NOTEBOOK.name)
    (data / "kernels" / "python3").mkdir(parents=True)
    (data / "kernels" / "python3" / "kernel.json").write_text(json.dumps(get_kernel_dict()))
    settings = top / "settings" / "@jupyterlab" / "apputils-extension"
    settings.mkdir(parents=True)
    (settings / "notification.jupyterlab-settings").write_text(json.dumps({"fetchNews": "false",
                                                                           "checkForUpdates": False}))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "JUPYTER_DATA_DIR": str(data), "JUPYTER_PATH": str(data),
           "JUPYTER_CONFIG_DIR": str(top / "config"), "JUPYTERLAB_SETTINGS_DIR": str(top / "settings"),
           "JUPYTERLAB_WORKSPACES_DIR": str(top / "workspaces"), "IPYTHONDIR": str(top / "ipython"),
           "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={root}", "--LabApp.extension_manager=readonly", "--LabApp.news_url="]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    log = top / "server.log"
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited with {proc.returncode}: {log.read_text()[-2000:]}", pytrace=False)
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=5) as resp:
                    if resp.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer within 60 s: {log.read_text()[-2000:]}", pytrace=False)
            time.sleep(0.2)
        yield {"base": base, "token": token, "log": log}
    finally:
        proc.terminate()  # by PID: SIGTERM, on which the server shuts its kernels down
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:  # pragma: no cover
            proc.kill()
            proc.wait()


def _kernels(lab: dict) -> list[dict]:
    with urllib.request.urlopen(f"{lab['base']}/api/kernels?token={lab['token']}", timeout=5) as resp:
        return json.loads(resp.read())


def _wait_for_idle_kernel(lab: dict, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        kernels = _kernels(lab)
        if kernels and all(k["execution_state"] == "idle" for k in kernels):
            return
        time.sleep(0.2)
    pytest.fail(f"the notebook's kernel was not idle within {timeout:.0f} s: {_kernels(lab)}", pytrace=False)


def test_inline_explorer_in_jupyterlab_offline_agrees_with_the_api_and_fits_the_column(browser, lab):
    context = browser.new_context(viewport=VIEWPORT)
    blocked: list[str] = []
    errors: list[str] = []

    def offline(route) -> None:
        host = route.request.url.split("/")[2].rsplit(":", 1)[0] if "://" in route.request.url else ""
        if route.request.url.startswith(("data:", "blob:")) or host in LOCAL_HOSTS:
            route.continue_()
        else:
            blocked.append(route.request.url)
            route.abort()

    context.route("**/*", offline)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" or "Panel: ERROR" in m.text else None)
    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
    try:
        start = time.perf_counter()
        page.goto(f"{lab['base']}/lab/tree/{NOTEBOOK.name}?token={lab['token']}&reset")
        page.locator(".jp-Notebook .jp-Cell").first.wait_for()
        idle = page.locator(".jp-StatusBar-TextItem", has_text=re.compile(r"\| Idle$"))
        idle.wait_for()  # the frontend's own view: its kernel started and connected
        loaded = time.perf_counter() - start
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.locator("li[data-command='runmenu:run-all']").click()

        model = bayesnet.load_model("primary_care")
        live = ".bn-out .bn-ranking"  # the explorer's differential, not the static copy behind it

        def ranking(evidence: dict):
            return page.locator(f"{live}[data-setting='primary_care'][data-evidence='{json.dumps(evidence, sort_keys=True)}']")

        def complete(evidence: dict):
            ev = json.dumps(evidence, sort_keys=True)
            return page.locator(f".bn-status[data-state='complete'][data-evidence='{ev}']")

        # the explorer (the notebook's last cell) shows the differential of the evidence it was built with
        ranking(NOTEBOOK_EVIDENCE).wait_for()
        page.locator(".jp-CodeCell .jp-InputPrompt", has_text="[*]").first.wait_for(state="detached")
        _wait_for_idle_kernel(lab)
        ran = time.perf_counter() - start

        # fits the column: the explorer within the cell's output area, nothing clipped sideways
        output = page.locator(".jp-OutputArea-output", has=page.locator(".bn-explorer")).first
        out_box, ex_box = output.bounding_box(), page.locator(".bn-explorer").bounding_box()
        assert 700 <= out_box["width"] <= 900, out_box  # the ~800 px column this test is about
        assert out_box["x"] - 1 <= ex_box["x"] and ex_box["x"] + ex_box["width"] <= out_box["x"] + out_box["width"] + 1
        assert output.evaluate(OVERFLOW_JS) == []
        # rendered: the static stand-in is hidden, the live explorer shown
        assert page.locator(".bn-fallback").count() == 1 and not page.locator(".bn-fallback").is_visible()

        # click a red flag: the ranking updates to the API's numbers for that evidence
        var, state = CLICK
        evidence = {**NOTEBOOK_EVIDENCE, var: state}
        t0 = time.perf_counter()
        page.locator(f".bn-var-{var}").get_by_role("button", name=state_label(var, state), exact=True).click()
        ranking(evidence).wait_for()
        click_ms = 1000 * (time.perf_counter() - t0)
        complete(evidence).wait_for()
        api = model.diagnose(evidence).ranking
        rows = ranking(evidence).locator("tr[data-condition]")
        shown = [(r.get_attribute("data-condition"), float(r.get_attribute("data-posterior")),
                  r.locator(".bn-posterior").inner_text().strip()) for r in rows.all()]
        assert [c for c, _, _ in shown] == list(api.index)
        for cond, value, text in shown:
            assert value == api.loc[cond, "posterior"], cond  # exact: the page carries the repr
            assert text == format_probability(api.loc[cond, "posterior"]), cond
        assert api.loc["spinal_metastasis", "posterior"] > model.diagnose(NOTEBOOK_EVIDENCE).ranking.loc[
            "spinal_metastasis", "posterior"]
        # the results stay in view: the differential's top is on screen after clicking a control lower down
        box = page.locator(".bn-results").bounding_box()
        assert 0 <= box["y"] < VIEWPORT["height"] - 200, box
        assert output.evaluate(OVERFLOW_JS) == []
        # the teaching flow: the explanation and the next tests are about the condition the evidence moved most
        focus = default_focus(model, api["posterior"])
        assert page.locator(".bn-explanation-out .bn-explanation").get_attribute("data-condition") == focus
        assert page.locator(".bn-tests-out .bn-next-tests").get_attribute("data-focus") == focus
        nt = model.next_tests(evidence, condition=focus)
        first = page.locator(".bn-tests-out .bn-next-tests tr[data-variable]").first
        assert first.get_attribute("data-variable") == nt.index[0]

        # a wide window and a phone: the explorer still fits its column, nothing clipped sideways
        for width, height in WINDOWS:
            page.set_viewport_size({"width": width, "height": height})
            if width < 600 and page.locator(".jp-FileBrowser").is_visible():
                # on a phone the file browser would leave the notebook a 30 px column: close it, as a user would
                # clicking the open tab collapses it
                page.locator(".jp-SideBar li.lm-TabBar-tab[data-id='filebrowser']").click()
                page.locator(".jp-FileBrowser").wait_for(state="hidden")
            page.wait_for_timeout(300)  # JupyterLab re-lays out on resize
            out_box, ex_box = output.bounding_box(), page.locator(".bn-explorer").bounding_box()
            right = out_box["x"] + out_box["width"] + 1
            inside = out_box["x"] - 1 <= ex_box["x"] and ex_box["x"] + ex_box["width"] <= right
            assert inside, (width, out_box, ex_box)
            assert output.evaluate(OVERFLOW_JS) == [], (width, height)

        assert blocked == [], f"requests left this machine: {blocked[:5]}"
        assert errors == []
        print(f"\njupyterlab: loaded {loaded:.1f} s, all cells run {ran:.1f} s, click to differential {click_ms:.0f} ms")
    except BaseException:
        shot = lab["log"].with_name("failure.png")
        page.screenshot(path=str(shot))
        print(f"\nscreenshot: {shot}; server log: {lab['log']}; console errors: {errors}")
        raise
    finally:
        context.close()


@pytest.fixture()
def explorer_html(monkeypatch) -> tuple[str, dict]:
    """The HTML a notebook gets for ``build_explorer()`` (Panel's full bundle, as in a kernel) and the evidence shown."""
    from panel.config import panel_extension

    from bayesnet.present.explorer import build_explorer

    evidence = {"fever": "yes", "iv_drug_use": "yes"}
    monkeypatch.setattr(panel_extension, "_loaded", True)  # as after pn.extension(inline=True) in a kernel
    data, _meta = build_explorer(evidence=evidence)._repr_mimebundle_()
    assert "data-root-id" in data["text/html"]  # Panel's own output is there, behind the stand-in
    return data["text/html"], evidence


@pytest.mark.parametrize("javascript", [False, True], ids=["no-javascript", "panel-scripts-missing"])
def test_where_the_javascript_cannot_run_the_cell_says_so_and_shows_the_ranking(browser, explorer_html, javascript):
    """Not an empty cell: the message and the current differential (the API's numbers), visible."""
    text, evidence = explorer_html
    context = browser.new_context(java_script_enabled=javascript)
    context.route("**/*", lambda route: route.abort())  # nothing can be fetched: Panel's scripts are missing
    page = context.new_page()
    try:
        page.set_content(f"<html><body>{text}</body></html>", wait_until="load")
        page.wait_for_timeout(300)
        note = page.locator(".bn-fallback")
        assert note.is_visible()
        assert "cannot run here" in note.inner_text() and "Trust Notebook" in note.inner_text()
        api = bayesnet.load_model().diagnose(evidence).ranking
        rows = note.locator(".bn-ranking tr[data-condition]").all()
        assert [r.get_attribute("data-condition") for r in rows] == list(api.index)
        for r in rows:
            cond = r.get_attribute("data-condition")
            assert r.is_visible()
            assert r.locator(".bn-posterior").inner_text().strip() == format_probability(api.loc[cond, "posterior"])
    finally:
        context.close()
