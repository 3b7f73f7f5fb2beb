"""The CLI as a person or a script runs it: `python main.py ...` in a fresh process."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[2]


def run_cli(*args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_chat_json_has_reply_and_speed() -> None:
    result = run_cli("chat", "starter", "--prompt", "What is the capital of Germany? Answer in one word.",
                     "--temperature", "0", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert "Berlin" in data["reply"]
    assert data["tokens_per_second"] > 0
    assert data["stop_reason"] == "end_of_text"
    assert data["model"].endswith("SmolLM2-135M-Instruct.Q4_1.gguf")


def test_chat_seed_repeats_and_max_tokens_limits() -> None:
    args = ("chat", "starter", "--prompt", "Write a poem about rain.", "--seed", "42", "--max-tokens", "12",
            "--json")
    a, b = json.loads(run_cli(*args).stdout), json.loads(run_cli(*args).stdout)
    assert a["reply"] == b["reply"]
    assert a["generated_tokens"] == 12 and a["stop_reason"] == "max_tokens"


def test_chat_with_a_missing_model_is_a_plain_error(tmp_path: Path) -> None:
    result = run_cli("chat", str(tmp_path / "gone.gguf"), "--prompt", "hi", "--json")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert "gone.gguf" in error["message"]
    assert "Traceback" not in result.stdout + result.stderr


def test_doctor_json_shows_the_starter_answering() -> None:
    result = run_cli("doctor", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["healthy"] is True
    assert "Paris" in data["starter"]["answer"]
    assert data["hardware"]["cpu"]["logical_cores"] >= 1
    assert data["hardware"]["memory"]["total_bytes"] > 0
    assert data["hardware"]["backend"]["version"] == "0.3.36"
    assert isinstance(data["hardware"]["gpus"], list)


def test_doctor_text_report() -> None:
    result = run_cli("doctor")
    assert result.returncode == 0
    assert "Starter model: answered" in result.stdout and "All good." in result.stdout


def test_chat_with_a_tiny_context_and_a_long_prompt_never_aborts() -> None:
    # the case: --ctx 64 with a 200-token prompt aborted the engine in GGML_ASSERT(n_tokens_all <= n_batch)
    prompt = " ".join(["word"] * 200)
    result = run_cli("chat", "starter", "--ctx", "64", "--prompt", prompt, "--max-tokens", "8", "--json")
    assert result.returncode == 0, result.stdout + result.stderr
    data = json.loads(result.stdout)
    assert data["n_ctx"] == 256 and data["prompt_tokens"] > 200  # llama.cpp pads a context to 256
    assert "GGML_ASSERT" not in result.stderr
    too_long = run_cli("chat", "starter", "--ctx", "64", "--prompt", prompt + " " + prompt, "--json")
    assert too_long.returncode == 1
    assert "Shorten the message" in json.loads(too_long.stdout)["error"]["message"]


def test_chat_presets_formats_and_the_end_token() -> None:
    result = run_cli("chat", "starter", "--prompt", "What is the capital of France? Answer in one word.",
                     "--preset", "precise", "--temperature", "0", "--json")
    data = json.loads(result.stdout)
    assert data["reply"] == "The capital of France is Paris."
    assert data["end_token"] == "<|im_end|>" and data["chat_format"] == "template" and data["preset"] == "precise"
    text = json.loads(run_cli("chat", "starter", "--prompt", "Once upon a time", "--format", "text",
                              "--temperature", "0", "--max-tokens", "12", "--json").stdout)
    assert text["chat_format"] == "text" and text["prompt_tokens"] <= 5  # the words alone, no template around them


def test_ctrl_c_stops_a_reply_without_a_traceback_and_leaves_no_engine() -> None:
    """Ctrl+C while the reply streams: the reply so far stays on screen, the command says it stopped and exits
    with 130 (as a shell expects of an interrupt), no traceback, and the engine process goes with it."""
    proc = subprocess.Popen([sys.executable, "main.py", "chat", "starter", "--max-tokens", "3000",
                             "--prompt", "Write a very long story about a lighthouse keeper."],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        assert proc.stdout is not None
        first = proc.stdout.read(20)  # the reply has started: the model is loaded and generating
        engines = psutil.Process(proc.pid).children(recursive=True)
        assert engines, "the engine process runs the model"
        proc.send_signal(signal.SIGINT)
        rest, err = proc.communicate(timeout=60)
    finally:
        proc.kill()
    assert proc.returncode == 130, err[-2000:]
    assert "Stopped." in err and "Traceback" not in err
    assert first.strip() and "Stopped." not in rest  # the reply so far was written; the notice goes to stderr
    _gone, alive = psutil.wait_procs(engines, timeout=10)
    assert not alive
