#!/usr/bin/env python
"""Click-to-update time of the served explorer in a real headless Chromium (Debian's, driven by Playwright).

Starts ``python -m bayesnet.present.explorer --port 0`` (the code of ``bayesnet explore``) in a
subprocess, or uses ``--url``, opens the page and clicks ``--clicks`` times: each click sets a
finding to ``yes`` or back to ``unknown`` (cycling through a few findings, so every click changes
the evidence). The time of a click is measured inside the page, from the browser's ``click``
event (a capturing listener on ``window``) to the moment the differential in the page says it was
computed from the new evidence (a ``MutationObserver``; its ``data-evidence`` attribute), and to
the moment every output is (the status line's ``data-state="complete"`` for that evidence: the
next tests follow the differential). Each click is also split at the websocket (the page's
``WebSocket`` is wrapped before any script runs):

* ``server``: from the click to the last message the server sends before the differential
  updates (the round trip: the browser sends the change, Python recomputes, Bokeh sends the patch);
* ``browser``: from that message to the updated DOM (BokehJS applies the patch and renders).

The two figures to quote: *click -> differential shown* (what the user sees change first: the
ranked differential and the explanation) and *click -> every output* (the next tests and the
status line too).

Printed: median, p95 and max of each over the clicks, the bytes received per click, and the
time the page itself reports (``data-update-ms``: in Python from the start of the update to the end
of its last step, the pause between the two steps included). The posteriors shown after the last
click are checked against :meth:`bayesnet.BackPainModel.diagnose` (exit status 1 if they differ).

    python benchmarks/bench_explorer_browser.py                  # 50 clicks, 1400x900
    python benchmarks/bench_explorer_browser.py --clicks 100 --viewport 390x844
    python benchmarks/bench_explorer_browser.py --url http://127.0.0.1:5006/ --json

Chromium: ``$BAYESNET_CHROMIUM``, else ``chromium`` or ``chromium-browser`` on the PATH.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

from benchmarks.load_explorer import start_server, stop_server

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-quic", "--no-first-run"]
#: Findings clicked in turn (each to yes, then back to unknown on its next turn).
FINDINGS = ("fever", "night_pain", "unexplained_weight_loss", "spinal_tenderness", "urinary_retention")

#: Runs before any page script: records every websocket message with its time and size.
INIT_SCRIPT = """
(() => {
  const Native = window.WebSocket;
  const log = window.__bnWs = [];
  const size = d => typeof d === 'string' ? d.length : (d.byteLength ?? d.size ?? 0);
  class Recorded extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', e => log.push(['r', performance.now(), size(e.data)]));
    }
    send(d) { log.push(['s', performance.now(), size(d)]); return super.send(d); }
  }
  window.WebSocket = Recorded;
  window.__bnClick = null;
  window.addEventListener('click', () => { window.__bnClick = performance.now(); }, true);
})();
"""

#: Page helpers: find the shadow root holding the differential; wait until it shows an evidence.
HELPERS = """
(() => {
  function rootOf(selector) {
    const stack = [document];
    while (stack.length) {
      const r = stack.pop();
      if (r.querySelector(selector)) return r;
      for (const el of r.querySelectorAll('*')) if (el.shadowRoot) stack.push(el.shadowRoot);
    }
    return null;
  }
  window.__bnRootOf = rootOf;
  window.__bnArm = (expected) => {
    window.__bnClick = null;
    const mark = window.__bnWs.length;
    let dom = null;
    window.__bnPending = new Promise((resolve) => {
      const check = () => {
        if (dom === null) {
          const root = rootOf('.bn-ranking');
          const el = root && root.querySelector('.bn-ranking');
          if (el && el.dataset.evidence === expected) dom = performance.now();
        }
        const sroot = rootOf('.bn-status');
        const st = sroot && sroot.querySelector('.bn-status');
        // an explorer without the two-step update (before 2026-12) has no data-state: complete = differential
        const done = st && (st.dataset.state === undefined ||
                            (st.dataset.evidence === expected && st.dataset.state === 'complete'));
        if (dom !== null && done) {
          obs.disconnect();
          resolve({click: window.__bnClick, dom: dom, complete: performance.now(), ws: window.__bnWs.slice(mark),
                   python_ms: st.dataset.updateMs});
        }
      };
      const obs = new MutationObserver(check);
      obs.observe(document, {subtree: true, childList: true, attributes: true});
      for (const sel of ['.bn-ranking', '.bn-status']) {
        const root = rootOf(sel);
        if (root && root !== document) obs.observe(root, {subtree: true, childList: true, attributes: true});
      }
      check();
    });
    return true;
  };
})();
"""


def chromium_path() -> str | None:
    """Debian's Chromium: ``$BAYESNET_CHROMIUM``, else ``chromium`` / ``chromium-browser`` on the PATH."""
    return os.environ.get("BAYESNET_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def percentile(values: list[float], q: float) -> float:
    """The ``q``-quantile (0-1) by linear interpolation between closest ranks."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = (len(s) - 1) * q
    lo = int(k)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def summarise(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "p95": percentile(values, 0.95), "max": max(values),
            "min": min(values)}


def run(url: str, clicks: int, viewport: tuple[int, int], warmup: int = 3) -> dict:
    """Open ``url`` in headless Chromium and click; return the measurements (milliseconds, bytes)."""
    from playwright.sync_api import sync_playwright

    import bayesnet
    from bayesnet.present.labels import state_label

    executable = chromium_path()
    if executable is None:
        raise SystemExit("Chromium not found: apt-get install chromium, or set BAYESNET_CHROMIUM")
    model = bayesnet.load_model()
    total, complete, server, browser, received, frames, python_ms = [], [], [], [], [], [], []
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = b.new_page(viewport={"width": viewport[0], "height": viewport[1]})
            page.set_default_timeout(30_000)
            page.add_init_script(INIT_SCRIPT)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            start = time.perf_counter()
            page.goto(url)
            page.locator(".bn-ranking").first.wait_for()
            first_render = time.perf_counter() - start
            page.evaluate(HELPERS)
            evidence: dict[str, str] = {}
            for i in range(warmup + clicks):
                var = FINDINGS[i % len(FINDINGS)]
                state = "unknown" if var in evidence else "yes"
                if state == "unknown":
                    del evidence[var]
                else:
                    evidence[var] = state
                expected = json.dumps(evidence, sort_keys=True)
                page.evaluate("e => window.__bnArm(e)", expected)
                page.locator(f".bn-var-{var}").get_by_role("button", name=state_label(var, state), exact=True).click()
                r = page.evaluate("() => window.__bnPending")
                if i < warmup:
                    continue
                sent = [t for kind, t, _ in r["ws"] if kind == "s" and t >= r["click"]]
                recv = [(t, n) for kind, t, n in r["ws"] if kind == "r" and t <= r["dom"] and (not sent or t >= sent[0])]
                every = [n for kind, t, n in r["ws"] if kind == "r" and t <= r["complete"]]
                total.append(r["dom"] - r["click"])
                complete.append(r["complete"] - r["click"])
                if recv:
                    server.append(recv[-1][0] - r["click"])
                    browser.append(r["dom"] - recv[-1][0])
                received.append(sum(every))
                frames.append(len(every))
                if r["python_ms"] is not None:
                    python_ms.append(float(r["python_ms"]))
            shown = page.evaluate(
                "() => Array.from(window.__bnRootOf('.bn-ranking').querySelectorAll('.bn-ranking tr[data-condition]'))"
                ".map(tr => [tr.dataset.condition, parseFloat(tr.dataset.posterior)])")
            api = model.diagnose(evidence).ranking["posterior"]
            wrong = [c for c, v in shown if abs(v - float(api[c])) > 1e-12]
        finally:
            b.close()
    return {
        "url": url, "viewport": f"{viewport[0]}x{viewport[1]}", "clicks": clicks,
        "first_render_s": first_render,
        "click_to_update_ms": summarise(total),
        "click_to_complete_ms": summarise(complete),
        "server_round_trip_ms": summarise(server) if server else None,
        "browser_render_ms": summarise(browser) if browser else None,
        "bytes_received_per_click": summarise(received),
        "frames_received_per_click": summarise(frames),
        "python_update_ms": summarise(python_ms) if python_ms else None,
        "page_errors": errors, "wrong_posteriors": wrong, "conditions_checked": len(shown),
    }


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clicks", type=int, default=50)
    ap.add_argument("--viewport", default="1400x900", help="WIDTHxHEIGHT (default 1400x900)")
    ap.add_argument("--url", help="an explorer already running (default: start one)")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = ap.parse_args(argv)
    width, height = (int(x) for x in args.viewport.lower().split("x"))
    proc = None
    url = args.url
    if url is None:
        proc, url = start_server()
    try:
        out = run(url, args.clicks, (width, height))
    finally:
        if proc is not None:
            stop_server(proc)
    if args.json:
        print(json.dumps(out, indent=2))
    else:
        print(f"explorer in headless Chromium, {out['viewport']}, {out['clicks']} clicks "
              f"(first render {out['first_render_s']:.2f} s)")
        for key, name in (("click_to_update_ms", "click -> differential shown"),
                          ("click_to_complete_ms", "click -> every output"), ("server_round_trip_ms", "  server round trip"),
                          ("browser_render_ms", "  browser applies patch"), ("python_update_ms", "  (server: update start to end)")):
            s = out[key]
            if s:
                print(f"{name:<26} median {s['median']:6.1f} ms   p95 {s['p95']:6.1f} ms   max {s['max']:6.1f} ms")
        b = out["bytes_received_per_click"]
        f = out["frames_received_per_click"]
        print(f"{'received per click':<26} median {b['median'] / 1024:6.1f} KB in {f['median']:.0f} websocket frames "
              "(a Bokeh message is 3: header, metadata, content)")
        print(f"posteriors shown after the last click: {out['conditions_checked']} checked against the API, "
              f"{len(out['wrong_posteriors'])} differ; page errors: {len(out['page_errors'])}")
    return 1 if out["wrong_posteriors"] or out["page_errors"] or not out["conditions_checked"] else 0


if __name__ == "__main__":
    sys.exit(main())
