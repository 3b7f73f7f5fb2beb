"""Look at a Hub repo before downloading: what is in it, what it is, can QuantDesk use it, what it needs.

- ready GGUF files: the quant type from the name, confirmed from the file's own header (a ranged read)
- safetensors weights: parameter count and dtypes from their headers (get_safetensors_metadata)
- the architecture, and whether QuantDesk can convert it
- licence and gated status
- disk: download + F16 + quant for the safetensors path (or the GGUF file itself) against free disk

What QuantDesk recommends for the repo on this computer is built from this inspection by app/core/advice/repo.py
(nothing here estimates memory), which also sizes the disk estimate's quant to the recommended level.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from huggingface_hub import errors as hf_errors
from huggingface_hub import hf_hub_url
from huggingface_hub.utils import build_hf_headers, get_session, hf_raise_for_status

from app.core.convert.supported import CONVERTIBLE_ARCHITECTURES
from app.core.disk import free_space
from app.core.errors import GatedModelError, ModelInfoError, OfflineModeError, QuantDeskError
from app.core.hub.connection import hub_api, hub_endpoint, hub_errors, require_online
from app.core.hub.download_plan import repo_files
from app.core.hub.remote_gguf import GgufHeader, quant_from_filename, read_remote_gguf_header
from app.core.paths import hf_cache_dir
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress
from app.core.quants import BY_NAME

log = logging.getLogger(__name__)

#: The level the disk estimate assumes until a recommendation names one: llama.cpp's usual default. Its
#: bits/weight come from the catalogue (quants.py); the recommended level's replace them (advice/repo.py).
DEFAULT_DISK_QUANT = "Q4_K_M"
MAX_CONFIG_BYTES = 4 * 1024 * 1024  # a config.json is a few KB; more is not a config
MAX_HEADER_READS = 8  # GGUF repos can list 20+ quants: confirm the first few, the rest on request


@dataclass(frozen=True)
class RepoFileInfo:
    path: str
    size: int
    is_lfs: bool
    kind: str  # "gguf", "safetensors", "config", "other"


@dataclass(frozen=True)
class GgufFileInfo:
    path: str
    size: int
    quant_from_name: str | None
    header: GgufHeader | None = None
    header_error: str | None = None

    @property
    def quant_from_header(self) -> str | None:
        if self.header is None:
            return None
        return self.header.file_type or self.header.dominant_tensor_type

    @property
    def confirmed(self) -> bool | None:
        """True when the header says the same as the name; None when either is unknown."""
        if self.quant_from_name is None or self.quant_from_header is None:
            return None
        return self.quant_from_name.upper() == self.quant_from_header.upper()


@dataclass(frozen=True)
class SafetensorsInfo:
    parameter_count: int
    dtypes: tuple[tuple[str, int], ...]  # (dtype, parameters), largest first
    total_bytes: int  # of the .safetensors files
    # every tensor's (name, dtype, shape) from the same headers: the memory estimate sizes the model from them
    tensors: tuple[tuple[str, str, tuple[int, ...]], ...] = dataclasses.field(default=(), compare=False, repr=False)


@dataclass(frozen=True)
class DiskNeeds:
    """What the whole path needs on disk, against what the disk has."""

    download_bytes: int
    f16_bytes: int  # the intermediate GGUF conversion writes (0 for a ready GGUF)
    quant_bytes: int  # the final quantized file (0 for a ready GGUF)
    free_bytes: int
    where: Path

    @property
    def total_bytes(self) -> int:
        return self.download_bytes + self.f16_bytes + self.quant_bytes

    @property
    def fits(self) -> bool:
        return self.total_bytes <= self.free_bytes

    def for_quant(self, parameter_count: int, bits_per_weight: float) -> DiskNeeds:
        """The same path with the quant size of a specific type (e.g. the recommended one)."""
        return dataclasses.replace(self, quant_bytes=int(parameter_count * bits_per_weight / 8))


@dataclass(frozen=True)
class RepoInspection:
    repo_id: str
    commit: str
    license: str | None
    gated: bool
    pipeline_tag: str | None
    architecture: str | None  # HF class name (LlamaForCausalLM) or GGUF arch (llama)
    convertible: bool  # safetensors QuantDesk can convert to GGUF
    files: tuple[RepoFileInfo, ...]
    gguf_files: tuple[GgufFileInfo, ...]
    safetensors: SafetensorsInfo | None
    disk: DiskNeeds | None  # the safetensors → F16 → quant path; None when there are no safetensors
    free_bytes: int

    @property
    def download_bytes(self) -> int:
        return sum(f.size for f in self.files)

    def with_quant_bits(self, bits_per_weight: float) -> RepoInspection:
        """This inspection with its disk estimate sized for a quant of `bits_per_weight` (a recommended level's)."""
        if self.disk is None or self.safetensors is None:
            return self
        return dataclasses.replace(self, disk=self.disk.for_quant(self.safetensors.parameter_count,
                                                                  bits_per_weight))

    def gguf_fits(self, gguf: GgufFileInfo) -> bool:
        return gguf.size <= self.free_bytes


def _kind(path: str) -> str:
    lower = path.lower()
    if lower.endswith(".gguf"):
        return "gguf"
    if lower.endswith(".safetensors"):
        return "safetensors"
    if lower.endswith(".json") or lower.endswith(".model") or lower.endswith(".txt"):
        return "config"
    return "other"


def _license(info: Any) -> str | None:
    card = getattr(info, "card_data", None)
    value = getattr(card, "license", None) if card is not None else None
    if value:
        return str(value)
    for tag in info.tags or []:
        if tag.startswith("license:"):
            return str(tag.split(":", 1)[1])
    return None


def _architecture(info: Any) -> str | None:
    config = info.config or {}
    arches = config.get("architectures") or []
    if arches:
        return str(arches[0])
    model_type = config.get("model_type")
    return str(model_type) if model_type else None


def _safetensors_info(repo_id: str, commit: str, files: list[RepoFileInfo],
                      info: Any) -> SafetensorsInfo | None:
    """Parameter counts from the safetensors headers (ranged reads); for a gated repo without a token, from
    the summary the Hub publishes in the model info (the headers themselves are behind the gate)."""
    if not any(f.kind == "safetensors" for f in files):
        return None
    tensors: tuple[tuple[str, str, tuple[int, ...]], ...] = ()
    try:
        with hub_errors(repo_id):
            meta = hub_api(f"look inside {repo_id}").get_safetensors_metadata(repo_id, revision=commit)
        counts = meta.parameter_count
        tensors = tuple((name, str(t.dtype), tuple(int(d) for d in t.shape))
                        for fm in meta.files_metadata.values() for name, t in fm.tensors.items())
    except hf_errors.NotASafetensorsRepoError:
        return None
    except GatedModelError:
        if info.safetensors is None:
            return None
        counts = dict(info.safetensors.parameters)
    ordered = sorted(counts.items(), key=lambda kv: -kv[1])
    return SafetensorsInfo(sum(counts.values()), tuple(ordered),
                           sum(f.size for f in files if f.kind == "safetensors"), tensors)


def read_gguf_info(repo_id: str, path: str, size: int, revision: str | None = None) -> GgufFileInfo:
    """One GGUF file's name-derived and header-confirmed quant type (a failure is kept, not raised)."""
    try:
        header = read_remote_gguf_header(repo_id, path, revision=revision, size=size)
        return GgufFileInfo(path, size, quant_from_filename(path), header)
    except QuantDeskError as error:
        if isinstance(error, OfflineModeError):
            raise  # not about this file: the whole inspection stops
        return GgufFileInfo(path, size, quant_from_filename(path), None, error.message)


def inspect_repo(repo_id: str, revision: str = "main", *, on_progress: ProgressCallback = no_progress,
                 cancel: CancelToken | None = None) -> RepoInspection:
    """Everything a person needs to decide on a repo, in a few small requests (no weights are downloaded)."""
    require_online(f"look inside {repo_id}")
    with hub_errors(repo_id):
        info = hub_api().model_info(repo_id, revision=revision)
    commit = info.sha or revision
    files = [RepoFileInfo(f.path, f.size, f.sha256 is not None, _kind(f.path))
             for f in repo_files(repo_id, commit)]
    ggufs = [f for f in files if f.kind == "gguf"]
    steps = 1 + min(len(ggufs), MAX_HEADER_READS) + 1
    on_progress(1, steps)
    gguf_infos: list[GgufFileInfo] = []
    for i, f in enumerate(ggufs):
        check_cancelled(cancel)
        if i < MAX_HEADER_READS:
            gguf_infos.append(read_gguf_info(repo_id, f.path, f.size, commit))
            on_progress(2 + i, steps)
        else:
            gguf_infos.append(GgufFileInfo(f.path, f.size, quant_from_filename(f.path)))
    check_cancelled(cancel)
    safetensors = _safetensors_info(repo_id, commit, files, info)
    on_progress(steps, steps)
    where, free = free_space(hf_cache_dir())
    architecture = _architecture(info)
    if architecture is None:
        architecture = next((g.header.architecture for g in gguf_infos if g.header is not None), None)
    disk = None
    if safetensors is not None:
        needed = sum(f.size for f in files if f.kind in ("safetensors", "config"))
        bits = BY_NAME[DEFAULT_DISK_QUANT].file_bits_per_weight
        disk = DiskNeeds(needed, safetensors.parameter_count * 2,
                         int(safetensors.parameter_count * bits / 8), free, where)
    return RepoInspection(
        repo_id=repo_id, commit=commit, license=_license(info), gated=bool(info.gated),
        pipeline_tag=info.pipeline_tag, architecture=architecture,
        convertible=safetensors is not None and architecture in CONVERTIBLE_ARCHITECTURES,
        files=tuple(files), gguf_files=tuple(gguf_infos), safetensors=safetensors, disk=disk,
        free_bytes=free,
    )


def fetch_config(repo_id: str, revision: str) -> dict[str, object]:
    """config.json read straight from the Hub (not into the download cache: the repo is not downloaded)."""
    require_online(f"read the settings (config.json) of {repo_id}")
    url = hf_hub_url(repo_id, "config.json", revision=revision, endpoint=hub_endpoint())
    with hub_errors(f"{repo_id}/config.json"):
        response = get_session().get(url, headers=build_hf_headers(), follow_redirects=True, timeout=30)
        hf_raise_for_status(response)
    data = response.content[: MAX_CONFIG_BYTES + 1]
    try:
        if len(data) > MAX_CONFIG_BYTES:
            raise ValueError(f"{len(response.content)} bytes")
        config = json.loads(data)
    except ValueError as error:
        raise ModelInfoError("This model's config.json cannot be read.", f"{repo_id}: {error}") from error
    if not isinstance(config, dict):
        raise ModelInfoError("This model's config.json cannot be read.", f"{repo_id}: not a JSON object")
    return config
