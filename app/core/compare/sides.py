"""The sides of a comparison: what each one is called, and whether they can run at the same time.

Every side is a model file in its own engine process. They stream side by side when the memory estimate
(the same one "Which quant?" uses) says all of them fit together; otherwise they answer one after the other,
one model in memory at a time, and the page says so. Side by side on the processor, the cores are shared
out between the engines: two llama.cpp thread pools that each take every core would spin against each other.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from app.core.advice.estimate import estimate_file, repacked_types
from app.core.advice.recommend import budget_for
from app.core.machine.hardware import HardwareReport
from app.core.models.facts import ModelFacts, read_gguf_facts
from app.core.quantize.quantizer import model_stem
from app.core.units import format_bytes

DEFAULT_CTX = 4096


@dataclass(frozen=True)
class SideSpec:
    path: str
    label: str  # the quant level ("Q4_K_M"), or the file's name when sides are of different models
    model_name: str
    file_bytes: int


def describe_sides(paths: Sequence[Path]) -> tuple[SideSpec, ...]:
    """Labels people can tell apart: the quant levels when the files are one model's, else file names."""
    facts = [read_gguf_facts(p) for p in paths]
    types = [f.file_type or "" for f in facts]
    one_model = len({(f.architecture, f.name, f.n_layers, f.n_embd, f.vocab_size) for f in facts}) == 1
    by_type = one_model and all(types) and len(set(types)) == len(types)
    return tuple(SideSpec(str(p), t if by_type else Path(p).stem, model_stem(Path(p)), Path(p).stat().st_size)
                 for p, t in zip(paths, types, strict=True))


@dataclass(frozen=True)
class RunPlan:
    parallel: bool
    n_ctx: int
    threads_per_side: int | None  # None: the engine's own choice (one per physical core)
    n_gpu_layers: int  # for every side when parallel (-1: all); when one after the other, each file's own plan
    need_bytes: int  # all sides together
    budget_bytes: int
    reason: str  # one sentence for the page


def _cpu_need(facts: ModelFacts, n_ctx: int, repack: frozenset[str]) -> int:
    return estimate_file(facts, n_ctx, 0, repack=repack).total


def plan_run(paths: Sequence[Path], hardware: HardwareReport, n_ctx: int = DEFAULT_CTX) -> RunPlan:
    """Side by side when every side fits in memory at once (on the GPU when there is one), else in turn."""
    facts = [read_gguf_facts(p) for p in paths]
    ctx = min([n_ctx, *(f.context_length for f in facts)])
    budget = budget_for(hardware)
    repack = repacked_types(hardware.cpu.features)
    cores = max(1, hardware.cpu.physical_cores)
    if budget.gpu is not None:
        estimates = [estimate_file(f, ctx, -1, repack=repack) for f in facts]
        gpu_need = sum(e.gpu.total for e in estimates)
        cpu_need = sum(e.cpu.total for e in estimates)
        if gpu_need <= budget.gpu and cpu_need <= budget.ram:
            return RunPlan(True, ctx, None, -1, gpu_need, budget.gpu,
                           f"All {len(paths)} fit on your {budget.gpu_name or 'GPU'} together "
                           f"({format_bytes(gpu_need)} of {format_bytes(budget.gpu)}): they answer side by side.")
        return RunPlan(False, ctx, None, 0, gpu_need, budget.gpu,
                       f"Together they need {format_bytes(gpu_need)} on your {budget.gpu_name or 'GPU'}, which "
                       f"has {format_bytes(max(budget.gpu, 0))} to give, so they answer one after the other.")
    need = sum(_cpu_need(f, ctx, repack) for f in facts)
    if need <= budget.ram:
        threads = max(1, cores // len(paths))
        return RunPlan(True, ctx, threads, 0, need, budget.ram,
                       f"All {len(paths)} fit in memory together ({format_bytes(need)} of "
                       f"{format_bytes(budget.ram)}): they answer side by side, sharing the processor's {cores} "
                       f"cores ({threads} each).")
    return RunPlan(False, ctx, None, 0, need, budget.ram,
                   f"Together they need {format_bytes(need)} and this computer has {format_bytes(max(budget.ram, 0))} "
                   "to give, so they answer one after the other, one model in memory at a time.")


def blind_order(n: int, rng: random.Random | None = None) -> tuple[int, ...]:
    """A shuffled order of the sides for blind mode (position → side)."""
    order = list(range(n))
    (rng or random.SystemRandom()).shuffle(order)
    return tuple(order)


def side_letter(position: int) -> str:
    return chr(ord("A") + position)
