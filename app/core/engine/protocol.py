"""Messages between the app and the engine process: plain frozen dataclasses sent over a Pipe.

Requests go app → engine, events come back engine → app. Loading may send LoadProgress events before its
ModelLoaded. Generation sends one PromptReady (the prompt's size, and whether old turns were dropped to fit
the context), streams TextDelta events and ends with exactly one GenerationDone or RequestFailed carrying
the same request_id.

To extend: add a field with a default to a request or an event (old senders keep working), or a new event
class to `Event`; a client ignores events it does not know.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from app.core.context_settings import ContextSettings
from app.core.machine.llama_build import BackendInfo
from app.core.process.runner import ErrorReport


@dataclass(frozen=True)
class ChatMessage:
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class SamplingSettings:
    """temperature <= 0 means greedy decoding (always the most likely token)."""

    temperature: float = 0.7
    top_k: int = 40
    top_p: float = 0.95
    min_p: float = 0.05
    seed: int = 0xFFFFFFFF  # llama.cpp's LLAMA_DEFAULT_SEED: a random seed each time
    repeat_penalty: float = 1.0  # 1.0: off; above 1 makes recently used tokens less likely
    repeat_last_n: int = 64  # how many recent tokens the repeat penalty looks at
    frequency_penalty: float = 0.0  # subtracted from a recent token's logit once per time it was used (OpenAI's)
    presence_penalty: float = 0.0  # subtracted once from the logit of any recent token (OpenAI's)
    logit_bias: tuple[tuple[int, float], ...] = ()  # (token id, added to its logit)
    grammar: str = ""  # a GBNF grammar (llama.cpp's) the reply must follow, e.g. JSON only; empty: none


GREEDY = SamplingSettings(temperature=0.0)


# ---- requests -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LoadModel:
    path: str
    n_ctx: int = 4096
    n_gpu_layers: int = 0
    n_threads: int | None = None  # None: one per physical core
    n_batch: int = 512
    # other machines' devices through llama.cpp's RPC backend ("host:port"), used before this computer's GPUs
    rpc_servers: tuple[str, ...] = ()
    # each device's share of the offloaded layers (RPC devices first, then local GPUs); () = llama.cpp's own
    # split, by free memory
    tensor_split: tuple[float, ...] = ()


@dataclass(frozen=True)
class Generate:
    request_id: int
    messages: tuple[ChatMessage, ...]
    max_tokens: int = 512
    sampling: SamplingSettings = field(default_factory=SamplingSettings)
    # "auto": the model's own format (chat_format.py), "text": continue the text as written, or the name
    # of one of llama.cpp's built-in formats ("chatml", "llama3", "gemma", "phi3", "mistral-v7"...)
    prompt_format: str = "auto"
    # > 0: GenerationDone.tokens lists every token of the reply with this many most likely alternatives
    top_logprobs: int = 0
    stop: tuple[str, ...] = ()  # texts of the caller's that end the reply too (never shown), besides the format's


@dataclass(frozen=True)
class StopGeneration:
    """Ends the generation in progress after the token being decoded now."""


@dataclass(frozen=True)
class UnloadModel:
    pass


@dataclass(frozen=True)
class Shutdown:
    pass


@dataclass(frozen=True)
class DescribeBuild:
    """What llama.cpp build this engine runs (answered with BuildDescribed, at once when idle)."""


Request = LoadModel | Generate | StopGeneration | UnloadModel | Shutdown | DescribeBuild


# ---- events -------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelInfo:
    path: str
    description: str  # llama.cpp's own one-line description, e.g. "llama 135M Q4_1"
    n_params: int
    size_bytes: int
    n_ctx: int
    n_ctx_train: int
    n_gpu_layers: int
    chat_template: str | None
    n_threads: int = 0
    context: ContextSettings | None = None  # what the engine asked of llama.cpp (flash attention, batches...)
    devices: tuple[str, ...] = ()  # the devices named for the model ("RPC0", "CUDA0"); () = llama.cpp's choice
    n_batch: int = 0  # tokens per llama_decode call: the context's own, never more than its n_ctx
    chat_format: str = "text"  # "template" (its own, Jinja), "builtin" (llama.cpp's), "text" (none: continues)
    chat_format_note: str = ""  # the same in plain words, for the person
    bos_token: str = ""
    eos_token: str = ""


@dataclass(frozen=True)
class LoadProgress:
    fraction: float  # 0..1, as llama.cpp reads the weights


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo
    load_seconds: float
    rss_before_bytes: int = 0  # the engine's resident memory just before loading: what the model adds is the rest


@dataclass(frozen=True)
class PromptReady:
    """The prompt is evaluated; the reply's first token comes next."""

    request_id: int
    prompt_tokens: int
    prompt_tokens_reused: int
    dropped_messages: int  # the oldest messages left out because the conversation outgrew the context
    n_ctx: int


@dataclass(frozen=True)
class TextDelta:
    request_id: int
    text: str
    n_generated: int


@dataclass(frozen=True)
class GenerationStats:
    prompt_tokens: int
    prompt_tokens_reused: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    first_token_seconds: float = 0.0  # from the request's arrival to the first token of the reply
    dropped_messages: int = 0

    @property
    def tokens_per_second(self) -> float:
        if self.generation_seconds <= 0:
            return 0.0
        return self.generated_tokens / self.generation_seconds

    @property
    def prompt_tokens_per_second(self) -> float:
        evaluated = self.prompt_tokens - self.prompt_tokens_reused
        if self.prompt_seconds <= 0:
            return 0.0
        return evaluated / self.prompt_seconds


StopReason = Literal["end_of_text", "max_tokens", "stopped", "context_full"]


@dataclass(frozen=True)
class TokenChoice:
    token: int
    piece: bytes  # the token's bytes (a piece of UTF-8, possibly incomplete)
    probability: float  # the model's own: softmax of its logits at temperature 1
    end: bool = False  # an end-of-generation token (its piece is empty)


@dataclass(frozen=True)
class GeneratedToken:
    """One token of a reply and the model's most likely tokens at that point (Generate.top_logprobs)."""

    token: int
    piece: bytes
    probability: float
    top: tuple[TokenChoice, ...]  # most likely first
    end: bool = False  # an end-of-generation token: the reply ended here


@dataclass(frozen=True)
class GenerationDone:
    request_id: int
    text: str
    stop_reason: StopReason
    stats: GenerationStats
    end_token: str = ""  # the end-of-turn token or stop text the reply ended at ("<|im_end|>"), if any
    tokens: tuple[GeneratedToken, ...] = ()  # only when the request asked for top_logprobs


@dataclass(frozen=True)
class ModelUnloaded:
    pass


@dataclass(frozen=True)
class RequestFailed:
    """A request the engine could not carry out; the engine itself is still running."""

    request_id: int | None
    error: ErrorReport  # the client raises the same QuantDeskError type from it


@dataclass(frozen=True)
class BuildDescribed:
    backend: BackendInfo | None  # None: llama-cpp-python is missing


Event = (LoadProgress | ModelLoaded | PromptReady | TextDelta | GenerationDone | ModelUnloaded | RequestFailed
         | BuildDescribed)
