"""A download as a job: the repo, the file patterns and the folder, onto core's download_model.

Downloads are I/O bound, so the job runs on the queue's worker thread (no child process); Cancel is the
token checked between network reads. The bytes go to `.incomplete` files that survive a cancel, a failure
or a closed app, so running the same job again (Retry, or Resume after a restart) continues from them.
The detail line names the file being fetched and how far it is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.core.jobs.kind import JobContext, JobKind
from app.core.units import format_bytes


@dataclass(frozen=True)
class DownloadJobParams:
    repo_id: str
    include: tuple[str, ...] = field(default_factory=tuple)  # patterns; empty: the whole repo
    revision: str = "main"
    folder: str | None = None  # None: the shared Hugging Face cache


@dataclass(frozen=True)
class DownloadJobResult:
    path: str  # the first file (the Jobs page opens its folder)
    folder: str
    repo_id: str
    commit: str
    files: tuple[str, ...]
    size_bytes: int
    transferred_bytes: int
    resumed_from_bytes: int


def run_download_job(params: DownloadJobParams, context: JobContext) -> DownloadJobResult:
    """Download (or finish downloading) the job's files; progress is in bytes over all files."""
    from pathlib import Path

    from app.core.hub.download import FileProgress, download_model  # huggingface_hub: only when a download runs

    def on_file(p: FileProgress) -> None:
        context.on_detail(f"File {p.index + 1} of {p.count}: {p.path} — {format_bytes(p.done)} of "
                          f"{format_bytes(p.total)}")

    context.on_stage("download")
    result = download_model(params.repo_id, list(params.include), params.revision,
                            Path(params.folder) if params.folder else None,
                            on_progress=context.on_progress, cancel=context.cancel, on_file=on_file)
    first = result.files[0].local_path if result.files else result.folder
    return DownloadJobResult(
        path=str(first),
        folder=str(result.folder),
        repo_id=result.repo_id,
        commit=result.commit,
        files=tuple(str(f.local_path) for f in result.files),
        size_bytes=sum(f.size for f in result.files),
        transferred_bytes=result.transferred,
        resumed_from_bytes=sum(f.resumed_from for f in result.files if f.transferred),
    )


DOWNLOAD = JobKind("download", DownloadJobParams, DownloadJobResult, run_download_job, progress_in_bytes=True)
