"""What a GGUF file on the Hub is, without downloading it: its header read through HTTP Range requests.

A GGUF starts with its metadata (key/values, tokenizer included) and the tensor table; the weights follow.
The header is fetched in growing ranged pieces (256 KB, then at least doubling) until gguf_header's parser
(the one QuantDesk uses for local files too) has the whole tensor table, so a 4 GB model costs a few hundred
KB. The quant type is read from the file name (what the uploader says) and confirmed from the header
(general.file_type, else the commonest weight type: what the file is).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType
from huggingface_hub import hf_hub_url
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app.core.errors import HubError
from app.core.hub.connection import hub_endpoint, hub_errors, require_online
from app.core.models.gguf_header import (
    ArrayLength,
    HeaderFormatError,
    NeedMoreBytes,
    RawHeader,
    TextLength,
    parse_header,
)

FIRST_READ = 256 * 1024
MAX_HEADER = 64 * 1024 * 1024  # a tokenizer of 250k entries is ~10 MB; past this it is not a sane header

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
    # The whole parsed header (every key, the tensor table): what the memory estimate needs, so sizing the
    # model costs no second request.
    raw: RawHeader | None = field(default=None, compare=False, repr=False)
    file_size: int | None = None  # the whole file's size, when the server said (Content-Range)


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


def fetch_raw_header(fetch: Callable[[int, int], bytes], total_size: int | None = None) -> RawHeader:
    """The parsed header, fetching `fetch(start, end_inclusive) -> bytes` in growing pieces as needed."""
    data = bytearray()
    want = FIRST_READ
    while True:
        if total_size is not None:
            want = min(want, total_size)
        if len(data) < want:
            piece = fetch(len(data), want - 1)
            if not piece:
                raise HubError("This GGUF file ends inside its own header: it is damaged.",
                               f"no bytes at offset {len(data)}")
            data += piece
        try:
            return parse_header(bytes(data), total_size)
        except NeedMoreBytes as more:
            if len(data) < want or (total_size is not None and len(data) >= total_size):
                raise HubError("This GGUF file ends inside its own header: it is damaged.",
                               f"header needs byte {more.needed}, file has {len(data)}") from None
            want = max(more.needed, len(data) * 2)
            if want > MAX_HEADER:
                raise HubError("This GGUF file's header is too large to be real.", f"over {MAX_HEADER} bytes") from None
        except HeaderFormatError as error:
            raise HubError("This file is not a GGUF file QuantDesk understands.", str(error)) from error


def summarize_header(raw: RawHeader, file_size: int | None = None) -> GgufHeader:
    """What a person is shown of a header: architecture, type, parameters (scalar metadata only)."""
    metadata = {k: v for k, v in raw.fields.items() if not isinstance(v, (list, ArrayLength, TextLength))}
    weights_by_type: Counter[int] = Counter()
    parameters = 0
    for tensor in raw.tensors:
        parameters += tensor.n_elements
        if len(tensor.shape) >= 2:
            weights_by_type[tensor.type_id] += tensor.n_elements
    arch = metadata.get("general.architecture")
    ftype = metadata.get("general.file_type")
    name = metadata.get("general.name")
    dominant = None
    if weights_by_type:
        top = weights_by_type.most_common(1)[0][0]
        dominant = GGMLQuantizationType(top).name if top in GGML_QUANT_SIZES else str(top)
    return GgufHeader(
        version=raw.version,
        architecture=arch if isinstance(arch, str) else None,
        name=name if isinstance(name, str) else None,
        file_type=file_type_name(ftype) if isinstance(ftype, int) else None,
        dominant_tensor_type=dominant,
        context_length=metadata.get(f"{arch}.context_length") if arch else None,
        parameter_count=parameters,
        tensor_count=len(raw.tensors),
        header_bytes=raw.header_bytes,
        metadata=metadata,
        raw=raw,
        file_size=file_size,
    )


def parse_gguf_header(fetch: Callable[[int, int], bytes], total_size: int | None = None) -> GgufHeader:
    """Read a GGUF header through `fetch(start, end_inclusive) -> bytes`."""
    return summarize_header(fetch_raw_header(fetch, total_size), total_size)


def read_remote_gguf_header(repo_id: str, filename: str, revision: str | None = None,
                            size: int | None = None) -> GgufHeader:
    """The header of a GGUF file in a Hub repo, read with Range requests through huggingface_hub's session."""
    require_online(f"read the header of {filename}")
    url = hf_hub_url(repo_id, filename, revision=revision, endpoint=hub_endpoint())
    headers = build_hf_headers()

    seen_size: list[int] = []

    def fetch(start: int, end: int) -> bytes:
        with get_session().stream("GET", url, headers={**headers, "Range": f"bytes={start}-{end}"},
                                  follow_redirects=True) as response:
            hf_raise_for_status(response)
            content_range = response.headers.get("Content-Range", "")
            if "/" in content_range and content_range.rsplit("/", 1)[1].isdigit():
                seen_size.append(int(content_range.rsplit("/", 1)[1]))
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
        raw = fetch_raw_header(fetch, size)
    return summarize_header(raw, size if size is not None else (seen_size[0] if seen_size else None))
