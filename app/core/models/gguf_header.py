"""Read a GGUF header fast, from a local file or from the first bytes of a remote one: the one parser.

gguf-py's GGUFReader maps every tensor and builds numpy views of every array value, which takes seconds on
a 150,000-token vocabulary; QuantDesk only needs the metadata (short arrays kept, long ones counted), the
tensor table and where the data starts. `parse_header` works on a byte buffer that may stop early (a Hub
file read by HTTP range) and raises NeedMoreBytes with how much more to fetch; `read_gguf_header` reads a
local file that way and also checks that every tensor's data lies inside it, so a truncated download is
caught before llama.cpp sees it. The layout is the GGUF specification's (ggml docs/gguf.md): little-endian,
version 2 or 3.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.errors import InvalidModelFileError

GGUF_MAGIC = b"GGUF"
# Arrays longer than this are only counted: a vocabulary's 150,000 strings are not needed, their number is.
MAX_KEPT_ARRAY = 4096
DEFAULT_ALIGNMENT = 32
FIRST_READ_BYTES = 4 * 1024 * 1024  # holds the header of most models; larger vocabularies read again
# A real header is a few MB (a 256k-token vocabulary is about 6 MB); one that claims more is damaged, and
# reading it would hold that much memory for nothing.
MAX_HEADER_BYTES = 256 * 1024 * 1024


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
class RawTensor:
    name: str
    shape: tuple[int, ...]  # ggml order: the row length first
    type_id: int
    offset: int  # from the start of the data section

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
    0: "<B",
    1: "<b",
    2: "<H",
    3: "<h",
    4: "<I",
    5: "<i",
    6: "<f",
    7: "<?",
    10: "<Q",
    11: "<q",
    12: "<d",
}
_STRING, _ARRAY = 8, 9


class _Cursor:
    def __init__(self, buf: bytes, limit: int | None) -> None:
        self.buf = memoryview(buf)
        self.pos = 0
        self.limit = min(limit, MAX_HEADER_BYTES) if limit is not None else MAX_HEADER_BYTES

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
            if end > self.limit:  # never read (or fetch) more than the file has to find out
                raise HeaderPastEnd(f"the header needs byte {end} (at byte {self.pos}); the file has at most "
                                    f"{self.limit}")
            raise NeedMoreBytes(end)
        view = self.buf[self.pos : end]
        self.pos = end
        return view

    def unpack(self, fmt: str) -> Any:
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        n = self.unpack("<Q")
        if n > 1 << 30:
            raise HeaderFormatError(f"implausible string length {n} at byte {self.pos}")
        return bytes(self.take(n)).decode("utf-8", errors="replace")

    def value(self, type_id: int) -> Any:
        if type_id in _SCALARS:
            return self.unpack(_SCALARS[type_id])
        if type_id == _STRING:
            return self.string()
        if type_id == _ARRAY:
            item_type = self.unpack("<I")
            count = self.unpack("<Q")
            if count > MAX_KEPT_ARRAY:
                self.skip_array(item_type, count)
                return ArrayLength(count)
            return [self.value(item_type) for _ in range(count)]
        raise HeaderFormatError(f"unknown metadata value type {type_id} at byte {self.pos}")

    def skip_array(self, item_type: int, count: int) -> None:
        if item_type in _SCALARS:
            self.take(struct.calcsize(_SCALARS[item_type]) * count)
        elif item_type == _STRING:
            for _ in range(count):
                self.take(self.unpack("<Q"))
        else:
            for _ in range(count):
                self.value(item_type)


def parse_header(buf: bytes, file_size: int | None = None) -> RawHeader:
    """The metadata and tensor table of a GGUF whose first bytes are `buf` (of a file of `file_size` bytes).

    Raises NeedMoreBytes when `buf` stops inside the header (never asking for more than the file has),
    HeaderFormatError when it is not GGUF or is damaged.
    """
    cur = _Cursor(buf, file_size)
    magic = bytes(cur.take(4))
    if magic != GGUF_MAGIC:
        raise HeaderFormatError(f"not a GGUF file (starts with {magic!r}, expected {GGUF_MAGIC!r})")
    version = cur.unpack("<I")
    if version not in (2, 3):
        raise HeaderFormatError(f"GGUF version {version} is not supported (2 and 3 are)")
    n_tensors = cur.unpack("<Q")
    n_kv = cur.unpack("<Q")
    if n_tensors > 1_000_000 or n_kv > 1_000_000:
        raise HeaderFormatError(f"implausible counts: {n_tensors} tensors, {n_kv} metadata keys")
    fields: dict[str, Any] = {}
    for _ in range(n_kv):
        key = cur.string()
        fields[key] = cur.value(cur.unpack("<I"))
    tensors = []
    for _ in range(n_tensors):
        name = cur.string()
        n_dims = cur.unpack("<I")
        if n_dims > 8:
            raise HeaderFormatError(f"tensor {name!r} claims {n_dims} dimensions")
        shape = tuple(cur.unpack("<Q") for _ in range(n_dims))
        tensors.append(RawTensor(name, shape, cur.unpack("<I"), cur.unpack("<Q")))
    alignment = fields.get("general.alignment", DEFAULT_ALIGNMENT)
    if not isinstance(alignment, int) or isinstance(alignment, bool) or not 1 <= alignment <= 1 << 20:
        raise HeaderFormatError(f"general.alignment is {alignment!r}")
    return RawHeader(version, fields, tuple(tensors), cur.pos)


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
