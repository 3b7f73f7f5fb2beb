"""Damaged copies of a real GGUF header, made from a seed: the same seed gives the same cases.

The starter's header is walked once (independently of the app's parser) to find every structural field: the
counts, the lengths of keys, strings and array items, the value types, the tensor table's dimensions, types
and offsets. A case overwrites some of them with values that break parsers (0, 2**63, one past the end...),
flips bytes, copies one part over another, cuts the file short, or shifts the header by inserting or
deleting bytes. Most cases keep the file's length (the mutated first REGION bytes, then the real weights);
the others are written out whole.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

REGION = 2 * 1024 * 1024  # the first 2 MB of the starter: its whole header (1.79 MB) and the first weights

_SCALAR_WIDTHS = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
_STRING, _ARRAY = 8, 9


@dataclass(frozen=True)
class Field:
    offset: int
    width: int  # bytes
    role: str  # "count", "length", "item-length", "type", "value", "dims", "dim", "tensor-type", "tensor-offset"
    name: str  # the key or tensor it belongs to


class _Walk:
    def __init__(self, buf: bytes) -> None:
        self.buf, self.pos = buf, 0
        self.fields: list[Field] = []

    def u(self, width: int, role: str, name: str) -> int:
        value = int.from_bytes(self.buf[self.pos : self.pos + width], "little")
        self.fields.append(Field(self.pos, width, role, name))
        self.pos += width
        return value

    def string(self, role: str, name: str) -> str:
        n = self.u(8, role, name)
        self.pos += n
        return self.buf[self.pos - n : self.pos].decode("utf-8", "replace")

    def value(self, type_id: int, name: str, role: str = "value") -> None:
        if type_id in _SCALAR_WIDTHS:
            self.u(_SCALAR_WIDTHS[type_id], role, name)
        elif type_id == _STRING:
            self.string("length" if role == "value" else role, name)
        else:
            item_type = self.u(4, "type", name)
            for _ in range(self.u(8, "count", name)):
                self.value(item_type, name, "item-length")


def header_fields(buf: bytes) -> tuple[list[Field], int]:
    """Every structural field of the (undamaged) GGUF header at the start of `buf`, and where it ends."""
    walk = _Walk(buf)
    walk.pos = 8  # magic and version
    walk.fields.append(Field(4, 4, "value", "version"))
    n_tensors, n_kv = walk.u(8, "count", "n_tensors"), walk.u(8, "count", "n_kv")
    for _ in range(n_kv):
        key = walk.string("length", "key")
        walk.value(walk.u(4, "type", key), key)
    for _ in range(n_tensors):
        name = walk.string("length", "tensor name")
        for _ in range(walk.u(4, "dims", name)):
            walk.u(8, "dim", name)
        walk.u(4, "tensor-type", name)
        walk.u(8, "tensor-offset", name)
    return walk.fields, walk.pos


@dataclass(frozen=True)
class GgufCase:
    """A damaged file: `head` (the first bytes), then the original file's bytes [REGION, tail_end)."""

    label: str
    head: bytes
    tail_end: int
    in_place: bool = False  # the original's length, only the first REGION bytes changed
    # False: the bytes after REGION may be a hole (zeros). A cut file's header is whole, so no reader reads
    # past it and only the file's size matters; copying up to 98 MB of weights per case would be the run's
    # largest cost.
    real_tail: bool = True

    def size(self) -> int:
        return len(self.head) + max(0, self.tail_end - REGION)


class GgufMutator:
    """Makes GgufCases from the original file's first REGION bytes and its size."""

    def __init__(self, region: bytes, file_size: int) -> None:
        self.region, self.file_size = region, file_size
        fields, self.header_end = header_fields(region)
        self.items = [f for f in fields if f.role == "item-length"]  # ~150,000 vocabulary strings and merges
        table = next(f.offset for f in fields if f.name == "tensor name")
        self.metadata = [f for f in fields if f.role != "item-length" and f.offset < table]
        self.tensor_table = [f for f in fields if f.offset >= table]

    def case(self, rng: random.Random, index: int) -> GgufCase:
        kind = rng.choices(["fields", "bytes", "splice", "truncate", "shift"], [55, 25, 5, 10, 5])[0]
        if kind == "truncate":
            return self._truncated(rng, index)
        if kind == "shift":
            return self._shifted(rng, index)
        buf = bytearray(self.region)
        steps = [getattr(self, f"_{kind}")(rng, buf) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
        return GgufCase(f"#{index} " + "; ".join(steps), bytes(buf), self.file_size, in_place=True)

    # ---- mutations in place ----------------------------------------------------------------------

    def _fields(self, rng: random.Random, buf: bytearray) -> str:
        f = rng.choice(rng.choices([self.metadata, self.tensor_table, self.items], [45, 35, 20])[0])
        original = int.from_bytes(buf[f.offset : f.offset + f.width], "little")
        value = self._interesting(rng, f, original)
        buf[f.offset : f.offset + f.width] = value.to_bytes(f.width, "little")
        return f"{f.role} of {f.name!r} at {f.offset}: {original} -> {value}"

    def _interesting(self, rng: random.Random, f: Field, original: int) -> int:
        top = (1 << (8 * f.width)) - 1
        if f.role in ("type", "tensor-type") and rng.random() < 0.6:
            return rng.randrange(0, 42)
        left = self.file_size - f.offset
        value = rng.choice([
            0, 1, 2, 3, 7, 8, 63, 64, 65, 255, 256, 4096, 4097, 65535, 65536, 1 << 24, (1 << 31) - 1, 1 << 31,
            (1 << 32) - 1, 1 << 32, 1 << 40, (1 << 63) - 1, 1 << 63, top, original + 1, original - 1,
            original * 2, original // 2, original * 1000, original << 16, self.file_size, left, left - f.width,
            self.header_end, rng.getrandbits(8 * f.width), rng.getrandbits(8 * f.width) >> rng.randrange(64),
        ])
        return value & top

    def _bytes(self, rng: random.Random, buf: bytearray) -> str:
        # half in the first metadata and the tensor table, where a byte changes structure; half anywhere
        end = self.header_end
        hot = [(0, min(4096, end)), (max(0, end - 20_000), end)]
        low, high = rng.choice(hot) if rng.random() < 0.5 else (0, len(buf))
        count = rng.choice([1, 1, 2, 4, 16, 64])
        for _ in range(count):
            at = rng.randrange(low, high)
            buf[at] = rng.getrandbits(8) if rng.random() < 0.5 else buf[at] ^ (1 << rng.randrange(8))
        return f"{count} bytes changed in [{low}, {high})"

    def _splice(self, rng: random.Random, buf: bytearray) -> str:
        n = rng.choice([8, 16, 64, 512, 4096])
        src, dst = rng.randrange(0, self.header_end - n), rng.randrange(0, self.header_end - n)
        buf[dst : dst + n] = self.region[src : src + n]
        return f"{n} bytes from {src} copied to {dst}"

    # ---- mutations that change the length ----------------------------------------------------------

    def _truncated(self, rng: random.Random, index: int) -> GgufCase:
        end = rng.choice([
            rng.randrange(0, 64), rng.randrange(0, self.header_end), self.header_end + rng.randrange(-8, 64),
            rng.randrange(self.header_end, REGION), rng.randrange(REGION, self.file_size),
            self.file_size - rng.randrange(1, 4096),
        ])
        label = f"#{index} cut at byte {end} of {self.file_size}"
        if end <= REGION:
            return GgufCase(label, self.region[:end], REGION)
        return GgufCase(label, self.region, end, real_tail=False)

    def _shifted(self, rng: random.Random, index: int) -> GgufCase:
        at, n = rng.randrange(0, self.header_end), rng.choice([1, 2, 4, 8, 100])
        if rng.random() < 0.5:
            head = self.region[:at] + rng.randbytes(n) + self.region[at:]
            return GgufCase(f"#{index} {n} bytes inserted at {at}", head, self.file_size)
        return GgufCase(f"#{index} {n} bytes deleted at {at}", self.region[:at] + self.region[at + n :],
                        self.file_size)
