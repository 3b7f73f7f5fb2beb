"""What a GGUF file on the Hub is, without downloading it: its header read through HTTP Range requests.

A GGUF starts with its metadata (key/values, tokenizer included) and the tensor table; the weights follow.
The header is read in growing ranged pieces (256 KB, then doubling) until the tensor table is complete, so a
4 GB model costs a few hundred KB. The quant type is read from the file name (what the uploader says) and
confirmed from the header (general.file_type, else the commonest weight type: what the file is).

Layout (gguf-py's constants, GGUF v2/v3, little-endian): "GGUF", u32 version, u64 n_tensors, u64 n_kv,
n_kv × (string key, u32 type, value),
n_tensors × (string name, u32 n_dims, u64 dims[n], u32 type, u64 offset).
"""

from __future__ import annotations

import re
import struct
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, GGUFValueType, LlamaFileType
from huggingface_hub import hf_hub_url
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app.core.errors import HubError
from app.core.gguf_header_buffer import HeaderFormatError, NeedMoreBytes, RawHeader, parse_header
from app.core.hub import hub_endpoint, hub_errors, require_online

FIRST_READ = 256 * 1024
MAX_HEADER = 64 * 1024 * 1024  # a tokenizer of 250k entries is ~10 MB; past this it is not a sane header

_SCALARS: dict[int, str] = {
    GGUFValueType.UINT8: "<B", GGUFValueType.INT8: "<b",
    GGUFValueType.UINT16: "<H", GGUFValueType.INT16: "<h",
    GGUFValueType.UINT32: "<I", GGUFValueType.INT32: "<i", GGUFValueType.FLOAT32: "<f",
    GGUFValueType.BOOL: "<?", GGUFValueType.UINT64: "<Q", GGUFValueType.INT64: "<q",
    GGUFValueType.FLOAT64: "<d",
}
#: keys whose (long) array values are skipped, not kept: the tokenizer
_SKIP_ARRAYS = ("tokenizer.",)

_QUANT_IN_NAME = re.compile(
    r"(?<![A-Z0-9])(IQ\d_(?:XXS|XS|S|M|NL)|Q\d_K(?:_(?:XL|S|M|L))?|Q\d_[01]|TQ\d_0|BF16|F16|F32|MXFP4)(?![A-Z0-9])"
)


@dataclass(frozen=True)
class GgufHeader:
    version: int
    architecture: str | None
    name: str | None
    file_type: str | None  # from general.file_type, e.g. "Q4_K_M"
    dominant_tensor_type: str | None  # the type holding most weights, e.g. "Q4_K"
    context_length: int | None
    parameter_count: int
    tensor_count: int
    header_bytes: int  # how far into the file the header reaches
    metadata: dict[str, Any] = field(default_factory=dict, compare=False)  # scalar keys only
    # The same header as gguf_header_buffer reads it (every key, the tensor table): what the memory
    # estimate needs, parsed from the bytes already fetched so sizing the model costs no second request.
    raw: RawHeader | None = field(default=None, compare=False, repr=False)


def quant_from_filename(filename: str) -> str | None:
    """'qwen2.5-0.5b-instruct-q4_k_m.gguf' → 'Q4_K_M'; None when the name does not say."""
    stem = filename.rsplit("/", 1)[-1].upper()
    matches = _QUANT_IN_NAME.findall(stem)
    return matches[-1] if matches else None


def file_type_name(value: int) -> str | None:
    try:
        name = LlamaFileType(value).name
    except ValueError:
        return None
    for prefix in ("MOSTLY_", "ALL_"):
        name = name.removeprefix(prefix)
    return name


class _Buffer:
    """Bytes from the start of a remote file, fetched on demand in growing pieces."""

    def __init__(self, fetch: Callable[[int, int], bytes], total_size: int | None) -> None:
        self._fetch = fetch
        self._total = total_size
        self.data = bytearray()
        self.pos = 0

    def need(self, n: int) -> None:
        end = self.pos + n
        while len(self.data) < end:
            if self._total is not None and len(self.data) >= self._total:
                raise HubError("This GGUF file ends inside its own header: it is damaged.",
                               f"header needs byte {end}, file has {self._total}")
            want = max(FIRST_READ, len(self.data), end - len(self.data))
            if len(self.data) + want > MAX_HEADER:
                raise HubError("This GGUF file's header is too large to be real.", f"over {MAX_HEADER} bytes")
            piece = self._fetch(len(self.data), len(self.data) + want - 1)
            if not piece:
                raise HubError("This GGUF file ends inside its own header: it is damaged.",
                               f"no bytes at offset {len(self.data)}")
            self.data += piece

    def unpack(self, fmt: str) -> Any:
        size = struct.calcsize(fmt)
        self.need(size)
        value = struct.unpack_from(fmt, self.data, self.pos)[0]
        self.pos += size
        return value

    def string(self) -> str:
        n = self.unpack("<Q")
        self.need(n)
        raw = bytes(self.data[self.pos : self.pos + n])
        self.pos += n
        return raw.decode("utf-8", errors="replace")

    def skip_string(self) -> None:
        n = self.unpack("<Q")
        self.need(n)
        self.pos += n


def _value(buf: _Buffer, vtype: int, keep: bool) -> Any:
    if vtype in _SCALARS:
        return buf.unpack(_SCALARS[vtype])
    if vtype == GGUFValueType.STRING:
        if keep:
            return buf.string()
        buf.skip_string()
        return None
    if vtype == GGUFValueType.ARRAY:
        etype, count = buf.unpack("<I"), buf.unpack("<Q")
        if etype in _SCALARS and not keep:  # fixed width: skip in one step
            size = struct.calcsize(_SCALARS[etype]) * count
            buf.need(size)
            buf.pos += size
            return None
        values = [_value(buf, etype, keep) for _ in range(count)]
        return values if keep else None
    raise HubError("This file is not a GGUF file QuantDesk understands.", f"unknown GGUF value type {vtype}")


def parse_gguf_header(fetch: Callable[[int, int], bytes], total_size: int | None = None) -> GgufHeader:
    """Read a GGUF header through `fetch(start, end_inclusive) -> bytes`."""
    buf = _Buffer(fetch, total_size)
    buf.need(4)
    if bytes(buf.data[:4]) != b"GGUF":
        raise HubError("This file is not a GGUF file.", f"magic {bytes(buf.data[:4])!r}")
    buf.pos = 4
    version = buf.unpack("<I")
    if version not in (2, 3):
        raise HubError("This GGUF file's version is not supported.", f"GGUF version {version}")
    n_tensors, n_kv = buf.unpack("<Q"), buf.unpack("<Q")
    metadata: dict[str, Any] = {}
    for _ in range(n_kv):
        key = buf.string()
        vtype = buf.unpack("<I")
        keep = not key.startswith(_SKIP_ARRAYS) or vtype != GGUFValueType.ARRAY
        value = _value(buf, vtype, keep)
        if keep and not isinstance(value, list):
            metadata[key] = value
    weights_by_type: Counter[int] = Counter()
    parameters = 0
    for _ in range(n_tensors):
        buf.skip_string()
        n_dims = buf.unpack("<I")
        elements = 1
        for _d in range(n_dims):
            elements *= buf.unpack("<Q")
        ttype = buf.unpack("<I")
        buf.unpack("<Q")  # data offset
        parameters += elements
        if n_dims >= 2:
            weights_by_type[ttype] += elements
    arch = metadata.get("general.architecture")
    ftype = metadata.get("general.file_type")
    dominant = None
    if weights_by_type:
        top = weights_by_type.most_common(1)[0][0]
        dominant = GGMLQuantizationType(top).name if top in GGML_QUANT_SIZES else str(top)
    return GgufHeader(
        version=version,
        architecture=arch if isinstance(arch, str) else None,
        name=metadata.get("general.name") if isinstance(metadata.get("general.name"), str) else None,
        file_type=file_type_name(ftype) if isinstance(ftype, int) else None,
        dominant_tensor_type=dominant,
        context_length=metadata.get(f"{arch}.context_length") if arch else None,
        parameter_count=parameters,
        tensor_count=n_tensors,
        header_bytes=buf.pos,
        metadata=metadata,
        raw=_raw_header(bytes(buf.data[: buf.pos])),
    )


def _raw_header(data: bytes) -> RawHeader | None:
    try:
        return parse_header(data)
    except (NeedMoreBytes, HeaderFormatError):  # the two readers disagree: size it some other way
        return None


def read_remote_gguf_header(repo_id: str, filename: str, revision: str | None = None,
                            size: int | None = None) -> GgufHeader:
    """The header of a GGUF file in a Hub repo, read with Range requests through huggingface_hub's session."""
    require_online()
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=hub_endpoint())
    headers = build_hf_headers()

    def fetch(start: int, end: int) -> bytes:
        with get_session().stream("GET", url, headers={**headers, "Range": f"bytes={start}-{end}"},
                                  follow_redirects=True) as response:
            hf_raise_for_status(response)
            wanted = end - start + 1
            # a server that ignores Range sends the whole file: read only as far as needed
            skip = start if response.status_code == 200 else 0
            out = bytearray()
            for chunk in response.iter_bytes():
                out += chunk
                if len(out) >= skip + wanted:
                    break
            return bytes(out[skip : skip + wanted])

    with hub_errors(f"{repo_id}/{filename}"):
        return parse_gguf_header(fetch, size)
