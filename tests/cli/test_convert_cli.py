"""`python main.py convert HF_FOLDER OUT.gguf [--outtype ...] [--json]`."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest

from app.__main__ import main
from tests.fixtures.tiny_hf import build_tiny_folder


def test_convert_prints_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build_tiny_folder("gemma3", tmp_path / "gemma3")
    out = tmp_path / "gemma3.gguf"
    assert main(["convert", str(folder), str(out), "--outtype", "q8_0", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["path"] == str(out)
    assert report["architecture"] == "gemma3"
    assert report["hf_architecture"] == "Gemma3ForCausalLM"
    assert report["outtype"] == "q8_0"
    assert report["size_bytes"] == out.stat().st_size
    assert report["tensors"] == len(gguf.GGUFReader(out).tensors)


def test_convert_plain_text_and_progress(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = build_tiny_folder("phi3", tmp_path / "phi3")
    assert main(["convert", str(folder), str(tmp_path / "phi3.gguf")]) == 0
    captured = capsys.readouterr()
    assert captured.out.startswith("Wrote ") and "phi3, F16" in captured.out
    assert "Converting… 100 %" in captured.err


def test_convert_bad_folder_is_a_plain_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "empty").mkdir()
    assert main(["convert", str(tmp_path / "empty"), str(tmp_path / "x.gguf"), "--json"]) == 1
    error = json.loads(capsys.readouterr().out)["error"]
    assert error["type"] == "InvalidModelFolderError"
    assert "config.json" in error["message"]
    assert "Traceback" not in error["detail"]
