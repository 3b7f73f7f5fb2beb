"""The GGUF writing loop: plan every tensor, check the disk, then stream tensors one by one to a temp file.

Memory stays flat: a tensor is read from the safetensors file a block of rows at a time, converted to the
output type and written block by block, so the peak is a few blocks (tens of MB) whatever the model's size;
only transforms that need a whole tensor at once (the q/k permutation, small norms) hold one tensor.
The file is written under a partial name (app/core/disk.py) and renamed only when complete; a failure or Cancel
removes it.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import gguf
import numpy as np

from app.core.convert.family import ArchFamily, OutTensor
from app.core.disk import check_free_space, partial_path
from app.core.errors import ConversionError
from app.core.progress import CancelToken, ProgressCallback, check_cancelled
from app.core.units import format_bytes

log = logging.getLogger(__name__)

Q = gguf.GGMLQuantizationType

#: --outtype → (tensor type for the big matrices, general.file_type)
OUTTYPES: dict[str, tuple[gguf.GGMLQuantizationType, gguf.LlamaFileType]] = {
    "f32": (Q.F32, gguf.LlamaFileType.ALL_F32),
    "f16": (Q.F16, gguf.LlamaFileType.MOSTLY_F16),
    "bf16": (Q.BF16, gguf.LlamaFileType.MOSTLY_BF16),
    "q8_0": (Q.Q8_0, gguf.LlamaFileType.MOSTLY_Q8_0),
}

#: What gguf.quants.quantize returns for each type: floats as themselves, the rest as raw bytes per row.
_STORAGE_DTYPE: dict[gguf.GGMLQuantizationType, type[np.generic]] = {
    Q.F32: np.float32,
    Q.F16: np.float16,
    Q.BF16: np.uint8,
    Q.Q8_0: np.uint8,
}


def _storage_shape(shape: tuple[int, ...], qtype: gguf.GGMLQuantizationType) -> tuple[int, ...]:
    if _STORAGE_DTYPE[qtype] is np.uint8:
        return tuple(gguf.quant_shape_to_byte_shape(shape, qtype))
    return shape


_CHUNK_ELEMENTS = 4 * 1024 * 1024  # rows converted at a time: ~16 MB of float32
_DISK_MARGIN = 64 * 1024 * 1024  # room for the header and the filesystem's own needs


@dataclass(frozen=True)
class PlannedTensor:
    tensor: OutTensor
    qtype: gguf.GGMLQuantizationType

    @property
    def nbytes(self) -> int:
        byte_shape = gguf.quant_shape_to_byte_shape(self.tensor.shape or (1,), self.qtype)
        return int(np.prod(byte_shape, dtype=np.int64))


def choose_type(tensor: OutTensor, wanted: gguf.GGMLQuantizationType) -> gguf.GGMLQuantizationType:
    """llama.cpp's rule: vectors, norms and anything not a ".weight" stay F32; Q8_0 needs rows of 32s."""
    if len(tensor.shape) <= 1 or tensor.name.endswith("_norm.weight") or not tensor.name.endswith(".weight"):
        return Q.F32
    if wanted == Q.Q8_0 and tensor.shape[-1] % gguf.GGML_QUANT_SIZES[Q.Q8_0][0] != 0:
        return Q.F16  # llama.cpp falls back the same way when a row can't be split into blocks
    return wanted


def plan_tensors(family: ArchFamily, wanted: gguf.GGMLQuantizationType) -> list[PlannedTensor]:
    tensors = list(family.extra_tensors())
    for source in family.folder.tensors:
        if not family.skip(source.name):
            source.require_readable()
            tensors.extend(family.out_tensors(source))
    seen: set[str] = set()
    for t in tensors:
        if t.name in seen:
            raise ConversionError(
                f"This {family.title} model has a part twice, so it can't be converted.",
                f"two tensors map to {t.name}",
            )
        seen.add(t.name)
    return [PlannedTensor(t, choose_type(t, wanted)) for t in tensors]


def converted_blocks(planned: PlannedTensor, cancel: CancelToken | None) -> Iterator[np.ndarray]:
    """The tensor in its GGUF type, a block of rows at a time (whole-tensor transforms read it once)."""
    t, qtype = planned.tensor, planned.qtype
    if not t.shape:
        data = t.read() if t.read is not None else t.read_rows(0, 1)  # type: ignore[misc]
        yield gguf.quants.quantize(np.asarray(data).reshape(1), qtype)
        return
    whole = t.read() if t.read is not None else None
    row_elements = max(1, t.n_elements // t.rows)
    step = max(1, _CHUNK_ELEMENTS // row_elements)
    for start in range(0, t.rows, step):
        check_cancelled(cancel)
        stop = min(start + step, t.rows)
        if whole is not None:
            block = whole[start:stop]
        else:
            assert t.read_rows is not None
            block = t.read_rows(start, stop)
        yield gguf.quants.quantize(np.ascontiguousarray(block), qtype)


class StreamedTensor:
    """What GGUFWriter.write_tensor_data needs of an array (`nbytes`, `tofile`), produced block by block.

    The writer checks the size and calls tofile(file) once; converting inside tofile means a tensor is
    never whole in memory, so peak memory is one block, not one tensor.
    """

    def __init__(self, planned: PlannedTensor, cancel: CancelToken | None) -> None:
        self.planned = planned
        self.cancel = cancel
        self.nbytes = planned.nbytes

    def tofile(self, file: IO[bytes]) -> None:
        written = 0
        for block in converted_blocks(self.planned, self.cancel):
            file.write(np.ascontiguousarray(block).tobytes())
            written += block.nbytes
        if written != self.nbytes:
            raise ConversionError(
                "The conversion produced a tensor of the wrong size.",
                f"{self.planned.tensor.name}: wrote {written} bytes, planned {self.nbytes}",
            )


def estimate_size(writer: gguf.GGUFWriter, plan: list[PlannedTensor]) -> int:
    alignment = writer.data_alignment
    data = sum(gguf.GGUFWriter.ggml_pad(p.nbytes, alignment) for p in plan)
    meta = 0
    for key, value in writer.kv_data[0].items():
        items = value.value if isinstance(value.value, (list, tuple)) else [value.value]
        meta += len(key) + 16 + sum(len(x) + 8 if isinstance(x, (str, bytes)) else 8 for x in items)
    infos = sum(len(p.tensor.name) + 48 for p in plan)
    return data + meta + infos


def check_disk_space(out_dir: Path, needed: int) -> None:
    check_free_space(out_dir, needed + _DISK_MARGIN, "the converted model")


def write_gguf(
    writer: gguf.GGUFWriter,
    plan: list[PlannedTensor],
    out_path: Path,
    on_progress: ProgressCallback,
    cancel: CancelToken | None,
) -> int:
    """Write header, metadata and tensors to a temp file, then rename it to out_path; return its size."""
    temp = partial_path(out_path)
    total = sum(p.nbytes for p in plan)
    done = 0
    on_progress(0, total)
    started = time.perf_counter()
    try:
        writer.write_header_to_file(path=temp)
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        for planned in plan:
            check_cancelled(cancel)
            writer.write_tensor_data(StreamedTensor(planned, cancel))  # type: ignore[arg-type]
            done += planned.nbytes
            on_progress(done, total)
        writer.close()
        check_cancelled(cancel)
        os.replace(temp, out_path)
    except OSError as error:
        raise ConversionError(
            f"The converted model could not be written to {out_path.parent}"
            + (" — the disk is full." if error.errno == 28 else "."),
            f"{type(error).__name__}: {error}",
        ) from None
    finally:
        _close_quietly(writer)
        temp.unlink(missing_ok=True)
    log.info(
        "wrote %s (%s) in %.1f s",
        out_path,
        format_bytes(out_path.stat().st_size),
        time.perf_counter() - started,
    )
    return out_path.stat().st_size


def _close_quietly(writer: gguf.GGUFWriter) -> None:
    """Close after a failure: flushing may fail again (a full disk); the first error is the one to report."""
    try:
        writer.close()
    except OSError:
        writer.fout = None


def tensor_info_args(planned: PlannedTensor) -> dict[str, Any]:
    """Arguments for GGUFWriter.add_tensor_info, given before any data exists."""
    t, qtype = planned.tensor, planned.qtype
    # uint8 storage is given as bytes per row; add_tensor_info turns it back into elements
    return {
        "name": t.name,
        "tensor_shape": _storage_shape(t.shape or (1,), qtype),
        "tensor_dtype": np.dtype(_STORAGE_DTYPE[qtype]),
        "tensor_nbytes": planned.nbytes,
        "raw_dtype": qtype,
    }
