"""The served explorer: where it listens, who may open its websocket, and sessions kept apart.

The server runs in this process (``serve(threaded=True)``) and is driven over Bokeh's websocket
protocol by :class:`benchmarks.load_explorer.ExplorerSession` (what a browser tab holds: the
same document, the same patches); the long load test is ``benchmarks/load_explorer.py``.
"""

from __future__ import annotations

import os
import socket
import time
import urllib.request
from collections.abc import Iterator

import pytest
from click.testing import CliRunner

import bayesnet
from bayesnet.errors import BayesNetError
from bayesnet.present import explorer as explorer_module
from bayesnet.present.explorer import Explorer, explore, is_loopback, main, serve, websocket_origins

pytest.importorskip("panel")


def _wait_until_answering(url: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=10) as resp:
                assert resp.status == 200
                return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


@pytest.fixture(scope="module")
def server() -> Iterator:
    """The explorer served by default (no address given), in a thread of this process."""
    thread = serve(port=0, threaded=True, verbose=False)
    try:
        _wait_until_answering(thread.url)
        yield thread
    finally:
        thread.stop()


def _own_address() -> str | None:
    """This machine's address on its default route (no packet is sent), or None without one."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # TEST-NET-1: a UDP connect only picks the route
        except OSError:
            return None
        ip = s.getsockname()[0]
    return None if is_loopback(ip) else ip


def test_default_server_listens_on_loopback_only(server):
    psutil = pytest.importorskip("psutil")
    port = int(server.url.rstrip("/").rsplit(":", 1)[1])
    assert server.url == f"http://127.0.0.1:{port}/"
    listening = [c for c in psutil.Process(os.getpid()).net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN and c.laddr.port == port]
    assert listening, "no listening socket found for the explorer's port"
    assert {c.laddr.ip for c in listening} == {"127.0.0.1"}
    # and from this machine's own network address, nothing answers on that port
    ip = _own_address()
    if ip is not None:
        with socket.socket() as s, pytest.raises(OSError):
            s.settimeout(3)
            s.connect((ip, port))


@pytest.mark.parametrize("address", ["0.0.0.0", "", "::", "192.0.2.7", "teaching.example.org"])
def test_another_address_needs_named_origins(address, capsys):
    assert main(["--address", address, "--port", "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: ")
    assert "--allow-websocket-origin HOST[:PORT]" in err and "other machines" in err
    with pytest.raises(BayesNetError, match="allow-websocket-origin"):
        serve(port=0, address=address, start=False, verbose=False)


def test_the_package_command_gives_the_same_usage_error(capsys):
    from bayesnet.cli import main as cli_main

    assert cli_main(["explore", "--address", "0.0.0.0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--allow-websocket-origin" in err and "Traceback" not in err


@pytest.mark.parametrize(("origin", "match"), [
    ("http://teaching.example.org:5006", "without a scheme"),
    ("teaching.example.org/explorer", "without a scheme or a path"),
    ("*", "allows every host"),
    ("*.*:5006", "allows every host"),
    ("teaching.example.org:port", "Invalid port"),
    ("teaching.example.org:99999", "between 1 and 65535"),
    ("a:b:c", "HOST or HOST:PORT"),
    (":5006", "has no host"),
])
def test_malformed_origins_are_named(origin, match, capsys):
    with pytest.raises(BayesNetError, match=match):
        websocket_origins([origin], "0.0.0.0", 5006)
    assert main(["--address", "0.0.0.0", "--port", "0", "--allow-websocket-origin", origin]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and repr(origin) in err


def test_named_origins_are_passed_to_the_server(monkeypatch):
    calls = []
    monkeypatch.setattr(explorer_module, "serve", lambda **kw: calls.append(kw))
    res = CliRunner().invoke(explore, ["--address", "0.0.0.0", "--allow-websocket-origin", "teach.example.org:5006",
                                       "--allow-websocket-origin", "192.0.2.7:5006"])
    assert res.exit_code == 0, res.output
    assert calls == [{"setting": "primary_care", "port": 5006, "address": "0.0.0.0", "show": False,
                      "allow_websocket_origin": ("teach.example.org:5006", "192.0.2.7:5006")}]
    assert websocket_origins(calls[0]["allow_websocket_origin"], "0.0.0.0", 5006) == [
        "127.0.0.1:5006", "192.0.2.7:5006", "localhost:5006", "teach.example.org:5006"]
    assert websocket_origins([], "127.0.0.1", 5006) == ["127.0.0.1:5006", "localhost:5006"]
    assert websocket_origins(["teach.example.org"], "0.0.0.0", 5006)[-1] == "teach.example.org:80"  # Bokeh's rule


def _handshake(url: str, origin: str) -> int:
    """HTTP status of a websocket handshake on the explorer's ``/ws`` sent with this ``Origin``."""
    from tornado.httpclient import HTTPClientError, HTTPRequest
    from tornado.ioloop import IOLoop
    from tornado.websocket import websocket_connect

    async def attempt() -> int:
        request = HTTPRequest(url.replace("http://", "ws://") + "ws", headers={"Origin": origin}, request_timeout=20)
        try:
            conn = await websocket_connect(request)
        except HTTPClientError as exc:
            return exc.code
        conn.close()
        return 101

    return IOLoop().run_sync(attempt, timeout=30)


def test_only_named_origins_may_open_the_websocket():
    """Loopback address with one more origin named: that origin and this machine's pages may connect, no other."""
    port = explorer_module._free_port("127.0.0.1")
    thread = serve(port=port, threaded=True, verbose=False, allow_websocket_origin=[f"teach.example.org:{port}"])
    try:
        _wait_until_answering(thread.url)
        assert _handshake(thread.url, f"http://127.0.0.1:{port}") == 101
        assert _handshake(thread.url, f"http://localhost:{port}") == 101
        assert _handshake(thread.url, f"http://teach.example.org:{port}") == 101
        assert _handshake(thread.url, f"http://evil.example.org:{port}") == 403
        assert _handshake(thread.url, f"http://teach.example.org:{port + 1}") == 403
    finally:
        thread.stop()


def test_default_server_refuses_foreign_origins(server):
    assert _handshake(server.url, "http://evil.example.org") == 403


# ------------------------------------------------------------------------------------ isolation
def _ranking(ex: Explorer) -> list[tuple[str, float]]:
    import re

    rows = re.findall(r'data-condition="([a-z_]+)" data-posterior="([^"]+)"', ex.ranking_pane.object)
    return [(c, float(p)) for c, p in rows]


def _api(setting: str, evidence: dict) -> list[tuple[str, float]]:
    r = bayesnet.load_model(setting).diagnose(evidence).ranking["posterior"]
    return [(str(c), float(p)) for c, p in r.items()]


def test_two_explorers_sharing_the_model_cache_never_share_state():
    a, b = Explorer(), Explorer()
    assert a.model is b.model  # one compiled model per setting, shared by the sessions
    a.widgets["history_of_cancer"].value = "yes"
    b.widgets["fever"].value = "yes"
    b.widgets["iv_drug_use"].value = "yes"
    a.widgets["age_group"].value = "70_plus"
    b.setting_widget.value = "emergency"
    a_before = (a.ranking_pane.object, a.explanation_pane.object, a.next_tests_pane.object)
    b.widgets["esr_crp"].value = "elevated"  # changing b leaves every output of a as it was
    assert (a.ranking_pane.object, a.explanation_pane.object, a.next_tests_pane.object) == a_before
    assert a.evidence == {"history_of_cancer": "yes", "age_group": "70_plus"} and a.setting == "primary_care"
    assert b.evidence == {"fever": "yes", "iv_drug_use": "yes", "esr_crp": "elevated"} and b.setting == "emergency"
    assert _ranking(a) == _api("primary_care", a.evidence)
    assert _ranking(b) == _api("emergency", b.evidence)
    a.reset()
    assert b.evidence == {"fever": "yes", "iv_drug_use": "yes", "esr_crp": "elevated"}
    assert _ranking(b) == _api("emergency", b.evidence)


def test_served_sessions_see_only_their_own_evidence(server):
    """Two sessions on one server, each with its own signature, clicking in turn: each differential is the
    API's answer for that session's evidence, never the other's (the load script's own checks)."""
    from benchmarks.load_explorer import ExplorerSession, Reference, Result, check, signature

    ref = Reference("primary_care")
    sessions = [ExplorerSession(server.url, timeout=20) for _ in range(2)]
    results = [Result(i) for i in range(2)]
    own: list[dict[str, str]] = [{}, {}]
    try:
        steps = [list(signature(i).items()) + [("age_group", ("70_plus", "under_50")[i]), ("fever", "unknown"),
                                               ("d_dimer", ("positive", "negative")[i])] for i in range(2)]
        for k in range(len(steps[0])):
            for i, s in enumerate(sessions):
                check(results[i], s.shown(), own[i], ref, f"before step {k}")
                var, state = steps[i][k]
                seconds, shown = s.click(var, state)
                assert seconds < float("inf"), f"session {i}: no update for {var}={state}"
                if state == "unknown":
                    own[i].pop(var, None)
                else:
                    own[i][var] = state
                check(results[i], shown, own[i], ref, f"after {var}={state}")
        assert own[0] != own[1]
        assert [w for r in results for w in r.wrong] == []
        assert sessions[0].shown().posteriors == _api("primary_care", own[0])
        assert sessions[1].shown().posteriors == _api("primary_care", own[1])
    finally:
        for s in sessions:
            s.close()


def test_load_script_runs_and_finds_no_cross_talk(server):
    """The load script's whole loop, briefly (two sessions clicking for a second and a half, no pause)."""
    from benchmarks.load_explorer import run

    fig = run(server.url, os.getpid(), sessions=2, seconds=1.5, think=0, setting="primary_care", timeout=20)
    assert fig["wrong_answers"] == 0, fig["wrong_examples"]
    assert fig["timeouts"] == 0 and fig["clicks"] >= 2
    assert fig["latency_ms"]["p50"] > 0 and fig["mb_per_session"] is not None
