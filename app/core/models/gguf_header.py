"""Read a GGUF header fast, from a local file or from the first bytes of a remote one: the one parser.

gguf-py's GGUFReader maps every tensor and builds numpy views of every array value, which takes seconds on
a 150,000-token vocabulary; QuantDesk only needs the metadata (short arrays kept, long ones counted), the
tensor table and where the data starts. `parse_header` works on a byte buffer that may stop early (a Hub
file read by HTTP range) and raises NeedMoreBytes with how much more to fetch; `read_gguf_header` reads a
local file that way and also checks that every tensor's data lies inside it, so a truncated download is
caught before llama.cpp sees it. The layout is the GGUF specification's (ggml docs/gguf.md): little-endian,
version 2 or 3.

Every length and count in a header comes from outside. None is trusted past the file's size or llama.cpp's
own limits, and what the parsed header keeps in memory is budgeted, so a damaged file costs no more than its
size to read and fails as HeaderFormatError (InvalidModelFileError for a local file), never as a MemoryError.
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NoReturn

from app.core.errors import InvalidModelFileError

GGUF_MAGIC = b"GGUF"
# Arrays longer than this are only counted: a vocabulary's 150,000 strings are not needed, their number is.
MAX_KEPT_ARRAY = 4096
# A string value longer than this is only measured (the longest real ones, chat templates, are ~10 kB).
MAX_KEPT_TEXT = 1 << 20
DEFAULT_ALIGNMENT = 32
FIRST_READ_BYTES = 4 * 1024 * 1024  # holds the header of most models; larger vocabularies read again
# A real header is a few MB (a 256k-token vocabulary is about 6 MB); one that claims more is damaged, and
# reading it would hold that much memory for nothing.
MAX_HEADER_BYTES = 256 * 1024 * 1024
# What the parsed header may hold in memory besides the bytes read (keys, kept values, the tensor table):
# real headers hold well under 1 MB. Past it a value is only measured, and a key or tensor is damage.
MAX_HEADER_MEMORY = 8 * 1024 * 1024
# Limits of the GGUF specification and llama.cpp (ggml/src/gguf.cpp, ggml.h): a file past them does not load.
MAX_KEY_BYTES = (1 << 16) - 1  # the specification's
MAX_TENSOR_NAME_BYTES = 63  # GGML_MAX_NAME (64) with its terminating zero
MAX_DIMS = 4  # GGML_MAX_DIMS
MAX_ELEMENTS = (1 << 63) - 1  # a tensor's element count must fit an int64
MAX_COUNT = 1 << 20  # keys or tensors; real models have ~50 keys and at most a few thousand tensors


class NeedMoreBytes(Exception):
    """The buffer ends inside the header; `needed` is a lower bound on the bytes required."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"header continues past byte {needed}")
        self.needed = needed


class HeaderFormatError(ValueError):
    """The bytes are not a GGUF header QuantDesk can read."""


class HeaderPastEnd(HeaderFormatError):
    """The header says more follows than the file holds: the file was cut off, or a length field is damaged."""


@dataclass(frozen=True)
class ArrayLength:
    """A long metadata array of which only the length was kept."""

    length: int

    def __len__(self) -> int:
        return self.length


@dataclass(frozen=True)
class TextLength:
    """A string value too long to be real metadata, of which only the length was kept."""

    length: int


@dataclass(frozen=True)
class RawTensor:
    name: str
    shape: tuple[int, ...]  # ggml order: the row length first
    type_id: int
    offset: int  # from the start of the data section

    @property
    def n_elements(self) -> int:
        return math.prod(self.shape)

    @property
    def type_name(self) -> str:
        import gguf

        try:
            return gguf.GGMLQuantizationType(self.type_id).name
        except ValueError:
            return f"type{self.type_id}"


@dataclass(frozen=True)
class RawHeader:
    version: int
    fields: dict[str, Any]
    tensors: tuple[RawTensor, ...]
    header_bytes: int  # where the header (before alignment padding) ends

    @property
    def data_offset(self) -> int:
        """Where the tensor data starts: the header padded to the file's alignment."""
        alignment = int(self.fields.get("general.alignment", DEFAULT_ALIGNMENT) or DEFAULT_ALIGNMENT)
        return (self.header_bytes + alignment - 1) // alignment * alignment


_SCALARS = {
    type_id: struct.Struct(fmt)
    for type_id, fmt in {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q",
                         11: "<q", 12: "<d"}.items()
}
_U32, _U64 = _SCALARS[4], _SCALARS[10]
_STRING, _ARRAY = 8, 9
_ITEM_MEMORY = 64  # bytes a kept value costs beyond its text: the object and the list's pointer to it


class _Cursor:
    """Reads the header's values in order; never reads, or keeps, more than the file and the budget allow."""

    def __init__(self, buf: bytes, limit: int | None) -> None:
        self.buf = memoryview(buf)
        self.pos = 0
        self.limit = min(limit, MAX_HEADER_BYTES) if limit is not None else MAX_HEADER_BYTES
        self.memory_left = MAX_HEADER_MEMORY

    def short(self, needed: int) -> NoReturn:
        """The buffer ends before byte `needed`: fetch more, or the file itself ends too early."""
        if needed > self.limit:  # never read (or fetch) more than the file has to find out
            raise HeaderPastEnd(f"the header needs byte {needed} (at byte {self.pos}); the file has at most "
                                f"{self.limit}")
        raise NeedMoreBytes(needed)

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            self.short(end)
        view = self.buf[self.pos : end]
        self.pos = end
        return view

    def scalar(self, kind: struct.Struct) -> Any:
        if self.pos + kind.size > len(self.buf):
            self.short(self.pos + kind.size)
        value = kind.unpack_from(self.buf, self.pos)[0]
        self.pos += kind.size
        return value

    def spend(self, cost: int) -> bool:
        """Charge `cost` bytes of memory to the header's budget; False (nothing charged) when it is spent."""
        if cost > self.memory_left:
            return False
        self.memory_left -= cost
        return True

    def name(self, max_bytes: int, what: str) -> str:
        """A key or tensor name: damage when longer than llama.cpp allows or past the memory budget."""
        n = self.scalar(_U64)
        if n > max_bytes:
            raise HeaderFormatError(f"a {what} of {n} bytes at byte {self.pos - 8} (at most {max_bytes})")
        if not self.spend(_ITEM_MEMORY + 4 * n):
            raise HeaderFormatError(f"more keys and tensors than any model has (at byte {self.pos})")
        return str(self.take(n), "utf-8", "replace")

    def value(self, type_id: int) -> Any:
        if type_id in _SCALARS:
            return self.scalar(_SCALARS[type_id])
        if type_id == _STRING:
            n = self.scalar(_U64)
            text = self.take(n)
            if n > MAX_KEPT_TEXT or not self.spend(_ITEM_MEMORY + 4 * n):
                return TextLength(n)
            return str(text, "utf-8", "replace")
        if type_id == _ARRAY:
            return self.array()
        raise HeaderFormatError(f"unknown metadata value type {type_id} at byte {self.pos}")

    def array(self) -> list[Any] | ArrayLength:
        item_type, count = self.scalar(_U32), self.scalar(_U64)
        if item_type not in _SCALARS and item_type != _STRING:  # llama.cpp reads no arrays of arrays either
            raise HeaderFormatError(f"arrays of metadata type {item_type} are not GGUF (at byte {self.pos})")
        item_size = _SCALARS[item_type].size if item_type in _SCALARS else 8
        if self.pos + count * item_size > self.limit:  # even its smallest form runs past the end of the file
            raise HeaderPastEnd(f"an array of {count} items at byte {self.pos}; the file has {self.limit} bytes")
        start = self.pos
        self.skip_items(item_type, count)
        if count > MAX_KEPT_ARRAY or not self.spend(4 * (self.pos - start) + _ITEM_MEMORY * count):
            return ArrayLength(count)
        if item_type in _SCALARS:
            return [v for (v,) in _SCALARS[item_type].iter_unpack(self.buf[start : self.pos])]
        items, at = [], start
        for _ in range(count):
            n = _U64.unpack_from(self.buf, at)[0]
            items.append(str(self.buf[at + 8 : at + 8 + n], "utf-8", "replace"))
            at += 8 + n
        return items

    def skip_items(self, item_type: int, count: int) -> None:
        if item_type in _SCALARS:
            self.take(_SCALARS[item_type].size * count)
            return
        # A vocabulary is 100,000+ strings: this loop is most of the time a header takes to read.
        buf, pos, end, read_length = self.buf, self.pos, len(self.buf), _U64.unpack_from
        for _ in range(count):
            if pos + 8 > end:
                self.short(pos + 8)
            pos += 8 + read_length(buf, pos)[0]
        if pos > end:
            self.short(pos)
        self.pos = pos

    def tensor(self) -> RawTensor:
        name = self.name(MAX_TENSOR_NAME_BYTES, "tensor name")
        n_dims = self.scalar(_U32)
        if n_dims > MAX_DIMS:
            raise HeaderFormatError(f"tensor {name!r} claims {n_dims} dimensions (at most {MAX_DIMS})")
        shape = tuple(self.scalar(_U64) for _ in range(n_dims))
        elements = 1
        for d in shape:
            elements *= d
        if elements > MAX_ELEMENTS or any(d > MAX_ELEMENTS for d in shape):
            raise HeaderFormatError(f"tensor {name!r} has the impossible shape {shape}")
        if not self.spend(4 * _ITEM_MEMORY):
            raise HeaderFormatError(f"more keys and tensors than any model has (at byte {self.pos})")
        return RawTensor(name, shape, self.scalar(_U32), self.scalar(_U64))


def parse_header(buf: bytes, file_size: int | None = None) -> RawHeader:
    """The metadata and tensor table of a GGUF whose first bytes are `buf` (of a file of `file_size` bytes).

    Raises NeedMoreBytes when `buf` stops inside the header (never asking for more than the file has),
    HeaderFormatError when it is not GGUF or is damaged.
    """
    cur = _Cursor(buf, file_size)
    magic = bytes(cur.take(4))
    if magic != GGUF_MAGIC:
        raise HeaderFormatError(f"not a GGUF file (starts with {magic!r}, expected {GGUF_MAGIC!r})")
    version = cur.scalar(_U32)
    if version not in (2, 3):
        raise HeaderFormatError(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors, n_kv = cur.scalar(_U64), cur.scalar(_U64)
    if n_tensors > MAX_COUNT or n_kv > MAX_COUNT:
        raise HeaderFormatError(f"implausible counts: {n_tensors} tensors, {n_kv} metadata keys")
    fields: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.name(MAX_KEY_BYTES, "metadata key")
        fields[key] = cur.value(cur.scalar(_U32))
    tensors = tuple(cur.tensor() for _ in range(n_tensors))
    alignment = fields.get("general.alignment", DEFAULT_ALIGNMENT)
    if (not isinstance(alignment, int) or isinstance(alignment, bool) or not 1 <= alignment <= 1 << 20
            or alignment & (alignment - 1)):
        raise HeaderFormatError(f"general.alignment is {alignment!r}")
    return RawHeader(version, fields, tensors, cur.pos)


def read_gguf_header(path: Path) -> RawHeader:
    """The header of a local file; InvalidModelFileError in plain words when it is not a complete GGUF."""
    path = Path(path)
    if not path.is_file():
        raise InvalidModelFileError(f"There is no model file at {path}.", f"not a file: {path}")
    size = path.stat().st_size
    want = min(size, FIRST_READ_BYTES)
    try:
        with path.open("rb") as f:
            while True:
                f.seek(0)
                try:
                    header = parse_header(f.read(want), size)
                    break
                except NeedMoreBytes as more:
                    want = min(size, MAX_HEADER_BYTES, max(more.needed, want * 2))
    except HeaderPastEnd as error:
        raise InvalidModelFileError(
            f"{path.name} is not a complete GGUF model file: it ends inside its header (was the download or copy "
            "cut off, or is it damaged?).",
            f"{path} ({size} bytes): {error}",
        ) from None
    except HeaderFormatError as error:
        raise InvalidModelFileError(
            f"{path.name} is not a GGUF model file QuantDesk can read (it may be damaged or incomplete).",
            f"{path}: {error}",
        ) from error
    except OSError as error:
        raise InvalidModelFileError(f"{path.name} could not be read.", f"{path}: {error}") from error
    _check_extent(header, size, path)
    return header


def _check_extent(header: RawHeader, size: int, path: Path) -> None:
    """Every tensor's bytes must lie inside the file: a cut-off download fails here, in plain words."""
    import gguf

    end = header.data_offset
    for tensor in header.tensors:
        try:
            block, type_size = gguf.GGML_QUANT_SIZES[gguf.GGMLQuantizationType(tensor.type_id)]
        except (ValueError, KeyError):
            raise InvalidModelFileError(
                f"{path.name} uses a tensor type this version of QuantDesk does not know.",
                f"{path}: tensor {tensor.name} has type {tensor.type_id}",
            ) from None
        end = max(end, header.data_offset + tensor.offset + tensor.n_elements // block * type_size)
    if end > size:
        raise InvalidModelFileError(
            f"{path.name} is not a complete GGUF model file: it ends before its last weights (was the download or "
            "copy cut off?).",
            f"{path}: tensor data needs {end} bytes, the file has {size}",
        )
