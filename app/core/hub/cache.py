"""Where downloads go: the Hugging Face cache layout (so other tools see them) or a folder the user picks.

Cache layout, as huggingface_hub writes it (file_download.py, the cache docs):
    <cache>/models--<owner>--<name>/blobs/<etag>               the bytes, named by their ETag (sha256 for LFS)
    <cache>/models--<owner>--<name>/blobs/<etag>.incomplete    a download in progress (same name hf uses)
    <cache>/models--<owner>--<name>/snapshots/<commit>/<path>  a relative symlink to the blob
    <cache>/models--<owner>--<name>/refs/<branch>              the commit the branch pointed at
    <cache>/.locks/models--<owner>--<name>/<etag>.lock         held while writing, shared with hf_hub_download
A picked folder gets <folder>/<path>, with partial files under <folder>/.cache/quantdesk/.

A repo listing is input from the network: a name with '..', an absolute path or a drive letter would write
outside the folder, so `safe_repo_path` refuses it before any path is built from it.
"""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from app.core.errors import UnsafeRepoPathError


def safe_repo_path(name: str) -> PurePosixPath:
    """A repo file name as a relative path that stays inside its folder, or UnsafeRepoPathError."""
    path = PurePosixPath(name)
    bad = (
        not name or "\\" in name or "\0" in name or path.is_absolute() or name.startswith("/")
        or any(part in ("..", ".", "") for part in name.split("/"))
        or (len(name) > 1 and name[1] == ":")  # C:foo on Windows
    )
    if bad:
        raise UnsafeRepoPathError(
            "This model's file list contains a file name that would be saved outside the download folder, so "
            "QuantDesk stopped. The repo may be broken or malicious.",
            f"unsafe file name in repo listing: {name!r}",
        )
    return path


def repo_folder_name(repo_id: str) -> str:
    return "models--" + repo_id.replace("/", "--")


@dataclass(frozen=True)
class FileTarget:
    """Where a repo file's bytes are written while downloading (`partial`) and where they end (`final`)."""

    partial: Path
    final: Path  # the blob in the cache, or the file in the picked folder
    visible: Path  # the path a person or tool opens (the snapshot link, or the file in the folder)
    lock: Path

    def is_complete(self, etag: str) -> bool:
        if not self.final.exists():
            return False
        marker = _marker(self)
        if marker is None:  # the cache: blobs are named by their ETag and only renamed in once verified
            return True
        try:
            return json.loads(marker.read_text()).get("etag") == etag
        except (OSError, ValueError):
            return False


def _marker(target: FileTarget) -> Path | None:
    if target.final == target.visible:  # a picked folder: a small record says which version is there
        return target.partial.with_name(target.partial.name.removesuffix(".incomplete") + ".done.json")
    return None


def cache_target(cache_dir: Path, repo_id: str, commit: str, repo_path: str, etag: str) -> FileTarget:
    safe = safe_repo_path(repo_path)
    storage = cache_dir / repo_folder_name(repo_id)
    blob = storage / "blobs" / etag
    return FileTarget(
        partial=blob.with_name(etag + ".incomplete"),
        final=blob,
        visible=storage / "snapshots" / commit / Path(*safe.parts),
        lock=cache_dir / ".locks" / repo_folder_name(repo_id) / f"{etag}.lock",
    )


def folder_target(folder: Path, repo_path: str) -> FileTarget:
    safe = safe_repo_path(repo_path)
    final = folder / Path(*safe.parts)
    work = folder / ".cache" / "quantdesk" / Path(*safe.parts)
    return FileTarget(partial=work.with_name(work.name + ".incomplete"), final=final, visible=final,
                      lock=work.with_name(work.name + ".lock"))


def link_into_snapshot(target: FileTarget) -> None:
    """Point the snapshot path at the blob: a relative symlink, or a copy where symlinks are not allowed."""
    if target.visible == target.final:
        return
    target.visible.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.visible.with_name(f".{target.visible.name}.link-tmp")
    tmp.unlink(missing_ok=True)
    try:
        os.symlink(os.path.relpath(target.final, target.visible.parent), tmp)
    except OSError:  # Windows without developer mode: hf copies too
        shutil.copyfile(target.final, tmp)
    os.replace(tmp, target.visible)


def finish_file(target: FileTarget, etag: str) -> None:
    """Rename the verified partial file to its real name (and link it / record its version)."""
    target.final.parent.mkdir(parents=True, exist_ok=True)
    os.replace(target.partial, target.final)
    marker = _marker(target)
    if marker is not None:
        marker.write_text(json.dumps({"etag": etag}))
    link_into_snapshot(target)


def write_ref(cache_dir: Path, repo_id: str, revision: str, commit: str) -> None:
    """refs/<branch> = commit, so `hf_hub_download(..., revision=branch, local_files_only=True)` finds it."""
    if revision == commit:
        return
    ref = cache_dir / repo_folder_name(repo_id) / "refs" / revision
    ref.parent.mkdir(parents=True, exist_ok=True)
    tmp = ref.with_name(f".{ref.name}.tmp")
    tmp.write_text(commit)
    os.replace(tmp, ref)


def snapshot_folder(cache_dir: Path, repo_id: str, commit: str) -> Path:
    return cache_dir / repo_folder_name(repo_id) / "snapshots" / commit
