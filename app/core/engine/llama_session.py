"""One loaded model and its context, driven through llama.cpp's low-level API.

Generation decodes and samples through llama.cpp's own sampler chain with one small Python step per
token, so it stays close to native speed (the bindings' high-level loop runs 9–18 % behind on a fast
GPU). The KV cache is kept between turns: a follow-up message only evaluates the tokens that changed.
This module runs inside the engine process only.
"""

from __future__ import annotations

import codecs
import ctypes
import os
import time
from array import array
from collections.abc import Callable, Sequence
from pathlib import Path

import llama_cpp as L

from app.core.context_settings import context_settings
from app.core.engine.context_setup import context_params
from app.core.engine.device_setup import apply as apply_devices
from app.core.engine.device_setup import device_setup
from app.core.engine.protocol import (
    ChatMessage,
    GenerationStats,
    LoadModel,
    ModelInfo,
    SamplingSettings,
    StopReason,
)
from app.core.engine.reply_loop import run_reply
from app.core.engine.sampling import ContextSampler
from app.core.errors import ContextFullError, ModelLoadError, QuantDeskError
from app.core.llama_log import LlamaLogCapture
from app.core.machine.llama_build import ggml_gpu_devices
from app.core.settings import configured_threads

_backend_ready = False


def _ensure_backend() -> None:
    global _backend_ready
    if not _backend_ready:
        L.llama_backend_init()
        _backend_ready = True


class LlamaSession:
    """A model, its context and the tokens currently in the KV cache."""

    def __init__(self, request: LoadModel, log: LlamaLogCapture) -> None:
        _ensure_backend()
        path = Path(request.path)
        mark = log.mark()
        if not path.is_file():
            raise ModelLoadError(f"There is no model file at {path}.", f"not a file: {path}")
        model_params = L.llama_model_default_params()
        model_params.n_gpu_layers = request.n_gpu_layers
        devices = device_setup(request)  # other machines (RPC) and the split: kept alive through the load
        apply_devices(devices, model_params)
        model = L.llama_model_load_from_file(os.fsencode(path), model_params)
        if not model:
            reason = log.problems_since(mark)
            raise ModelLoadError(
                f"{path.name} could not be loaded. "
                + (_plain_reason(reason) or "llama.cpp did not accept the file."),
                "\n".join([f"file: {path}", *reason]) or f"file: {path}",
            )
        # every context parameter comes from the one place the memory estimate also reads
        n_layers = int(L.llama_model_n_layer(model))
        # llama.cpp offloads the output layer first: any GPU layer puts it (and the logits) on the GPU
        gpus = ggml_gpu_devices(L.llama_cpp._lib)
        offload = bool(devices.names) or (bool(gpus) if gpus is not None else bool(L.llama_supports_gpu_offload()))
        output_on_gpu = offload and request.n_gpu_layers != 0
        all_on_gpu = offload and not 0 <= request.n_gpu_layers <= n_layers
        self.settings = context_settings(
            request.n_ctx, request.n_batch, request.n_threads or configured_threads(), output_on_gpu, all_on_gpu
        )
        ctx_params = context_params(self.settings)
        ctx = L.llama_init_from_model(model, ctx_params)
        if not ctx:
            reason = log.problems_since(mark)
            L.llama_model_free(model)
            raise ModelLoadError(
                f"{path.name} loaded, but there was not enough memory for a {request.n_ctx}-token context.",
                "\n".join([f"file: {path}", *reason]),
            )
        self.model = model
        self.ctx = ctx
        self.vocab = L.llama_model_get_vocab(model)
        self.path = path
        self.n_batch = request.n_batch
        self.cached: list[int] = []
        template = L.llama_model_chat_template(model, None)
        self.chat_template: str | None = template.decode("utf-8", errors="replace") if template else None
        desc = ctypes.create_string_buffer(256)
        L.llama_model_desc(model, desc, len(desc))
        self.info = ModelInfo(
            path=str(path),
            description=desc.value.decode("utf-8", errors="replace"),
            n_params=int(L.llama_model_n_params(model)),
            size_bytes=int(L.llama_model_size(model)),
            n_ctx=int(L.llama_n_ctx(ctx)),
            n_ctx_train=int(L.llama_model_n_ctx_train(model)),
            n_gpu_layers=request.n_gpu_layers,
            chat_template=self.chat_template,
            n_threads=int(L.llama_n_threads(ctx)),
            context=self.settings,
            devices=devices.names,
        )
        self._one = (L.llama_token * 1)()
        self._batch_one = L.llama_batch_get_one(self._one, 1)  # reused: it points at self._one
        self._piece = ctypes.create_string_buffer(256)
        self._pieces: dict[int, bytes] = {}  # token → its text: asked of llama.cpp once per token id
        self._eog: dict[int, bool] = {}
        self.sampler = ContextSampler(ctx, self.settings.backend_sampling)

    def close(self) -> None:
        if self.ctx:
            self.sampler.release()
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            L.llama_model_free(self.model)
            self.model = None

    # ---- text <-> tokens ----------------------------------------------------------------------------

    def format_chat(self, messages: Sequence[ChatMessage]) -> str:
        """The model's own chat template applied by llama.cpp, ready for the assistant's turn."""
        array = (L.llama_chat_message * len(messages))()
        keep = []  # the bytes must outlive the call
        for i, m in enumerate(messages):
            role, content = m.role.encode(), m.content.encode("utf-8")
            keep.extend([role, content])
            array[i].role = role
            array[i].content = content
        template = self.chat_template.encode("utf-8") if self.chat_template else b"chatml"
        size = 4096 + sum(len(m.content) * 2 for m in messages)
        for _ in range(2):
            buf = ctypes.create_string_buffer(size)
            n = L.llama_chat_apply_template(template, array, len(messages), True, buf, size)
            if n < 0:
                # a template llama.cpp does not recognise: fall back to ChatML, the most common format
                template = b"chatml"
                continue
            if n <= size:
                return buf.raw[:n].decode("utf-8", errors="replace")
            size = n + 1
        raise QuantDeskError("This model's chat format could not be applied.", f"template: {template[:200]!r}")

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 16
        for _ in range(2):
            tokens = (L.llama_token * capacity)()
            n = L.llama_tokenize(self.vocab, data, len(data), tokens, capacity, add_special, True)
            if n >= 0:
                return list(tokens[:n])
            capacity = -n
        raise QuantDeskError("The text could not be split into tokens.", f"llama_tokenize returned {n}")

    def token_bytes(self, token: int) -> bytes:
        n = L.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:
            self._piece = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        return self._piece.raw[:n]

    def _is_eog(self, token: int) -> bool:
        eog = self._eog.get(token)
        if eog is None:
            eog = self._eog[token] = bool(L.llama_vocab_is_eog(self.vocab, token))
        return eog

    def cached_piece(self, token: int) -> bytes:
        piece = self._pieces.get(token)
        if piece is None:
            piece = self._pieces[token] = self.token_bytes(token)
        return piece

    # ---- evaluation ---------------------------------------------------------------------------------

    def _decode(self, tokens: Sequence[int]) -> None:
        for start in range(0, len(tokens), self.n_batch):
            chunk = array("i", tokens[start:start + self.n_batch])  # llama_token is int32
            ids = (L.llama_token * len(chunk)).from_buffer(chunk)
            rc = L.llama_decode(self.ctx, L.llama_batch_get_one(ids, len(chunk)))
            if rc != 0:
                raise QuantDeskError("llama.cpp could not evaluate the text.", f"llama_decode returned {rc}")
            self.cached.extend(chunk)

    def _prepare_prompt(self, tokens: list[int]) -> int:
        """Reuse the longest cached prefix; evaluate the rest. Returns how many tokens were reused."""
        common = min(common_prefix(self.cached, tokens), len(tokens) - 1)  # evaluate one token at least: logits
        memory = L.llama_get_memory(self.ctx)
        L.llama_memory_seq_rm(memory, 0, common, -1)
        del self.cached[common:]
        self._decode(tokens[common:])
        L.llama_synchronize(self.ctx)  # llama_decode only queues work on a GPU: time the prompt to its end
        return common

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        sampling: SamplingSettings,
        on_text: Callable[[str, int], None],
        should_stop: Callable[[], bool],
    ) -> tuple[str, StopReason, GenerationStats]:
        """Stream the assistant's reply through on_text(delta, n_generated); should_stop is checked per token."""
        prompt = self.format_chat(messages)
        add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        tokens = self.tokenize(prompt, add_special=add_bos)
        n_ctx = L.llama_n_ctx(self.ctx)
        if len(tokens) >= n_ctx - 1:
            raise ContextFullError(
                f"This conversation ({len(tokens)} tokens) no longer fits in the model's context of "
                f"{n_ctx} tokens. Start a new chat, or load the model with a longer context.",
                f"prompt tokens {len(tokens)}, n_ctx {n_ctx}",
            )
        sampler = self.sampler.prepare(sampling)  # before the prompt: its last token is sampled in the graph
        t0 = time.perf_counter()
        reused = self._prepare_prompt(tokens)
        t1 = time.perf_counter()
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        pieces: list[str] = []

        def on_token(token: int, generated: int) -> bool:
            text = decoder.decode(self.cached_piece(token))
            if text:
                pieces.append(text)
                on_text(text, generated)
            return False

        reason, generated = run_reply(
            self.ctx, sampler, self._one, self._batch_one, self.cached, n_ctx, max_tokens, self._is_eog, on_token,
            should_stop,
        )
        tail = decoder.decode(b"", final=True)
        if tail:
            pieces.append(tail)
            on_text(tail, generated)
        t2 = time.perf_counter()
        stats = GenerationStats(
            prompt_tokens=len(tokens),
            prompt_tokens_reused=reused,
            prompt_seconds=t1 - t0,
            generated_tokens=generated,
            generation_seconds=t2 - t1,
        )
        return "".join(pieces), reason, stats


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """How many leading tokens a and b share: compared a block at a time in C (slices), then token by token
    in the first block that differs, so a 30k-token conversation costs microseconds, not a Python loop."""
    n = min(len(a), len(b))
    start, step = 0, 256
    while start < n and a[start:start + step] == b[start:start + step]:
        start += step
    while start < n and a[start] == b[start]:
        start += 1
    return min(start, n)


# llama.cpp's words → what they mean for a person. Matched as substrings of its error lines.
_KNOWN_REASONS = (
    ("invalid magic", "It is not a GGUF model file."),
    ("not within the file bounds", "The file is incomplete or damaged (it ends before all of the model's "
                                   "data); download or copy it again."),
    ("failed to read header", "The file is damaged or incomplete: its GGUF header could not be read."),
    ("failed to read key", "The file is damaged: its GGUF header could not be read."),
    ("unknown model architecture", "The installed llama.cpp does not support this model's architecture."),
    ("unsupported model file version", "The file was made by a GGUF version this llama.cpp cannot read."),
    ("failed to open", "The file could not be opened."),
)


def _plain_reason(problems: list[str]) -> str:
    """A sentence a person can act on, from llama.cpp's error lines; empty when it said nothing."""
    for line in problems:
        lowered = line.lower()
        for needle, plain in _KNOWN_REASONS:
            if needle in lowered:
                return plain
    for line in problems:
        text = line.split(":", 2)[-1].strip() if line.count(":") >= 2 else line.strip()
        if text and "failed to load model" not in text:
            return f"llama.cpp says: {text}"
    return ""
