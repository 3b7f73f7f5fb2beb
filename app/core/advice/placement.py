"""Where a model file runs on this computer: how many of its layers to give the GPU when loading it.

The same estimate and headroom rules as the recommendation (recommend.file_option), applied to the file
being loaded, so the chat loads a model whole on the GPU when it fits, partly when only some layers fit,
and on the processor otherwise — instead of leaving a GPU idle or running out of VRAM. A person can
override the choice ("gpu", "cpu" or a number of layers); the plan then says what the estimate thinks of
it. Every plan carries a line in plain words saying where and why, and the memory estimate for that
placement, shown beside the live readouts so estimate and reality can be compared. With several GPUs, or other
machines' devices (llama.cpp's RPC backend), the plan splits the model across them (advice/split.py) and says
where each part goes.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from app.core.advice.estimate import MemoryEstimate, estimate_file, repacked_types
from app.core.advice.recommend import QuantOption, budget_for, file_option
from app.core.advice.split import describe_plan, shares_for
from app.core.errors import QuantDeskError
from app.core.machine.hardware import HardwareReport, read_hardware
from app.core.models.facts import ModelFacts, read_gguf_facts
from app.core.units import format_bytes

log = logging.getLogger(__name__)

PLACEMENT_CHOICES = ("auto", "gpu", "cpu")  # or a number of layers, as text


@dataclass(frozen=True)
class LoadPlan:
    n_gpu_layers: int  # what to pass to llama.cpp: 0 = processor only, -1 = all
    placement: str  # "gpu", "partial", "cpu" or "none" (does not fit: llama.cpp will say so when loading)
    reason: str  # one sentence in plain words: where, and why
    estimate: MemoryEstimate | None = None  # for this placement; None when the file could not be read
    choice: str = "auto"  # what was asked for
    n_layers: int = 0  # the model's repeating layers (0: unknown)
    # split across several devices: each one's share of the layers (llama.cpp's tensor_split, other machines'
    # devices first) and the other machines used ("host:port"); () when llama.cpp needs no device named
    tensor_split: tuple[float, ...] = ()
    rpc_servers: tuple[str, ...] = ()
    where: str = ""  # where each part goes, in words ("layers 0–39 on GPU 0, 40–79 on GPU 1")


def _gpu_name(hardware: HardwareReport) -> str:
    return budget_for(hardware).gpu_name or "graphics card"


def _needs(estimate: MemoryEstimate, devices: str = "graphics memory") -> str:
    if estimate.gpu.total:
        gpu, ram = format_bytes(estimate.gpu.total), format_bytes(estimate.cpu.total)
        return f"about {gpu} of {devices} and {ram} of RAM"
    return f"about {format_bytes(estimate.cpu.total)} of RAM"


def plan_load(path: Path, n_ctx: int, hardware: HardwareReport | None = None, choice: str = "auto") -> LoadPlan:
    """Read the file's header and this computer's memory; never raises for an unreadable file."""
    hardware = hardware if hardware is not None else read_hardware()
    try:
        facts: ModelFacts | None = read_gguf_facts(path)
    except QuantDeskError as error:  # llama.cpp gives the real reason when it tries to load the file
        log.info("no placement estimate for %s: %s", path, error.message)
        facts = None
    repack = repacked_types(hardware.cpu.features)

    def plan(layers: int, placement: str, reason: str) -> LoadPlan:
        estimate = estimate_file(facts, n_ctx, layers, repack=repack) if facts is not None else None
        if estimate is not None:
            reason = f"{reason} Needs {_needs(estimate)}."
        return LoadPlan(layers, placement, reason, estimate, choice, facts.n_layers if facts else 0)

    gpu_usable = (hardware.backend is not None and hardware.backend.has_gpu
                  and any(g.usable_by_llama for g in hardware.gpus)) or bool(hardware.remote_devices)
    if choice == "cpu":
        return plan(0, "cpu", "Runs on the processor, as you chose.")
    if not gpu_usable:
        why = ("llama.cpp here runs on the processor only." if hardware.backend is None
               or not hardware.backend.has_gpu else "No graphics card llama.cpp can use was found.")
        if choice not in ("auto", ""):
            why = "you chose the graphics card, but " + why[0].lower() + why[1:]
        return plan(0, "cpu", "Runs on the processor: " + why)
    if facts is None:
        if choice == "gpu":
            return LoadPlan(-1, "gpu", "Runs on the graphics card, as you chose (the file could not be read "
                            "ahead, so there is no estimate).", None, choice)
        return LoadPlan(0, "cpu", "Runs on the processor: the file could not be read ahead to plan more.",
                        None, choice)
    option = file_option(facts, hardware, n_ctx)
    if choice in ("auto", "") and (hardware.remote_devices or budget_for(hardware).split):
        return _plan_split(facts, option, hardware, choice)
    gpu = _gpu_name(hardware)
    if choice == "gpu":
        fits = option.placement == "gpu"
        warning = "" if fits else " The estimate says it does not fit there: loading may fail, or run slowly."
        return plan(facts.n_layers + 1, "gpu", f"Whole model on the {gpu}, as you chose.{warning}")
    if choice not in ("auto", ""):
        try:
            layers = max(0, min(int(choice), facts.n_layers + 1))
        except ValueError:
            layers = option.n_gpu_layers
        return plan(layers, "partial" if 0 < layers <= facts.n_layers else "gpu" if layers else "cpu",
                    f"{layers} of its {facts.n_layers + 1} layers on the {gpu}, as you chose.")
    if option.placement == "gpu":
        return plan(option.n_gpu_layers, "gpu", f"Runs entirely on the {gpu}: it fits.")
    if option.placement == "partial":
        return plan(option.n_gpu_layers, "partial",
                    f"{option.n_gpu_layers} of its {facts.n_layers + 1} layers run on the {gpu}, the rest on the "
                    "processor: the whole model does not fit in its memory.")
    return plan(0, option.placement, f"Runs on the processor: it does not fit on the {gpu}.")


def _plan_split(facts: ModelFacts, option: QuantOption, hardware: HardwareReport, choice: str) -> LoadPlan:
    """Several devices (GPUs here, other machines' devices): the split the estimate planned, in words."""
    budget = budget_for(hardware)
    servers = tuple(dict.fromkeys(d.endpoint for d in hardware.remote_devices))
    if option.placement == "cpu":  # too big for the devices even in part, small enough for this computer's RAM
        return LoadPlan(0, "cpu", "Runs on the processor: it does not fit on the devices.", option.memory, choice,
                        facts.n_layers)
    layers = option.n_gpu_layers if option.placement in ("gpu", "partial") else -1  # "none": llama.cpp says why
    where = describe_plan(facts.n_layers, layers, budget.devices, budget.gpu_name)
    if servers:
        machines = "machine" if len(servers) == 1 else "machines"
        reason = f"Split with {len(servers)} other {machines}: {where}."
    else:
        reason = f"Split across the GPUs: {where}."
    # another machine's device may be its processor: its memory is not "graphics memory"
    devices = "memory on the devices" if servers else "graphics memory"
    return LoadPlan(layers, option.placement, f"{reason} Needs {_needs(option.memory, devices)}.", option.memory,
                    choice, facts.n_layers, shares_for(budget.devices), servers, where)
