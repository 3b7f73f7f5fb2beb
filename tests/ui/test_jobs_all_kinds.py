"""Downloads and conversions queued from their own pages run on the Jobs page: titles, progress, Cancel,
Retry (a download continues from its bytes on disk), Open folder; and the page with all three kinds."""

from __future__ import annotations

import os
import time
from pathlib import Path

import gguf
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.paths import hf_cache_dir
from app.core.jobs.queue import JobQueue, JobRecord, JobState
from app.core.units import format_bytes
from app.ui.job_controller import JobController
from app.ui.jobs_view import JobRow, JobsView
from app.ui.main_window import MainWindow
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.tiny_hf import build_tiny_folder

SCREENSHOT_DIR = os.environ.get("QUANTDESK_SCREENSHOT_DIR")  # set it to refresh docs/screenshots/jobs.png


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker_running() -> None:
    # run_in_child's Queue starts multiprocessing's resource tracker, which then outlives the test
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def _only_job(window: MainWindow) -> JobRecord:
    [record] = window.jobs.controller.queue.jobs()
    return record


def _actions(view: JobsView, row: int = 0) -> JobRow:
    actions = view.table.cellWidget(row, 4)
    assert isinstance(actions, JobRow)
    return actions


def test_a_conversion_queued_from_the_convert_page_runs_on_the_jobs_page(
        data_dir: Path, window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    window.convert.set_folder(build_tiny_folder("qwen2", tmp_path / "tiny-qwen2"))
    out = tmp_path / "tiny-qwen2.gguf"
    window.convert.out_edit.setText(str(out))
    qtbot.mouseClick(window.convert.queue_button, Qt.MouseButton.LeftButton)
    assert window.pages.currentWidget() is window.jobs  # the person sees where it went
    assert window.jobs.table.item(0, 0).text() == "Convert tiny-qwen2 → tiny-qwen2.gguf"
    assert "Jobs page" in window.convert.status_label.text()
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.DONE, timeout=60_000)
    window.jobs.update_progress()
    assert window.jobs.table.item(0, 1).text() == "Done"
    assert not _actions(window.jobs).open_folder.isHidden()
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "qwen2"
    assert (data_dir / "jobs.json").is_file()


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_download_queued_from_find_models_cancels_and_retries_from_its_bytes(
        data_dir: Path, fake_hub: FakeHub, window: MainWindow, qtbot: QtBot) -> None:
    data = os.urandom(3_000_000)
    fake_hub.add_repo(FakeRepo("tester/slow-GGUF", [FakeFile("slow-Q4_0.gguf", data, lfs=True)],
                               tags=["gguf"]))
    fake_hub.throttle_bytes_per_second = 1_000_000
    browser = window.model_browser
    browser.search_edit.setText("slow")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: browser.results.count() > 0, timeout=10_000)
    browser.results.setCurrentRow(0)
    qtbot.waitUntil(lambda: browser.queue_button.isEnabled(), timeout=10_000)  # follows Download's state
    qtbot.mouseClick(browser.queue_button, Qt.MouseButton.LeftButton)
    jobs = window.jobs
    assert window.pages.currentWidget() is jobs
    assert jobs.table.item(0, 0).text() == "Download tester/slow-GGUF (slow-Q4_0.gguf)"
    qtbot.waitUntil(lambda: _only_job(window).done > 300_000, timeout=10_000)
    jobs.update_progress()
    assert "Running: downloading" in jobs.table.item(0, 1).text() and " of " in jobs.table.item(0, 1).text()
    assert jobs.table.item(0, 3).text() not in ("", "–")  # time left
    _actions(jobs).cancel.click()
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.CANCELLED, timeout=10_000)
    assert not list(hf_cache_dir().rglob("slow-Q4_0.gguf"))  # nothing under the real name
    [partial] = hf_cache_dir().rglob("*.incomplete")
    kept = partial.stat().st_size
    assert kept > 0

    fake_hub.throttle_bytes_per_second = None
    jobs.refresh()
    _actions(jobs).retry.click()
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.DONE, timeout=10_000)
    result = _only_job(window).result
    assert result["resumed_from_bytes"] == kept and result["transferred_bytes"] == len(data) - kept
    assert Path(result["path"]).read_bytes() == data
    jobs.refresh()
    assert not _actions(jobs).open_folder.isHidden()


def test_the_jobs_page_shows_all_three_kinds(qtbot: QtBot, tmp_path: Path) -> None:
    path = tmp_path / "jobs.json"
    before = JobQueue(path)
    done = before.add("convert", "Convert SmolLM2-135M-Instruct → SmolLM2-135M-Instruct.F16.gguf",
                      {"folder": "SmolLM2-135M-Instruct", "out": "SmolLM2-135M-Instruct.F16.gguf"})
    before.update(done.id, state=JobState.DONE, done=1000, total=1000,
                  result={"path": str(tmp_path / "SmolLM2-135M-Instruct.F16.gguf")})
    interrupted = before.add("download", "Download bartowski/Qwen2.5-0.5B-Instruct-GGUF (2 files)",
                             {"repo_id": "bartowski/Qwen2.5-0.5B-Instruct-GGUF", "include": ["a", "b"]})
    before.update(interrupted.id, state=JobState.RUNNING, stage="download", done=120_000_000,
                  total=900_000_000)
    view = JobsView(JobController(JobQueue(path)))  # "after a restart": the download was interrupted
    qtbot.addWidget(view)
    view.resize(980, 300)
    view.controller._closing = True  # drawn, not run: what runs is the other tests' business
    queue = view.controller.queue
    running = view.controller.enqueue("download", "Download tester/tiny-GGUF (tiny-Q8_0.gguf)",
                                      {"repo_id": "tester/tiny-GGUF", "include": ["tiny-Q8_0.gguf"]})
    now = time.time()
    queue.update(running.id, state=JobState.RUNNING, stage="download", done=420 * 2**20, total=2**30,
                 started_at=now - 60, stage_started_at=now - 60)
    view.controller.enqueue("quantize", "Quantize SmolLM2-135M-Instruct.F16.gguf → Q4_K_M, with importance "
                            "matrix", {"src": "SmolLM2-135M-Instruct.F16.gguf", "type_name": "Q4_K_M"})
    view.refresh()
    statuses = [view.table.item(row, 1).text() for row in range(4)]
    progress = f"{format_bytes(420 * 2**20)} of {format_bytes(2**30)}"
    assert statuses == ["Done", "Interrupted by a restart", f"Running: downloading {progress}", "Waiting"]
    assert view.table.item(2, 3).text().startswith("1 min 2")  # 60 s for 41 %: about 86 s to go
    assert _actions(view, 1).retry.text() == "Resume" and not _actions(view, 0).open_folder.isHidden()
    assert "1 job(s)" in view.notice.text()
    if SCREENSHOT_DIR:
        view.grab().save(str(Path(SCREENSHOT_DIR) / "jobs.png"))


def test_a_download_running_when_the_app_closes_is_resumed_next_time(
        fake_hub: FakeHub, qtbot: QtBot, tmp_path: Path) -> None:
    data = os.urandom(3_000_000)
    fake_hub.add_repo(FakeRepo("tester/slow-GGUF", [FakeFile("slow-Q4_0.gguf", data, lfs=True)]))
    fake_hub.throttle_bytes_per_second = 1_000_000
    path = tmp_path / "jobs.json"
    first = JobsView(JobController(JobQueue(path)))
    qtbot.addWidget(first)
    record = first.controller.enqueue("download", "Download tester/slow-GGUF (slow-Q4_0.gguf)",
                                      {"repo_id": "tester/slow-GGUF", "include": ["slow-Q4_0.gguf"]})
    qtbot.waitUntil(lambda: first.controller.queue.get(record.id).done > 300_000, timeout=10_000)  # type: ignore[union-attr]
    first.shutdown()  # the window closes mid-download

    fake_hub.throttle_bytes_per_second = None
    again = JobsView(JobController(JobQueue(path)))  # the next start
    qtbot.addWidget(again)
    assert again.table.item(0, 1).text() == "Interrupted by a restart"
    assert not again.controller.is_busy() and "1 job(s)" in again.notice.text()
    resume = _actions(again).retry
    assert resume.text() == "Resume"
    resume.click()
    qtbot.waitUntil(lambda: again.controller.queue.get(record.id).state is JobState.DONE, timeout=10_000)  # type: ignore[union-attr]
    result = again.controller.queue.get(record.id).result  # type: ignore[union-attr]
    assert result["resumed_from_bytes"] > 300_000
    assert Path(result["path"]).read_bytes() == data
