"""One error hierarchy: every failure a person can meet, in plain words, with the technical detail apart.

The UI shows `message` and puts `detail` behind a "Details" button; the CLI prints `message` and, with
--json, both. Nothing above core ever needs a traceback to explain what went wrong.
"""

from __future__ import annotations


class QuantDeskError(Exception):
    """A failure explained in plain words (`message`) with the technical detail (`detail`) kept apart."""

    def __init__(self, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.detail = detail

    def __str__(self) -> str:
        return self.message

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        # keep the detail when the error crosses a process boundary (pickle would drop it)
        return (type(self), (self.message, self.detail))


class Cancelled(QuantDeskError):
    """The person asked to stop; not a failure, and nothing half-done is left behind."""

    def __init__(self, message: str = "Cancelled.", detail: str = "") -> None:
        super().__init__(message, detail)


class ModelNotFoundError(QuantDeskError):
    """A model path or name that points at nothing."""


class ModelLoadError(QuantDeskError):
    """llama.cpp refused to load a model; `detail` holds its own log lines."""


class EngineCrashedError(QuantDeskError):
    """The engine process ended without being asked to (an abort inside llama.cpp, out of memory...)."""


class EngineBusyError(QuantDeskError):
    """A request that needs an idle engine arrived while it was generating."""


class EngineNotReadyError(QuantDeskError):
    """A request that needs a loaded model arrived before one was loaded."""


class ContextFullError(QuantDeskError):
    """The conversation no longer fits in the model's context window."""


class ServeError(QuantDeskError):
    """The local API server could not start (its port is taken, the address is not this computer's...)."""

class RpcHostError(QuantDeskError):
    """A machine named for llama.cpp's RPC backend that cannot be used (a bad address, nothing answering)."""


# ---- the Hugging Face Hub: search, inspect, download ------------------------------------------------------


class HubError(QuantDeskError):
    """Something between QuantDesk and the Hugging Face Hub went wrong."""


class OfflineModeError(HubError):
    """Offline mode is on, so QuantDesk made no network call."""


class HubConnectionError(HubError):
    """The Hub could not be reached, or the connection dropped and retries did not help."""


class RepoNotFoundError(HubError):
    """No model of that name on the Hub (or it is private)."""


class RevisionNotFoundError(HubError):
    """The repo exists but not that branch, tag or commit."""


class RepoFileNotFoundError(HubError):
    """The repo exists but not that file."""


class GatedModelError(HubError):
    """The model's authors ask people to accept terms first; a token with access is needed."""


class InvalidTokenError(HubError):
    """The Hugging Face token was refused."""


class UnsafeRepoPathError(HubError):
    """A file name in the repo listing would land outside the download folder ('..', an absolute path)."""


class ChecksumMismatchError(HubError):
    """The downloaded bytes are not the ones the Hub lists; the file was discarded."""


class NotEnoughDiskError(QuantDeskError):
    """The disk has less free space than the task needs (checked before starting, or met while writing)."""


# ---- conversion (HF safetensors → GGUF) -------------------------------------------------------------


class ConversionError(QuantDeskError):
    """A model could not be converted to GGUF; nothing was left under the output name."""


class InvalidModelFolderError(ConversionError):
    """The folder is not a usable Hugging Face model: no config.json, no tokenizer, damaged weights..."""


class UnsupportedArchitectureError(ConversionError):
    """The model's architecture is not one QuantDesk can convert; refused before any work."""


# ---- model facts and quantization ---------------------------------------------------------------


class ModelInfoError(QuantDeskError):
    """A model's facts could not be read: a damaged or unfinished file, a missing key, an unknown layout."""


class InvalidModelFileError(ModelInfoError):
    """A file that is not a readable GGUF model (truncated, corrupt, or something else entirely)."""


class AlreadyQuantizedError(QuantDeskError):
    """A quantized file asked to be quantized again without saying that the quality loss is accepted."""

    def __init__(self, message: str, detail: str = "", current_type: str = "") -> None:
        super().__init__(message, detail)
        self.current_type = current_type

    def __reduce__(self) -> tuple[type, tuple[str, str, str]]:  # type: ignore[override]
        return (type(self), (self.message, self.detail, self.current_type))


class UnknownQuantTypeError(QuantDeskError):
    """A type name llama.cpp's quantizer does not offer."""


class ImatrixError(QuantDeskError):
    """The importance matrix could not be computed."""


class QuantizeError(QuantDeskError):
    """llama.cpp's quantizer refused or failed; `detail` holds its own log lines."""


class EvaluationError(QuantDeskError):
    """Measuring a model's quality against a reference failed (a text too short, models that don't match)."""
