"""`python main.py download` as a person or script runs it: a child process, HF_ENDPOINT/HF_HOME/HF_TOKEN in
its environment, the fake Hub on 127.0.0.1 — including a kill half-way and a restart that fetches the rest."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_fixtures import GRANTED_TOKEN, subprocess_env

ROOT = Path(__file__).resolve().parents[2]
PAYLOAD = os.urandom(4 * 1024 * 1024 + 77)


def _run(env: dict[str, str], *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", "download", *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_json_output_and_files_in_the_cache(fake_hub: FakeHub, tmp_path: Path) -> None:
    env = subprocess_env(fake_hub, tmp_path / "hf")
    done = _run(env, "tester/tiny-GGUF", "--include", "*.gguf", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert result["repo_id"] == "tester/tiny-GGUF"
    (f,) = result["files"]
    assert f["path"] == "tiny-Q8_0.gguf" and f["resumed_from"] == 0
    local = Path(f["local_path"])
    assert local.is_relative_to(tmp_path / "hf" / "hub")
    assert hashlib.sha256(local.read_bytes()).hexdigest() == f["sha256"]


def test_unknown_repo_is_a_plain_error(fake_hub: FakeHub, tmp_path: Path) -> None:
    env = subprocess_env(fake_hub, tmp_path / "hf")
    done = _run(env, "nobody/nothing", "--json")
    assert done.returncode == 1
    error = json.loads(done.stdout)["error"]
    assert error["type"] == "RepoNotFoundError" and "nobody/nothing" in error["message"]
    text = _run(env, "nobody/nothing")
    assert text.returncode == 1 and text.stderr.startswith("Error: No model called nobody/nothing")
    assert "Traceback" not in text.stderr
    bad = _run(env, "../etc", "--json")  # refused by the client's own name check, before any request
    assert bad.returncode == 1 and json.loads(bad.stdout)["error"]["type"] == "RepoNotFoundError"


def test_hf_token_from_the_environment_opens_a_gated_repo(fake_hub: FakeHub, tmp_path: Path) -> None:
    env = subprocess_env(fake_hub, tmp_path / "hf")
    refused = _run(env, "gated-org/gated-GGUF", "--json")
    assert json.loads(refused.stdout)["error"]["type"] == "GatedModelError"
    env["HF_TOKEN"] = GRANTED_TOKEN
    done = _run(env, "gated-org/gated-GGUF", "--include", "*.gguf")
    assert done.returncode == 0, done.stderr
    assert GRANTED_TOKEN not in done.stdout + done.stderr
    assert "Downloaded 1 file(s) of gated-org/gated-GGUF" in done.stdout


def test_killed_download_resumes_with_only_the_remaining_bytes(fake_hub: FakeHub, tmp_path: Path) -> None:
    fake_hub.add_repo(FakeRepo("tester/slow", [FakeFile("model-Q4_K_M.gguf", PAYLOAD, lfs=True)]))
    fake_hub.throttle_bytes_per_second = 2 * 1024 * 1024
    hf_home = tmp_path / "hf"
    env = subprocess_env(fake_hub, hf_home)
    child = subprocess.Popen([sys.executable, "main.py", "download", "tester/slow", "--json"], cwd=ROOT,
                             env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        partial: list[Path] = []
        while time.monotonic() < deadline:
            partial = list((hf_home / "hub").rglob("*.incomplete")) if (hf_home / "hub").exists() else []
            if partial and partial[0].stat().st_size > 1024 * 1024:
                break
            time.sleep(0.05)
        child.kill()  # no clean-up chance: as if the app were killed or the power went
    finally:
        child.communicate(timeout=10)
    assert partial, "the download never started"
    kept = partial[0].stat().st_size
    assert 1024 * 1024 < kept < len(PAYLOAD)
    assert not list((hf_home / "hub").rglob("model-Q4_K_M.gguf"))  # nothing under the real name

    fake_hub.throttle_bytes_per_second = None
    done = _run(env, "tester/slow", "--json")
    assert done.returncode == 0, done.stderr
    (f,) = json.loads(done.stdout)["files"]
    assert f["resumed_from"] == kept and f["transferred_bytes"] == len(PAYLOAD) - kept
    last = fake_hub.downloads_of("model-Q4_K_M.gguf")[-1]
    assert last.request.range == f"bytes={kept}-" and last.status == 206
    assert last.bytes_sent == len(PAYLOAD) - kept  # the server sent only the rest
    assert Path(f["local_path"]).read_bytes() == PAYLOAD
    assert not list((hf_home / "hub").rglob("*.incomplete"))
