"""The context parameters QuantDesk gives llama.cpp, decided in one place.

The engine applies exactly these (engine/context_setup.py) and the memory estimate models exactly these
(advice/estimate.py), so what the estimate sizes is what the engine allocates. Every value is set
explicitly instead of inheriting llama.cpp's defaults, which move between versions (flash attention went
from off to "auto"; n_batch is 2048 there, 512 in llama-cpp-python's Llama):

- flash attention on: the fused attention kernel is faster on CUDA, Metal and the CPU, and it never
  materialises the n_head × n_kv × n_tokens score matrix, so the working buffers stay small at long contexts.
  llama-bench is run with `-fa 1` to match.
- n_batch = n_ubatch = 512: one llama_decode call evaluates up to 512 prompt tokens in one graph; the
  working buffers are sized for that many tokens (bigger batches speed up long prompts on big GPUs a little
  and cost VRAM on every card).
- one output row per decode (n_outputs_max = 1): a chat only ever reads the last token's logits, and
  llama.cpp otherwise reserves logits for a whole batch (n_vocab × 512 floats: 250 MiB for a 128k vocabulary).
- F16 K and V cache; the full-size cache on sliding-window layers (swa_full), so a follow-up turn can reuse
  the cached prefix however long the conversation is.
- threads: one per physical core (or the number chosen in Settings), for generation and for prompts
  (hyper-threads slow the matrix products);
  with every layer on a GPU, one thread for generation: the processor then only looks up the next token's
  embedding, and waking a pool of threads for that each token cost the 1B model on an H200 5 % with the
  default sampler chain (docs/benchmarks/gpu.md).
- backend sampling when the output layer is on a GPU: the sampler chain runs inside llama.cpp's graph there,
  so the logits are not copied back to the processor for every token. On the processor the chain runs as
  llama_sampler_sample's own loop (nothing to copy; llama.cpp's tools do the same). QUANTDESK_BACKEND_SAMPLING
  = on / off overrides this, for benchmarks.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

DEFAULT_BATCH = 512
KV_TYPE = "F16"
KV_TYPE_BYTES = {"F16": 2.0, "BF16": 2.0, "F32": 4.0, "Q8_0": 34 / 32, "Q4_0": 18 / 32}


def physical_cores() -> int:
    import psutil

    return max(1, psutil.cpu_count(logical=False) or os.cpu_count() or 1)


@dataclass(frozen=True)
class ContextSettings:
    """What the engine asks of llama.cpp for one loaded model."""

    n_ctx: int
    n_batch: int = DEFAULT_BATCH
    n_ubatch: int = DEFAULT_BATCH
    n_threads: int = 1  # for generation (one token per step)
    n_threads_batch: int = 1  # for prompts
    flash_attn: bool = True
    kv_type: str = KV_TYPE
    swa_full: bool = True
    n_outputs_max: int = 1
    offload_kqv: bool = True
    backend_sampling: bool = False

    @property
    def kv_bytes_per_value(self) -> float:
        return KV_TYPE_BYTES[self.kv_type]

    @property
    def effective_ubatch(self) -> int:
        """llama.cpp caps the batch at the context and the micro-batch at the batch."""
        return min(self.n_ubatch, self.n_batch, max(self.n_ctx, 1))

    def as_llama_bench_args(self, prompt: bool = False) -> list[str]:
        """The same settings for llama-bench, so it and the engine are measured alike; `prompt`: for a prompt
        test (llama-bench has one thread count, the engine one for prompts and one for generation)."""
        threads = self.n_threads_batch if prompt else self.n_threads
        return ["-fa", "1" if self.flash_attn else "0", "-b", str(self.n_batch), "-ub", str(self.n_ubatch),
                "-t", str(threads), "-ctk", self.kv_type.lower(), "-ctv", self.kv_type.lower()]


def context_settings(
    n_ctx: int,
    n_batch: int = DEFAULT_BATCH,
    n_threads: int | None = None,
    output_on_gpu: bool = False,
    all_on_gpu: bool = False,
    cores: int | None = None,
) -> ContextSettings:
    """The settings for a model loaded with context `n_ctx` (and the request's batch and threads, if set).
    `output_on_gpu`: the output layer runs on a GPU (llama.cpp offloads it first, so any GPU layer means it);
    `all_on_gpu`: every layer does. `cores`: the threads chosen in Settings (None: one per physical core);
    they stand for the processor's cores, so generation with every layer on a GPU still uses one."""
    batch = max(1, n_batch)
    backend = {"on": True, "off": False}.get(os.environ.get("QUANTDESK_BACKEND_SAMPLING", ""), output_on_gpu)
    if n_threads and n_threads > 0:
        cores = n_threads
    elif not cores or cores <= 0:
        cores = physical_cores()
    return ContextSettings(
        n_ctx=n_ctx,
        n_batch=batch,
        n_ubatch=min(batch, DEFAULT_BATCH),
        n_threads=n_threads if n_threads and n_threads > 0 else (1 if all_on_gpu else cores),
        n_threads_batch=cores,
        backend_sampling=backend,
    )
