"""What a kind of job is: its name, its typed parameters and result, and the function that runs it.

Parameters and results are frozen dataclasses of plain values (str, int, float, bool, None, tuples of them),
so the queue can keep them in its JSON file and read them back as the same types. A runner is
`run(params, context) -> result`; the context carries the progress, stage and detail callbacks and the
cancel token. Runners import their heavy machinery (huggingface_hub, numpy, llama.cpp) when they run, so
the queue and the window start without it.
"""

from __future__ import annotations

import dataclasses
import threading
import typing
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, TypeVar

from app.core.progress import CancelToken, ProgressCallback, StageCallback, no_progress, no_stage

#: A line for people about what is happening now ("File 2 of 3: model.gguf — 1.2 of 4.0 GB").
DetailCallback = Callable[[str], None]


def no_detail(text: str) -> None:
    """The detail callback for callers that don't watch."""


@dataclass(frozen=True)
class JobContext:
    """How a running job reports and is stopped."""

    on_progress: ProgressCallback = no_progress
    on_stage: StageCallback = no_stage
    on_detail: DetailCallback = no_detail
    cancel: CancelToken = field(default_factory=threading.Event)


P = TypeVar("P")
R = TypeVar("R")


@dataclass(frozen=True)
class JobKind(Generic[P, R]):
    """One kind of job ("download", "convert", "quantize"); `name` is what the queue's file stores."""

    name: str
    params_type: type[P]
    result_type: type[R]
    run: Callable[[P, JobContext], R]
    #: Progress is in bytes (shown as sizes and a transfer rate) rather than steps.
    progress_in_bytes: bool = False
    #: Where the job writes, so partial files that a killed run left there are cleared before it starts.
    output_folders: Callable[[P], tuple[Path, ...]] = lambda params: ()

    def params_from_json(self, data: dict[str, Any]) -> P:
        return from_json(self.params_type, data)

    def result_from_json(self, data: dict[str, Any]) -> R:
        return from_json(self.result_type, data)


def to_json(value: object) -> dict[str, Any]:
    """A parameters or result dataclass as a JSON-able dict (tuples become lists)."""
    if not dataclasses.is_dataclass(value) or isinstance(value, type):
        raise TypeError(f"{value!r} is not a dataclass instance")
    return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(value).items()}


T = TypeVar("T")


def from_json(cls: type[T], data: dict[str, Any]) -> T:
    """The dataclass `cls` from a dict written by `to_json` (unknown keys are ignored: an older or newer file
    still reads; a missing required key is a TypeError)."""
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(cls):  # type: ignore[arg-type]
        if f.name not in data:
            continue
        value = data[f.name]
        if isinstance(value, list) and typing.get_origin(hints.get(f.name)) is tuple:
            value = tuple(value)
        values[f.name] = value
    return cls(**values)
