"""A conversion as a job in the queue: convert_model in a child process, from JSON parameters.

The child process keeps the numpy work away from the GUI's GIL and makes Cancel real (terminate, then
the temporary output is removed): nothing ever appears under the output name unless it is complete. A
conversion cannot continue half-way, so Retry or Resume after a restart converts again from the start.
The Convert page's own button runs `convert_in_child` too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.child_job import run_in_child
from app.core.convert import ConversionResult, convert_model, temp_path_for
from app.core.jobs import CancelToken, ProgressCallback, StageCallback, no_progress, no_stage

PROGRESS_STEPS = 1000  # progress in permille: the byte counts mean nothing to a person here


@dataclass(frozen=True)
class ConvertJobParams:
    """What a convert job needs; stored in the job queue as plain JSON."""

    folder: str
    out: str
    outtype: str = "f16"

    def to_json(self) -> dict[str, Any]:
        return {"folder": self.folder, "out": self.out, "outtype": self.outtype}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> ConvertJobParams:
        return cls(folder=str(data["folder"]), out=str(data["out"]), outtype=str(data.get("outtype") or "f16"))


def convert_in_child(folder: str, out: str, outtype: str, on_progress: ProgressCallback = no_progress,
                     cancel: CancelToken | None = None) -> ConversionResult:
    """convert_model in a child process, progress scaled to PROGRESS_STEPS."""

    def scaled(done: int, total: int) -> None:
        on_progress(done * PROGRESS_STEPS // total if total else 0, PROGRESS_STEPS)

    result: ConversionResult = run_in_child(
        convert_model,
        args=(folder, out, outtype),
        on_progress=scaled,
        cancel=cancel,
        cleanup=[temp_path_for(Path(out).expanduser().resolve())],
    )
    return result


def run_convert_job(
    params: dict[str, Any] | ConvertJobParams,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    on_stage: StageCallback = no_stage,
) -> dict[str, Any]:
    """Convert the job's folder; returns {"path", "architecture", "outtype", "n_tensors", "size_bytes", "seconds"}."""
    p = params if isinstance(params, ConvertJobParams) else ConvertJobParams.from_json(params)
    on_stage("convert")
    result = convert_in_child(p.folder, p.out, p.outtype, on_progress=on_progress, cancel=cancel)
    return {
        "path": str(result.path),
        "architecture": result.architecture,
        "outtype": result.outtype,
        "n_tensors": result.n_tensors,
        "size_bytes": result.size_bytes,
        "seconds": result.seconds,
    }
