"""Where a model file runs on this computer: how many of its layers to give the GPU when loading it.

The same estimate and headroom rules as the recommendation (recommend.file_option), applied to the file
being loaded, so the chat loads a model whole on the GPU when it fits, partly when only some layers fit,
and on the processor otherwise — instead of leaving a GPU idle or running out of VRAM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.advice.recommend import file_option
from app.core.errors import QuantDeskError
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.facts import read_gguf_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadPlan:
    n_gpu_layers: int  # what to pass to llama.cpp: 0 = processor only
    placement: str  # "gpu", "partial", "cpu" or "none" (does not fit: llama.cpp will say so when loading)
    reason: str  # one sentence, for the log and the status line


def plan_load(path: Path, n_ctx: int, hardware: HardwareReport | None = None) -> LoadPlan:
    """Read the file's header and this computer's memory; never raises for an unreadable file."""
    hardware = hardware if hardware is not None else read_hardware()
    if hardware.backend is None or not hardware.backend.has_gpu:
        return LoadPlan(0, "cpu", "llama.cpp here runs on the processor only.")
    if not any(g.usable_by_llama for g in hardware.gpus):
        return LoadPlan(0, "cpu", "No graphics card llama.cpp can use was found.")
    try:
        facts = read_gguf_facts(path)
    except QuantDeskError as error:  # llama.cpp gives the real reason when it tries to load the file
        log.info("no placement estimate for %s: %s", path, error.message)
        return LoadPlan(0, "cpu", "The file could not be read ahead, so it loads on the processor.")
    option = file_option(facts, hardware, n_ctx)
    if option.placement == "gpu":
        return LoadPlan(option.n_gpu_layers, "gpu", "It fits entirely on the graphics card.")
    if option.placement == "partial":
        return LoadPlan(option.n_gpu_layers, "partial",
                        f"{option.n_gpu_layers} of its {facts.n_layers} layers fit on the graphics card.")
    return LoadPlan(0, option.placement, "It does not fit on the graphics card, so it runs on the processor.")
