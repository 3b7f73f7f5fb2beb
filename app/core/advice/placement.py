"""Where a model file runs on this computer: how many of its layers to give the GPU when loading it.

The same estimate and headroom rules as the recommendation (recommend.file_option), applied to the file
being loaded, so the chat loads a model whole on the GPU when it fits, partly when only some layers fit,
and on the processor otherwise — instead of leaving a GPU idle or running out of VRAM.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.advice.recommend import budget_for, file_option, where_layers
from app.core.advice.split import shares_for
from app.core.errors import QuantDeskError
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.facts import read_gguf_facts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LoadPlan:
    n_gpu_layers: int  # what to pass to llama.cpp: 0 = processor only
    placement: str  # "gpu", "partial", "cpu" or "none" (does not fit: llama.cpp will say so when loading)
    reason: str  # one sentence, for the log and the status line
    # split across several devices: each one's share of the layers (llama.cpp's tensor_split, RPC devices
    # first) and the other machines used ("host:port"); () when llama.cpp needs no device named
    tensor_split: tuple[float, ...] = ()
    rpc_servers: tuple[str, ...] = ()
    where: str = ""  # where each part goes, in words ("layers 0–39 on GPU 0, 40–79 on GPU 1")


def plan_load(path: Path, n_ctx: int, hardware: HardwareReport | None = None) -> LoadPlan:
    """Read the file's header and this computer's memory; never raises for an unreadable file."""
    hardware = hardware if hardware is not None else read_hardware()
    if hardware.remote_devices:
        return _plan_split(path, n_ctx, hardware)
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
    budget = budget_for(hardware)
    if budget.split and option.placement in ("gpu", "partial"):
        where = where_layers(option, budget, facts.n_layers)
        return LoadPlan(option.n_gpu_layers, option.placement, f"Split across the GPUs: {where}.",
                        shares_for(budget.devices), (), where)
    if option.placement == "gpu":
        return LoadPlan(option.n_gpu_layers, "gpu", "It fits entirely on the graphics card.")
    if option.placement == "partial":
        return LoadPlan(option.n_gpu_layers, "partial",
                        f"{option.n_gpu_layers} of its {facts.n_layers} layers fit on the graphics card.")
    return LoadPlan(0, option.placement, "It does not fit on the graphics card, so it runs on the processor.")


def _plan_split(path: Path, n_ctx: int, hardware: HardwareReport) -> LoadPlan:
    """With other machines added: plan over their devices and this computer's GPUs together."""
    budget = budget_for(hardware)
    servers = tuple(dict.fromkeys(d.endpoint for d in hardware.remote_devices))
    shares = shares_for(budget.devices)
    try:
        facts = read_gguf_facts(path)
    except QuantDeskError as error:
        log.info("no placement estimate for %s: %s", path, error.message)
        return LoadPlan(-1, "partial", "The file could not be read ahead; llama.cpp splits it by free memory.",
                        shares, servers, "")
    option = file_option(facts, hardware, n_ctx)
    if option.placement == "cpu":  # too big for the devices even in part, small enough for this computer's RAM
        return LoadPlan(0, "cpu", "It does not fit on the devices, so it runs on this computer's processor.")
    layers = option.n_gpu_layers if option.placement in ("gpu", "partial") else -1  # "none": llama.cpp says why
    where = where_layers(replace(option, n_gpu_layers=layers), budget, facts.n_layers)
    machines = "machine" if len(servers) == 1 else "machines"
    return LoadPlan(layers, option.placement, f"Split with {len(servers)} other {machines}: {where}.",
                    shares, servers, where)
