"""A model split across several devices: this computer's GPUs and other machines' devices (llama.cpp's RPC
backend). llama.cpp does the splitting (its layer split); this module predicts it, layer by layer, so the
estimate can say what each device holds and the window can say it in words ("layers 0–39 on GPU 0, 40–79 on
GPU 1").

llama.cpp's rule (llama-model.cpp, load_tensors): the devices' shares (tensor_split; by default their free
memory) become cumulative split points in [0, 1]; with n_gpu_layers offloaded, layer il (the output layer
counts as layer n_layer) goes to the first device whose split point lies above (il - i_gpu_start) / n_offloaded,
all in single-precision floats; layers before i_gpu_start stay on the CPU. The devices come RPC servers first,
then the local GPUs. QuantDesk passes the shares itself (each device's budget: its free memory under the
headroom rules), so the split it plans is the one that loads.
"""

from __future__ import annotations

import struct
from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from app.core.advice.estimate import (
    CUDA_CONTEXT_BYTES,
    F16,
    F32,
    FLOAT_MATMUL_BYTES,
    FLOAT_TYPES,
    DeviceMemory,
    MemoryEstimate,
    attention_kinds,
    gpu_compute_bytes,
    kv_cache_bytes,
    pad,
)
from app.core.context_settings import ContextSettings, context_settings
from app.core.machine.hardware import GpuInfo, HardwareReport
from app.core.models.facts import ModelFacts, TensorFacts

MIB = 1024**2
# The GPU headroom rule (recommend.py's docstring states every rule): max(512 MB, 5 % of the card) kept free.
GPU_RESERVE_MIN = 512 * MIB
GPU_RESERVE_SHARE = 0.05

# With every layer offloaded to two or more devices, llama.cpp runs them as a pipeline (llama-context.cpp:
# "pipeline parallelism enabled"): its scheduler keeps GGML_SCHED_MAX_COPIES = 4 copies of each device's graph
# inputs, so that one micro-batch can be copied in while the last computes. Each device's compute buffer grows
# by 4 copies of the residual stream (n_ubatch × n_embd floats) and 3 more of each F16 attention mask: read off
# the logged buffers of the starter on one and on two devices (+10.5 MiB at 2k cells, +16.5 at 4k).
PIPELINE_COPIES = 4


def pipeline_bytes(facts: ModelFacts, cells: int, n_ubatch: int) -> int:
    """What pipeline parallelism adds to each device's compute buffer."""
    stream = PIPELINE_COPIES * n_ubatch * facts.n_embd * F32
    return stream + (PIPELINE_COPIES - 1) * attention_kinds(facts) * cells * n_ubatch * F16


@dataclass(frozen=True)
class PlanDevice:
    """One device a model may be split onto, with what it may take under the headroom rules."""

    label: str  # what a person calls it: "GPU 0", "192.168.1.20:50052"
    name: str  # "NVIDIA H200", or the machine's address for a remote device
    budget: int  # bytes the model may use there
    free_bytes: int
    endpoint: str = ""  # "host:port" for a device on another machine (RPC); "" for this computer's GPUs

    @property
    def remote(self) -> bool:
        return bool(self.endpoint)


def gpu_budget(gpu: GpuInfo) -> int:
    return gpu.usable_bytes - max(GPU_RESERVE_MIN, int(gpu.planned_total_bytes * GPU_RESERVE_SHARE))


def remote_budget(free: int, total: int) -> int:
    """A device on another machine: its free memory under the same rule as a local GPU."""
    return free - max(GPU_RESERVE_MIN, int(total * GPU_RESERVE_SHARE))


def plan_devices(hardware: HardwareReport) -> tuple[PlanDevice, ...]:
    """Every device a model may be split onto, in llama.cpp's order: other machines' first, then this
    computer's GPUs (a GPU sharing the RAM, Apple's, only alone)."""
    remote = tuple(PlanDevice(d.endpoint if d.index == 0 else f"{d.endpoint} #{d.index}", d.endpoint,
                              remote_budget(d.free_bytes, d.total_bytes), d.free_bytes, d.endpoint)
                   for d in hardware.remote_devices)
    local = tuple(PlanDevice(f"GPU {g.index}", g.name, gpu_budget(g), g.usable_bytes)
                  for g in hardware.gpus if g.usable_by_llama and not g.unified_memory)
    return remote + local


def splitting(facts: ModelFacts, tensors: tuple[TensorFacts, ...], devices: Sequence[PlanDevice],
              make: Callable[[int], MemoryEstimate]) -> Callable[[int], MemoryEstimate]:
    """`make` (an estimate by GPU layers) with its GPU part divided among `devices` (unchanged for fewer than 2)."""
    if len(devices) < 2:
        return make
    shares = shares_for(devices)

    def make_split(layers: int) -> MemoryEstimate:
        one = make(layers)
        settings = context_settings(one.n_ctx, n_threads=1, output_on_gpu=one.n_gpu_layers > 0)
        return split_devices(facts, tensors, one, shares, settings)

    return make_split


def device_spare(estimate: MemoryEstimate, devices: Sequence[PlanDevice], gpu_budget: int | None) -> int:
    """What is left on the device with least room (negative: missing): of each device's budget when the
    estimate is split across `devices`, else of the one GPU's `gpu_budget`."""
    if estimate.devices and len(estimate.devices) == len(devices):
        return min(d.budget - m.total for d, m in zip(devices, estimate.devices, strict=True))
    assert gpu_budget is not None
    return gpu_budget - estimate.gpu.total


def shares_for(devices: Sequence[PlanDevice]) -> tuple[float, ...]:
    """tensor_split: each device's share in proportion to what it may use (its free memory, less headroom), as
    fractions to 4 places (what is passed to llama.cpp, and so what the prediction uses too)."""
    room = [max(d.budget, 0) for d in devices]
    total = sum(room)
    if total <= 0:
        return tuple(round(1 / len(room), 4) for _ in room) if room else ()
    return tuple(round(r / total, 4) for r in room)


def _f32(x: float) -> float:
    """x rounded to float32. A sum or quotient of two float32 values, worked out in double and then rounded
    once, is exactly float32 arithmetic (double carries more than twice float32's digits), so this reproduces
    llama.cpp's float32 split points without numpy (which would cost the window's start-up 0.1 s)."""
    return float(struct.unpack("f", struct.pack("f", x))[0])


def layer_devices(n_layers: int, n_gpu_layers: int, shares: Sequence[float]) -> tuple[int | None, ...]:
    """For each layer 0..n_layers (the last is the output layer): the index of the device llama.cpp puts it on,
    or None for the CPU. Follows llama.cpp's float32 arithmetic, so borderline layers land where it puts them."""
    n_gpu_layers = n_layers + 1 if n_gpu_layers < 0 else n_gpu_layers
    if not shares or sum(shares) <= 0:
        return (None,) * (n_layers + 1)
    sums: list[float] = []
    for share in shares:
        sums.append(_f32((sums[-1] if sums else 0.0) + _f32(share)))
    points = [_f32(x / sums[-1]) for x in sums]
    start = max(n_layers + 1 - n_gpu_layers, 0)
    offloaded = min(n_gpu_layers, n_layers + 1)
    placed: list[int | None] = []
    for il in range(n_layers + 1):
        if il < start or il - start >= offloaded:
            placed.append(None)
            continue
        where = _f32(_f32(il - start) / _f32(offloaded))
        placed.append(min(bisect_right(points, where), len(shares) - 1))
    return tuple(placed)


def _device_weights(facts: ModelFacts, tensors: tuple[TensorFacts, ...], placed: tuple[int | None, ...],
                    n_devices: int) -> tuple[list[int], list[bool]]:
    weights, floats = [0] * n_devices, [False] * n_devices
    output = placed[facts.n_layers]
    for t in tensors:
        device = placed[t.layer] if t.layer is not None else (output if t.name != "token_embd.weight" else None)
        if device is None:
            continue
        weights[device] += t.n_bytes
        floats[device] = floats[device] or (t.ggml_type in FLOAT_TYPES and len(t.shape) >= 2)
    if output is not None and not facts.has_output_tensor:  # a tied embedding is copied as the output layer
        weights[output] += next((t.n_bytes for t in tensors if t.name == "token_embd.weight"), 0)
    return weights, floats


def split_devices(facts: ModelFacts, tensors: tuple[TensorFacts, ...], estimate: MemoryEstimate,
                  shares: Sequence[float], settings: ContextSettings) -> MemoryEstimate:
    """`estimate` (the whole model at its n_gpu_layers, as on one GPU) with its GPU part divided among the
    devices by `shares`: each holds its layers' weights and KV cache, and reserves its own compute buffer and
    its own CUDA context (a device on another machine: in that machine's rpc-server process)."""
    placed = layer_devices(facts.n_layers, estimate.n_gpu_layers, shares)
    weights, floats = _device_weights(facts, tensors, placed, len(shares))
    cells = pad(estimate.n_ctx)
    pipeline = None not in placed and len(set(placed)) > 1  # every layer offloaded, to several devices
    devices = []
    for index in range(len(shares)):
        layers = [il for il in range(facts.n_layers) if placed[il] == index]
        kv = kv_cache_bytes(facts, estimate.n_ctx, range(layers[0], layers[-1] + 1), settings.swa_full,
                            settings.effective_ubatch, settings.kv_bytes_per_value) if layers else 0
        used = bool(layers) or placed[facts.n_layers] == index
        compute = gpu_compute_bytes(facts, cells, settings.effective_ubatch, settings.flash_attn) if used else 0
        compute += FLOAT_MATMUL_BYTES if floats[index] else 0
        compute += pipeline_bytes(facts, cells, settings.effective_ubatch) if used and pipeline else 0
        devices.append(DeviceMemory(weights[index], kv, compute, CUDA_CONTEXT_BYTES if used else 0))
    gpu = DeviceMemory(sum(d.weights for d in devices), sum(d.kv_cache for d in devices),
                       sum(d.compute for d in devices), sum(d.overhead for d in devices))
    return replace(estimate, gpu=gpu, devices=tuple(devices))


def describe_layers(n_layers: int, placed: Sequence[int | None], labels: Sequence[str]) -> str:
    """Where each part goes, in words: "layers 0–15 on the processor, 16–31 and the output layer on GPU 0"."""
    runs: list[tuple[int | None, int, int]] = []  # (device, first layer, last layer)
    for il, device in enumerate(placed[:n_layers]):
        if runs and runs[-1][0] == device:
            runs[-1] = (device, runs[-1][1], il)
        else:
            runs.append((device, il, il))
    output = placed[n_layers] if len(placed) > n_layers else None
    parts = []
    for i, (device, first, last) in enumerate(runs):
        where = "the processor" if device is None else labels[device]
        span = f"{first}–{last}" if first != last else f"{first}"
        noun = ("layers " if first != last else "layer ") if i == 0 else ""
        extra = " and the output layer" if device == output and i == len(runs) - 1 else ""
        parts.append(f"{noun}{span}{extra} on {where}")
    if runs and output != runs[-1][0]:
        parts.append(f"the output layer on {'the processor' if output is None else labels[output]}")
    return ", ".join(parts)


def describe_plan(n_layers: int, n_gpu_layers: int, devices: Sequence[PlanDevice], gpu_name: str = "") -> str:
    """describe_layers for a plan over `devices` (one GPU when none are listed: `gpu_name`)."""
    labels = [d.label for d in devices] or [gpu_name or "the GPU"]
    shares = shares_for(devices) if devices else (1.0,)
    return describe_layers(n_layers, layer_devices(n_layers, n_gpu_layers, shares), labels)
