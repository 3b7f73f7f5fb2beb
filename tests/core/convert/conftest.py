"""Fixtures for the converter tests: the starter model rebuilt as a Hugging Face folder (once per session)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from app.core.convert.converter import ConversionResult, convert_model
from app.core.engine.client import EngineClient
from app.core.models.library import starter_model_path
from tests.fixtures.starter_hf import build_starter_hf_folder


@dataclass(frozen=True)
class StarterRoundTrip:
    folder: Path  # the rebuilt Hugging Face folder
    expected: dict[str, np.ndarray]  # the starter's tensors, dequantized
    result: ConversionResult  # the folder converted back to GGUF (F32)


@pytest.fixture(scope="session")
def starter_round_trip(tmp_path_factory: pytest.TempPathFactory) -> StarterRoundTrip:
    base = tmp_path_factory.mktemp("starter-hf")
    expected = build_starter_hf_folder(starter_model_path(), base / "SmolLM2-135M-Instruct")
    result = convert_model(base / "SmolLM2-135M-Instruct", base / "starter-roundtrip.gguf", "f32")
    return StarterRoundTrip(base / "SmolLM2-135M-Instruct", expected, result)


@pytest.fixture(scope="module")
def engine() -> Iterator[EngineClient]:
    """One engine process for a module's worth of model loads."""
    client = EngineClient()
    client.start()
    yield client
    client.close()


@pytest.fixture(scope="session", autouse=True)
def _resource_tracker_running() -> None:
    """child_job's Queue starts multiprocessing's resource tracker on first use; it then lives for the whole
    session. Start it up front so the leftover-process check doesn't count it against the first test."""
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()
