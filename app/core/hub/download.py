"""Download a model's files from the Hub: resumable across runs, verified, cancellable, honest about progress.

huggingface_hub 2.x deletes a partial file when a download fails, so a dropped connection or a closed
app would start a 5 GB file from zero. Here the bytes go to `<blob>.incomplete` (hub_cache.py) and stay
there on any failure; the next run asks the server only for the rest (HTTP Range). The request itself is
huggingface_hub's: its URL building (hf_hub_url), its metadata HEAD (get_hf_file_metadata), its HTTP session
(offline switch, headers) and its token (HF_TOKEN / the token store) — only the byte loop is ours.

A file counts as complete only when its bytes hash to what the Hub lists: sha256 for LFS files, the git blob
sha1 for small ones. Then it is renamed to its real name; a mismatch deletes the partial file.
"""

from __future__ import annotations

import errno
import hashlib
import logging
import queue
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO
from urllib.parse import urlsplit

import httpx2
from huggingface_hub import get_hf_file_metadata, hf_hub_url
from huggingface_hub.utils import WeakFileLock, build_hf_headers, get_session, hf_raise_for_status

from app.core.errors import (
    ChecksumMismatchError,
    HubConnectionError,
    HubError,
    NotEnoughDiskError,
)
from app.core.hub.cache import (
    FileTarget,
    finish_file,
    link_into_snapshot,
    snapshot_folder,
    write_ref,
)
from app.core.hub.connection import hub_endpoint, hub_errors, require_online
from app.core.hub.download_plan import DownloadPlan, RemoteFile, check_disk_space, file_target, plan_download
from app.core.paths import hf_cache_dir
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress

# the plan's types are part of this module's interface (callers build and pass plans)
__all__ = ["DownloadPlan", "DownloadResult", "DownloadedFile", "FileProgress", "RemoteFile", "download",
           "download_model", "plan_download"]

log = logging.getLogger(__name__)

CHUNK = 4 * 1024 * 1024
RETRIES = 5  # consecutive attempts without a single new byte before giving up
PROGRESS_EVERY = 0.1  # seconds between progress reports (a repaint per chunk helps nobody)


@dataclass(frozen=True)
class FileProgress:
    """Per-file progress, beside the overall (done, total) of the ProgressCallback."""

    path: str
    done: int
    total: int
    index: int
    count: int


@dataclass(frozen=True)
class DownloadedFile:
    path: str
    local_path: Path
    size: int
    sha256: str | None
    resumed_from: int  # bytes already on disk when this run started on the file
    transferred: int  # bytes this run received


@dataclass(frozen=True)
class DownloadResult:
    repo_id: str
    commit: str
    folder: Path  # the snapshot folder in the cache, or the picked folder
    files: tuple[DownloadedFile, ...]

    @property
    def transferred(self) -> int:
        return sum(f.transferred for f in self.files)

    def to_json(self) -> dict[str, object]:
        return {
            "repo_id": self.repo_id, "commit": self.commit, "folder": str(self.folder),
            "transferred_bytes": self.transferred,
            "files": [{"path": f.path, "local_path": str(f.local_path), "size": f.size, "sha256": f.sha256,
                       "resumed_from": f.resumed_from, "transferred_bytes": f.transferred}
                      for f in self.files],
        }


class _Hasher:
    """Hashes on a second thread while the first one receives (hashlib releases the GIL on large buffers)."""

    def __init__(self, f: RemoteFile) -> None:
        self.expected: str = f.sha256 or f.blob_id or ""
        # LFS files: sha256 of the content; others: git's blob id, sha1 over "blob <size>\0" + content
        self._hash = hashlib.sha256() if f.sha256 else hashlib.sha1(b"blob %d\0" % f.size)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=16)
        self._thread = threading.Thread(target=self._run, name="download-hash", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            self._hash.update(chunk)

    def update(self, chunk: bytes) -> None:
        self._queue.put(chunk)

    def hexdigest(self) -> str:
        self.close()
        return self._hash.hexdigest()

    def close(self) -> None:
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()


def _hash_existing(part: Path, length: int, hasher: _Hasher, cancel: CancelToken | None) -> int:
    """Feed the first `length` bytes on disk to the hasher (on resume the hash covers the whole file)."""
    size = 0
    with open(part, "rb") as src:
        while size < length and (chunk := src.read(min(CHUNK, length - size))):
            check_cancelled(cancel)
            hasher.update(chunk)
            size += len(chunk)
    return size


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    return parts.scheme, (parts.hostname or "").lower(), parts.port


class _RangeIgnored(Exception):
    """The server answered a resume with the whole file (or another part): start the file again."""


class _Reporter:
    """Overall + per-file progress, at most every PROGRESS_EVERY seconds (and always at the end of a file)."""

    def __init__(self, plan: DownloadPlan, on_progress: ProgressCallback,
                 on_file: Callable[[FileProgress], None] | None) -> None:
        self.total = plan.total_bytes
        self.count = len(plan.files)
        self.done_before = 0  # bytes of the files before the current one
        self._on_progress = on_progress
        self._on_file = on_file
        self._last = 0.0

    def report(self, f: RemoteFile, index: int, done: int, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < PROGRESS_EVERY:
            return
        self._last = now
        if self._on_file is not None:
            self._on_file(FileProgress(f.path, done, f.size, index, self.count))
        self._on_progress(self.done_before + done, self.total)  # may raise Cancelled: the hook can cancel


def _flush(out: BinaryIO, pending: bytearray, hasher: _Hasher, f: RemoteFile, have: int,
           received: int) -> tuple[int, int]:
    if not pending:
        return have, received
    data = bytes(pending)
    pending.clear()
    if have + len(data) > f.size:
        raise ChecksumMismatchError("The server sent more bytes than the file has.",
                                    f"{f.path}: expected {f.size} bytes, got at least {have + len(data)}")
    out.write(data)
    hasher.update(data)
    return have + len(data), received + len(data)


def _receive(url: str, headers: dict[str, str], target: FileTarget, f: RemoteFile, index: int,
             hasher: _Hasher, have: int, reporter: _Reporter, cancel: CancelToken | None) -> tuple[int, int]:
    """One GET from byte `have` on; returns (bytes on disk, bytes received). Raises if the link drops."""
    request_headers = dict(headers)
    if have:
        request_headers["Range"] = f"bytes={have}-"
    received = 0
    with get_session().stream("GET", url, headers=request_headers, follow_redirects=True,
                              timeout=httpx2.Timeout(60.0, connect=15.0)) as response:
        hf_raise_for_status(response)
        if have and (response.status_code != 206
                     or not response.headers.get("Content-Range", "").startswith(f"bytes {have}-")):
            raise _RangeIgnored(f"asked bytes={have}-, got HTTP {response.status_code} "
                                f"{response.headers.get('Content-Range')}")
        # `have` is the partial file's size (the caller checked), so appending continues it exactly
        with open(target.partial, "ab" if have else "wb") as out:
            # The network hands over ~64 KB at a time; gather CHUNK before writing and hashing (fewer Python
            # steps), and on any exit write what arrived, so a dropped connection loses no received byte.
            pending = bytearray()
            flushed_at = time.monotonic()
            try:
                for piece in response.iter_bytes():
                    check_cancelled(cancel)
                    pending += piece
                    if len(pending) >= CHUNK or time.monotonic() - flushed_at >= PROGRESS_EVERY:
                        have, received = _flush(out, pending, hasher, f, have, received)
                        flushed_at = time.monotonic()
                        reporter.report(f, index, have)
            finally:
                have, received = _flush(out, pending, hasher, f, have, received)
            reporter.report(f, index, have)
    return have, received


def _download_one(plan: DownloadPlan, f: RemoteFile, index: int, reporter: _Reporter,
                  cancel: CancelToken | None) -> DownloadedFile:
    target = file_target(plan, f)
    if target.is_complete(f.etag):
        if not target.visible.exists():  # the blob is there (another commit, another tool): link it here
            link_into_snapshot(target)
        reporter.report(f, index, f.size, force=True)
        return DownloadedFile(f.path, target.visible, f.size, f.sha256, f.size, 0)
    url = hf_hub_url(plan.repo_id, f.path, revision=plan.commit, endpoint=hub_endpoint())
    headers = build_hf_headers()
    with hub_errors(f"{plan.repo_id}/{f.path}"):
        meta = get_hf_file_metadata(url, endpoint=hub_endpoint())
    location = meta.location or url
    if _origin(location) != _origin(url):
        # LFS bytes come from a CDN through a signed URL: the Hub token must not travel there
        headers.pop("authorization", None)
    if meta.etag and meta.etag != f.etag:
        raise HubError("The file changed on Hugging Face while QuantDesk was preparing; please try again.",
                       f"{f.path}: listed etag {f.etag}, served {meta.etag}")
    target.partial.parent.mkdir(parents=True, exist_ok=True)
    target.lock.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        stack.enter_context(WeakFileLock(target.lock))
        if target.is_complete(f.etag):  # another process finished it while we waited for the lock
            link_into_snapshot(target)
            reporter.report(f, index, f.size, force=True)
            return DownloadedFile(f.path, target.visible, f.size, f.sha256, f.size, 0)
        hashers = [_Hasher(f)]
        stack.callback(lambda: hashers[-1].close())
        hasher = hashers[0]
        have = 0
        if target.partial.exists():
            have = target.partial.stat().st_size
            if have > f.size:  # not this file's bytes: start again
                target.partial.unlink()
                have = 0
            elif have:
                have = _hash_existing(target.partial, have, hasher, cancel)
        resumed_from = have
        if have:
            log.info("resuming %s/%s from byte %d of %d", plan.repo_id, f.path, have, f.size)
        received_total = 0
        attempts = 0
        while have < f.size:
            check_cancelled(cancel)
            try:
                with hub_errors(f"{plan.repo_id}/{f.path}"):
                    have, received = _receive(location, headers, target, f, index, hasher, have,
                                              reporter, cancel)
            except _RangeIgnored as reason:
                log.warning("%s: resume refused (%s); starting the file again", f.path, reason)
                hasher.close()
                hasher = _Hasher(f)
                hashers.append(hasher)
                target.partial.unlink(missing_ok=True)
                have = resumed_from = 0
                continue
            except HubConnectionError:
                have = target.partial.stat().st_size if target.partial.exists() else 0
                attempts += 1
                if attempts >= RETRIES:
                    raise
                log.warning("connection dropped on %s at byte %d; resuming (attempt %d)",
                            f.path, have, attempts)
                time.sleep(min(0.5 * attempts, 2.0))
                continue
            except ChecksumMismatchError:
                target.partial.unlink(missing_ok=True)  # not this file: never resume from them
                raise
            except OSError as error:
                if error.errno == errno.ENOSPC:
                    raise NotEnoughDiskError(
                        "The disk filled up during the download. Free some space and start it again: it will "
                        "continue from where it stopped.", f"{error}") from None
                raise
            received_total += received
            if received:
                attempts = 0
            if have < f.size and not received:
                attempts += 1
                if attempts >= RETRIES:
                    raise HubConnectionError("The download keeps stopping early. Try again later.",
                                             f"{f.path}: {have} of {f.size} bytes")
        if not target.partial.exists():
            target.partial.touch()  # an empty file still gets a name
        digest = hasher.hexdigest()
        if digest != hasher.expected:
            target.partial.unlink(missing_ok=True)
            raise ChecksumMismatchError(
                f"The downloaded file {f.path} is damaged (its checksum does not match), so it was deleted. "
                "Please download it again.", f"{f.path}: expected {hasher.expected}, got {digest}")
        finish_file(target, f.etag)
    reporter.report(f, index, f.size, force=True)
    return DownloadedFile(f.path, target.visible, f.size, f.sha256, resumed_from, received_total)


def download(plan: DownloadPlan, *, on_progress: ProgressCallback = no_progress,
             cancel: CancelToken | None = None,
             on_file: Callable[[FileProgress], None] | None = None) -> DownloadResult:
    """Fetch every file of the plan; safe to call again after any failure or cancel (it resumes)."""
    require_online(f"download {plan.repo_id}")
    check_disk_space(plan)
    reporter = _Reporter(plan, on_progress, on_file)
    done: list[DownloadedFile] = []
    for index, f in enumerate(plan.files):
        check_cancelled(cancel)
        done.append(_download_one(plan, f, index, reporter, cancel))
        reporter.done_before += f.size
    if plan.folder is None:
        write_ref(hf_cache_dir(), plan.repo_id, plan.revision, plan.commit)
        folder = snapshot_folder(hf_cache_dir(), plan.repo_id, plan.commit)
    else:
        folder = plan.folder
    return DownloadResult(plan.repo_id, plan.commit, folder, tuple(done))


def download_model(repo_id: str, include: Sequence[str] = (), revision: str = "main",
                   folder: Path | None = None, *, on_progress: ProgressCallback = no_progress,
                   cancel: CancelToken | None = None,
                   on_file: Callable[[FileProgress], None] | None = None) -> DownloadResult:
    """plan_download + download in one call (the CLI's and the UI's entry point)."""
    plan = plan_download(repo_id, include, revision, folder)
    return download(plan, on_progress=on_progress, cancel=cancel, on_file=on_file)
