"""Messages between the app and the engine process: plain frozen dataclasses sent over a Pipe.

Requests go app → engine, events come back engine → app. Generation streams TextDelta events and ends
with exactly one GenerationDone or RequestFailed carrying the same request_id.
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


@dataclass(frozen=True)
class ModelLoaded:
    info: ModelInfo
    load_seconds: float


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
class GenerationDone:
    request_id: int
    text: str
    stop_reason: StopReason
    stats: GenerationStats


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


Event = ModelLoaded | TextDelta | GenerationDone | ModelUnloaded | RequestFailed | BuildDescribed
