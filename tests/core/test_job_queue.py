"""The job queue's file: order, states, and what a restart does to unfinished jobs."""

from __future__ import annotations

import json
from pathlib import Path

from app.core.jobs.queue import JobQueue, JobState, resolve_runner
from app.core.jobs.quantize import run_quantize_job


def test_jobs_persist_in_order_and_unfinished_ones_come_back_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    queue = JobQueue(path)
    a = queue.add("quantize", "A", {"src": "a.gguf", "type_name": "Q8_0"})
    b = queue.add("quantize", "B", {"src": "a.gguf", "type_name": "Q2_K"})
    c = queue.add("quantize", "C", {"src": "a.gguf", "type_name": "Q4_0"})
    queue.update(a.id, state=JobState.DONE, result={"path": "x"})
    queue.update(b.id, state=JobState.RUNNING, done=5, total=10)
    assert queue.next_queued() == queue.get(c.id)
    assert json.loads(path.read_text())["version"] == 1

    again = JobQueue(path)
    assert [(r.title, r.state) for r in again.jobs()] == [
        ("A", JobState.DONE), ("B", JobState.INTERRUPTED), ("C", JobState.INTERRUPTED)]
    assert again.next_queued() is None  # nothing restarts by itself
    resumed = again.resume(b.id)
    assert resumed.state is JobState.QUEUED and resumed.done == 0 and again.next_queued() == resumed
    again.clear((JobState.DONE,))
    again.remove(c.id)
    assert [r.title for r in JobQueue(path).jobs()] == ["B"]


def test_time_left_is_a_straight_line_from_this_stage(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "jobs.json")
    job = queue.add("quantize", "A", {})
    assert job.seconds_left() is None
    job = queue.update(job.id, state=JobState.RUNNING, stage_started_at=100.0, done=25, total=100)
    assert job.seconds_left(now=110.0) == 30.0


def test_an_unreadable_file_starts_an_empty_queue(tmp_path: Path) -> None:
    (tmp_path / "jobs.json").write_text("{not json")
    assert JobQueue(tmp_path / "jobs.json").jobs() == []


def test_quantize_jobs_have_a_runner() -> None:
    assert resolve_runner("quantize") is run_quantize_job
