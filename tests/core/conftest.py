"""Shared model files for the quantization tests: the starter expanded to F16 once per session."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.library import starter_model_path


@pytest.fixture(scope="session")
def starter_f16(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The starter model (Q4_1) expanded to F16 with gguf-py: the input every ladder test starts from."""
    from app.core.quantize import expand_to_f16

    folder = tmp_path_factory.mktemp("f16")
    return expand_to_f16(starter_model_path(), folder / "SmolLM2-135M-Instruct-F16.gguf")


@pytest.fixture(scope="session")
def estimate_ladder(starter_f16: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The starter's F16 and two real quantizations of it (Q4_K_M, Q2_K), made by llama.cpp once per session."""
    from app.core.quantize import quantize_file

    folder = tmp_path_factory.mktemp("ladder")
    ladder = {"F16": starter_f16}
    for name in ("Q4_K_M", "Q2_K"):
        ladder[name] = quantize_file(starter_f16, folder / f"starter-{name}.gguf", name, threads=2).path
    return ladder
