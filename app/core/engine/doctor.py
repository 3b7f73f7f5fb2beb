"""The doctor report: the machine, the llama.cpp build, and the starter model answering one line.

It is what a person pastes when asking for help, so it says everything needed and nothing private
(no file contents, no tokens; paths only of the model files QuantDesk uses).
"""

from __future__ import annotations

import platform
import sys
from dataclasses import asdict, dataclass
from typing import Any

from app import __version__
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.errors import QuantDeskError
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.library import starter_model_path

DOCTOR_QUESTION = "What is the capital of France? Answer in one word."


@dataclass(frozen=True)
class StarterCheck:
    path: str | None
    loaded: bool
    question: str
    answer: str | None
    tokens_per_second: float | None
    load_seconds: float | None
    error: str | None
    error_detail: str | None


@dataclass(frozen=True)
class DoctorReport:
    quantdesk_version: str
    python: str
    hardware: HardwareReport
    starter: StarterCheck | None

    @property
    def healthy(self) -> bool:
        return self.hardware.backend is not None and (self.starter is None or self.starter.answer is not None)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["healthy"] = self.healthy
        return data


def check_starter(max_tokens: int = 24) -> StarterCheck:
    """Load the starter model in an engine process and ask it one question (greedy)."""
    client = EngineClient()
    path: str | None = None
    try:
        path = str(starter_model_path())
        loaded = client.load_model(LoadModel(path, n_ctx=512))
        done = client.complete([ChatMessage("user", DOCTOR_QUESTION)], max_tokens, GREEDY)
        return StarterCheck(path, True, DOCTOR_QUESTION, done.text.strip(),
                            round(done.stats.tokens_per_second, 2), round(loaded.load_seconds, 3), None, None)
    except QuantDeskError as error:
        return StarterCheck(path, client.loaded is not None, DOCTOR_QUESTION, None, None, None,
                            error.message, error.detail)
    finally:
        client.close()


def run_doctor(with_model: bool = True) -> DoctorReport:
    return DoctorReport(
        quantdesk_version=__version__,
        python=f"{platform.python_implementation()} {sys.version.split()[0]}",
        hardware=read_hardware(),
        starter=check_starter() if with_model else None,
    )
