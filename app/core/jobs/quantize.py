"""A whole quantization as a person asks for it: expand if needed, importance matrix if useful, quantize.

Every heavy step runs in its own child process (the one runner), so Cancel is immediate and a native abort
is an error message. Steps whose result already exists are reused: a ladder of four levels from the
starter model expands it to F16 once and computes its importance matrix once. The CLI runs the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from app.core.errors import AlreadyQuantizedError
from app.core.jobs.kind import JobContext, JobKind
from app.core.paths import data_dir, models_dir
from app.core.process.runner import run_in_child
from app.core.progress import check_cancelled
from app.core.quants import quant_type


@dataclass(frozen=True)
class QuantizeJobParams:
    src: str
    type_name: str
    dst: str | None = None
    imatrix: str | None = None  # an existing imatrix file
    calibration: str | None = None  # a text to compute one from (default: the shipped text, when useful)
    allow_requantize: bool = False
    threads: int | None = None

    def output_path(self) -> Path:
        from app.core.quantize.quantizer import default_output_path

        return Path(self.dst) if self.dst else default_output_path(Path(self.src), self.type_name)

    def wants_imatrix(self) -> bool:
        target = quant_type(self.type_name)
        return bool(self.imatrix or self.calibration or target.needs_imatrix or target.imatrix_recommended)


@dataclass(frozen=True)
class QuantizeJobResult:
    path: str
    folder: str
    type: str
    size_bytes: int
    seconds: float
    imatrix: str | None
    expanded_from: str | None


def expanded_path_for(src: Path) -> Path:
    """Where the F16 expansion of a quantized `src` is kept (and found again by the next job)."""
    from app.core.quantize.quantizer import model_stem

    return models_dir() / f"{model_stem(src)}-F16.gguf"


def imatrix_path_for(model: Path, calibration: Path) -> Path:
    from app.core.quantize.quantizer import model_stem

    folder = data_dir() / "imatrix"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"{model_stem(model)}-{calibration.stem}.imatrix.gguf"


def _fresh(path: Path, than: Path) -> bool:
    return path.is_file() and path.stat().st_mtime >= than.stat().st_mtime


def run_quantize_job(params: QuantizeJobParams, context: JobContext) -> QuantizeJobResult:
    """Stages are reported through on_stage ("expand", "imatrix", "quantize"); progress restarts per stage."""
    from app.core.disk import check_free_space
    from app.core.quantize.expand import expand_to_f16
    from app.core.quantize.imatrix_compute import compute_imatrix, default_calibration_text
    from app.core.quantize.quantizer import QuantizeResult, inspect_source, quantize_file, requantize_warning

    cancel = context.cancel
    src = Path(params.src)
    dst = params.output_path()
    target = quant_type(params.type_name)
    info = inspect_source(src)
    expanded_from: str | None = None

    if info.is_quantized:
        if not params.allow_requantize:
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
            f16.parent.mkdir(parents=True, exist_ok=True)
            check_free_space(f16.parent, int(info.estimate_output_bytes(quant_type("F16")) * 1.05))
            context.on_stage("expand")
            run_in_child(expand_to_f16, args=(src, f16), on_progress=context.on_progress, cancel=cancel,
                         outputs=[f16])
        expanded_from, src = str(src), f16
        if target.name == "F16" and dst.resolve() == f16.resolve():
            return _result(dst, target.name, 0.0, None, expanded_from)

    imatrix: Path | None = Path(params.imatrix) if params.imatrix else None
    if imatrix is None and params.wants_imatrix():
        calibration = Path(params.calibration) if params.calibration else default_calibration_text()
        imatrix = imatrix_path_for(src, calibration)
        if not (_fresh(imatrix, src) and _fresh(imatrix, calibration)):
            check_cancelled(cancel)
            context.on_stage("imatrix")
            run_in_child(compute_imatrix, args=(src, calibration, imatrix), kwargs={"threads": params.threads},
                         on_progress=context.on_progress, cancel=cancel, outputs=[imatrix])

    check_cancelled(cancel)
    context.on_stage("quantize")
    result: QuantizeResult = run_in_child(
        quantize_file,
        args=(src, dst, target.name),
        kwargs={"threads": params.threads, "imatrix": imatrix, "allow_requantize": False},
        on_progress=context.on_progress,
        cancel=cancel,
        outputs=[dst],
    )
    return _result(result.path, result.type_name, result.seconds, imatrix, expanded_from)


def _result(path: Path, type_name: str, seconds: float, imatrix: Path | None,
            expanded_from: str | None) -> QuantizeJobResult:
    return QuantizeJobResult(path=str(path), folder=str(path.parent), type=type_name,
                             size_bytes=path.stat().st_size, seconds=seconds,
                             imatrix=str(imatrix) if imatrix else None, expanded_from=expanded_from)


def ladder_jobs(src: Path, type_names: list[str], allow_requantize: bool = False,
                calibration: Path | None = None) -> list[QuantizeJobParams]:
    """One job per level of a ladder, largest first (the comparison panel reads them in this order)."""
    return [QuantizeJobParams(src=str(src), type_name=quant_type(name).name, allow_requantize=allow_requantize,
                              calibration=str(calibration) if calibration else None)
            for name in type_names]


QUANTIZE = JobKind("quantize", QuantizeJobParams, QuantizeJobResult, run_quantize_job,
                   output_folders=lambda p: (p.output_path().parent,))
