"""What a download will fetch, decided before any byte moves: the files, their sizes and hashes, the commit,
where they go, and whether the disk has room. The Hub's listing is input from the network, so every name in it
is checked (hub_cache.safe_repo_path) before anything is planned."""

from __future__ import annotations

import fnmatch
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from huggingface_hub.hf_api import RepoFile

from app.core.disk import check_free_space
from app.core.errors import RepoFileNotFoundError
from app.core.hub.cache import FileTarget, cache_target, folder_target, safe_repo_path
from app.core.hub.connection import hub_api, hub_errors, require_online
from app.core.paths import hf_cache_dir

DISK_MARGIN = 64 * 1024 * 1024  # keep this much free: a full disk breaks more than the download


@dataclass(frozen=True)
class RemoteFile:
    path: str
    size: int
    sha256: str | None  # LFS files: the sha256 of the content (also their ETag)
    blob_id: str | None  # every file: the git blob id (sha1) — the ETag of files not in LFS

    @property
    def etag(self) -> str:
        return self.sha256 or self.blob_id or ""


@dataclass(frozen=True)
class DownloadPlan:
    repo_id: str
    revision: str
    commit: str
    files: tuple[RemoteFile, ...]
    folder: Path | None = None  # None: the Hugging Face cache

    @property
    def total_bytes(self) -> int:
        return sum(f.size for f in self.files)


def repo_files(repo_id: str, commit: str) -> list[RemoteFile]:
    """Every file of the repo at `commit` with its size and hashes, from the Hub's tree listing (recursive,
    paged with Link headers). Refuses the whole repo if any name would land outside its folder."""
    with hub_errors(repo_id):
        entries = list(hub_api().list_repo_tree(repo_id, revision=commit, recursive=True))
    files = []
    for entry in entries:
        if not isinstance(entry, RepoFile):
            continue  # folders
        safe_repo_path(entry.path)
        lfs = entry.lfs
        files.append(RemoteFile(path=entry.path, size=int(lfs.size if lfs else entry.size or 0),
                                sha256=lfs.sha256 if lfs else None, blob_id=entry.blob_id))
    return files


def plan_download(repo_id: str, include: Sequence[str] = (), revision: str = "main",
                  folder: Path | None = None) -> DownloadPlan:
    """Which files (glob patterns in `include`, all when empty), their sizes and hashes, at which commit."""
    require_online(f"list the files of {repo_id} to download")
    with hub_errors(repo_id):
        commit = hub_api().model_info(repo_id, revision=revision).sha or revision
    everything = repo_files(repo_id, commit)  # pinned to the commit: the plan can't change under us
    files = [f for f in everything if not include or any(fnmatch.fnmatch(f.path, p) for p in include)]
    if not files:
        raise RepoFileNotFoundError(
            f"No file in {repo_id} matches {', '.join(include)}." if include else f"{repo_id} has no files.",
            f"files in repo: {[f.path for f in everything][:50]}")
    return DownloadPlan(repo_id, revision, commit, tuple(files), folder)


def file_target(plan: DownloadPlan, f: RemoteFile) -> FileTarget:
    if plan.folder is not None:
        return folder_target(plan.folder, f.path)
    return cache_target(hf_cache_dir(), plan.repo_id, plan.commit, f.path, f.etag)


def check_disk_space(plan: DownloadPlan) -> int:
    """NotEnoughDiskError before starting when the rest of the download can't fit; returns bytes needed."""
    needed = 0
    for f in plan.files:
        target = file_target(plan, f)
        if not target.is_complete(f.etag):
            have = target.partial.stat().st_size if target.partial.exists() else 0
            needed += max(f.size - have, 0)
    check_free_space(plan.folder if plan.folder is not None else hf_cache_dir(), needed + DISK_MARGIN,
                     "the rest of this download")
    return needed
