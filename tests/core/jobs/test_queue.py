"""The job queue's file: order, states, and what a restart does to unfinished jobs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from app.core.errors import QuantDeskError
from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams, QuantizeJobResult, run_quantize_job
from app.core.jobs.queue import JobQueue, JobRecord, JobState
from app.core.jobs.registry import KINDS, kind_named


def test_jobs_persist_in_order_and_unfinished_ones_come_back_interrupted(tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    queue = JobQueue(path)
    a = queue.add(QUANTIZE, "A", QuantizeJobParams("a.gguf", "Q8_0"))
    b = queue.add(QUANTIZE, "B", QuantizeJobParams("a.gguf", "Q2_K"))
    c = queue.add(QUANTIZE, "C", QuantizeJobParams("a.gguf", "Q4_0"))
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
    job = queue.add(QUANTIZE, "A", QuantizeJobParams("a.gguf", "Q8_0"))
    assert job.seconds_left() is None
    job = queue.update(job.id, state=JobState.RUNNING, stage_started_at=100.0, done=25, total=100)
    assert job.seconds_left(now=110.0) == 30.0


def test_an_unreadable_file_starts_an_empty_queue(tmp_path: Path) -> None:
    (tmp_path / "jobs.json").write_text("{not json")
    assert JobQueue(tmp_path / "jobs.json").jobs() == []


def test_kinds_are_found_by_the_name_in_the_file_and_run_their_own_function() -> None:
    assert set(KINDS) == {"download", "convert", "quantize", "evaluate"}
    assert kind_named("quantize") is QUANTIZE and QUANTIZE.run is run_quantize_job
    with pytest.raises(QuantDeskError) as info:
        kind_named("evaluate-v9")  # written by a newer QuantDesk
    assert "does not know" in info.value.message


def test_typed_parameters_and_results_survive_the_file(tmp_path: Path) -> None:
    queue = JobQueue(tmp_path / "jobs.json")
    params = QuantizeJobParams("a.gguf", "Q4_K_M", threads=3)
    job = queue.add(QUANTIZE, "A", params)
    result = QuantizeJobResult("/m/a-Q4_K_M.gguf", "/m", "Q4_K_M", 123, 1.5, None, None)
    queue.update(job.id, state=JobState.DONE, result={**result.__dict__})
    [again] = JobQueue(tmp_path / "jobs.json").jobs()
    assert QUANTIZE.params_from_json(again.params) == params
    assert again.typed_result() == result
    # a result written by an older version, missing fields, reads as no result rather than failing
    assert JobRecord.from_json({**again.to_json(), "result": {"path": "x"}}).typed_result() is None
