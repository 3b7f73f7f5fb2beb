"""`serve`: started as a person would, asked by the openai client, stopped with Ctrl+C."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


def serve_and_ask(env: dict[str, str], *options: str) -> dict:  # type: ignore[type-arg]
    done = subprocess.run([sys.executable, "tests/fixtures/serve_and_ask.py", *options], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    result: dict = json.loads(done.stdout.splitlines()[-1])  # type: ignore[type-arg]
    assert result["returncode"] == 0, result["stderr"][-3000:]
    assert "Stopped." in result["stderr"]
    return result


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    values = dict(os.environ, QUANTDESK_DATA_DIR=str(tmp_path / "data"), QUANTDESK_CONFIG_DIR=str(tmp_path / "cfg"))
    values.pop("QUANTDESK_API_KEY", None)
    return values


def test_serve_prints_the_kept_key_and_answers(env: dict[str, str], tmp_path: Path) -> None:
    result = serve_and_ask(env, "--threads", "1")
    kept = (tmp_path / "data" / "api-key.txt").read_text().strip()
    printed = result["printed"]
    assert f"API key: {kept}  (kept in {tmp_path / 'data' / 'api-key.txt'})" in printed
    assert "Model: SmolLM2-135M-Instruct.Q4_1" in printed and "http://127.0.0.1:" in printed
    assert f"Authorization: Bearer {kept}" in printed  # the curl example, ready to paste
    assert result["models"] == ["SmolLM2-135M-Instruct.Q4_1"]
    assert "Paris" in result["reply"]


def test_a_key_from_the_environment_is_used_and_not_echoed(env: dict[str, str], tmp_path: Path) -> None:
    env["QUANTDESK_API_KEY"] = "qd-from-the-environment"
    result = serve_and_ask(env, "--threads", "1")
    assert "API key: the one from $QUANTDESK_API_KEY" in result["printed"]
    assert "qd-from-the-environment" not in result["printed"]
    assert "Bearer $QUANTDESK_API_KEY" in result["printed"]  # the curl example works as pasted in that shell
    assert "Paris" in result["reply"]
    assert not (tmp_path / "data" / "api-key.txt").exists()  # nothing made that was not needed


def test_a_missing_model_is_a_plain_error(env: dict[str, str], tmp_path: Path) -> None:
    done = subprocess.run([sys.executable, "main.py", "serve", str(tmp_path / "nothing.gguf")], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    assert "There is no model file at" in done.stderr
