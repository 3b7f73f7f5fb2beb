"""Quantize a GGUF model with llama.cpp's own quantizer (llama_model_quantize), with progress per tensor.

`quantize_file` is the plain, blocking core: it runs llama_model_quantize in the calling process and turns
llama.cpp's per-tensor log lines ("[  12/ 272] blk.1.ffn_up.weight - [576, 1536], type = f16, ...") into
progress. llama_model_quantize is one C call with no way to stop it, so the app runs it in a child process
(the quantize job), where Cancel ends the process; the output is written under a partial name (app/core/disk.py)
and renamed only when complete, so a cancel or a crash leaves nothing under the real name.

A file that is already quantized is refused (AlreadyQuantizedError) unless the caller says the further
quality loss is accepted: requantizing compounds two roundings. The way to a ladder from such a file (the
Q4_1 starter) is `expand_to_f16` first.
"""

from __future__ import annotations

import ctypes
import os
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.disk import check_free_space, disk_full_error, partial_path
from app.core.errors import AlreadyQuantizedError, QuantizeError
from app.core.llama_log import LlamaLogCapture, says_disk_full
from app.core.models.gguf_header import read_gguf_header
from app.core.paths import models_dir
from app.core.progress import ProgressCallback, no_progress
from app.core.quants import QUANT_TYPES, QuantType, quant_type, quant_type_for_ftype
from app.core.settings import configured_threads

_FLOAT_TENSOR_TYPES = ("F32", "F16", "BF16")
_DISK_MARGIN = 1.15  # the estimate below ignores mixes that keep a few tensors at higher precision
_DISK_SLACK_BYTES = 64 * 1024 * 1024
_PROGRESS_LINE = re.compile(r"\[\s*(\d+)\s*/\s*(\d+)\s*\]")


@dataclass(frozen=True)
class SourceInfo:
    """What the quantizer needs to know about an input file, read from its GGUF header only."""

    path: Path
    architecture: str
    file_type: str  # "F16", "Q4_1", ... or "mixed" when general.file_type is missing or unknown
    is_quantized: bool  # some 2-D tensor holds quantized blocks
    n_tensors: int
    n_params_1d: int
    n_params_aligned: int  # in 2-D tensors whose rows are a multiple of 256 long (K-quant blocks fit)
    n_params_unaligned: int
    header_bytes: int
    size_bytes: int

    def estimate_output_bytes(self, target: QuantType) -> int:
        """Roughly the size of this model at `target`: enough to refuse a job that cannot fit."""
        fallback = target.fallback_bits or target.main_bits_per_weight
        bits = self.n_params_aligned * target.main_bits_per_weight + self.n_params_unaligned * fallback
        return int(self.header_bytes + self.n_params_1d * 4 + bits / 8)


@dataclass(frozen=True)
class QuantizeResult:
    path: Path
    type_name: str
    size_bytes: int
    seconds: float
    n_tensors: int
    used_imatrix: bool


def inspect_source(path: Path) -> SourceInfo:
    """Read `path`'s header: its type, whether it is quantized, and the counts a size estimate needs."""
    path = Path(path)
    header = read_gguf_header(path)
    ftype = header.fields.get("general.file_type")
    known = quant_type_for_ftype(int(ftype)) if isinstance(ftype, int) else None
    n_1d = n_aligned = n_unaligned = 0
    quantized = False
    for tensor in header.tensors:
        n = tensor.n_elements
        if len(tensor.shape) < 2:
            n_1d += n
            continue
        if tensor.shape[0] % 256 == 0:
            n_aligned += n
        else:
            n_unaligned += n
        quantized = quantized or tensor.type_name not in _FLOAT_TENSOR_TYPES
    return SourceInfo(
        path=path,
        architecture=str(header.fields.get("general.architecture", "unknown")),
        file_type=known.name if known is not None else "mixed",
        is_quantized=quantized,
        n_tensors=len(header.tensors),
        n_params_1d=n_1d,
        n_params_aligned=n_aligned,
        n_params_unaligned=n_unaligned,
        header_bytes=header.data_offset,
        size_bytes=path.stat().st_size,
    )


def model_stem(path: Path) -> str:
    """`SmolLM2-135M-Instruct.Q4_1.gguf` → `SmolLM2-135M-Instruct`: the name without any type suffix."""
    stem = Path(path).name.removesuffix(".gguf")
    names = sorted((t.name for t in QUANT_TYPES), key=len, reverse=True)
    pattern = re.compile(r"[-._](" + "|".join(names) + r")$", re.IGNORECASE)
    return pattern.sub("", stem) or stem


def default_output_path(src: Path, type_name: str, folder: Path | None = None) -> Path:
    """`<model>-<TYPE>.gguf` in QuantDesk's models folder (or `folder`)."""
    return (folder or models_dir()) / f"{model_stem(src)}-{quant_type(type_name).name}.gguf"


def requantize_warning(current: str, target: str) -> str:
    """What a person is told before a quantized file is quantized again."""
    return (f"This file is already {current}. Quantizing it again to {target} rounds already-rounded "
            f"weights, so it loses more quality than quantizing the original would. Continue anyway?")


class _ProgressLog(LlamaLogCapture):
    """llama.cpp's log, kept for error messages, with the quantizer's "[ n/ N]" lines read as progress."""

    def __init__(self, on_progress: ProgressCallback) -> None:
        super().__init__(capacity=200, echo=False)
        self._on_progress = on_progress

    def feed(self, level: int, text: str) -> None:
        super().feed(level, text)
        match = _PROGRESS_LINE.match(text.lstrip())
        if match:
            self._on_progress(int(match.group(1)), int(match.group(2)))


def _imatrix_array(imatrix: object) -> tuple[ctypes.Array[Any], ctypes.Array[Any], list[object]]:
    """The NULL-terminated llama_model_imatrix_data array llama.cpp's C API takes, the metadata overrides
    that record where it came from (the quantize.imatrix.* keys llama-quantize writes), and what keeps
    both alive while llama.cpp reads them."""
    import llama_cpp
    import numpy as np

    from app.core.quantize.imatrix import ImportanceMatrix, load_imatrix

    source = "in-memory"
    if isinstance(imatrix, ImportanceMatrix):
        matrix = imatrix
    else:
        matrix = load_imatrix(Path(str(imatrix)))
        source = Path(str(imatrix)).name
    values: Mapping[str, np.ndarray] = matrix.normalized()
    keep: list[object] = []
    entries = (llama_cpp.llama_model_imatrix_data * (len(values) + 1))()
    for i, (name, data) in enumerate(values.items()):
        array = np.ascontiguousarray(data, dtype=np.float32)
        encoded = name.encode()
        keep += [array, encoded]
        entries[i].name = encoded
        entries[i].data = array.ctypes.data_as(ctypes.POINTER(ctypes.c_float))
        entries[i].size = array.size
    entries[len(values)].name = None  # the terminator

    overrides = (llama_cpp.llama_model_kv_override * 5)()  # four keys and an empty-key terminator
    dataset = matrix.datasets[0] if matrix.datasets else ""
    provenance: tuple[tuple[str, str | int], ...] = (
        ("quantize.imatrix.file", source),
        ("quantize.imatrix.dataset", dataset),
        ("quantize.imatrix.entries_count", len(values)),
        ("quantize.imatrix.chunks_count", matrix.chunk_count),
    )
    for slot, (key, value) in zip(overrides, provenance, strict=False):
        slot.key = key.encode()
        if isinstance(value, str):
            slot.tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_STR
            slot.value.val_str = value.encode()[:127]
        else:
            slot.tag = llama_cpp.LLAMA_KV_OVERRIDE_TYPE_INT
            slot.value.val_i64 = int(value)
    keep += [entries, overrides]
    return entries, overrides, keep


def quantize_file(
    src: Path,
    dst: Path,
    file_type_name: str,
    threads: int | None = None,
    imatrix: object | None = None,
    allow_requantize: bool = False,
    on_progress: ProgressCallback = no_progress,
) -> QuantizeResult:
    """Quantize `src` to `dst` at `file_type_name` ("Q4_K_M", ...) with llama_model_quantize, in this process.

    `imatrix` is an ImportanceMatrix or the path of an imatrix file (GGUF or llama.cpp's legacy .dat).
    Progress is (tensors done, tensors). Raises AlreadyQuantizedError for a quantized input unless
    `allow_requantize`, NotEnoughDiskError, InvalidModelFileError, QuantizeError. Blocking and not
    cancellable: the app calls `quantize_in_child` instead.
    """
    import llama_cpp

    src, dst = Path(src), Path(dst)
    target = quant_type(file_type_name)
    info = inspect_source(src)
    if info.is_quantized and not allow_requantize:
        raise AlreadyQuantizedError(
            requantize_warning(info.file_type, target.name),
            f"{src} has quantized tensors (file type {info.file_type}); pass allow_requantize to go on",
            current_type=info.file_type,
        )
    if target.needs_imatrix and imatrix is None:
        raise QuantizeError(
            f"{target.name} needs an importance matrix: make one from a calibration text first.",
            f"llama.cpp refuses {target.name} without imatrix data",
        )
    need = int(info.estimate_output_bytes(target) * _DISK_MARGIN) + _DISK_SLACK_BYTES
    dst.parent.mkdir(parents=True, exist_ok=True)
    check_free_space(dst.parent, need)

    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = target.ftype
    params.nthread = threads or configured_threads() or 0  # 0: llama.cpp uses every hardware thread
    params.allow_requantize = allow_requantize
    keep: list[object] = []
    if imatrix is not None:
        array, overrides, keep = _imatrix_array(imatrix)
        params.imatrix = ctypes.cast(array, ctypes.POINTER(llama_cpp.llama_model_imatrix_data))
        params.kv_overrides = ctypes.cast(overrides, ctypes.POINTER(llama_cpp.llama_model_kv_override))

    tmp = partial_path(dst)
    log = _ProgressLog(on_progress)
    log.install()
    started = time.perf_counter()
    try:
        on_progress(0, info.n_tensors)
        status = llama_cpp.llama_model_quantize(os.fsencode(src), os.fsencode(tmp), ctypes.byref(params))
        if status != 0:
            problems = log.problems_since(0) or [ln.text for ln in log.lines()[-5:]]
            if says_disk_full(problems):
                raise disk_full_error(dst.parent, "\n".join([f"llama_model_quantize returned {status}", *problems]))
            raise QuantizeError(
                f"llama.cpp could not quantize {src.name} to {target.name}.",
                "\n".join([f"llama_model_quantize returned {status}", *problems]),
            )
        os.replace(tmp, dst)
    finally:
        tmp.unlink(missing_ok=True)
        _restore_default_log()
        del keep
    return QuantizeResult(dst, target.name, dst.stat().st_size, round(time.perf_counter() - started, 3),
                          info.n_tensors, imatrix is not None)


def _restore_default_log() -> None:
    """Hand llama.cpp's log back to the bindings' own callback (ours points into a finished job)."""
    import llama_cpp
    from llama_cpp import _logger

    llama_cpp.llama_log_set(_logger.llama_log_callback, ctypes.c_void_p(0))
