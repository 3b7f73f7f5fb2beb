"""How much memory a model needs at a quant level and context: weights + KV cache + compute + overhead.

"Total" means what loading the model adds to a process: resident memory growth on the CPU, VRAM growth on
a GPU, with llama-cpp-python's defaults (mmap on, n_batch = n_ubatch = 512, F16 KV cache, flash attention
off, full-size sliding-window cache). Every term is a formula over the model's facts; none comes from
loading the model. The formula follows what llama.cpp allocates (its load log names each buffer) and was
calibrated against those logged sizes and measured memory (tests/bench/bench_estimate_accuracy.py,
docs/estimate-accuracy.md):

- weights: exact bytes per tensor, with the type mix llama.cpp's quantizer writes (quant_mix.py). On the
  CPU the file is memory-mapped and llama.cpp reads all of it at load, so all of it becomes resident;
  tensors llama.cpp repacks for faster CPU kernels (Q4_0, Q4_K, IQ4_NL on x86) get a second, repacked copy.
- KV cache: per layer n_head_kv × head_dim × cells for K and for V at 2 bytes (F16); cells = the context
  padded to 256. llama.cpp clears the whole cache at load, so all of it is resident from the start.
- compute: on the CPU only the part of llama.cpp's compute buffer a batch actually touches becomes resident:
  the largest of the attention scores (n_head × n_kv × batch floats, plus the mask), the feed-forward
  activations and the logits of one output row, plus the residual stream. `filled_tokens` says how much
  context is in use (default: all of it, the worst case). The CPU backend adds a work buffer (the largest
  operand it converts for a matrix product, usually the attention probabilities as F16). On a GPU the
  whole reserved buffer is allocated, sized for a full batch of outputs (n_vocab × batch logits) and a
  full cache.
- overhead: what the bindings and llama.cpp hold besides the buffers (the vocabulary's tables, the chat
  template, thread pools): a constant plus a term per vocabulary entry; on a GPU, the CUDA context.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.advice.quant_mix import predict_tensors
from app.core.models.facts import ModelFacts, TensorFacts
from app.core.quants import QuantType

MIB = 1024 * 1024
KV_PAD = 256  # llama.cpp pads the cache size to a multiple of 256 cells
KV_BYTES_PER_VALUE = 2  # F16 cache, llama.cpp's default type_k / type_v
F32 = 4
DEFAULT_BATCH = 512  # llama-cpp-python's n_batch and n_ubatch

# ---- Overhead model: QuantDesk's own calibration (docs/estimate-accuracy.md) -------------------------
# Resident memory a CPU load adds beyond weights, KV cache, the compute buffer's touched part and the CPU
# backend's work buffer, measured with llama-cpp-python 0.3.36: about 25.5 MiB for SmolLM2-135M (49,152-token
# BPE vocabulary) and 10.5 MiB for a random-weight llama with an 8,000-token vocabulary. A fixed part
# (bindings, chat template, thread pools) plus a part per vocabulary entry (llama.cpp's token tables and
# merges) fits both.
CPU_OVERHEAD_FIXED = int(7.5 * MIB)
CPU_OVERHEAD_PER_VOCAB_ENTRY = 380
# The residual stream and its temporaries in the compute buffer: 3 rows of n_embd floats per batch token
# (fits llama.cpp's logged compute buffer sizes within 2 % at contexts 512-8192).
STREAM_ROWS = 3
# VRAM a process's CUDA context and cuBLAS workspace take before any buffer llama.cpp logs. Measured with
# tests/bench/gpu_check.py on an H100 (CUDA 13.0, driver 580.159): VRAM growth minus the logged buffers was
# 704-708 MiB for both a Llama-3.2-1B and a Llama-3-8B shape at every context (docs/estimate-accuracy.md).
# Smaller cards and older CUDA versions take less, so this errs on the safe side for a fit decision.
CUDA_CONTEXT_BYTES = 704 * MIB
# Tensors llama.cpp's CPU backend repacks into interleaved layouts for faster kernels, per CPU family
# (ggml-cpu
# "repack" buffer; its size is logged as CPU_REPACK model buffer). The repacked copy is extra resident memory:
# the memory-mapped original was read to make it and stays mapped. Only tensors with a row count divisible
# by 8 qualify. x86 set measured here (AVX2); the ARM set is read from ggml-cpu's repack rules, not measured.
REPACK_X86_AVX2 = frozenset({"Q4_0", "Q4_K", "IQ4_NL"})
REPACK_ARM_NEON = frozenset({"Q4_0", "IQ4_NL"})
REPACK_ROWS = 8


def repacked_types(cpu_features: tuple[str, ...]) -> frozenset[str]:
    """The ggml types llama.cpp repacks on a CPU with these SIMD features (hardware.CpuInfo.features)."""
    if "AVX2" in cpu_features:
        return REPACK_X86_AVX2
    if "NEON" in cpu_features:
        return REPACK_ARM_NEON
    return frozenset()


# Metadata (tokenizer) bytes in a GGUF when no GGUF exists yet: about this much per vocabulary entry.
GGUF_METADATA_PER_VOCAB_ENTRY = 40


def pad(n: int, to: int = KV_PAD) -> int:
    return (n + to - 1) // to * to


@dataclass(frozen=True)
class DeviceMemory:
    """Bytes one device (the CPU's RAM or one GPU's VRAM) needs for the model."""

    weights: int = 0
    kv_cache: int = 0
    compute: int = 0
    overhead: int = 0

    @property
    def total(self) -> int:
        return self.weights + self.kv_cache + self.compute + self.overhead


@dataclass(frozen=True)
class MemoryEstimate:
    quant: str  # the file type ("Q4_K_M") or, for a file as it is, its own type
    n_ctx: int
    n_gpu_layers: int  # 0: CPU only; n_layers + 1: everything on the GPU
    file_bytes: int  # the GGUF file's size
    cpu: DeviceMemory
    gpu: DeviceMemory
    n_layers: int

    @property
    def weights(self) -> int:
        return self.cpu.weights + self.gpu.weights

    @property
    def kv_cache(self) -> int:
        return self.cpu.kv_cache + self.gpu.kv_cache

    @property
    def compute(self) -> int:
        return self.cpu.compute + self.gpu.compute

    @property
    def overhead(self) -> int:
        return self.cpu.overhead + self.gpu.overhead

    @property
    def total(self) -> int:
        return self.cpu.total + self.gpu.total

    def to_json(self) -> dict[str, int]:
        return {
            "weights": self.weights,
            "kv_cache": self.kv_cache,
            "compute": self.compute,
            "overhead": self.overhead,
            "total": self.total,
            "cpu": self.cpu.total,
            "gpu": self.gpu.total,
        }


def kv_cache_bytes(
    facts: ModelFacts,
    n_ctx: int,
    layers: range | None = None,
    swa_full: bool = True,
    n_ubatch: int = DEFAULT_BATCH,
) -> int:
    """K and V cache bytes for the given layers (all by default) at context `n_ctx`."""
    size = pad(n_ctx)
    total = 0
    for il in layers if layers is not None else range(facts.n_layers):
        cells = size
        if facts.swa_layers[il] and not swa_full and facts.sliding_window:
            cells = min(size, pad(facts.sliding_window + n_ubatch))
        total += facts.n_head_kv * (facts.head_dim_k + facts.head_dim_v) * cells * KV_BYTES_PER_VALUE
    return total


def compute_bytes(facts: ModelFacts, n_kv: int, n_tokens: int, n_outputs: int) -> int:
    """The compute buffer for a batch of `n_tokens` attending to `n_kv` cells with `n_outputs` logit rows."""
    attention = facts.n_head * n_kv * n_tokens * F32 + n_kv * n_tokens * F32  # scores + mask
    feed_forward = 3 * facts.n_ff * n_tokens * F32  # gate, up and their product
    logits = facts.vocab_size * n_outputs * F32
    return max(attention, feed_forward, logits) + STREAM_ROWS * facts.n_embd * n_tokens * F32


def cpu_work_bytes(facts: ModelFacts, n_kv: int, n_tokens: int) -> int:
    """The CPU backend's work buffer: a matrix product converts its second operand to the weights' dot-product
    type first; the largest such copy is the attention probabilities (F32 → F16 for the F16 V cache) or the
    feed-forward activations (F32 → F16 for F16 weights)."""
    attention = facts.n_head * n_kv * n_tokens * 2
    feed_forward = facts.n_ff * n_tokens * 2
    return max(attention, feed_forward)


def cpu_overhead(facts: ModelFacts) -> int:
    return CPU_OVERHEAD_FIXED + CPU_OVERHEAD_PER_VOCAB_ENTRY * facts.vocab_size


def _split_weights(
    facts: ModelFacts, tensors: tuple[TensorFacts, ...], n_gpu_layers: int, repack: frozenset[str]
) -> tuple[int, int]:
    """(CPU bytes, GPU bytes) of the weights with the last `n_gpu_layers` blocks offloaded (llama.cpp's rule:
    repeating layers from the end; the output layer only when n_gpu_layers > n_layers; the token embedding
    always on the CPU; a tied embedding is copied to the GPU to serve as the output layer)."""
    first_gpu = max(facts.n_layers - n_gpu_layers, 0)
    output_on_gpu = n_gpu_layers > facts.n_layers
    cpu = gpu = 0
    for t in tensors:
        layer = t.layer
        on_gpu = (
            (layer >= first_gpu) if layer is not None else (output_on_gpu and t.name != "token_embd.weight")
        )
        if on_gpu and n_gpu_layers > 0:
            gpu += t.n_bytes
        else:
            cpu += t.n_bytes
            if (
                t.ggml_type in repack
                and len(t.shape) >= 2
                and t.shape[1] % REPACK_ROWS == 0
                and t.name != "token_embd.weight"
            ):
                cpu += t.n_bytes  # the repacked copy, beside the mapped original
    if output_on_gpu and not facts.has_output_tensor:
        gpu += next((t.n_bytes for t in tensors if t.name == "token_embd.weight"), 0)
    return cpu, gpu


def estimate_tensors(
    facts: ModelFacts,
    tensors: tuple[TensorFacts, ...],
    quant: str,
    n_ctx: int,
    n_gpu_layers: int = 0,
    n_batch: int = DEFAULT_BATCH,
    filled_tokens: int | None = None,
    metadata_bytes: int | None = None,
    repack: frozenset[str] = REPACK_X86_AVX2,
) -> MemoryEstimate:
    """The estimate for a model whose tensors (with their types) are `tensors`."""
    n_gpu_layers = facts.n_layers + 1 if n_gpu_layers < 0 else min(n_gpu_layers, facts.n_layers + 1)
    n_ctx = n_ctx if n_ctx > 0 else facts.context_length
    filled = n_ctx if filled_tokens is None else max(1, min(filled_tokens, n_ctx))
    ubatch = min(n_batch, DEFAULT_BATCH, filled)
    cpu_weights, gpu_weights = _split_weights(facts, tensors, n_gpu_layers, repack)
    gpu_layers = min(n_gpu_layers, facts.n_layers)
    cpu_kv = kv_cache_bytes(facts, n_ctx, range(facts.n_layers - gpu_layers), n_ubatch=ubatch)
    gpu_kv = kv_cache_bytes(facts, n_ctx, range(facts.n_layers - gpu_layers, facts.n_layers), n_ubatch=ubatch)
    n_kv = min(pad(n_ctx), pad(filled))
    touched = compute_bytes(facts, n_kv, ubatch, 1) + cpu_work_bytes(facts, n_kv, ubatch)
    output_buffer = facts.vocab_size * F32  # llama.cpp's host buffer for one row of logits
    if n_gpu_layers == 0:
        cpu = DeviceMemory(cpu_weights, cpu_kv, touched + output_buffer, cpu_overhead(facts))
        gpu = DeviceMemory()
    else:
        reserved = compute_bytes(facts, pad(n_ctx), min(n_batch, DEFAULT_BATCH), min(n_batch, DEFAULT_BATCH))
        host_compute = touched if gpu_layers < facts.n_layers else STREAM_ROWS * facts.n_embd * ubatch * F32
        cpu = DeviceMemory(cpu_weights, cpu_kv, host_compute + output_buffer, cpu_overhead(facts))
        gpu = DeviceMemory(gpu_weights, gpu_kv, reserved, CUDA_CONTEXT_BYTES)
    if metadata_bytes is None:
        metadata_bytes = GGUF_METADATA_PER_VOCAB_ENTRY * facts.vocab_size
    return MemoryEstimate(
        quant, n_ctx, n_gpu_layers, sum(t.n_bytes for t in tensors) + metadata_bytes, cpu, gpu, facts.n_layers
    )


def _metadata_bytes(facts: ModelFacts) -> int | None:
    if facts.file_bytes is not None:
        return facts.file_bytes - facts.weights_bytes
    return None


def estimate_memory(
    facts: ModelFacts,
    level: QuantType,
    n_ctx: int,
    n_gpu_layers: int = 0,
    n_batch: int = DEFAULT_BATCH,
    filled_tokens: int | None = None,
    repack: frozenset[str] = REPACK_X86_AVX2,
) -> MemoryEstimate:
    """Memory to run `facts`' model quantized as `level` at context `n_ctx` with `n_gpu_layers` offloaded.

    `filled_tokens`: how much of the context is in use (None: all of it, the figure to plan with).
    """
    return estimate_tensors(
        facts,
        predict_tensors(facts, level),
        level.name,
        n_ctx,
        n_gpu_layers,
        n_batch,
        filled_tokens,
        _metadata_bytes(facts),
        repack,
    )


def estimate_file(
    facts: ModelFacts,
    n_ctx: int,
    n_gpu_layers: int = 0,
    n_batch: int = DEFAULT_BATCH,
    filled_tokens: int | None = None,
    repack: frozenset[str] = REPACK_X86_AVX2,
) -> MemoryEstimate:
    """Memory to run a GGUF file as it is (its own tensor types)."""
    return estimate_tensors(
        facts,
        facts.tensors,
        facts.file_type or "file",
        n_ctx,
        n_gpu_layers,
        n_batch,
        filled_tokens,
        _metadata_bytes(facts),
        repack,
    )
