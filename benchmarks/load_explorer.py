#!/usr/bin/env python
"""Load test of the explorer server on loopback: concurrent sessions clicking, latency, memory, isolation.

Starts ``python -m bayesnet.present.explorer --port 0`` (the code of ``bayesnet explore``) in a
subprocess, opens ``--sessions`` sessions on it at once and lets each click for ``--seconds``.
Each click sets one control of that session (a risk factor, finding or test to one of its states
or back to ``unknown``) and waits until the session's differential shows the new evidence.

Reported:

* click-to-update latency, p50 / p95 / max: from the moment the client changes the control to
  the moment the server's new differential has arrived in that session's document (the server
  recomputes the differential, the explanation and the next tests, then sends the markup);
* memory per session: growth of the server's resident memory (``VmRSS``) from before the first
  session to when every session is open, divided by the number of sessions; and its growth
  during the clicking;
* isolation: every session first sets its own signature (a distinct yes/no pattern on a few
  findings) and then clicks at random (seeded by the session number), so no two sessions hold
  the same evidence. After every click the differential it receives must say it was computed
  from exactly that session's evidence (``data-evidence``) and must equal, condition for
  condition, the posteriors that :meth:`bayesnet.BackPainModel.diagnose` gives for that evidence
  in this process. Anything else is counted as a wrong answer. Before each click the session
  also checks that nothing has changed its display since its last one.

The sessions are driven at the level of Bokeh's protocol, not through a browser: each one is a
:func:`bokeh.client.pull_session` (the websocket a page opens, receiving the same document and
the same patches), with its own thread and event loop. A click is the change a browser sends
when a button is pressed (the ``active`` index of the control's ``RadioButtonGroup``). What this
leaves out is the browser's own rendering of the patch (a few milliseconds per update in
``tests/test_explorer_browser.py``); twenty headless Chromium pages would measure the two shared
cores' contention with the browser rather than the server.

    python benchmarks/load_explorer.py                         # 20 sessions, 60 s, ~1 click/s each
    python benchmarks/load_explorer.py --sessions 5 --seconds 10
    python benchmarks/load_explorer.py --think 0               # every session clicks as fast as it can
    python benchmarks/load_explorer.py --url http://127.0.0.1:5006/   # an explorer already running

The exit status is 1 if any session saw a wrong answer or a click timed out, else 0.
"""

from __future__ import annotations

import argparse
import contextlib
import html
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))

UNKNOWN = "unknown"
_RANKING = re.compile(r'class="[^"]*\bbn-ranking\b[^"]*" data-setting="([a-z_]+)" data-evidence="([^"]*)"')
_ROW = re.compile(r'<tr[^>]*data-condition="([a-z_]+)" data-posterior="([^"]+)" data-prior="([^"]+)"')
#: Findings whose yes/no pattern gives each session its own signature (2**6 = 64 sessions at most).
SIGNATURE = ("fever", "night_pain", "night_sweats", "spinal_tenderness", "tachycardia", "dysuria")


def _register_panel_models() -> None:
    """Import Panel's Bokeh models so that a client document can hold them."""
    import panel.models.layout
    import panel.models.markup
    import panel.models.widgets  # noqa: F401


def _states() -> dict[str, list[str]]:
    """Every variable's state ids (the same in every shipped setting)."""
    import bayesnet

    return dict(bayesnet.load_model().tables.states)


@dataclass
class Shown:
    """What a session's differential says: the setting and evidence it was computed from, the rows in order."""

    setting: str
    evidence: dict[str, str]
    posteriors: list[tuple[str, float]]


class ExplorerSession:
    """One explorer session driven over Bokeh's websocket protocol (what a browser tab holds).

    Parameters
    ----------
    url : str
        The explorer's address, e.g. ``http://127.0.0.1:5006/``.
    timeout : float
        Seconds a click may take before it counts as timed out.
    """

    def __init__(self, url: str, timeout: float = 30.0):
        from bokeh.client import pull_session

        _register_panel_models()
        self.timeout = timeout
        self.session = pull_session(url=url)
        self.widgets: dict[str, Any] = {}
        self.ranking_model: Any = None
        for m in self.session.document.models:
            classes = list(getattr(m, "css_classes", None) or [])
            for c in classes:
                if c.startswith("bn-var-"):
                    self.widgets[c[len("bn-var-"):]] = m
            if "bn-out" in classes:
                self.ranking_model = m
        if self.ranking_model is None or not self.widgets:
            raise RuntimeError(f"{url} does not serve the bayesnet explorer (no differential, no controls)")
        # the buttons show clinical labels ("70 or over"); the evidence is in state ids ("70_plus")
        from bayesnet.present.labels import state_label

        states = _states()
        self.states = {var: [UNKNOWN if label == UNKNOWN else
                             {state_label(var, s): s for s in states[var]}[label] for label in w.labels]
                       for var, w in self.widgets.items()}

    @property
    def evidence(self) -> dict[str, str]:
        """The evidence set in this session's controls (as its document holds them)."""
        out = {}
        for var, w in self.widgets.items():
            state = self.states[var][w.active] if w.active is not None else UNKNOWN
            if state != UNKNOWN:
                out[var] = state
        return out

    def shown(self) -> Shown | None:
        """The differential currently in this session's document (``None`` before the first one)."""
        text = html.unescape(str(self.ranking_model.text))
        m = _RANKING.search(text)
        if m is None:
            return None
        rows = [(c, float(post)) for c, post, _ in _ROW.findall(text)]
        return Shown(m.group(1), json.loads(html.unescape(m.group(2))), rows)

    def _run_until(self, predicate: Callable[[], bool]) -> bool:
        """Process the server's messages until ``predicate`` holds or the timeout passes."""
        conn = self.session._connection  # Bokeh's synchronous client runs its loop one message at a time
        loop = conn.io_loop
        timed_out = []

        def stop() -> None:
            timed_out.append(True)
            conn._until_predicate = None
            loop.stop()

        handle = loop.call_later(self.timeout, stop)
        try:
            conn._loop_until(lambda: predicate() or bool(timed_out))
        finally:
            loop.remove_timeout(handle)
        return not timed_out and predicate()

    def click(self, variable: str, state: str) -> tuple[float, Shown | None]:
        """Set ``variable`` to ``state`` (or ``"unknown"``) as a button press does; wait for the new differential.

        Returns
        -------
        seconds : float
            Click to update (``inf`` if the update did not come within the timeout).
        shown : Shown or None
            The differential received.
        """
        w = self.widgets[variable]
        want = {**self.evidence, variable: state}
        if state == UNKNOWN:
            del want[variable]
        start = time.perf_counter()
        w.active = self.states[variable].index(state)

        def arrived() -> bool:
            s = self.shown()
            return s is not None and s.evidence == want

        ok = self._run_until(arrived)
        return (time.perf_counter() - start if ok else float("inf")), self.shown()

    def close(self) -> None:
        self.session.close()


# ----------------------------------------------------------------------------------- the server
def start_server(setting: str = "primary_care", timeout: float = 120.0) -> tuple[subprocess.Popen, str]:
    """``python -m bayesnet.present.explorer --port 0`` in a subprocess; returns it and its URL once it answers."""
    import urllib.request

    proc = subprocess.Popen(
        [sys.executable, "-m", "bayesnet.present.explorer", "--port", "0", "--setting", setting],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    lines: list[str] = []
    threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True).start()  # drains the pipe
    errors: list[str] = []
    threading.Thread(target=lambda: errors.extend(proc.stderr), daemon=True).start()
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the explorer exited with status {proc.returncode}: {''.join(errors)[-2000:]}")
        found = [m.group(0) for line in list(lines) for m in [re.search(r"http://[\d.]+:\d+/", line)] if m]
        if found:
            try:
                with urllib.request.urlopen(found[0], timeout=10) as resp:
                    if resp.status == 200:
                        return proc, found[0]
            except OSError:
                pass
        time.sleep(0.1)
    stop_server(proc)
    raise RuntimeError(f"the explorer did not answer within {timeout:.0f} s")


def stop_server(proc: subprocess.Popen) -> None:
    """Stop the server this script started (by its own handle, never by name)."""
    proc.terminate()
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def rss_mb(pid: int) -> float:
    """Resident memory of a process in MiB (Linux ``/proc/<pid>/status`` ``VmRSS``; NaN elsewhere)."""
    try:
        for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except (OSError, ValueError):
        pass
    return float("nan")


# ----------------------------------------------------------------------------------- the sessions
@dataclass
class Result:
    """What one session measured and checked."""

    index: int
    latencies: list[float] = field(default_factory=list)
    clicks: int = 0
    timeouts: int = 0
    wrong: list[str] = field(default_factory=list)


class Reference:
    """The API's answer for an evidence (this process's own model; cached, shared by the threads)."""

    def __init__(self, setting: str):
        import bayesnet

        self.model = bayesnet.load_model(setting)
        self.setting = setting
        self._cache: dict[tuple, list[tuple[str, float]]] = {}
        self._lock = threading.Lock()

    def ranking(self, evidence: dict[str, str]) -> list[tuple[str, float]]:
        key = tuple(sorted(evidence.items()))
        with self._lock:
            if key not in self._cache:
                r = self.model.diagnose(evidence).ranking["posterior"]
                self._cache[key] = [(str(c), float(p)) for c, p in r.items()]
            return self._cache[key]


def signature(index: int) -> dict[str, str]:
    """Session ``index``'s own yes/no pattern on :data:`SIGNATURE` (distinct for every index below 64)."""
    return {var: "yes" if index >> bit & 1 else "no" for bit, var in enumerate(SIGNATURE)}


def check(result: Result, shown: Shown | None, evidence: dict[str, str], ref: Reference, when: str) -> None:
    """Record a wrong answer unless ``shown`` is the API's differential for exactly ``evidence``."""
    if shown is None:
        result.wrong.append(f"session {result.index} {when}: no differential shown")
    elif shown.setting != ref.setting or shown.evidence != evidence:
        result.wrong.append(f"session {result.index} {when}: shows {shown.setting} {shown.evidence}, "
                            f"its own evidence is {evidence}")
    elif shown.posteriors != ref.ranking(evidence):
        api = dict(ref.ranking(evidence))
        worst = max((abs(p - api.get(c, float("nan"))), c) for c, p in shown.posteriors)
        result.wrong.append(f"session {result.index} {when}: differential differs from the API's for {evidence} "
                            f"(largest difference {worst[0]:.3g} at {worst[1]})")


def drive(session: ExplorerSession, result: Result, ref: Reference, start: threading.Barrier, seconds: float,
          think: float) -> None:
    """One session: the signature, then random clicks until the time is up, each checked against the API."""
    rng = random.Random(result.index)
    evidence: dict[str, str] = {}
    try:
        start.wait()
        check(result, session.shown(), evidence, ref, "on opening")
        sig = signature(result.index)
        others = [v for v in session.widgets if v not in sig]
        steps = iter(sig.items())
        deadline = time.perf_counter() + seconds
        while time.perf_counter() < deadline:
            step = next(steps, None)
            if step is None:
                var = rng.choice(others)
                w = session.widgets[var]
                current = session.states[var][w.active]
                state = rng.choice([s for s in session.states[var] if s != current])
            else:
                var, state = step
            # nothing may have changed this session's display since its last click
            check(result, session.shown(), evidence, ref, f"before click {result.clicks + 1}")
            seconds_taken, shown = session.click(var, state)
            result.clicks += 1
            if state == UNKNOWN:
                evidence.pop(var, None)
            else:
                evidence[var] = state
            if seconds_taken == float("inf"):
                result.timeouts += 1
                result.wrong.append(f"session {result.index}: click {var}={state} got no update within "
                                    f"{session.timeout:.0f} s")
                break
            result.latencies.append(seconds_taken)
            check(result, shown, evidence, ref, f"after click {result.clicks} ({var}={state})")
            if think > 0:
                time.sleep(rng.uniform(0.5 * think, 1.5 * think))
    except Exception as exc:  # noqa: BLE001 - a session that breaks is a failure of the run, reported, never hidden
        result.wrong.append(f"session {result.index}: {type(exc).__name__}: {exc}")


def run(url: str, pid: int | None, sessions: int, seconds: float, think: float, setting: str,
        timeout: float = 30.0) -> dict[str, Any]:
    """Open ``sessions`` sessions on ``url``, click for ``seconds``, and return the figures."""
    import numpy as np

    if sessions > 2 ** len(SIGNATURE):
        raise SystemExit(f"at most {2 ** len(SIGNATURE)} sessions (each needs its own signature)")
    ref = Reference(setting)
    ref.ranking({})
    rss0 = rss_mb(pid) if pid else float("nan")
    t0 = time.perf_counter()
    opened: list[ExplorerSession] = []
    for _ in range(sessions):
        opened.append(ExplorerSession(url, timeout=timeout))
    open_s = time.perf_counter() - t0
    rss1 = rss_mb(pid) if pid else float("nan")
    results = [Result(i) for i in range(sessions)]
    barrier = threading.Barrier(sessions)
    threads = [threading.Thread(target=drive, args=(s, r, ref, barrier, seconds, think), daemon=True)
               for s, r in zip(opened, results, strict=True)]
    t1 = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 4 * timeout)
    wall = time.perf_counter() - t1
    rss2 = rss_mb(pid) if pid else float("nan")
    for s in opened:
        with contextlib.suppress(Exception):  # closing a broken session must not hide the figures
            s.close()
    lat = np.array([x for r in results for x in r.latencies]) * 1000.0
    wrong = [w for r in results for w in r.wrong]
    clicks = sum(r.clicks for r in results)
    return {
        "sessions": sessions,
        "seconds": seconds,
        "think_s": think,
        "setting": setting,
        "open_all_s": round(open_s, 2),
        "clicks": clicks,
        "clicks_per_s": round(clicks / wall, 2) if wall else 0.0,
        "latency_ms": {
            "p50": round(float(np.percentile(lat, 50)), 1) if lat.size else None,
            "p95": round(float(np.percentile(lat, 95)), 1) if lat.size else None,
            "max": round(float(lat.max()), 1) if lat.size else None,
        },
        "server_rss_mb": {"before": round(rss0, 1), "sessions_open": round(rss1, 1), "after_clicking": round(rss2, 1)},
        "mb_per_session": round((rss1 - rss0) / sessions, 2) if pid else None,
        "mb_growth_clicking": round(rss2 - rss1, 1) if pid else None,
        "timeouts": sum(r.timeouts for r in results),
        "distinct_evidence_checked": len(ref._cache),
        "wrong_answers": len(wrong),
        "wrong_examples": wrong[:5],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sessions", type=int, default=20, help="concurrent sessions (default 20)")
    parser.add_argument("--seconds", type=float, default=60.0, help="how long every session clicks (default 60)")
    parser.add_argument("--think", type=float, default=1.0,
                        help="mean pause between one session's clicks, s (uniform in 0.5x-1.5x; 0: none; default 1)")
    parser.add_argument("--setting", default="primary_care")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds a click may take (default 30)")
    parser.add_argument("--url", default=None, help="drive an explorer already running (its memory is not measured)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    args = parser.parse_args(argv)

    proc = None
    if args.url is None:
        proc, url = start_server(args.setting)
        pid: int | None = proc.pid
    else:
        url, pid = args.url, None
    try:
        fig = run(url, pid, args.sessions, args.seconds, args.think, args.setting, args.timeout)
    finally:
        if proc is not None:
            stop_server(proc)
    if args.json:
        print(json.dumps(fig, indent=2))
    else:
        lat, mem = fig["latency_ms"], fig["server_rss_mb"]
        print(f"explorer load test: {fig['sessions']} sessions x {fig['seconds']:.0f} s, think {fig['think_s']} s, "
              f"setting {fig['setting']} (all sessions opened in {fig['open_all_s']} s)")
        print(f"  clicks: {fig['clicks']} ({fig['clicks_per_s']}/s); click-to-update p50 {lat['p50']} ms, "
              f"p95 {lat['p95']} ms, max {lat['max']} ms; timeouts {fig['timeouts']}")
        print(f"  server RSS: {mem['before']} MB before, {mem['sessions_open']} MB with every session open "
              f"({fig['mb_per_session']} MB per session), {mem['after_clicking']} MB after clicking")
        print(f"  isolation: {fig['distinct_evidence_checked']} distinct evidence sets checked against the API; "
              f"wrong answers {fig['wrong_answers']}")
        for w in fig["wrong_examples"]:
            print(f"    {w}")
    return 1 if fig["wrong_answers"] or fig["timeouts"] else 0


if __name__ == "__main__":
    sys.exit(main())
