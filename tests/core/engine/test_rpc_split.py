"""A model split across machines through llama.cpp's RPC backend, on this one CPU machine: two rpc-server
children on 127.0.0.1 lend their CPUs, the plan splits the starter across both, and it answers as it does whole."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from app.core.advice.placement import plan_load
from app.core.engine.client import EngineClient
from app.core.engine.machines import read_remote_devices
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.engine.rpc_server import RpcServer, exposure_warning
from app.core.errors import RpcHostError
from app.core.machine.hardware import read_hardware
from app.core.machine.rpc_backend import Endpoint, parse_endpoint, parse_endpoints
from app.core.models.library import starter_model_path

ROOT = Path(__file__).resolve().parents[3]
QUESTION = "What is the capital of France? Answer in one word."


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def two_servers() -> Iterator[list[str]]:
    servers = [RpcServer(Endpoint("127.0.0.1", free_port()), threads=1) for _ in range(2)]
    try:
        for server in servers:
            ready = server.start()
            assert ready.devices and ready.devices[0].name == "CPU"
        yield [str(s.endpoint) for s in servers]
    finally:
        for server in servers:
            server.stop()


def test_addresses_are_read_in_plain_words() -> None:
    assert parse_endpoint("10.0.0.5") == Endpoint("10.0.0.5", 50052)
    assert parse_endpoints("a:1, b:2,a:1") == (Endpoint("a", 1), Endpoint("b", 2))
    assert str(parse_endpoint("[::1]:7000")) == "[::1]:7000"
    with pytest.raises(RpcHostError, match="not a port number"):
        parse_endpoint("host:99999")
    with pytest.raises(RpcHostError, match="host:port"):
        parse_endpoint("two words:1")
    assert exposure_warning("127.0.0.1") is None
    assert "neither encrypted nor authenticated" in (exposure_warning("0.0.0.0") or "")


def test_a_machine_that_does_not_answer_is_named(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    started = time.monotonic()
    with pytest.raises(RpcHostError, match=f"127.0.0.1:{port} did not answer"):
        read_remote_devices(f"127.0.0.1:{port}")
    assert time.monotonic() - started < 10


def test_starter_split_across_two_rpc_servers_answers_paris(two_servers: list[str]) -> None:
    remote = read_remote_devices(two_servers)
    assert [d.endpoint for d in remote] == two_servers and all(d.free_bytes > 0 for d in remote)
    hardware = replace(read_hardware(), remote_devices=remote)
    plan = plan_load(starter_model_path(), 2048, hardware)
    assert plan.rpc_servers == tuple(two_servers) and len(plan.tensor_split) == 2
    assert plan.placement == "gpu" and plan.n_gpu_layers == 31  # 30 blocks and the output layer, all remote
    # both machines hold part of it, in llama.cpp's order (RPC servers in the order named)
    assert plan.where.startswith("layers 0–") and f"on {two_servers[0]}" in plan.where
    assert plan.where.endswith(f"and the output layer on {two_servers[1]}")
    # these machines lend their processors: the reason speaks of their memory, not of graphics memory
    assert "Split with 2 other machines" in plan.reason and "of memory on the devices" in plan.reason
    assert "graphics" not in plan.reason
    client = EngineClient()
    try:
        loaded = client.load_model(LoadModel(str(starter_model_path()), n_ctx=2048, n_gpu_layers=plan.n_gpu_layers,
                                             rpc_servers=plan.rpc_servers, tensor_split=plan.tensor_split))
        assert loaded.info.devices == ("RPC0", "RPC1")
        done = client.complete([ChatMessage("user", QUESTION)], 32, GREEDY)
        assert "Paris" in done.text
        assert "RPC0" in client.log_tail(400) or "RPC" in client.log_tail(400)
    finally:
        client.close()


def test_rpc_server_command_serves_until_interrupted() -> None:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "main.py", "rpc-server", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        assert first.strip() == f"Serving at 127.0.0.1:{port}:"
        assert "CPU" in proc.stdout.readline()
        with socket.create_connection(("127.0.0.1", port), timeout=5):
            pass  # it listens
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=20) == 0
        with pytest.raises(OSError):  # and its server child went with it
            socket.create_connection(("127.0.0.1", port), timeout=2).close()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_the_server_never_outlives_the_command() -> None:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "main.py", "rpc-server", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdout is not None and proc.stdout.readline().startswith("Serving at")
    proc.kill()  # no chance to tidy up: the server child must notice its parent is gone by itself
    proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.2)
    pytest.fail("the RPC server kept serving after its command was killed")


def test_a_machine_gone_silent_ends_a_stalled_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine that vanishes without closing its connections leaves llama.cpp waiting on TCP; the client checks
    the machines after a quiet spell and ends the engine when one no longer answers. The stall is made here by
    stopping the engine process (SIGSTOP), the lost machine by naming a port nothing listens on."""
    from app.core.engine import client as client_module
    from app.core.errors import EngineCrashedError

    monkeypatch.setattr(client_module, "RPC_QUIET_SECONDS", 1.0)
    client = EngineClient()
    try:
        client.load_model(LoadModel(str(starter_model_path()), n_ctx=512))
        gone = f"127.0.0.1:{free_port()}"
        client.rpc_servers = (gone,)
        os.kill(client.pid or 0, signal.SIGSTOP)
        started = time.monotonic()
        with pytest.raises(EngineCrashedError, match=f"machine at {gone}"):
            client.complete([ChatMessage("user", QUESTION)], 16, GREEDY)
        assert time.monotonic() - started < 15 and not client.is_running
    finally:
        client.close()


def test_chat_command_splits_across_named_machines(two_servers: list[str]) -> None:
    done = subprocess.run([sys.executable, "main.py", "chat", "starter", "--rpc", ",".join(two_servers), "--prompt",
                           QUESTION, "--temperature", "0", "--max-tokens", "24", "--json"], cwd=ROOT,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    reply = json.loads(done.stdout)
    assert "Paris" in reply["reply"] and reply["devices"] == ["RPC0", "RPC1"]
    assert reply["rpc_servers"] == two_servers and len(reply["tensor_split"]) == 2
    assert reply["where"].endswith(f"and the output layer on {two_servers[1]}")
