"""Which quant level to use on this computer, where it runs, and why, in one sentence.

Headroom rules (explicit, tested in tests/core/test_recommend.py):
- RAM: a model may use the RAM available now minus max(1 GB, 10 % of total RAM), kept for the system and
  the other programs a person has open.
- GPU: a model may use the free VRAM minus max(512 MB, 5 % of the card), kept for the display, the driver
  and fragmentation; on unified memory (Apple), Metal's working-set limit minus the same, and the whole model
  (GPU and CPU parts) must also fit the RAM rule.
- Never recommend a level that does not fit. Placement preference: whole on the GPU, then partly on the GPU
  (as many layers as fit), then the CPU.

Choice rules:
- F16 is never recommended: Q8_0 is within 0.003 perplexity of it (Llama-3-8B) at half the memory.
- Levels of Q4_K_M quality or better are preferred; lower ones only when none of those fits. Once a model's
  levels are measured here (app/core/evaluate), "Q4_K_M quality" is read from the measurements: the preferred
  levels are those whose measured mean KL divergence is within Q4_K_M's on Llama-3-8B (ACCEPTABLE_KLD), so a
  small model that loses more at Q4_K_M is steered to a larger level, and a model that loses less may go lower.
- Among the preferred levels, the best placement wins; within it, the best quality that still generates at
  a comfortable reading speed (COMFORTABLE_TPS, estimated), else the fastest.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.core.advice.estimate import MemoryEstimate, estimate_file, estimate_tensors, repacked_types
from app.core.advice.measured_speed import MeasuredSpeed, measured_floors, measured_speed
from app.core.advice.quant_mix import predict_tensors
from app.core.advice.speed import Floors, token_work, tokens_per_second
from app.core.advice.split import (
    PlanDevice,
    describe_plan,
    device_spare,
    gpu_budget,
    plan_devices,
    splitting,
)
from app.core.machine.bandwidth import cpu_bandwidth, gpu_bandwidth
from app.core.machine.hardware import HardwareReport
from app.core.models.facts import ModelFacts, TensorFacts
from app.core.quants import BY_NAME, OFFERED, QUALITY_SOURCE, QualityLoss
from app.core.units import format_bytes

GIB = 1024**3
RAM_RESERVE_MIN = 1 * GIB
RAM_RESERVE_SHARE = 0.10
COMFORTABLE_TPS = 8.0  # tokens/s: about reading speed; below it a reply feels slow
PREFERRED_FLOOR = "Q4_K_M"  # the lowest level recommended while a better one fits
_FLOOR_QUALITY = BY_NAME[PREFERRED_FLOOR].quality
#: The most a measured level may move the predictions and still count as "Q4_K_M quality": Q4_K_M's own mean
#: KL divergence on Llama-3-8B (llama.cpp's scoreboard).
ACCEPTABLE_KLD = _FLOOR_QUALITY.mean_kld if _FLOOR_QUALITY and _FLOOR_QUALITY.mean_kld else 0.0313
DEFAULT_CTX = 4096

PLACEMENT_RANK = {"gpu": 0, "partial": 1, "cpu": 2, "none": 3}


@dataclass(frozen=True)
class Budget:
    """What the model may use on this machine, after the headroom rules."""

    ram: int
    gpu: int | None  # None: no GPU llama.cpp can use
    gpu_name: str = ""
    unified: bool = False
    gpu_bandwidth: float = 0.0  # bytes/s, an estimate
    cpu_bandwidth: float = 0.0
    floors: Floors = field(default_factory=Floors)  # per-layer time per token (advice/speed.py)
    devices: tuple[PlanDevice, ...] = ()  # two or more: the model is split across them (split.py)

    @property
    def split(self) -> bool:
        return len(self.devices) > 1


def ram_budget(available: int, total: int) -> int:
    return available - max(RAM_RESERVE_MIN, int(total * RAM_RESERVE_SHARE))


def budget_for(hardware: HardwareReport) -> Budget:
    usable = [g for g in hardware.gpus if g.usable_by_llama]
    ram = ram_budget(hardware.memory.available_bytes, hardware.memory.total_bytes)
    cpu_bw = cpu_bandwidth(hardware.cpu.physical_cores)
    devices = plan_devices(hardware)
    if len(devices) > 1 or (devices and not usable):  # split across all (llama.cpp's layer split), or remote
        gpu_bw = min((gpu_bandwidth(g.name) for g in usable), default=gpu_bandwidth(""))
        name = devices[0].label if len(devices) == 1 else \
            f"{len(devices)} devices" if any(d.remote for d in devices) else f"{len(devices)} GPUs"
        return Budget(ram, sum(d.budget for d in devices), name, False, gpu_bw, cpu_bw,
                      measured_floors(gpu_bw, cpu_bw), devices)
    if not usable:
        return Budget(ram, None, cpu_bandwidth=cpu_bw, floors=measured_floors(0.0, cpu_bw))
    gpu = max(usable, key=lambda g: g.usable_bytes)
    gpu_bw = gpu_bandwidth(gpu.name)
    return Budget(ram, gpu_budget(gpu), gpu.name, gpu.unified_memory, gpu_bw, cpu_bw, measured_floors(gpu_bw, cpu_bw))


@dataclass(frozen=True)
class QuantOption:
    type: str
    file_bytes: int
    memory: MemoryEstimate
    placement: str  # "gpu", "partial", "cpu" or "none"
    n_gpu_layers: int
    tokens_per_second: float | None  # estimated (advice/speed.py); None when it does not fit
    quality: QualityLoss | None
    spare_bytes: int  # what is left of the budget on the device that limits it (negative: missing)
    measured: MeasuredSpeed | None = None  # this very file's speed, once it has run on this computer

    def to_json(self) -> dict[str, Any]:
        quality = None
        if self.quality is not None:
            quality = {
                "delta_perplexity": self.quality.delta_perplexity,
                "mean_kld": self.quality.mean_kld,
                "same_top_token": self.quality.same_top_token,
                "source": self.quality.source,
            }
        return {
            "type": self.type,
            "file_bytes": self.file_bytes,
            "memory": self.memory.to_json(),
            "placement": self.placement,
            "n_gpu_layers": self.n_gpu_layers,
            "tokens_per_second_estimate": None
            if self.tokens_per_second is None
            else round(self.tokens_per_second, 1),
            "spare_bytes": self.spare_bytes,
            "quality": quality,
            "tokens_per_second_measured": None if self.measured is None else self.measured.tokens_per_second,
        }


@dataclass(frozen=True)
class Recommendation:
    model: str
    n_ctx: int
    options: tuple[QuantOption, ...]
    recommended: str | None
    sentence: str
    budget: Budget
    this_file: QuantOption | None = None
    measured: bool = False  # some levels' quality was measured on this model here

    def option(self, type_name: str) -> QuantOption:
        return next(o for o in self.options if o.type == type_name)

    def to_json(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "n_ctx": self.n_ctx,
            "options": [o.to_json() for o in self.options],
            "recommended": self.recommended,
            "why": self.sentence,
            "this_file": self.this_file.to_json() if self.this_file else None,
            "budget": {"ram": self.budget.ram, "gpu": self.budget.gpu, "gpu_name": self.budget.gpu_name,
                       "devices": [{"label": d.label, "name": d.name, "budget": d.budget}
                                   for d in self.budget.devices]},
            "quality_source": "measured here where a level's quality.source says so; others "
                              + QUALITY_SOURCE if self.measured else QUALITY_SOURCE,
            "speed_note": "tokens/s are estimates from memory bandwidth and a per-layer floor, or measured here",
        }


def _tokens_per_second(
    facts: ModelFacts, tensors: tuple[TensorFacts, ...], est: MemoryEstimate, budget: Budget
) -> float:
    """advice/speed.py's estimate for this placement; the KV cache counted at half the context (the average
    over a conversation that fills it)."""
    work = token_work(facts, tensors, est.n_gpu_layers, est.gpu.kv_cache // 2, est.cpu.kv_cache // 2)
    return tokens_per_second(work, budget.gpu_bandwidth if budget.gpu is not None else 0.0, budget.cpu_bandwidth,
                             budget.floors)


def place(
    facts: ModelFacts, tensors: tuple[TensorFacts, ...], make: Callable[[int], MemoryEstimate], budget: Budget
) -> tuple[str, MemoryEstimate, int]:
    """(placement, its estimate, spare bytes on the limiting device) under the headroom rules."""

    def fits(est: MemoryEstimate) -> bool:
        ram_need = est.total if budget.unified else est.cpu.total
        return ram_need <= budget.ram and (budget.gpu is None or device_spare(est, budget.devices, budget.gpu) >= 0)

    if budget.gpu is not None:
        full = make(-1)
        if fits(full):
            return "gpu", full, device_spare(full, budget.devices, budget.gpu)
        # VRAM need grows with every layer given to the GPU, so the most layers whose VRAM fits are found by
        # bisection: a header that claims thousands of layers costs a dozen estimates, not thousands. RAM need
        # shrinks as layers move to the GPU, so if that many do not fit the RAM, fewer do not either.
        low, high = 0, facts.n_layers  # the answer lies in [low, high]; 0 means none
        found: dict[int, MemoryEstimate] = {}
        while low < high:
            mid = (low + high + 1) // 2
            found[mid] = make(mid)
            if device_spare(found[mid], budget.devices, budget.gpu) >= 0:
                low = mid
            else:
                high = mid - 1
        if low > 0 and fits(found[low]):
            return "partial", found[low], device_spare(found[low], budget.devices, budget.gpu)
    cpu = make(0)
    if cpu.cpu.total <= budget.ram:
        return "cpu", cpu, budget.ram - cpu.cpu.total
    return "none", cpu, budget.ram - cpu.cpu.total


def _option(
    facts: ModelFacts,
    type_name: str,
    tensors: tuple[TensorFacts, ...],
    make: Callable[[int], MemoryEstimate],
    budget: Budget,
    quality: QualityLoss | None,
) -> QuantOption:
    placement, est, spare = place(facts, tensors, splitting(facts, tensors, budget.devices, make), budget)
    tps = _tokens_per_second(facts, tensors, est, budget) if placement != "none" else None
    return QuantOption(type_name, est.file_bytes, est, placement, est.n_gpu_layers, tps, quality, spare)


def file_option(facts: ModelFacts, hardware: HardwareReport, n_ctx: int,
                measured: Mapping[str, QualityLoss] | None = None) -> QuantOption:
    """A GGUF file as it is (its own tensor types): its memory need and placement on this computer."""
    repack = repacked_types(hardware.cpu.features)
    level = BY_NAME.get(facts.file_type or "")
    quality = (measured or {}).get(facts.file_type or "") or (level.quality if level else None)

    def make(layers: int) -> MemoryEstimate:
        return estimate_file(facts, n_ctx, layers, repack=repack)

    option = _option(facts, facts.file_type or "file", facts.tensors, make, budget_for(hardware), quality)
    if facts.kind == "gguf" and facts.file_bytes:  # a file on disk: it may have run here already
        option = replace(option, measured=measured_speed(Path(facts.source).name, facts.file_bytes))
    return option


def build_options(facts: ModelFacts, hardware: HardwareReport, n_ctx: int,
                  measured: Mapping[str, QualityLoss] | None = None) -> tuple[QuantOption, ...]:
    budget = budget_for(hardware)
    repack = repacked_types(hardware.cpu.features)
    meta = facts.file_bytes - facts.weights_bytes if facts.file_bytes is not None else None
    options = []
    for level in OFFERED:
        tensors = predict_tensors(facts, level)

        def make(
            layers: int, tensors: tuple[TensorFacts, ...] = tensors, name: str = level.name
        ) -> MemoryEstimate:
            return estimate_tensors(facts, tensors, name, n_ctx, layers, metadata_bytes=meta, repack=repack)

        quality = (measured or {}).get(level.name) or level.quality
        options.append(_option(facts, level.name, tensors, make, budget, quality))
    return tuple(options)


def acceptable_levels(measured: Mapping[str, QualityLoss] | None) -> set[str]:
    """The levels of "Q4_K_M quality or better": by the published order, or by this model's measurements.

    A measured level counts when its mean KL divergence is within ACCEPTABLE_KLD. A level not measured counts
    when no better level failed the measurement, and it is either within the published floor or above a
    level that passed."""
    order = [level.name for level in OFFERED]
    floor = order.index(PREFERRED_FLOOR)
    known = {t: q.mean_kld for t, q in (measured or {}).items() if t in order and q.mean_kld is not None}
    if not known:
        return set(order[: floor + 1])
    passing = [order.index(t) for t, kld in known.items() if kld <= ACCEPTABLE_KLD]
    failing = [order.index(t) for t, kld in known.items() if kld > ACCEPTABLE_KLD]
    first_failure = min(failing, default=len(order))
    lowest_pass = max(passing, default=-1)
    measured_ok = {t for t, kld in known.items() if kld <= ACCEPTABLE_KLD}
    unmeasured_ok = {name for i, name in enumerate(order)
                     if name not in known and i < first_failure and (i <= floor or i < lowest_pass)}
    return measured_ok | unmeasured_ok


def choose(options: tuple[QuantOption, ...], measured: Mapping[str, QualityLoss] | None = None) -> QuantOption | None:
    """The recommended option under the module's choice rules; None when nothing fits."""
    fitting = [o for o in options if o.placement != "none"]
    if any(o.type == "Q8_0" for o in fitting):
        fitting = [o for o in fitting if o.type != "F16"]
    order = [level.name for level in OFFERED]
    acceptable = acceptable_levels(measured)
    preferred = [o for o in fitting if o.type in acceptable]
    pool = preferred or fitting
    if not pool:
        return None
    best_rank = min(PLACEMENT_RANK[o.placement] for o in pool)
    pool = sorted(
        (o for o in pool if PLACEMENT_RANK[o.placement] == best_rank),
        key=lambda o: order.index(o.type) if o.type in order else len(order),
    )
    comfortable = [o for o in pool if (o.tokens_per_second or 0) >= COMFORTABLE_TPS]
    if comfortable:
        return comfortable[0]
    return max(pool, key=lambda o: o.tokens_per_second or 0)


def _where(option: QuantOption, budget: Budget, n_layers: int) -> str:
    gpu = budget.gpu_name or "GPU"
    if budget.split and option.placement in ("gpu", "partial"):
        across = "fits across" if option.placement == "gpu" else "fits partly across"
        return (f"{across} your {gpu} ({describe_plan(n_layers, option.n_gpu_layers, budget.devices)}), "
                f"{format_bytes(option.spare_bytes)} to spare on the fullest")
    if option.placement == "gpu":
        return f"fits entirely in your {gpu} with {format_bytes(option.spare_bytes)} to spare"
    if option.placement == "partial":
        return (
            f"fits with {option.n_gpu_layers} of its {n_layers + 1} layers on your {gpu} "
            f"and the rest on the processor"
        )
    return (
        f"runs on your processor using {format_bytes(option.memory.total)} of memory, "
        f"{format_bytes(option.spare_bytes)} to spare"
    )


def explain(
    chosen: QuantOption | None, options: tuple[QuantOption, ...], budget: Budget, n_ctx: int, n_layers: int
) -> str:
    """One sentence: why this level, and why not the next better one."""
    if chosen is None:
        smallest = min(options, key=lambda o: o.memory.total)
        room = budget.gpu if budget.gpu is not None and budget.gpu > budget.ram else budget.ram
        return (
            f"Nothing fits: even {smallest.type} needs {format_bytes(smallest.memory.total)} with a "
            f"context of {n_ctx} tokens and this computer has about {format_bytes(max(room, 0))} to give; "
            f"try a smaller model or a shorter context."
        )
    speed = f" (about {chosen.tokens_per_second:.0f} tokens/s, estimated)" if chosen.tokens_per_second else ""
    sentence = f"{chosen.type} {_where(chosen, budget, n_layers)}{speed}"
    order = [o.type for o in options]
    better = [
        o for o in options[: order.index(chosen.type)] if not (o.type == "F16" and chosen.type == "Q8_0")
    ]
    if chosen.type == "Q8_0":
        return sentence + "; F16 would double the memory for no difference you could notice."
    if not better:
        return sentence + "."
    nxt = better[-1]
    if nxt.placement == "none":
        need = format_bytes(nxt.memory.total)
        why = f"would need {need}, more than you have with a context of {n_ctx} tokens"
    elif PLACEMENT_RANK[nxt.placement] > PLACEMENT_RANK[chosen.placement]:
        why = (
            f"would not fit entirely on the GPU with a context of {n_ctx} tokens, so it would run slower"
            if chosen.placement == "gpu"
            else "would have to run on the processor, much slower"
        )
        if nxt.placement == "partial" and chosen.placement == "partial":
            why = "would fit fewer layers on the GPU"
    elif nxt.tokens_per_second is not None and nxt.tokens_per_second < COMFORTABLE_TPS:
        why = f"would generate only about {nxt.tokens_per_second:.0f} tokens/s"
    else:
        why = "would fit fewer layers on the GPU" if nxt.placement == "partial" else "would be slower"
    return f"{sentence}; {nxt.type} {why}."


def recommend(facts: ModelFacts, hardware: HardwareReport, n_ctx: int | None = None,
              measured: Mapping[str, QualityLoss] | None = None) -> Recommendation:
    """Options for every level QuantDesk offers, the recommended one, and why; `this_file` for a GGUF.

    `measured`: this model's quality per level as measured here (evaluate.measured_ladder), used instead of
    the published Llama-3-8B figures for those levels and for what counts as good enough."""
    ctx = n_ctx or min(facts.context_length, DEFAULT_CTX)
    budget = budget_for(hardware)
    options = build_options(facts, hardware, ctx, measured)
    chosen = choose(options, measured)
    this_file = file_option(facts, hardware, ctx, measured) if facts.kind == "gguf" else None
    sentence = explain(chosen, options, budget, ctx, facts.n_layers)
    if measured and chosen is not None:
        sentence += measured_note(chosen, choose(options), measured)
    return Recommendation(facts.source, ctx, options, chosen.type if chosen else None, sentence, budget, this_file,
                          measured=bool(measured))


def measured_note(chosen: QuantOption, baseline: QuantOption | None, measured: Mapping[str, QualityLoss]) -> str:
    """What the measurements add: the chosen level's measured loss, and the level the published figures would
    have picked when the measurements changed the choice."""
    own = measured.get(chosen.type)
    note = ""
    if own is not None and own.mean_kld is not None:
        within = f", within Q4_K_M's {ACCEPTABLE_KLD:.3f} on Llama-3-8B" if own.mean_kld <= ACCEPTABLE_KLD else ""
        note = (f" Measured here, {chosen.type} changes this model's predictions by a KL divergence of "
                f"{own.mean_kld:.3f}{within}")
    if baseline is not None and baseline.type != chosen.type:
        other = measured.get(baseline.type)
        if other is not None and other.mean_kld is not None and other.mean_kld > ACCEPTABLE_KLD:
            why = f"changes them by {other.mean_kld:.3f} on this model, more than Q4_K_M does on Llama-3-8B"
        else:
            why = "would be the pick by the published Llama-3-8B figures"
        note += ("; " if note else " Measured here: ") + f"{baseline.type} {why}"
    return note + "." if note else ""
