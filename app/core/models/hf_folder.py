"""A Hugging Face model folder, read without loading it: config.json and the safetensors headers.

Tensor data stays on disk until it is asked for, a range of rows at a time, so converting a model never
holds more than the tensor being written. The safetensors header is parsed here (8-byte length, JSON,
then raw little-endian data) rather than through safetensors' numpy loader: numpy has no bfloat16, and
reading rows straight from the file keeps memory flat. Sharded checkpoints are found through
model.safetensors.index.json. Every file here comes from outside: JSON that is not JSON (or nests too deep to
parse), a header entry without a whole-number shape and offsets, an index naming files outside the folder,
all end as InvalidModelFolderError in plain words.
"""

from __future__ import annotations

import json
import math
import os
import struct
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any

from app.core.errors import InvalidModelFolderError

if TYPE_CHECKING:  # numpy is imported where tensor data is read: the Convert page reads config.json at start-up
    import numpy as np

#: safetensors dtype name → (numpy dtype used to read the bytes, bytes per element). BF16 is read as
#: uint16 and widened to float32 by `bf16_to_f32`.
_DTYPES: dict[str, tuple[str, int]] = {
    "F32": ("<f4", 4),
    "F16": ("<f2", 2),
    "BF16": ("<u2", 2),
}

#: Element sizes of the safetensors dtypes that can't be converted: still needed to check the file's layout,
#: since a checkpoint may carry such tensors (buffers, FP8 scales) that the conversion never uses.
_OTHER_WIDTHS = {
    "F64": 8,
    "I64": 8,
    "U64": 8,
    "I32": 4,
    "U32": 4,
    "I16": 2,
    "U16": 2,
    "I8": 1,
    "U8": 1,
    "BOOL": 1,
    "F8_E4M3": 1,
    "F8_E5M2": 1,
}

_MAX_HEADER_BYTES = 100 * 1024 * 1024  # safetensors' own limit
_MAX_OFFSET = (1 << 63) - 1  # a dimension or byte offset past this is no real file's


def load_json(data: str | bytes, what: str, where: Path) -> Any:
    """JSON from a file of the folder; InvalidModelFolderError naming `what` when it is not JSON at all (bad
    syntax, bytes that are not text, nesting too deep for the parser)."""
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as error:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise InvalidModelFolderError(f"The model's {what} could not be read.", f"{where}: {error!r}"[:500]) from None


def _is_whole(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value <= _MAX_OFFSET


def bf16_to_f32(raw: np.ndarray) -> np.ndarray:
    """bfloat16 bits (uint16) → float32: bfloat16 is the top half of a float32, so this is exact."""
    import numpy as np

    return (raw.astype(np.uint32) << 16).view(np.float32)


@dataclass(frozen=True)
class SourceTensor:
    """One tensor in a safetensors file, not yet read."""

    name: str
    dtype: str  # "F32", "F16" or "BF16"
    shape: tuple[int, ...]
    file: Path
    offset: int  # absolute byte offset of the data in `file`

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)  # Python integers: a damaged shape can't overflow

    @property
    def nbytes(self) -> int:
        width = _DTYPES[self.dtype][1] if self.dtype in _DTYPES else _OTHER_WIDTHS[self.dtype]
        return self.n_elements * width

    @property
    def readable(self) -> bool:
        return self.dtype in _DTYPES

    def require_readable(self) -> None:
        if not self.readable:
            raise InvalidModelFolderError(
                f"This model stores weights as {self.dtype}, which QuantDesk can't convert yet "
                "(it reads 32-bit, 16-bit and bfloat16 weights).",
                f"{self.file.name}: tensor {self.name} has dtype {self.dtype}",
            )

    @property
    def row_elements(self) -> int:
        return math.prod(self.shape[1:])

    def read_rows(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) along the first axis, as float32/float16 (BF16 widened to float32)."""
        import numpy as np

        width = _DTYPES[self.dtype][1]
        count = (stop - start) * self.row_elements if self.shape else 1
        with open(self.file, "rb") as f:
            f.seek(self.offset + start * self.row_elements * width)
            buffer = f.read(count * width)
        if len(buffer) != count * width:
            raise InvalidModelFolderError(
                f"The model file {self.file.name} is incomplete (it ends too early).",
                f"tensor {self.name}: wanted {count * width} bytes at offset "
                f"{self.offset + start * self.row_elements * width}, got {len(buffer)}",
            )
        raw = np.frombuffer(buffer, dtype=_DTYPES[self.dtype][0])
        data = bf16_to_f32(raw) if self.dtype == "BF16" else raw
        return data.reshape((stop - start, *self.shape[1:]) if self.shape else ())

    def read(self) -> np.ndarray:
        return self.read_rows(0, self.shape[0] if self.shape else 1)

    @property
    def float_dtype(self) -> np.dtype[Any]:
        """The dtype `read` returns: float16 stays float16, everything else arrives as float32."""
        import numpy as np

        return np.dtype(np.float16) if self.dtype == "F16" else np.dtype(np.float32)


@dataclass(frozen=True)
class HfFolder:
    """config.json and every tensor of a model folder, in file order."""

    path: Path
    config: dict[str, Any]
    tensors: tuple[SourceTensor, ...]

    @property
    def architecture(self) -> str:
        archs = self.config.get("architectures") or []
        return str(archs[0]) if archs else str(self.config.get("model_type", "unknown"))

    def has_file(self, name: str) -> bool:
        return (self.path / name).is_file()

    def read_json(self, name: str) -> dict[str, Any]:
        """A JSON file of the folder, or {} when it is absent."""
        file = self.path / name
        if not file.is_file():
            return {}
        try:
            text = file.read_bytes()
        except OSError as error:
            raise InvalidModelFolderError(f"The model's {name} could not be read.", f"{file}: {error}") from None
        data = load_json(text, name, file)
        return data if isinstance(data, dict) else {}


def read_config(path: Path) -> dict[str, Any]:
    """config.json of a model folder; InvalidModelFolderError in plain words when it is absent or bad."""
    path = Path(path).expanduser()
    if not path.is_dir():
        raise InvalidModelFolderError(f"There is no folder at {path}.", f"not a directory: {path}")
    config_file = path / "config.json"
    if not config_file.is_file():
        raise InvalidModelFolderError(
            "This folder is not a Hugging Face model: it has no config.json.",
            f"missing {config_file}",
        )
    try:
        text = config_file.read_bytes()
    except OSError as error:
        raise InvalidModelFolderError("The model's config.json could not be read.", f"{config_file}: {error}") from None
    config = load_json(text, "config.json", config_file)
    if not isinstance(config, dict):
        raise InvalidModelFolderError("The model's config.json is not a settings file.", f"{config_file}")
    return config


def open_hf_folder(path: Path, config: dict[str, Any] | None = None) -> HfFolder:
    """Read config.json (unless given) and the safetensors headers, no tensor data."""
    path = Path(path).expanduser()
    if config is None:
        config = read_config(path)
    files = _safetensors_files(path)
    tensors = tuple(t for file in files for t in _read_header(file))
    return HfFolder(path, config, tensors)


def _weight_files(index: Path) -> list[str]:
    """The weight files model.safetensors.index.json lists, in order, each once: names inside the folder."""
    what = "list of weight files (model.safetensors.index.json)"
    try:
        text = index.read_bytes()
    except OSError as error:
        raise InvalidModelFolderError(f"The model's {what} could not be read.", f"{index}: {error}") from None
    data = load_json(text, what, index)
    weight_map = data.get("weight_map") if isinstance(data, dict) else None
    names = list(weight_map.values()) if isinstance(weight_map, dict) else [None]
    bad = [n for n in names if not isinstance(n, str) or PurePosixPath(n).is_absolute() or ".." in Path(n).parts]
    if bad or not names:
        raise InvalidModelFolderError(
            f"The model's {what} is damaged: it does not name weight files in the model's folder.",
            f"{index}: weight_map is {str(weight_map)[:200]}",
        )
    return list(dict.fromkeys(str(n) for n in names))  # shard order as listed, no repeats


def _safetensors_files(folder: Path) -> list[Path]:
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        names = _weight_files(index)
        missing = [n for n in names if not (folder / n).is_file()]
        if missing:
            raise InvalidModelFolderError(
                f"Part of the model is missing: {len(missing)} of its {len(names)} weight files "
                "are not in the folder.",
                "missing: " + ", ".join(missing),
            )
        return sorted((folder / n for n in names), key=lambda p: p.name)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        if any(folder.glob("*.bin")) or any(folder.glob("*.pth")):
            raise InvalidModelFolderError(
                "This model's weights are in PyTorch's format, which QuantDesk can't read. "
                "Look for a version of the model with .safetensors files.",
                f"no *.safetensors in {folder}; found *.bin/*.pth",
            )
        raise InvalidModelFolderError(
            "This folder has no model weights (.safetensors files).", f"no *.safetensors in {folder}"
        )
    return files


def _read_header(file: Path) -> Iterator[SourceTensor]:
    size = file.stat().st_size
    try:
        with open(file, "rb") as f:
            head = f.read(8)
            if len(head) < 8:
                raise ValueError("file shorter than the 8-byte header length")
            (n,) = struct.unpack("<Q", head)
            if n > min(_MAX_HEADER_BYTES, size - 8):
                raise ValueError(f"header length {n} is larger than the file allows ({size} bytes)")
            header = json.loads(f.read(n))
    except (ValueError, RecursionError, OSError) as error:
        raise InvalidModelFolderError(
            f"The model file {file.name} is damaged or not a safetensors file.", f"{file}: {error!r}"[:500]
        ) from None
    if not isinstance(header, dict):
        raise InvalidModelFolderError(
            f"The model file {file.name} is damaged or not a safetensors file.", f"{file}: header is not a table"
        )
    for name, info in header.items():
        if name != "__metadata__":
            yield _source_tensor(file, name, info, 8 + n, size)


def _source_tensor(file: Path, name: str, info: Any, data_start: int, size: int) -> SourceTensor:
    """One entry of a safetensors header, checked: a known dtype, a shape and data offsets that are whole
    numbers, as many bytes as the shape needs, all inside the file."""
    entry = info if isinstance(info, dict) else {}
    dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
    if not (isinstance(shape, list) and all(map(_is_whole, shape))
            and isinstance(offsets, list) and len(offsets) == 2 and all(map(_is_whole, offsets))):
        raise InvalidModelFolderError(
            f"The model file {file.name} is damaged.", f"{file.name}: tensor {name}: {str(info)[:200]}"
        )
    begin, end = offsets
    if not isinstance(dtype, str) or (dtype not in _DTYPES and dtype not in _OTHER_WIDTHS):
        raise InvalidModelFolderError(
            f"The model file {file.name} is damaged or from a newer format QuantDesk doesn't know.",
            f"{file.name}: tensor {name} has unknown dtype {str(dtype)[:40]!r}",
        )
    tensor = SourceTensor(name, dtype, tuple(shape), file, data_start + begin)
    if end - begin != tensor.nbytes:
        raise InvalidModelFolderError(
            f"The model file {file.name} is damaged.",
            f"tensor {name}: {end - begin} bytes for shape {tuple(shape)} of {dtype}"[:300],
        )
    if data_start + end > size:
        raise InvalidModelFolderError(
            f"The model file {file.name} is incomplete (it ends too early): was the download interrupted?",
            f"tensor {name} ends at byte {data_start + end} but the file has {size} bytes",
        )
    return tensor


def folder_size(folder: HfFolder) -> int:
    return sum(os.path.getsize(f) for f in {t.file for t in folder.tensors})
