"""Expand a quantized GGUF back to F16 with gguf-py, so a ladder of levels can be made from it.

Expanding does not bring lost precision back: an F16 made from a Q4_1 file holds exactly the Q4_1 values.
It exists because llama.cpp quantizes well only from float weights: a ladder made from the F16 expansion
of the starter model is what the comparison panel can show when no original F16 is on the disk.

gguf-py and numpy are imported inside the functions: the Compare page imports this module at the window's
start-up, and they would add about 0.2 s to it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from app.core.disk import partial_path
from app.core.errors import InvalidModelFileError
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress
from app.core.quants import quant_type_for_ftype

#: Where an expansion's weights came from (the source's file type, "Q4_1"): an F16 made from a Q4_1 holds the
#: Q4_1's values, not the original model's, which matters when it is the reference others are measured against.
EXPANDED_FROM_KEY = "quantdesk.expanded_from"
# the reader's own pseudo-keys; the writer adds the architecture; the file type and the source are set below
_SKIPPED_KEYS = ("GGUF.", "general.architecture", "general.file_type", EXPANDED_FROM_KEY)


def open_gguf(path: Path) -> Any:
    """gguf-py's reader on `path`, or InvalidModelFileError in plain words when it is not a GGUF model."""
    import gguf

    path = Path(path)
    if not path.is_file():
        raise InvalidModelFileError(f"There is no model file at {path}.", f"not a file: {path}")
    try:
        return gguf.GGUFReader(path)
    except Exception as error:  # gguf-py raises ValueError, struct.error, IndexError... on bad bytes
        raise InvalidModelFileError(
            f"{path.name} is not a GGUF model file QuantDesk can read (it may be damaged or incomplete).",
            f"gguf.GGUFReader({str(path)!r}) failed: {type(error).__name__}: {error}",
        ) from error


def _file_type_name(reader: Any) -> str:
    field = reader.fields.get("general.file_type")
    level = quant_type_for_ftype(int(field.contents())) if field is not None else None
    return level.name if level is not None else ""


def field_value(field: Any) -> tuple[Any, Any, Any]:
    """(value, type, sub_type) of a reader field, in the form GGUFWriter.add_key_value takes."""
    import gguf

    main = field.types[0]
    sub = field.types[-1] if main == gguf.GGUFValueType.ARRAY else None
    return field.contents(), main, sub


def expand_to_f16(
    src: Path,
    dst: Path,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> Path:
    """Write `src` (any GGUF, e.g. the Q4_1 starter) to `dst` with every 2-D tensor as F16.

    Every metadata key is copied; general.file_type becomes F16 (1). One-dimensional tensors (norms,
    biases) stay F32 as llama.cpp expects. Progress is (tensors written, tensors). Written under a
    temporary name and renamed when complete; nothing is left on a failure or a cancel.
    """
    import gguf
    import numpy as np

    src, dst = Path(src), Path(dst)
    reader = open_gguf(src)
    arch_field = reader.fields.get("general.architecture")
    if arch_field is None:
        raise InvalidModelFileError(f"{src.name} has no model architecture in its header.",
                                    "missing general.architecture")
    tmp = partial_path(dst)
    dst.parent.mkdir(parents=True, exist_ok=True)
    writer = gguf.GGUFWriter(tmp, arch=arch_field.contents())
    try:
        alignment = reader.fields.get("general.alignment")
        if alignment is not None:
            writer.data_alignment = int(alignment.contents())
        for key, field in reader.fields.items():
            if key.startswith(_SKIPPED_KEYS):
                continue
            value, vtype, sub = field_value(field)
            writer.add_key_value(key, value, vtype, sub_type=sub)
        writer.add_key_value("general.file_type", int(gguf.LlamaFileType.MOSTLY_F16),
                             gguf.GGUFValueType.UINT32)
        source_type = _file_type_name(reader)
        if source_type:
            writer.add_key_value(EXPANDED_FROM_KEY, source_type, gguf.GGUFValueType.STRING)

        # (tensor, dtype to write, or None to copy its bytes as they are: F16/BF16 stay themselves)
        plan: list[tuple[Any, np.dtype[Any] | None]] = []
        for tensor in reader.tensors:
            shape = tuple(int(n) for n in reversed(tensor.shape))  # numpy order: rows first
            kind = tensor.tensor_type.name
            if kind in ("F16", "BF16"):
                writer.add_tensor_info(tensor.name, shape, np.dtype(np.uint8), int(tensor.n_bytes),
                                       raw_dtype=tensor.tensor_type)
                plan.append((tensor, None))
                continue
            to_f16 = len(shape) > 1 and kind != "F32"  # quantized 2-D tensors; F32 ones stay F32
            out_dtype: np.dtype[Any] = np.dtype(np.float16 if to_f16 else np.float32)
            writer.add_tensor_info(tensor.name, shape, out_dtype, int(np.prod(shape)) * out_dtype.itemsize)
            plan.append((tensor, out_dtype))

        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        total = len(plan)
        on_progress(0, total)
        for i, (tensor, out) in enumerate(plan, 1):
            check_cancelled(cancel)
            if out is None:
                data = np.asarray(tensor.data).view(np.uint8).reshape(-1)
            else:
                values = gguf.quants.dequantize(tensor.data, tensor.tensor_type)
                data = np.ascontiguousarray(values, dtype=out).reshape(-1)
            writer.write_tensor_data(data)
            on_progress(i, total)
        writer.close()
        os.replace(tmp, dst)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    return dst
