"""The API server uses no network beyond its listening socket, and offline mode leaves it on: `serve` and
the engine it starts run under the socket guard (tests/fixtures/socket_guard_site) with offline mode on;
the only connections logged are the client's, to the server on 127.0.0.1."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fixtures.socket_guard import ROOT, guarded_env, read_guard_log

pytestmark = pytest.mark.slow


def test_serve_connects_to_nothing_even_offline(tmp_path: Path) -> None:
    config = tmp_path / "config"
    config.mkdir()
    (config / "settings.json").write_text(json.dumps({"version": 1, "offline": True}))
    log = tmp_path / "sockets.jsonl"
    env = guarded_env(dict(os.environ, QUANTDESK_DATA_DIR=str(tmp_path / "data"), QUANTDESK_CONFIG_DIR=str(config)),
                      log, mode="record")
    done = subprocess.run([sys.executable, "tests/fixtures/serve_and_ask.py", "--api-key", "qd-guarded",
                           "--threads", "1"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.splitlines()[-1])
    assert result["returncode"] == 0 and "Paris" in result["reply"]
    guard = read_guard_log(log)
    assert result["serve_pid"] in guard.pids  # the guard was live in the server's process
    assert len(guard.pids) >= 3  # the helper, serve, and the engine serve started
    others = [a for a in guard.attempts if a["pid"] != result["helper_pid"]]
    assert others == [], f"the server or its engine used the network: {others}"
    assert guard.attempts, "the client's own connections should have been logged"
    assert all(a["address"][0] == "127.0.0.1" for a in guard.attempts), guard.attempts
