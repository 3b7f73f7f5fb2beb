"""One loaded model and its context, driven through llama.cpp's low-level API.

Generation decodes and samples through llama.cpp's own sampler chain with one small Python step per
token, so it stays close to native speed (the bindings' high-level loop runs 9–18 % behind on a fast
GPU). The KV cache is kept between turns: a follow-up message only evaluates the tokens that changed.
The prompt is written in the model's chat format (chat_format.py); a reply ends at an end-of-generation
token, at a turn marker of that format (as a control token or spelled out: stop_text.py), at the length
limit or when the context is full. A conversation that outgrows the context loses its oldest turns. Text is
evaluated in batches of the context's own n_batch, which llama.cpp caps at n_ctx (a bigger batch aborts
the process in GGML_ASSERT(n_tokens_all <= cparams.n_batch)).
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
from app.core.engine.chat_format import ChatFormat, build_prompt, choose_format
from app.core.engine.context_setup import context_params
from app.core.engine.device_setup import apply as apply_devices
from app.core.engine.device_setup import device_setup
from app.core.engine.protocol import (
    ChatMessage,
    GenerationStats,
    LoadModel,
    ModelInfo,
    PromptReady,
    SamplingSettings,
    StopReason,
)
from app.core.engine.reply_loop import run_reply
from app.core.engine.sampling import ContextSampler
from app.core.engine.stop_text import StopScanner
from app.core.errors import ContextFullError, ModelLoadError, QuantDeskError
from app.core.llama_log import LlamaLogCapture
from app.core.llama_tokens import TokenizeFailed, tokenize
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

    def __init__(self, request: LoadModel, log: LlamaLogCapture,
                 on_progress: Callable[[float], None] | None = None) -> None:
        _ensure_backend()
        path = Path(request.path)
        mark = log.mark()
        if not path.is_file():
            raise ModelLoadError(f"There is no model file at {path}.", f"not a file: {path}")
        model_params = L.llama_model_default_params()
        model_params.n_gpu_layers = request.n_gpu_layers
        devices = device_setup(request)  # other machines (RPC) and the split: kept alive through the load
        apply_devices(devices, model_params)
        if on_progress is not None:
            def progress(fraction: float, _user_data: object) -> bool:
                on_progress(float(fraction))
                return True  # go on loading

            callback = L.llama_progress_callback(progress)  # kept alive by this frame for the whole load
            model_params.progress_callback = callback
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
            request.n_ctx, request.n_batch, request.n_threads, output_on_gpu, all_on_gpu, cores=configured_threads()
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
        # the context's own batch size: llama.cpp lowers it to n_ctx when the context is smaller
        self.n_batch = int(L.llama_n_batch(ctx))
        self.cached: list[int] = []
        template = L.llama_model_chat_template(model, None)
        self.chat_template: str | None = template.decode("utf-8", errors="replace") if template else None
        self.add_bos = bool(L.llama_vocab_get_add_bos(self.vocab))
        self.bos_text = self._special_text(L.llama_vocab_bos(self.vocab))
        self.eos_text = self._special_text(L.llama_vocab_eos(self.vocab))
        self.format = choose_format(self.chat_template, self.bos_text, self.eos_text)
        self._formats: dict[str, ChatFormat] = {}
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
            n_batch=self.n_batch,
            chat_format=self.format.kind,
            chat_format_note=self.format.note,
            bos_token=self.bos_text,
            eos_token=self.eos_text,
        )
        self._one = (L.llama_token * 1)()
        self._batch_one = L.llama_batch_get_one(self._one, 1)  # reused: it points at self._one
        self._piece = ctypes.create_string_buffer(256)
        self._pieces: dict[int, bytes] = {}  # token → its text: asked of llama.cpp once per token id
        self.sampler = ContextSampler(ctx, self.settings.backend_sampling, self.vocab)

    def close(self) -> None:
        if self.ctx:
            self.sampler.release()
            L.llama_free(self.ctx)
            self.ctx = None
        if self.model:
            L.llama_model_free(self.model)
            self.model = None

    # ---- text <-> tokens ----------------------------------------------------------------------------

    def format_chat(self, messages: Sequence[ChatMessage], prompt_format: str = "auto") -> str:
        """The prompt text for `messages` in the model's chat format (or the one asked for), ready for the
        assistant's turn; in text mode, the texts as written."""
        fmt = self.format if prompt_format in ("auto", "") else self._requested_format(prompt_format)
        return build_prompt(fmt, messages, self.bos_text, self.eos_text)

    def _requested_format(self, name: str) -> ChatFormat:
        if name not in self._formats:
            self._formats[name] = choose_format(self.chat_template, self.bos_text, self.eos_text, name)
        return self._formats[name]

    def _special_text(self, token: int) -> str:
        if token < 0:
            return ""
        return (L.llama_vocab_get_text(self.vocab, token) or b"").decode("utf-8", errors="replace")

    def tokenize_prompt(self, prompt: str) -> list[int]:
        """Tokens of a prompt, with the model's BOS once: templates that write it themselves (Llama 3,
        Gemma, Mistral) would otherwise get it twice, as llama.cpp's tokenizer adds it too."""
        if self.add_bos and self.bos_text and prompt.startswith(self.bos_text):
            prompt = prompt[len(self.bos_text):]
        return self.tokenize(prompt, add_special=self.add_bos)

    def tokenize(self, text: str, add_special: bool = True) -> list[int]:
        try:
            return tokenize(self.vocab, text, add_special, parse_special=True)
        except TokenizeFailed as error:
            raise QuantDeskError("The text could not be split into tokens.", str(error)) from None

    def token_bytes(self, token: int) -> bytes:
        n = L.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        if n < 0:
            self._piece = ctypes.create_string_buffer(-n)
            n = L.llama_token_to_piece(self.vocab, token, self._piece, len(self._piece), 0, False)
        return self._piece.raw[:n]

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

    def fit_prompt(self, messages: Sequence[ChatMessage], fmt: ChatFormat, reserve: int) -> tuple[list[int], int]:
        """The prompt's tokens with room for `reserve` reply tokens, and how many of the oldest messages were
        left out to make that room (the system prompt always stays; a chat still starts with a person's turn).
        """
        n_ctx = int(L.llama_n_ctx(self.ctx))
        system = [m for m in messages if m.role == "system"]
        turns = [m for m in messages if m.role != "system"]
        dropped = 0
        while True:
            tokens = self.tokenize_prompt(build_prompt(fmt, system + turns[dropped:], self.bos_text, self.eos_text))
            if len(tokens) + reserve <= n_ctx or dropped >= len(turns) - 1:
                break
            dropped += 1
            while fmt.kind != "text" and dropped < len(turns) - 1 and turns[dropped].role != "user":
                dropped += 1
        room = n_ctx - 1  # at least one token of reply
        if len(tokens) <= room:
            return tokens, dropped
        if fmt.kind == "text":  # a text to continue: its end is what matters
            return tokens[len(tokens) - (n_ctx - reserve):], dropped
        raise ContextFullError(
            f"Your message is {len(tokens)} tokens long, and this model was loaded with a context of {n_ctx} "
            "tokens, which must hold the message and the reply. Shorten the message, or load the model with "
            "a longer context.",
            f"prompt tokens {len(tokens)}, n_ctx {n_ctx}, messages dropped {dropped}",
        )

    def _ends_turn(self, token: int, fmt: ChatFormat) -> bool:
        """An end-of-generation token, or a control token that is one of the format's turn markers."""
        if L.llama_vocab_is_eog(self.vocab, token):
            return True
        return bool(fmt.stops) and bool(L.llama_vocab_is_control(self.vocab, token)) and \
            self._special_text(token) in fmt.stops

    def generate(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        sampling: SamplingSettings,
        on_text: Callable[[str, int], None],
        should_stop: Callable[[], bool],
        prompt_format: str = "auto",
        on_prompt: Callable[[PromptReady], None] | None = None,
        request_id: int = 0,
        on_token: Callable[[int, bool], None] | None = None,
        stop: tuple[str, ...] = (),
    ) -> tuple[str, StopReason, GenerationStats, str]:
        """Stream the assistant's reply through on_text(delta, n_generated); should_stop is checked per token;
        `stop`: texts that end the reply as the format's turn markers do.
        Returns the reply, why it ended, its figures and the token or stop text it ended at.
        on_token(token, ends_turn) sees each sampled token while its logits are still readable
        (token_choices.py)."""
        t_start = time.perf_counter()
        fmt = self.format if prompt_format in ("auto", "") else self._requested_format(prompt_format)
        n_ctx = int(L.llama_n_ctx(self.ctx))
        tokens, dropped = self.fit_prompt(messages, fmt, max(1, min(max_tokens, n_ctx // 4)))
        # before the prompt: its last token is sampled in the graph; not there when the logits are read back
        sampler = self.sampler.prepare(sampling, in_graph=on_token is None)
        t0 = time.perf_counter()
        reused = self._prepare_prompt(tokens)
        t1 = time.perf_counter()
        if on_prompt is not None:
            on_prompt(PromptReady(request_id, len(tokens), reused, dropped, n_ctx))
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        scanner = StopScanner(fmt.stops + tuple(s for s in stop if s not in fmt.stops))
        pieces: list[str] = []
        end_token = ""
        first_token_at = 0.0
        ends: dict[int, bool] = {}  # token → whether it ends the turn in this format: asked once per token id

        def ends_turn(token: int) -> bool:
            end = ends.get(token)
            if end is None:
                end = ends[token] = self._ends_turn(token, fmt)
            return end

        def on_piece(token: int, generated: int) -> bool:
            nonlocal first_token_at
            if generated == 1:
                first_token_at = time.perf_counter()
            text = scanner.feed(decoder.decode(self.cached_piece(token)))
            if text:
                pieces.append(text)
                on_text(text, generated)
            return scanner.matched is not None  # a stop text ends the reply

        reason, generated, last = run_reply(
            self.ctx, sampler, self._one, self._batch_one, self.cached, n_ctx, max_tokens, ends_turn, on_piece,
            should_stop, on_sampled=on_token,
        )
        if reason == "end_of_text":
            end_token = scanner.matched if scanner.matched is not None else self._special_text(last)
        tail = scanner.feed(decoder.decode(b"", final=True)) + scanner.flush()
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
            first_token_seconds=(first_token_at or t2) - t_start,
            dropped_messages=dropped,
        )
        return "".join(pieces), reason, stats, end_token


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
