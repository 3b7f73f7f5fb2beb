"""Read a GGUF file's header fast: its scalar metadata and its tensor list, skipping the big arrays.

gguf-py's GGUFReader builds numpy views for every value of every array, which takes seconds for a
tokenizer of 100k tokens and merges; quantizing a small model must not wait that long before it starts.
This reader walks the same layout (GGUF v2/v3, little-endian, as documented in ggml's docs/gguf.md) with
struct and keeps only what QuantDesk decides on: scalars, array lengths, tensor names, shapes and types.
It also checks that every tensor's data lies inside the file, so a truncated download is caught here.
"""

from __future__ import annotations

import mmap
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import InvalidModelFileError

_SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
            12: "<d"}
_STRING, _ARRAY = 8, 9
_DEFAULT_ALIGNMENT = 32


@dataclass(frozen=True)
class TensorHeader:
    name: str
    shape: tuple[int, ...]  # ggml order: shape[0] is the row length
    type_id: int

    @property
    def n_elements(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    @property
    def type_name(self) -> str:
        import gguf

        try:
            return gguf.GGMLQuantizationType(self.type_id).name
        except ValueError:
            return f"type{self.type_id}"


@dataclass(frozen=True)
class GgufHeader:
    version: int
    metadata: dict[str, Any]  # scalars and strings; arrays as ("array", length)
    tensors: tuple[TensorHeader, ...]
    data_offset: int


class _Cursor:
    def __init__(self, buffer: mmap.mmap) -> None:
        self.buffer = buffer
        self.pos = 0

    def take(self, fmt: str) -> Any:
        value = struct.unpack_from(fmt, self.buffer, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return value

    def string(self) -> str:
        length = self.take("<Q")
        if length > 1 << 24 or self.pos + length > len(self.buffer):
            raise ValueError(f"string of {length} bytes at offset {self.pos}")
        text = self.buffer[self.pos:self.pos + length].decode("utf-8", errors="replace")
        self.pos += length
        return text

    def value(self, vtype: int) -> Any:
        if vtype in _SCALARS:
            return self.take(_SCALARS[vtype])
        if vtype == _STRING:
            return self.string()
        if vtype == _ARRAY:
            item_type, count = self.take("<I"), self.take("<Q")
            if item_type in _SCALARS:
                self.pos += struct.calcsize(_SCALARS[item_type]) * count
            elif item_type == _STRING:
                for _ in range(count):
                    self.pos += 8 + struct.unpack_from("<Q", self.buffer, self.pos)[0]
            else:
                for _ in range(count):  # arrays of arrays: rare, walk them
                    self.value(item_type)
            if self.pos > len(self.buffer):
                raise ValueError("array runs past the end of the file")
            return ("array", count)
        raise ValueError(f"unknown metadata value type {vtype}")


def read_gguf_header(path: Path) -> GgufHeader:
    """The header of `path`; InvalidModelFileError in plain words when it is not a complete GGUF file."""
    path = Path(path)
    if not path.is_file():
        raise InvalidModelFileError(f"There is no model file at {path}.", f"not a file: {path}")
    try:
        with path.open("rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buffer:
            return _parse(buffer, path)
    except InvalidModelFileError:
        raise
    except (ValueError, struct.error, OSError, OverflowError) as error:
        raise InvalidModelFileError(
            f"{path.name} is not a GGUF model file QuantDesk can read (it may be damaged or incomplete).",
            f"{path}: {type(error).__name__}: {error}",
        ) from error


def _parse(buffer: mmap.mmap, path: Path) -> GgufHeader:
    cursor = _Cursor(buffer)
    if buffer[:4] != b"GGUF":
        raise ValueError(f"magic {bytes(buffer[:4])!r}, expected b'GGUF'")
    cursor.pos = 4
    version = cursor.take("<I")
    if version not in (2, 3):
        raise ValueError(f"GGUF version {version}")
    n_tensors, n_kv = cursor.take("<Q"), cursor.take("<Q")
    if n_tensors > 1 << 20 or n_kv > 1 << 20:
        raise ValueError(f"{n_tensors} tensors, {n_kv} metadata keys")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cursor.string()
        metadata[key] = cursor.value(cursor.take("<I"))
    tensors = []
    offsets = []
    for _ in range(n_tensors):
        name = cursor.string()
        n_dims = cursor.take("<I")
        if n_dims > 4:
            raise ValueError(f"tensor {name} has {n_dims} dimensions")
        shape = tuple(cursor.take("<Q") for _ in range(n_dims))
        tensors.append(TensorHeader(name, shape, cursor.take("<I")))
        offsets.append(cursor.take("<Q"))
    alignment = int(metadata.get("general.alignment", _DEFAULT_ALIGNMENT)) or _DEFAULT_ALIGNMENT
    data_offset = (cursor.pos + alignment - 1) // alignment * alignment
    _check_extent(tensors, offsets, data_offset, len(buffer), path)
    return GgufHeader(version, metadata, tuple(tensors), data_offset)


def _check_extent(tensors: list[TensorHeader], offsets: list[int], data_offset: int, size: int,
                  path: Path) -> None:
    """Every tensor's bytes must lie inside the file: a cut-off download fails here, in plain words."""
    import gguf

    end = data_offset
    for tensor, offset in zip(tensors, offsets, strict=True):
        try:
            block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(tensor.type_id)]
        except (ValueError, KeyError):
            raise ValueError(f"tensor {tensor.name} has unknown type {tensor.type_id}") from None
        end = max(end, data_offset + offset + tensor.n_elements // block * type_size)
    if end > size:
        raise InvalidModelFileError(
            f"{path.name} is incomplete: it ends before its last weights "
            "(was the download or copy cut off?).",
            f"{path}: tensor data needs {end} bytes, the file has {size}",
        )
