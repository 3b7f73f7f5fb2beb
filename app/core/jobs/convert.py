"""A conversion as a job: convert_model in a child process, so its numpy work never competes with the window
for the GIL and Cancel is real (the child ends; its partial file is removed, nothing appears under the
output name). A conversion cannot continue half-way, so Retry or Resume after a restart starts over.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.jobs.kind import JobContext, JobKind
from app.core.process.runner import run_in_child

PROGRESS_STEPS = 1000  # progress in permille: the byte counts mean nothing to a person here


@dataclass(frozen=True)
class ConvertJobParams:
    folder: str
    out: str
    outtype: str = "f16"


@dataclass(frozen=True)
class ConvertJobResult:
    path: str
    folder: str
    architecture: str
    hf_architecture: str
    outtype: str
    n_tensors: int
    size_bytes: int
    seconds: float


def run_convert_job(params: ConvertJobParams, context: JobContext) -> ConvertJobResult:
    from app.core.convert.converter import ConversionResult, convert_model  # gguf-py: when a conversion runs

    def scaled(done: int, total: int) -> None:
        context.on_progress(done * PROGRESS_STEPS // total if total else 0, PROGRESS_STEPS)

    context.on_stage("convert")
    out = Path(params.out).expanduser().resolve()
    result: ConversionResult = run_in_child(convert_model, args=(params.folder, str(out), params.outtype),
                                            on_progress=scaled, cancel=context.cancel, outputs=[out])
    return ConvertJobResult(
        path=str(result.path),
        folder=str(result.path.parent),
        architecture=result.architecture,
        hf_architecture=result.hf_architecture,
        outtype=result.outtype,
        n_tensors=result.n_tensors,
        size_bytes=result.size_bytes,
        seconds=result.seconds,
    )


CONVERT = JobKind("convert", ConvertJobParams, ConvertJobResult, run_convert_job,
                  output_folders=lambda p: (Path(p.out).expanduser().parent,))
