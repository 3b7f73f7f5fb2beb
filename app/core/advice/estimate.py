"""How much memory a model needs at a quant level and context: weights + KV cache + compute + overhead.

"Total" means what loading the model in QuantDesk's engine adds to its process: resident memory growth on the
CPU, VRAM growth on a GPU, with the engine's own context settings (app/core/context_settings.py: flash
attention on, n_batch = n_ubatch = 512, one output row, F16 KV cache, full-size sliding-window cache; mmap
on) and the context filled to its end, the case to plan for. Every term is a formula over the model's facts;
none comes from loading the model. The formula follows what llama.cpp allocates (its load log names each
buffer) and was checked against measured memory of the engine process (tests/bench/bench_estimate_accuracy.py,
docs/estimate-accuracy.md, with the fitted and held-out cases apart):

- weights: exact bytes per tensor, with the type mix llama.cpp's quantizer writes (quant_mix.py). On the
  CPU the file is memory-mapped and llama.cpp reads all of it at load, so all of it becomes resident;
  tensors llama.cpp repacks for faster CPU kernels (Q4_0, Q4_K, IQ4_NL on x86) get a second, repacked copy.
- KV cache: per layer n_head_kv × head_dim × cells for K and for V at the cache type's size; cells = the
  context padded to 256. llama.cpp clears the whole cache at load, so all of it is resident from the start.
- compute: llama.cpp's compute buffer for one micro-batch. With flash attention no score matrix exists; the
  buffer holds the feed-forward activations and a few rows of the residual stream per token, plus the F16
  attention mask (one per attention kind: full, sliding). On the CPU only what a batch touches becomes
  resident (all of it once the context is full); on a GPU the whole reserved buffer is allocated. The CPU
  backend adds a work buffer (a matrix product's second operand converted to the weights' dot type). With
  layers split between CPU and GPU, prompt batches of the CPU's layers are computed on the GPU (llama.cpp's
  op offload), which copies their weights there: the GPU's buffer grows by those copies.
- overhead: what the bindings and llama.cpp hold besides the buffers (the vocabulary's tables, the chat
  template, thread pools): a constant plus a term per vocabulary entry; on a GPU, the CUDA context and
  cuBLAS's workspace in VRAM, and the CUDA runtime's own resident memory on the CPU side.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.core.advice.quant_mix import predict_tensors
from app.core.context_settings import DEFAULT_BATCH, ContextSettings, context_settings
from app.core.models.facts import ModelFacts, TensorFacts
from app.core.quants import QuantType

MIB = 1024 * 1024
KV_PAD = 256  # llama.cpp pads the context (and so the cache) to a multiple of 256 cells
F32 = 4
F16 = 2

# ---- Compute buffer with flash attention: read off llama.cpp's logged "compute buffer size" --------------
# At n_ubatch 512 with one output row, the reserved CPU buffer is n_ubatch × (3 n_ff + 4 n_embd) floats plus
# one F16 mask of cells × n_ubatch per attention kind: solved from SmolLM2-135M and a Llama-3.2-1B shape (the
# fitted shapes); Qwen2.5-0.5B, Gemma-2-2B and a 1024-wide llama, not used to find it, agree within 0.5 MiB.
COMPUTE_FF_ROWS = 3  # gate, up and their product
COMPUTE_EMBD_ROWS = 4  # the residual stream, its norm, the attention output and the feed-forward output
# On a CUDA GPU llama.cpp's buffer for the same graph is larger: n_ubatch × 6 (n_ff + n_embd) floats, read off
# the Llama-3.2-1B and Llama-3-8B shapes' logged CUDA0 sizes (Qwen2.5-7B and Gemma-2-9B, held out, agree within
# 1 %). Its mask part is logged at 4 bytes per cell and token, but the VRAM measured at 2k-32k grows by 2:
# the figure used. Beside it sits a pinned host buffer for the graph's inputs: 4 rows of n_embd per token and
# the mask (logged likewise at 4 bytes, resident memory growing by 2).
GPU_COMPUTE_ROWS = 6
GPU_MASK_BYTES = 2
HOST_EMBD_ROWS = 4
HOST_MASK_BYTES = 2
# Without flash attention the score matrix (n_head × n_kv × n_tokens floats) is the largest tensor instead,
# beside 3 rows of the residual stream per token (the formula used before flash attention was on).
STREAM_ROWS = 3

# ---- Overhead: QuantDesk's own calibration (docs/estimate-accuracy.md) ---------------------------------
# Resident memory a CPU load adds beyond weights, KV cache, the compute buffer and the CPU backend's work
# buffer: a fixed part (bindings, chat template, thread pools) plus a part per vocabulary entry (llama.cpp's
# token tables and merges), fitted to the starter (49,152-token BPE) and a random llama (8,000 tokens).
CPU_OVERHEAD_FIXED = int(7.5 * MIB)
CPU_OVERHEAD_PER_VOCAB_ENTRY = 380
# VRAM a process's CUDA context, cuBLAS workspace, memory pools and CUDA graphs take besides the buffers above:
# the most the fitted shapes (Llama-3.2-1B, Llama-3-8B at 2k-32k) took on an H200 (CUDA 13.0, driver 580.159),
# 478-543 MiB for every Q4_K_M shape, 597 for an F16 8B (docs/benchmarks/gpu.md). Smaller cards and older
# CUDA versions take less, so this errs on the safe side for a fit decision.
CUDA_CONTEXT_BYTES = 544 * MIB
# Resident memory the CUDA runtime adds to the engine process besides the buffers (driver state, the CUDA
# build's kernels): the most the fitted shapes took, 146 MiB.
CUDA_HOST_BYTES = 146 * MIB
# ... and on top of it when float (F16/BF16/F32) matrices are multiplied on the GPU: cuBLAS's kernels and state
# (quantized matrices go through ggml's own kernels). Fitted on one case, Llama-3-8B F16 at 8k on an H200
# (140 MiB over the rest of the estimate); the RSS of the 1B and 8B F16 speed runs, 122 MiB above their Q8_0
# files' once the token tables' sizes are taken out, agrees (docs/benchmarks/gpu.md, section 2).
CUDA_FLOAT_HOST_BYTES = 140 * MIB
# A GPU that multiplies float (F16/BF16/F32) matrices goes through cuBLAS, whose workspace and conversion
# buffers come on top: 160 MiB in the Llama-3-8B F16 runs with part of the model on the CPU (its prompt batches
# are then computed on the GPU too), 53 MiB with all of it on the GPU; the larger figure is used.
FLOAT_MATMUL_BYTES = 160 * MIB
FLOAT_TYPES = frozenset({"F16", "BF16", "F32"})
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
    gpu: DeviceMemory  # every GPU together
    n_layers: int
    devices: tuple[DeviceMemory, ...] = ()  # per device when split across several (split.py); () for one GPU

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

    def to_json(self) -> dict[str, int | list[int]]:
        return {
            "weights": self.weights,
            "kv_cache": self.kv_cache,
            "compute": self.compute,
            "overhead": self.overhead,
            "total": self.total,
            "cpu": self.cpu.total,
            "gpu": self.gpu.total,
            **({"devices": [d.total for d in self.devices]} if self.devices else {}),
        }


def kv_cache_bytes(
    facts: ModelFacts,
    n_ctx: int,
    layers: range | None = None,
    swa_full: bool = True,
    n_ubatch: int = DEFAULT_BATCH,
    bytes_per_value: float = F16,
) -> int:
    """K and V cache bytes for the given layers (all by default) at context `n_ctx`."""
    size = pad(n_ctx)
    total = 0
    for il in layers if layers is not None else range(facts.n_layers):
        cells = size
        if facts.swa_layers[il] and not swa_full and facts.sliding_window:
            cells = min(size, pad(facts.sliding_window + n_ubatch))
        total += int(facts.n_head_kv * (facts.head_dim_k + facts.head_dim_v) * cells * bytes_per_value)
    return total


def attention_kinds(facts: ModelFacts) -> int:
    """How many attention masks a graph holds: one for full attention, one more for sliding-window layers."""
    return 1 + (0 < sum(facts.swa_layers) < facts.n_layers and facts.sliding_window is not None)


def compute_bytes(facts: ModelFacts, n_kv: int, n_tokens: int, flash_attn: bool = True) -> int:
    """llama.cpp's compute buffer for a micro-batch of `n_tokens` attending to `n_kv` cells (one output row)."""
    if flash_attn:
        rows = COMPUTE_FF_ROWS * facts.n_ff + COMPUTE_EMBD_ROWS * facts.n_embd
        return n_tokens * rows * F32 + attention_kinds(facts) * n_kv * n_tokens * F16
    attention = facts.n_head * n_kv * n_tokens * F32 + n_kv * n_tokens * F32  # scores + mask
    feed_forward = 3 * facts.n_ff * n_tokens * F32
    return max(attention, feed_forward, facts.vocab_size * F32) + STREAM_ROWS * facts.n_embd * n_tokens * F32


def gpu_compute_bytes(facts: ModelFacts, cells: int, n_tokens: int, flash_attn: bool = True) -> int:
    """The compute buffer a GPU reserves (CUDA's, fitted): the whole of it is allocated at load."""
    if not flash_attn:
        return compute_bytes(facts, cells, n_tokens, flash_attn)
    rows = GPU_COMPUTE_ROWS * (facts.n_ff + facts.n_embd)
    return n_tokens * rows * F32 + attention_kinds(facts) * cells * n_tokens * GPU_MASK_BYTES


def gpu_host_bytes(facts: ModelFacts, cells: int, n_tokens: int) -> int:
    """The pinned host buffer of a GPU run: the graph's inputs (embeddings looked up on the CPU, the mask)."""
    return n_tokens * HOST_EMBD_ROWS * facts.n_embd * F32 + attention_kinds(facts) * cells * n_tokens * HOST_MASK_BYTES


def cpu_work_bytes(facts: ModelFacts, n_kv: int, n_tokens: int, flash_attn: bool = True) -> int:
    """The CPU backend's work buffer: a matrix product converts its second operand to the weights' dot-product
    type first; the largest such copy is the feed-forward activations (F32 → F16 for F16 weights) or, without
    flash attention, the attention probabilities."""
    feed_forward = facts.n_ff * n_tokens * F16
    return feed_forward if flash_attn else max(feed_forward, facts.n_head * n_kv * n_tokens * F16)


def output_bytes(facts: ModelFacts, settings: ContextSettings) -> int:
    """The host buffer for the one output row: its logits, and with backend sampling also the sampled
    probabilities, logits and candidate ids."""
    rows = 4 if settings.backend_sampling else 1
    return rows * facts.vocab_size * F32


def cpu_overhead(facts: ModelFacts) -> int:
    return CPU_OVERHEAD_FIXED + CPU_OVERHEAD_PER_VOCAB_ENTRY * facts.vocab_size


def gpu_blocks(facts: ModelFacts, n_gpu_layers: int) -> int:
    """How many repeating blocks llama.cpp puts on the GPU for `n_gpu_layers`: it counts the output layer as
    the last layer and offloads from the end, so 1 is the output layer alone and k is the output layer and the
    last k - 1 blocks (llama-model.cpp: i_gpu_start = n_layer + 1 - n_gpu_layers; the load log's KV sizes per
    device confirm it)."""
    return max(0, min(n_gpu_layers, facts.n_layers + 1) - 1)


def _split_weights(
    facts: ModelFacts, tensors: tuple[TensorFacts, ...], n_gpu_layers: int, repack: frozenset[str]
) -> tuple[int, int, bool]:
    """(CPU bytes, GPU bytes, whether the GPU multiplies float matrices) of the weights with `n_gpu_layers`
    offloaded: the output layer first, then blocks from the end (gpu_blocks); the token embedding always on the
    CPU; a tied embedding is copied to the GPU to serve as the output layer. The repacked copies of `repack`
    types exist only without GPU layers (with any, llama.cpp keeps the CPU's weights as mapped)."""
    first_gpu = facts.n_layers - gpu_blocks(facts, n_gpu_layers)
    output_on_gpu = n_gpu_layers > 0
    cpu = gpu = 0
    float_on_gpu = False
    for t in tensors:
        layer = t.layer
        on_gpu = (
            (layer >= first_gpu) if layer is not None else (output_on_gpu and t.name != "token_embd.weight")
        )
        if on_gpu and n_gpu_layers > 0:
            gpu += t.n_bytes
            float_on_gpu = float_on_gpu or (t.ggml_type in FLOAT_TYPES and len(t.shape) >= 2)
            continue
        cpu += t.n_bytes
        if n_gpu_layers == 0 and t.ggml_type in repack and len(t.shape) >= 2 and t.shape[1] % REPACK_ROWS == 0 \
                and t.name != "token_embd.weight":
            cpu += t.n_bytes  # the repacked copy, beside the mapped original
    if output_on_gpu and not facts.has_output_tensor:
        gpu += next((t.n_bytes for t in tensors if t.name == "token_embd.weight"), 0)
    return cpu, gpu, float_on_gpu


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
    settings: ContextSettings | None = None,
) -> MemoryEstimate:
    """The estimate for a model whose tensors (with their types) are `tensors`, loaded with `settings`
    (default: the engine's settings for this context and batch)."""
    n_gpu_layers = facts.n_layers + 1 if n_gpu_layers < 0 else min(n_gpu_layers, facts.n_layers + 1)
    n_ctx = n_ctx if n_ctx > 0 else facts.context_length
    if settings is None:
        settings = context_settings(n_ctx, n_batch, n_threads=1, output_on_gpu=n_gpu_layers > 0)
    filled = n_ctx if filled_tokens is None else max(1, min(filled_tokens, n_ctx))
    ubatch = min(settings.effective_ubatch, filled)
    fa = settings.flash_attn
    cpu_weights, gpu_weights, float_on_gpu = _split_weights(facts, tensors, n_gpu_layers, repack)
    gpu_layers = gpu_blocks(facts, n_gpu_layers)

    def kv(layers: range) -> int:
        return kv_cache_bytes(facts, n_ctx, layers, settings.swa_full, ubatch, settings.kv_bytes_per_value)

    cpu_kv, gpu_kv = kv(range(facts.n_layers - gpu_layers)), kv(range(facts.n_layers - gpu_layers, facts.n_layers))
    n_kv = min(pad(n_ctx), pad(filled))
    touched = compute_bytes(facts, n_kv, ubatch, fa) + cpu_work_bytes(facts, n_kv, ubatch, fa)
    output = output_bytes(facts, settings)
    if n_gpu_layers == 0:
        cpu = DeviceMemory(cpu_weights, cpu_kv, touched + output, cpu_overhead(facts))
        gpu = DeviceMemory()
    else:
        cells, full_ubatch = pad(n_ctx), settings.effective_ubatch
        reserved = gpu_compute_bytes(facts, cells, full_ubatch, fa)
        host_compute = gpu_host_bytes(facts, cells, full_ubatch)
        host_overhead = cpu_overhead(facts) + CUDA_HOST_BYTES
        if float_on_gpu:
            reserved += FLOAT_MATMUL_BYTES
            host_overhead += CUDA_FLOAT_HOST_BYTES
        if gpu_layers < facts.n_layers:
            host_compute += touched  # the CPU's layers work in the CPU's own buffer
        cpu = DeviceMemory(cpu_weights, cpu_kv, host_compute + output, host_overhead)
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
    settings: ContextSettings | None = None,
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
        settings,
    )


def estimate_file(
    facts: ModelFacts,
    n_ctx: int,
    n_gpu_layers: int = 0,
    n_batch: int = DEFAULT_BATCH,
    filled_tokens: int | None = None,
    repack: frozenset[str] = REPACK_X86_AVX2,
    settings: ContextSettings | None = None,
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
        settings,
    )
