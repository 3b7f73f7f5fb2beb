"""Offline means offline: with the setting on, no command and no page tries the network at all; with it off,
the Hub (HF_ENDPOINT) is the only place contacted.

Everything runs as a person runs it: `python main.py ...` (and the window) in child processes, a fresh config
folder, HF_ENDPOINT pointing at the fake Hub. Their sockets are guarded (tests/fixtures/socket_guard.py):
every attempt to connect or to look a name up, in the process or in any child it spawns (the engine, job
steps), is logged and, offline, refused. A leak would show twice: in the guard's log, and in the fake Hub's
own request log (which also sees what native code would send). The guard's own test comes first, so the
others cannot pass because the guard was never there; each of them also checks that the guard was armed in
every process it meant to watch.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from app.core.settings import set_setting
from tests.fixtures.fake_hub import FakeHub
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_fixtures import subprocess_env
from tests.fixtures.socket_guard import ROOT, GuardLog, guarded_env, read_guard_log
from tests.fixtures.tiny_hf import build_tiny_folder

pytestmark = pytest.mark.slow

GGUF_REPO = "tester/tiny-GGUF"  # in the fake_hub fixture
PAGES = ["Get started", "Chat", "Your computer", "Which quant?", "Compare", "Find models", "Convert", "Jobs",
         "Settings", "How it works", "Log"]
FRANCE = "What is the capital of France? Answer in one word."


def _environment(hub: FakeHub, tmp_path: Path, log: Path, mode: str) -> dict[str, str]:
    """A person's environment: our config, data and Hub cache folders, HF_ENDPOINT at the fake Hub, and no
    HF_HUB_DISABLE_TELEMETRY (the test session sets it; the app must set it itself)."""
    env = subprocess_env(hub, tmp_path / "hf", QUANTDESK_CONFIG_DIR=str(tmp_path / "config"),
                         QUANTDESK_DATA_DIR=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "xdg"),
                         PYTHONFAULTHANDLER="1")  # a crash in native code shows every thread's Python stack
    env.pop("HF_HUB_DISABLE_TELEMETRY", None)
    return guarded_env(env, log, mode)


def _run(env: dict[str, str], *args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          timeout=timeout)


def _no_network(guard: GuardLog, hub: FakeHub) -> None:
    assert guard.attempts == [], f"network attempts: {guard.attempts}"
    assert [r.request for r in hub.requests] == [], "the fake Hub was contacted"


def _wait_gone(pids: set[int], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while any(psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE for p in pids):
        assert time.monotonic() < deadline, f"processes {pids} still running"
        time.sleep(0.05)


# ---- the guard itself ----------------------------------------------------------------------------------

_PROBE = """
import json, sys
from app.core.process.runner import run_in_child
from tests.fixtures.socket_guard import try_the_network
port, look_up = int(sys.argv[1]), sys.argv[2] == "refuse"
print(json.dumps({"here": try_the_network(port, look_up), "child": run_in_child(try_the_network, (port, look_up))}))
"""


@pytest.mark.parametrize("mode", ["refuse", "record"])
def test_the_guard_is_live_in_the_process_and_its_spawned_children(tmp_path: Path, mode: str) -> None:
    """A real listening socket on 127.0.0.1: unguarded, a connection would reach it. Refused, it must not; a
    child started the way the engine and the job steps are (run_in_child, "spawn") is guarded the same;
    the socketpair and the Pipe to the child (AF_UNIX) keep working."""
    log = tmp_path / "guard.log"
    with socket.create_server(("127.0.0.1", 0), backlog=8) as server:
        port = server.getsockname()[1]
        done = _run(guarded_env(dict(os.environ), log, mode), "-c", _PROBE, str(port), mode, timeout=60)
        assert done.returncode == 0, done.stderr
        server.settimeout(0.3)
        reached = 0
        while True:
            try:
                server.accept()[0].close()
                reached += 1
            except TimeoutError:
                break
    outcome = json.loads(done.stdout)
    guard = read_guard_log(log)
    probe = guard.process("-c", str(port))
    (child,) = guard.spawned_children(probe)
    assert {probe["mode"], child["mode"]} == {mode}
    assert {outcome["here"]["pid"], outcome["child"]["pid"]} == {probe["pid"], child["pid"]}
    for where in ("here", "child"):
        assert outcome[where]["socketpair"] == "ok"
        if mode == "refuse":
            assert outcome[where]["tcp"].startswith("ConnectionRefusedError: [Errno 111] socket guard")
            assert outcome[where]["dns"].startswith("ConnectionRefusedError")
        else:
            assert outcome[where]["tcp"] == "connected"
    assert reached == (0 if mode == "refuse" else 2)
    expected = {("connect", str(["127.0.0.1", port]))}
    if mode == "refuse":
        expected.add(("getaddrinfo", "quantdesk-guard-test.invalid"))
    for pid in (probe["pid"], child["pid"]):  # each process logged its own attempts
        assert {(a["call"], str(a["address"])) for a in guard.attempts if a["pid"] == pid} == expected
    assert all(a["refused"] == (mode == "refuse") for a in guard.attempts)


# ---- offline: nothing at all ---------------------------------------------------------------------------


@pytest.fixture
def offline(fake_hub: FakeHub) -> FakeHub:
    """Offline mode switched on in a fresh config folder (fake_hub points QUANTDESK_CONFIG_DIR at this test's
    own), written the way the app writes it."""
    set_setting("offline", True)
    return fake_hub


def test_every_command_makes_no_connection_offline(offline: FakeHub, tmp_path: Path) -> None:
    hf_folder = build_tiny_folder("llama3", tmp_path / "tiny-llama3")
    f16, q8 = tmp_path / "tiny-F16.gguf", tmp_path / "tiny-Q8_0.gguf"
    commands: list[tuple[str, ...]] = [
        ("doctor", "--json"),
        ("hardware", "--json"),
        ("recommend", "starter", "--json"),
        ("recommend", GGUF_REPO, "--json"),
        ("chat", "starter", "--prompt", FRANCE, "--temperature", "0", "--max-tokens", "12", "--json"),
        ("download", GGUF_REPO, "--json"),
        ("convert", str(hf_folder), str(f16), "--json"),
        ("quantize", str(f16), "Q8_0", "-o", str(q8), "--threads", "2", "--json"),
    ]
    spawning = {"doctor", "chat", "quantize"}  # the engine, a job step: children that must be guarded too
    for i, command in enumerate(commands):
        log = tmp_path / f"guard-{i}.log"
        done = _run(_environment(offline, tmp_path, log, "refuse"), "main.py", *command)
        guard = read_guard_log(log)
        process = guard.process("main.py", *command[:2])
        assert process["mode"] == "refuse"
        assert process["hf_hub_offline"] is None  # a person's environment: the app sets it itself
        if command[0] in spawning:
            children = guard.spawned_children(process)
            assert children, f"{command[0]} started no guarded child"
            assert {c["hf_hub_offline"] for c in children} == {"1"}  # offline applied before they started
        _no_network(guard, offline)
        if command[:2] in (("recommend", GGUF_REPO), ("download", GGUF_REPO)):
            assert done.returncode == 1, done.stderr
            error = json.loads(done.stdout)["error"]
            assert error["type"] == "OfflineModeError", error
            assert error["message"].startswith("Offline mode is on, so QuantDesk did not connect")
            assert "Traceback" not in done.stdout + done.stderr
            continue
        assert done.returncode == 0, f"{command}: exit code {done.returncode}: {done.stderr}"
        out = json.loads(done.stdout)
        if command[0] == "doctor":
            assert out["healthy"] is True and "Paris" in out["starter"]["answer"]
        elif command[0] == "chat":
            assert "Paris" in out["reply"]
        elif command[0] == "recommend":
            assert out["recommended"]
    assert json.loads(done.stdout)["outputs"][0]["path"] == str(q8) and q8.is_file()


def test_the_window_opens_every_page_with_no_connection_offline(offline: FakeHub, tmp_path: Path) -> None:
    """Every page in the navigation, shown in turn with its timers and background work running; the starter
    model loaded in its engine process as at every start; Find models a little longer (it is the page that
    could reach the Hub). A Hub repo is asked for where a person can type one (Which quant?, the search)."""
    log = tmp_path / "guard.log"
    done = _run(_environment(offline, tmp_path, log, "refuse"), "tests/fixtures/open_every_page.py", "1", "3",
                GGUF_REPO)
    assert done.returncode == 0, f"exit code {done.returncode}: {done.stderr}"
    shown = json.loads(done.stdout.strip().splitlines()[-1])
    assert shown.pop("which_quant_said").startswith("Offline mode is on, so QuantDesk did not connect")
    assert shown == {"pages": PAGES, "offline": True, "model_loaded": True}
    guard = read_guard_log(log)
    window = guard.process("tests/fixtures/open_every_page.py")
    assert guard.spawned_children(window), "the engine process was not guarded"
    _wait_gone(guard.pids)  # closing the window stopped its engine
    _no_network(guard, offline)


def test_python_main_py_opens_the_window_with_no_connection_offline(offline: FakeHub, tmp_path: Path) -> None:
    """The real entry point with no arguments: the window opens and loads the starter in its engine; a few
    seconds later it is ended (SIGTERM: the engine follows its parent)."""
    log = tmp_path / "guard.log"
    app = subprocess.Popen([sys.executable, "main.py"], cwd=ROOT, env=_environment(offline, tmp_path, log, "refuse"),
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while not read_guard_log(log).spawned_children({"pid": app.pid}):
            assert app.poll() is None, app.communicate()[1]
            assert time.monotonic() < deadline, "the window never started its engine"
            time.sleep(0.1)
        time.sleep(3)
        assert app.poll() is None, app.communicate()[1]
    finally:
        app.send_signal(signal.SIGTERM)
        app.communicate(timeout=30)
    guard = read_guard_log(log)
    _wait_gone(guard.pids)
    assert guard.process("main.py")["pid"] == app.pid
    _no_network(guard, offline)


# ---- online: the Hub and nothing else ------------------------------------------------------------------


def test_online_the_hub_is_the_only_place_contacted(fake_hub: FakeHub, tmp_path: Path) -> None:
    """Offline mode off (no settings file): recommend and download a Hub repo. Every connection goes to
    HF_ENDPOINT, huggingface_hub's own calls included; none of them is the client's telemetry (the agent
    registry it fetches unless HF_HUB_DISABLE_TELEMETRY is set), which the app keeps off."""
    host, port = fake_hub.url.removeprefix("http://").split(":")
    for i, command in enumerate([("recommend", GGUF_REPO, "--json"),
                                  ("download", GGUF_REPO, "--include", "*.gguf", "--json")]):
        log = tmp_path / f"guard-{i}.log"
        done = _run(_environment(fake_hub, tmp_path, log, "record"), "main.py", *command)
        assert done.returncode == 0, done.stderr
        guard = read_guard_log(log)
        assert guard.process("main.py", *command[:2])["mode"] == "record"
        assert guard.attempts, f"{command[0]}: no connection at all was logged"
        places = {(a["call"], tuple(a["address"]) if isinstance(a["address"], list) else a["address"])
                  for a in guard.attempts}
        assert places == {("connect", (host, int(port)))}, places
    paths = [r.request.path for r in fake_hub.requests]
    assert any(p.startswith(f"/api/models/{GGUF_REPO}") for p in paths)
    assert any("/resolve/" in p for p in paths)
    assert not [p for p in paths if p.startswith("/api/agent-harnesses")]
