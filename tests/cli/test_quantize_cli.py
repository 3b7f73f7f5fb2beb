"""`python main.py quantize …`: the scripted face of the same core."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import gguf
import psutil
import pytest

from app.core.models.gguf_header import read_gguf_header
from tests.fixtures.files import partial_files

ROOT = Path(__file__).resolve().parents[2]


def quantdesk(*args: str, data_dir: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "QUANTDESK_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "main.py", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=300, env=env)


@pytest.mark.slow
def test_quantize_to_a_named_file_with_json(tiny_f16: Path, tmp_path: Path) -> None:
    out = tmp_path / "tiny-Q4_K_M.gguf"
    result = quantdesk("quantize", str(tiny_f16), "q4_k_m", "-o", str(out), "--threads", "2", "--json",
                       data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["input"] == str(tiny_f16)
    [made] = data["outputs"]
    assert made["path"] == str(out) and made["type"] == "Q4_K_M" and made["size_bytes"] == out.stat().st_size
    assert made["imatrix"] is None and made["expanded_from"] is None
    assert gguf.GGUFReader(out).fields["general.file_type"].contents() == 15


@pytest.mark.slow
def test_a_ladder_with_a_calibration_text_goes_to_the_models_folder(tiny_f16: Path, tmp_path: Path) -> None:
    calibration = ROOT / "resources" / "calibration" / "general-en.txt"
    result = quantdesk("quantize", str(tiny_f16), "Q8_0,IQ2_XS", "--calibration", str(calibration),
                       "--threads", "2", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    outputs = json.loads(result.stdout)["outputs"]
    assert [Path(o["path"]).name for o in outputs] == ["tiny-Q8_0.gguf", "tiny-IQ2_XS.gguf"]
    assert all(Path(o["path"]).parent == tmp_path / "data" / "models" for o in outputs)
    assert outputs[1]["imatrix"] and Path(outputs[1]["imatrix"]).is_file()
    metadata = read_gguf_header(Path(outputs[1]["path"])).fields  # provenance, as llama-quantize records it
    assert metadata["quantize.imatrix.dataset"] == "general-en.txt"
    assert metadata["quantize.imatrix.entries_count"] == 14


def test_an_already_quantized_input_needs_allow_requantize(tmp_path: Path) -> None:
    result = quantdesk("quantize", "starter", "Q4_0", "--json", data_dir=tmp_path / "data")
    assert result.returncode == 1
    error = json.loads(result.stdout)["error"]
    assert error["type"] == "AlreadyQuantizedError"
    assert "already Q4_1" in error["message"] and "--allow-requantize" in error["detail"]
    assert not (tmp_path / "data" / "models").exists() or not any((tmp_path / "data" / "models").iterdir())


def test_a_corrupt_input_and_an_unknown_type_get_plain_messages(tmp_path: Path) -> None:
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a model at all")
    result = quantdesk("quantize", str(bad), "Q8_0", data_dir=tmp_path / "data")
    assert result.returncode == 1
    assert "bad.gguf is not a GGUF model file" in result.stderr and "Traceback" not in result.stderr
    result = quantdesk("quantize", str(bad), "Q3_Z", data_dir=tmp_path / "data")
    assert result.returncode == 1 and "'Q3_Z' is not a quantization type" in result.stderr


@pytest.mark.slow
def test_a_killed_quantize_never_finishes_behind_the_users_back(starter_f16: Path, tmp_path: Path) -> None:
    """SIGKILL the CLI mid-quantization: its child process dies with it, nothing appears under the real name
    (not even later), the partial file is not a .gguf, and the next run clears it and finishes."""
    out = tmp_path / "out" / "k-Q6_K.gguf"
    out.parent.mkdir()
    env = {**os.environ, "QUANTDESK_DATA_DIR": str(tmp_path / "data")}
    cli = subprocess.Popen([sys.executable, "main.py", "quantize", str(starter_f16), "Q6_K", "-o", str(out),
                            "--threads", "1"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not partial_files(out):  # the child is writing: llama.cpp has opened its output
            assert time.monotonic() < deadline and cli.poll() is None, "the quantization never started"
            time.sleep(0.05)
        children = psutil.Process(cli.pid).children(recursive=True)
        assert children
        cli.send_signal(signal.SIGKILL)
        cli.wait(10)
        _gone, alive = psutil.wait_procs(children, timeout=5)
        assert not alive, "a child process outlived the CLI that started it"
    finally:
        cli.kill()
        cli.wait(10)
    time.sleep(3)  # the real name must not appear later either (it did, 25 s later, before the fix)
    [stale] = partial_files(out)
    assert not out.exists() and not stale.name.endswith(".gguf")

    result = quantdesk("quantize", str(starter_f16), "Q6_K", "-o", str(out), "--threads", "2",
                       data_dir=tmp_path / "data")
    assert result.returncode == 0, result.stderr
    assert out.is_file() and partial_files(out) == []  # the stale partial went when the next job started
