"""Read a GGUF header from a byte buffer that may stop early: the first megabytes of a file, local or remote.

gguf.GGUFReader needs the whole file (it maps every tensor's data) and takes seconds on a large vocabulary;
a Hub repo's GGUF is read before it is downloaded, through an HTTP range request for its first megabytes,
so the header (metadata, short arrays kept, and the tensor table) is parsed here from a byte buffer, and
NeedMoreBytes says how much more to fetch. (gguf_header.py reads a whole local file for the quantizer.)
The layout is the GGUF specification's (ggml docs/gguf.md): little-endian, version 2 or 3.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Any

GGUF_MAGIC = b"GGUF"
# Arrays longer than this are only counted: a vocabulary's 150,000 strings are not needed, their number is.
MAX_KEPT_ARRAY = 4096


class NeedMoreBytes(Exception):
    """The buffer ends inside the header; `needed` is a lower bound on the bytes required."""

    def __init__(self, needed: int) -> None:
        super().__init__(f"header continues past byte {needed}")
        self.needed = needed


class HeaderFormatError(ValueError):
    """The bytes are not a GGUF header QuantDesk can read."""


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
    offset: int


@dataclass(frozen=True)
class RawHeader:
    version: int
    fields: dict[str, Any]
    tensors: tuple[RawTensor, ...]
    header_bytes: int  # where the header (before alignment padding) ends


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
    def __init__(self, buf: bytes) -> None:
        self.buf = memoryview(buf)
        self.pos = 0

    def take(self, n: int) -> memoryview:
        end = self.pos + n
        if end > len(self.buf):
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


def parse_header(buf: bytes) -> RawHeader:
    """The metadata and tensor table of a GGUF whose first bytes are `buf`.

    Raises NeedMoreBytes when `buf` stops inside the header, HeaderFormatError when it is not GGUF.
    """
    cur = _Cursor(buf)
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
    return RawHeader(version, fields, tuple(tensors), cur.pos)
