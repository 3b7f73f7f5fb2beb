"""How fast a model generates here: an estimate from memory bandwidth plus a per-token floor, replaced by the
speed measured once the model has run on this computer (advice/measured_speed.py).

A generated token reads every weight once, so its time is bytes ÷ bandwidth; but a GPU does not read a
quantized matrix at its full bandwidth (the kernels dequantize as they go), and every layer costs a fixed
time per token however small it is (kernel launches, the graph, threads meeting). Bandwidth alone put the
135M starter at ~17,900 tokens/s on an H200; its layers alone take longer than that. So:

    seconds per token = Σ over weights read: bytes ÷ (bandwidth × efficiency of their type on that device)
                        + layers on each device × that device's per-layer floor

The constants were fitted on the engine's measured greedy generation (docs/benchmarks/gpu.md and cpu.md,
which list the fitted and the held-out cases). Once models have run here, the floor measured on this
machine's build (measured_speed.measured_floors) replaces the fitted one.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.models.facts import ModelFacts, TensorFacts

# Share of the peak bandwidth a GPU's matrix-vector kernels reach per kind of weight type, and what each
# layer costs per token regardless of size: least squares over the engine's greedy tg128 on an H200
# (Llama-3.2-1B and Llama-3-8B shapes at Q4_K_M, Q8_0 and F16: within 6 % of all six).
GPU_EFFICIENCY = {"float": 0.93, "8-bit": 0.69, "k-quant": 0.46}
GPU_LAYER_SECONDS = 49e-6
# The processor: the share of its estimated peak (machine/bandwidth.py: RAM's speed is not read, so a
# dual-channel DDR4 figure stands in) and the time its threads spend meeting per layer: the floor fitted on the
# starter on this project's 2-core machine (111 tokens/s quiet; estimated 96), held out on a 16-core server
# (docs/benchmarks/cpu.md: 32-41 % low there, its RAM being faster than the stand-in).
CPU_EFFICIENCY = {"float": 0.8, "8-bit": 0.8, "k-quant": 0.8}
CPU_LAYER_SECONDS = 10e-6

_FLOAT = {"F32", "F16", "BF16"}
_EIGHT_BIT = {"Q8_0", "Q8_1", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "MXFP4"}  # simple blocks: cheap to dequantize


def type_kind(ggml_type: str) -> str:
    """"float", "8-bit" (llama.cpp's simple block types) or "k-quant" (K and IQ types: more work per weight)."""
    t = ggml_type.upper()
    if t in _FLOAT:
        return "float"
    return "8-bit" if t in _EIGHT_BIT else "k-quant"


@dataclass(frozen=True)
class Floors:
    """Per-layer, per-token fixed time on each device, in seconds."""

    gpu_layer: float = GPU_LAYER_SECONDS
    cpu_layer: float = CPU_LAYER_SECONDS


@dataclass(frozen=True)
class TokenWork:
    """What generating one token reads and runs on each device: bytes by kind of type, and layers."""

    gpu_bytes: dict[str, int]
    cpu_bytes: dict[str, int]
    gpu_layers: int  # the output layer counts as one
    cpu_layers: int

    def seconds(self, gpu_bandwidth: float, cpu_bandwidth: float, floors: Floors) -> float:
        t = self.gpu_layers * floors.gpu_layer + self.cpu_layers * floors.cpu_layer
        if gpu_bandwidth > 0:
            t += sum(n / (gpu_bandwidth * GPU_EFFICIENCY[k]) for k, n in self.gpu_bytes.items())
        if cpu_bandwidth > 0:
            t += sum(n / (cpu_bandwidth * CPU_EFFICIENCY[k]) for k, n in self.cpu_bytes.items())
        return t


def token_work(facts: ModelFacts, tensors: tuple[TensorFacts, ...], n_gpu_layers: int,
               kv_gpu: int = 0, kv_cpu: int = 0) -> TokenWork:
    """Where each weight of `tensors` is read for one token with `n_gpu_layers` offloaded (llama.cpp's order:
    the output layer first, then blocks from the last; the token embedding stays on the processor and only
    one row of it is read, unless it is also the output layer) plus `kv_gpu`/`kv_cpu` bytes of cache."""
    total_layers = facts.n_layers + 1
    on_gpu = total_layers if n_gpu_layers < 0 else min(n_gpu_layers, total_layers)
    first_gpu_block = facts.n_layers - max(0, on_gpu - 1)
    gpu: dict[str, int] = {"float": kv_gpu} if kv_gpu else {}
    cpu: dict[str, int] = {"float": kv_cpu} if kv_cpu else {}
    tied = not facts.has_output_tensor
    for t in tensors:
        kind = type_kind(t.ggml_type)
        layer = t.layer
        if t.name == "token_embd.weight":
            cpu[kind] = cpu.get(kind, 0) + t.n_bytes // max(1, facts.vocab_size)
            if tied:  # also the output layer: read whole, where the output layer runs
                side = gpu if on_gpu > 0 else cpu
                side[kind] = side.get(kind, 0) + t.n_bytes
            continue
        # the output layer and its norm (no block number) go to the GPU first
        on_the_gpu = on_gpu > 0 if layer is None else layer >= first_gpu_block
        side = gpu if on_the_gpu else cpu
        side[kind] = side.get(kind, 0) + t.n_bytes
    return TokenWork(gpu, cpu, on_gpu, total_layers - on_gpu)


def tokens_per_second(work: TokenWork, gpu_bandwidth: float, cpu_bandwidth: float,
                      floors: Floors | None = None) -> float:
    seconds = work.seconds(gpu_bandwidth, cpu_bandwidth, floors or Floors())
    return 1.0 / seconds if seconds > 0 else 0.0
