"""The way the UI runs a conversion: in a child process, progress streamed back, errors keeping their type."""

from __future__ import annotations

import json
from pathlib import Path

import gguf
import pytest

from app.core.convert.converter import ConversionResult, convert_model
from app.core.errors import UnsupportedArchitectureError
from app.core.process.runner import run_in_child
from tests.fixtures.tiny_hf import build_tiny_folder


def test_conversion_runs_in_a_child_process_with_progress(tmp_path: Path) -> None:
    folder = build_tiny_folder("qwen3", tmp_path / "qwen3")
    out = tmp_path / "qwen3.gguf"
    seen: list[tuple[int, int]] = []
    result = run_in_child(
        convert_model,
        args=(str(folder), str(out), "q8_0"),
        on_progress=lambda d, t: seen.append((d, t)),
        outputs=[out],
    )
    assert isinstance(result, ConversionResult)
    assert result.path == out and out.is_file()
    assert seen and seen[-1][0] == seen[-1][1] > 0
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "qwen3"


def test_an_error_in_the_child_keeps_its_type_and_detail(tmp_path: Path) -> None:
    folder = tmp_path / "rwkv"
    folder.mkdir()
    (folder / "config.json").write_text(json.dumps({"architectures": ["RwkvForCausalLM"]}))
    with pytest.raises(UnsupportedArchitectureError) as caught:
        run_in_child(convert_model, args=(str(folder), str(tmp_path / "out.gguf")))
    assert "Rwkv" in caught.value.message
    assert "RwkvForCausalLM" in caught.value.detail
