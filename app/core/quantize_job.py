"""A whole quantization as a person asks for it: expand if needed, importance matrix if useful, quantize.

Every heavy step runs in its own child process (run_in_child), so Cancel is immediate and a native abort
is an error message. Steps whose result already exists are reused: a ladder of four levels from the
starter model expands it to F16 once and computes its importance matrix once.

`run_quantize_job` is the runner the job queue calls for kind "quantize"; the CLI calls it too.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.child_job import run_in_child
from app.core.errors import AlreadyQuantizedError
from app.core.gguf_expand import expand_to_f16
from app.core.imatrix_compute import compute_imatrix, default_calibration_text
from app.core.jobs import CancelToken, ProgressCallback, StageCallback, check_cancelled, no_progress, no_stage
from app.core.paths import data_dir, models_dir
from app.core.quant_types import quant_type
from app.core.quantize import (
    QuantizeResult,
    check_disk,
    default_output_path,
    inspect_source,
    model_stem,
    quantize_file,
    requantize_warning,
    temp_path_for,
)

F16 = quant_type("F16")


@dataclass(frozen=True)
class QuantizeJobParams:
    """What a quantize job needs; stored in the job queue as plain JSON."""

    src: str
    type_name: str
    dst: str | None = None
    imatrix: str | None = None  # an existing imatrix file
    calibration: str | None = None  # a text to compute one from (default: the shipped text, when useful)
    allow_requantize: bool = False
    threads: int | None = None

    def to_json(self) -> dict[str, Any]:
        return {k: v for k, v in self.__dict__.items() if v is not None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> QuantizeJobParams:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})

    def output_path(self) -> Path:
        return Path(self.dst) if self.dst else default_output_path(Path(self.src), self.type_name)

    def wants_imatrix(self) -> bool:
        target = quant_type(self.type_name)
        return bool(self.imatrix or self.calibration or target.needs_imatrix or target.imatrix_recommended)


def expanded_path_for(src: Path) -> Path:
    """Where the F16 expansion of a quantized `src` is kept (and found again by the next job)."""
    return models_dir() / f"{model_stem(src)}-F16.gguf"


def imatrix_path_for(model: Path, calibration: Path) -> Path:
    folder = data_dir() / "imatrix"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{model_stem(model)}-{calibration.stem}.imatrix.gguf"


def _fresh(path: Path, than: Path) -> bool:
    return path.is_file() and path.stat().st_mtime >= than.stat().st_mtime


def run_quantize_job(
    params: dict[str, Any] | QuantizeJobParams,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    on_stage: StageCallback = no_stage,
) -> dict[str, Any]:
    """Run a quantize job; returns {"path", "type", "size_bytes", "seconds", "imatrix", "expanded_from"}.

    Stages are reported through on_stage ("expand", "imatrix", "quantize"); progress restarts per stage.
    """
    p = params if isinstance(params, QuantizeJobParams) else QuantizeJobParams.from_json(params)
    src = Path(p.src)
    dst = p.output_path()
    target = quant_type(p.type_name)
    info = inspect_source(src)
    expanded_from: str | None = None

    if info.is_quantized:
        if not p.allow_requantize:
            raise AlreadyQuantizedError(
                requantize_warning(info.file_type, target.name),
                f"{src} is {info.file_type}; pass allow_requantize to go on",
                current_type=info.file_type,
            )
        # Quantize from an F16 expansion: llama.cpp then works from float weights, and every level of a
        # ladder starts from the same values.
        f16 = expanded_path_for(src)
        if not _fresh(f16, src):
            check_cancelled(cancel)
            check_disk(f16.parent, int(info.estimate_output_bytes(F16) * 1.05))
            on_stage("expand")
            run_in_child(expand_to_f16, args=(src, f16), on_progress=on_progress, cancel=cancel,
                         cleanup=[temp_path_for(f16)])
        expanded_from, src = str(src), f16
        if target.name == "F16" and dst.resolve() == f16.resolve():
            return _result_dict(dst, target.name, 0.0, None, expanded_from)

    imatrix: Path | None = Path(p.imatrix) if p.imatrix else None
    if imatrix is None and p.wants_imatrix():
        calibration = Path(p.calibration) if p.calibration else default_calibration_text()
        imatrix = imatrix_path_for(src, calibration)
        if not (_fresh(imatrix, src) and _fresh(imatrix, calibration)):
            check_cancelled(cancel)
            on_stage("imatrix")
            run_in_child(compute_imatrix, args=(src, calibration, imatrix),
                         kwargs={"threads": p.threads}, on_progress=on_progress, cancel=cancel,
                         cleanup=[imatrix.with_name(imatrix.name + ".part")])

    check_cancelled(cancel)
    on_stage("quantize")
    result: QuantizeResult = run_in_child(
        quantize_file,
        args=(src, dst, target.name),
        kwargs={"threads": p.threads, "imatrix": imatrix, "allow_requantize": False},
        on_progress=on_progress,
        cancel=cancel,
        cleanup=[temp_path_for(dst)],
    )
    return _result_dict(result.path, result.type_name, result.seconds, imatrix, expanded_from)


def _result_dict(path: Path, type_name: str, seconds: float, imatrix: Path | None,
                 expanded_from: str | None) -> dict[str, Any]:
    return {
        "path": str(path),
        "type": type_name,
        "size_bytes": path.stat().st_size,
        "seconds": seconds,
        "imatrix": str(imatrix) if imatrix else None,
        "expanded_from": expanded_from,
    }


def ladder_jobs(src: Path, type_names: list[str], allow_requantize: bool = False,
                calibration: Path | None = None) -> list[QuantizeJobParams]:
    """One job per level of a ladder, largest first (the comparison panel reads them in this order)."""
    return [QuantizeJobParams(src=str(src), type_name=quant_type(name).name,
                              allow_requantize=allow_requantize,
                              calibration=str(calibration) if calibration else None)
            for name in type_names]
