"""Measure what loading a GGUF really costs in QuantDesk's engine process, for the estimate's benchmark and tests.

Each measurement starts a fresh engine process (EngineClient: the app's own engine, with its own context
settings), reads its resident memory once it is idle, loads the model, fills the context to its end through
a chat message (or evaluates a prompt of a given length), and reads the engine's resident memory and its VRAM
again: NVML's figure for the engine's process, and the growth of the GPU's used memory. llama.cpp's own log
lines about its buffers are read from the engine's log and parsed, so the estimate can be compared with both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.core.engine.client import EngineClient
from app.core.engine.protocol import GREEDY, ChatMessage, LoadModel
from app.core.errors import ContextFullError
from app.core.machine.hardware import read_memory_snapshot, read_nvidia_gpus

# llama.cpp's log lines naming its buffers, e.g. "load_tensors:   CPU_Mapped model buffer size =   256.63 MiB"
_MODEL_BUF = re.compile(r"(\S+) model buffer size =\s*([\d.]+) MiB")
_KV_BUF = re.compile(r"llama_kv_cache:\s+(\S+) KV buffer size =\s*([\d.]+) MiB")
_COMPUTE_BUF = re.compile(r"(\S+) compute buffer size =\s*([\d.]+) MiB")
_OUTPUT_BUF = re.compile(r"(\S+)\s+output buffer size =\s*([\d.]+) MiB")

MIB = 1024 * 1024
_WORD_TEXT = """
time people year way day man thing woman life child world school state family student group country
problem hand part place case week company system program question work government number night point
home water room mother area money story fact month lot right study book eye job word business
"""
WORDS = _WORD_TEXT.split()  # common words, one token each in most vocabularies


@dataclass(frozen=True)
class Measured:
    rss_growth: int  # the engine's resident memory after load and prompt, minus the idle engine's
    vram_process: int | None  # NVML: what the engine process holds on the GPUs (None without NVIDIA)
    vram_growth: int | None  # NVML: growth of the GPUs' used memory since before the engine started
    model_buffers: dict[str, int]  # llama.cpp's logged sizes, per buffer name, bytes (rounded to 0.01 MiB)
    kv_buffers: dict[str, int]
    compute_buffers: dict[str, int]
    output_buffers: dict[str, int]
    prompt_tokens: int  # what the prompt put in the context
    context_tokens: int  # tokens in the context at the end (prompt and reply)
    log: str


def _sizes(pattern: re.Pattern[str], log: str) -> dict[str, int]:
    found: dict[str, int] = {}
    for name, mib in pattern.findall(log):
        found[name] = found.get(name, 0) + round(float(mib) * MIB)
    return found


def _gpu_used() -> int | None:
    gpus = read_nvidia_gpus()
    return sum(g.used_bytes for g in gpus) if gpus else None


def _message(n_words: int) -> list[ChatMessage]:
    return [ChatMessage("user", " ".join(WORDS[i % len(WORDS)] for i in range(n_words)))]


def _prompt_tokens(client: EngineClient, n_words: int) -> int:
    return client.complete(_message(n_words), 1, GREEDY).stats.prompt_tokens


def _words_for(client: EngineClient, tokens: int) -> int:
    """How many words make a prompt of about `tokens` tokens (the template's own tokens included)."""
    a, b = _prompt_tokens(client, 20), _prompt_tokens(client, 120)
    per_word = (b - a) / 100
    return max(1, int((tokens - (a - 20 * per_word)) / per_word))


def measure(path: str, n_ctx: int, n_prompt: int | None = None, n_gpu_layers: int = 0,
            n_threads: int | None = None) -> Measured:
    """Load `path` in a fresh engine and fill its context (`n_prompt` None: to the end; else a prompt of about
    n_prompt tokens and one generated token), then read its memory."""
    vram_before = _gpu_used()
    client = EngineClient()
    try:
        client.start()
        client.unload_model()  # answered once the engine is up: its idle memory is the baseline
        rss_before = read_memory_snapshot(client.pid).process_rss_bytes or 0
        client.load_model(LoadModel(path, n_ctx=n_ctx, n_gpu_layers=n_gpu_layers, n_threads=n_threads))
        target = n_ctx - 16 if n_prompt is None else n_prompt
        words = _words_for(client, target)
        for _ in range(8):
            try:
                done = client.complete(_message(words), 16 if n_prompt is None else 1, GREEDY)
                break
            except ContextFullError:
                words = int(words * 0.97)
        else:
            raise RuntimeError(f"could not fit a prompt into {n_ctx} tokens")
        snap = read_memory_snapshot(client.pid, with_vram=True)
        vram_after = _gpu_used()
        log = client.log_path.read_text(encoding="utf-8", errors="replace") if client.log_path else ""
    finally:
        client.close()
    return Measured(
        (snap.process_rss_bytes or 0) - rss_before,
        snap.process_vram_bytes,
        None if vram_before is None or vram_after is None else vram_after - vram_before,
        _sizes(_MODEL_BUF, log),
        _sizes(_KV_BUF, log),
        _sizes(_COMPUTE_BUF, log),
        _sizes(_OUTPUT_BUF, log),
        done.stats.prompt_tokens,
        done.stats.prompt_tokens + done.stats.generated_tokens,
        log,
    )
