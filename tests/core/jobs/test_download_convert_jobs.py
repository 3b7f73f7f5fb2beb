"""Downloads and conversions as jobs: JSON parameters through the queue, the real download (fake Hub) and
the real conversion (child process), Cancel leaving no file under a real name, and a restart's resume."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path
from typing import Any

import gguf
import pytest

from app.core.errors import Cancelled
from app.core.jobs.convert import CONVERT, ConvertJobParams, ConvertJobResult
from app.core.jobs.download import DOWNLOAD, DownloadJobParams, DownloadJobResult
from app.core.jobs.kind import JobContext, JobKind
from app.core.jobs.queue import JobQueue, JobRecord, JobState, run_job
from app.core.paths import hf_cache_dir
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.files import leftover_partial, partial_files
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.tiny_hf import build_tiny_folder

BIG = os.urandom(3 * 1024 * 1024 + 77)


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker_running() -> None:
    # run_in_child's Queue starts multiprocessing's resource tracker, which then outlives the test
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def _repo(hub: FakeHub) -> FakeRepo:
    return hub.add_repo(FakeRepo("tester/big", [FakeFile("config.json", b'{"model_type": "llama"}'),
                                                FakeFile("big-Q8_0.gguf", BIG, lfs=True)]))


def _queued(queue: JobQueue, kind: JobKind[Any, Any], params: object) -> JobRecord:
    """Add a job and read it back from the file, as the queue hands it to a runner after a restart."""
    record = queue.add(kind, f"{kind.name} test", params)
    [again] = [r for r in JobQueue(queue.path).jobs() if r.id == record.id]
    assert kind.params_from_json(again.params) == params  # the same typed parameters come back
    assert json.loads(json.dumps(again.params)) == again.params
    return again


def _run(record: JobRecord, cancel: threading.Event | None = None,
         progress: list[tuple[int, int]] | None = None) -> Any:
    seen = progress if progress is not None else []
    stages: list[str] = []

    def on_progress(done: int, total: int) -> None:
        seen.append((done, total))

    context = JobContext(on_progress=on_progress, on_stage=stages.append, cancel=cancel or threading.Event())
    result = run_job(record, context)
    assert stages == [record.kind]
    return result


def test_a_download_job_fetches_verified_files(fake_hub: FakeHub, tmp_path: Path) -> None:
    repo = _repo(fake_hub)
    queue = JobQueue(tmp_path / "jobs.json")
    params = DownloadJobParams("tester/big", include=("big-Q8_0.gguf", "config.json"))
    progress: list[tuple[int, int]] = []
    result = _run(_queued(queue, DOWNLOAD, params), progress=progress)
    assert isinstance(result, DownloadJobResult)
    weights = Path(result.folder) / "big-Q8_0.gguf"
    assert hashlib.sha256(weights.read_bytes()).hexdigest() == repo.file("big-Q8_0.gguf").sha256  # type: ignore[union-attr]
    assert result.size_bytes == len(BIG) + len(b'{"model_type": "llama"}')
    assert progress[-1] == (result.size_bytes, result.size_bytes)  # bytes over all files
    assert Path(result.path).parent == weights.parent  # what "Open folder" opens


def test_a_cancelled_download_job_resumes_after_a_restart(fake_hub: FakeHub, tmp_path: Path) -> None:
    _repo(fake_hub)
    fake_hub.throttle_bytes_per_second = 4 * 1024 * 1024
    path = tmp_path / "jobs.json"
    queue = JobQueue(path)
    record = _queued(queue, DOWNLOAD, DownloadJobParams("tester/big", include=("*.gguf",)))
    queue.update(record.id, state=JobState.RUNNING)
    cancel = threading.Event()
    progress: list[tuple[int, int]] = []

    def stop_early(done: int, total: int) -> None:
        progress.append((done, total))
        if done > 500_000:
            cancel.set()

    with pytest.raises(Cancelled):
        run_job(record, JobContext(on_progress=stop_early, cancel=cancel))
    assert not list(hf_cache_dir().rglob("big-Q8_0.gguf"))  # nothing under the real name
    [partial] = hf_cache_dir().rglob("*.incomplete")
    kept = partial.stat().st_size
    assert 500_000 < kept < len(BIG)

    after = JobQueue(path)  # "the app was closed while it ran"
    assert after.get(record.id).state is JobState.INTERRUPTED  # type: ignore[union-attr]
    resumed = after.resume(record.id)
    fake_hub.throttle_bytes_per_second = None
    result = _run(resumed)
    assert result.resumed_from_bytes == kept and result.transferred_bytes == len(BIG) - kept
    assert fake_hub.downloads_of("big-Q8_0.gguf")[-1].request.range == f"bytes={kept}-"
    assert (Path(result.folder) / "big-Q8_0.gguf").read_bytes() == BIG


def test_a_convert_job_runs_in_a_child_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import app.core.jobs.convert as convert_job

    children: list[object] = []
    real = convert_job.run_in_child
    monkeypatch.setattr(convert_job, "run_in_child",
                        lambda target, **kw: children.append(target) or real(target, **kw))
    folder = build_tiny_folder("llama3", tmp_path / "tiny-llama")
    out = tmp_path / "tiny-llama.gguf"
    queue = JobQueue(tmp_path / "jobs.json")
    progress: list[tuple[int, int]] = []
    result = _run(_queued(queue, CONVERT, ConvertJobParams(str(folder), str(out), "q8_0")), progress=progress)
    assert [getattr(t, "__name__", "") for t in children] == ["convert_model"]
    assert isinstance(result, ConvertJobResult)
    assert result.path == str(out) and result.outtype == "q8_0" and result.folder == str(out.parent)
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "llama"
    assert progress and progress[-1] == (1000, 1000)
    assert not partial_files(out)


def test_a_cancelled_convert_job_leaves_nothing_and_resumes_after_a_restart(tmp_path: Path) -> None:
    folder = build_tiny_folder("qwen2", tmp_path / "tiny-qwen2")
    out = tmp_path / "out" / "tiny-qwen2.gguf"
    out.parent.mkdir()
    path = tmp_path / "jobs.json"
    queue = JobQueue(path)
    record = _queued(queue, CONVERT, ConvertJobParams(str(folder), str(out)))
    queue.update(record.id, state=JobState.RUNNING)
    cancel = threading.Event()

    def cancel_at_first_progress(_done: int, _total: int) -> None:
        cancel.set()  # the child is mid-write: its temporary file exists now

    with pytest.raises(Cancelled):
        run_job(record, JobContext(on_progress=cancel_at_first_progress, cancel=cancel))
    assert list(out.parent.iterdir()) == []  # neither the real name nor the partial one

    leftover = leftover_partial(out)  # what a killed app would leave behind
    after = JobQueue(path)
    assert after.get(record.id).state is JobState.INTERRUPTED  # type: ignore[union-attr]
    result = _run(after.resume(record.id))
    assert not leftover.exists()  # the stale partial file went when the next job started
    assert Path(result.path) == out and out.is_file()
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "qwen2"
    assert list(out.parent.iterdir()) == [out]
