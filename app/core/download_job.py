"""A download as a job in the queue: a thin adapter from JSON parameters onto core's download_model.

Downloads are I/O bound, so the job runs on the queue's worker thread (no child process); Cancel is the
token checked between network reads. The bytes go to `.incomplete` files that survive a cancel, a failure
or a closed app, so running the same job again (Retry, or Resume after a restart) continues from them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.core.download import DownloadResult, download_model
from app.core.jobs import CancelToken, ProgressCallback, StageCallback, no_progress, no_stage


@dataclass(frozen=True)
class DownloadJobParams:
    """What a download job needs; stored in the job queue as plain JSON."""

    repo_id: str
    include: tuple[str, ...] = field(default_factory=tuple)  # patterns; empty: the whole repo
    revision: str = "main"
    folder: str | None = None  # None: the shared Hugging Face cache

    def to_json(self) -> dict[str, Any]:
        return {"repo_id": self.repo_id, "include": list(self.include), "revision": self.revision,
                "folder": self.folder}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DownloadJobParams:
        return cls(repo_id=str(data["repo_id"]), include=tuple(data.get("include") or ()),
                   revision=str(data.get("revision") or "main"), folder=data.get("folder"))


def run_download_job(
    params: dict[str, Any] | DownloadJobParams,
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
    on_stage: StageCallback = no_stage,
) -> dict[str, Any]:
    """Download (or finish downloading) the job's files; returns {"path", "folder", "files", ...}.

    Progress is in bytes over all files. "path" is the first file (the Jobs page opens its folder).
    """
    p = params if isinstance(params, DownloadJobParams) else DownloadJobParams.from_json(params)
    on_stage("download")
    result: DownloadResult = download_model(p.repo_id, list(p.include), p.revision,
                                            Path(p.folder) if p.folder else None,
                                            on_progress=on_progress, cancel=cancel)
    first = result.files[0].local_path if result.files else result.folder
    return {
        "path": str(first),
        "folder": str(result.folder),
        "repo_id": result.repo_id,
        "commit": result.commit,
        "files": [str(f.local_path) for f in result.files],
        "size_bytes": sum(f.size for f in result.files),
        "transferred_bytes": result.transferred,
        "resumed_from_bytes": sum(f.resumed_from for f in result.files if f.transferred),
    }
