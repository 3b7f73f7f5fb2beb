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
