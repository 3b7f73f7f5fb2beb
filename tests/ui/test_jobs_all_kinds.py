"""One queue for all long work: a conversion started on the Convert page and a download started on Find
models are jobs of the window's one JobController, listed on the Jobs page and followed on their own page;
Cancel, Retry (a download continues from its bytes on disk), Open folder, a failure shown once; and the page
with all three kinds."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import gguf
import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.jobs.convert import CONVERT, ConvertJobParams, ConvertJobResult
from app.core.jobs.download import DOWNLOAD, DownloadJobParams, DownloadJobResult
from app.core.jobs.kind import to_json
from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams
from app.core.jobs.queue import JobQueue, JobRecord, JobState
from app.core.paths import hf_cache_dir
from app.core.units import format_bytes
from app.ui.job_controller import JobController
from app.ui.jobs_view import JobRow, JobsView
from app.ui.main_window import MainWindow
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_models import tiny_gguf_bytes
from tests.fixtures.tiny_hf import build_tiny_folder

SCREENSHOT_DIR = os.environ.get("QUANTDESK_SCREENSHOT_DIR")  # set it to refresh docs/screenshots/jobs.png


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker_running() -> None:
    # run_in_child's Queue starts multiprocessing's resource tracker, which then outlives the test
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def _only_job(window: MainWindow) -> JobRecord:
    [record] = window.job_controller.queue.jobs()
    return record


@pytest.fixture
def job_controller_at() -> Iterator[Callable[[Path], JobController]]:
    made: list[JobController] = []

    def make(path: Path) -> JobController:
        made.append(JobController(JobQueue(path)))
        return made[-1]

    yield make
    for controller in made:
        controller.shutdown()


def _actions(view: JobsView, row: int = 0) -> JobRow:
    actions = view.table.cellWidget(row, 4)
    assert isinstance(actions, JobRow)
    return actions


def test_a_conversion_from_the_convert_page_is_a_job_of_the_one_queue(
        window: MainWindow, qtbot: QtBot, tmp_path: Path) -> None:
    window.convert.set_folder(build_tiny_folder("qwen2", tmp_path / "tiny-qwen2"))
    out = tmp_path / "tiny-qwen2.gguf"
    window.convert.out_edit.setText(str(out))
    with qtbot.waitSignal(window.convert.conversion_finished, timeout=60_000):
        qtbot.mouseClick(window.convert.convert_button, Qt.MouseButton.LeftButton)
        assert window.jobs.table.item(0, 0).text() == "Convert tiny-qwen2 → tiny-qwen2.gguf"
    assert _only_job(window).state is JobState.DONE
    window.jobs.update_progress()
    assert window.jobs.table.item(0, 1).text() == "Done"
    assert not _actions(window.jobs).open_folder.isHidden()
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "qwen2"
    assert (tmp_path / "jobs.json").is_file()


def test_jobs_wait_their_turn_and_a_failure_is_shown_once(window: MainWindow, qtbot: QtBot,
                                                           tmp_path: Path) -> None:
    from app.ui.error_dialog import ErrorDialog

    window.convert.set_folder(build_tiny_folder("qwen2", tmp_path / "tiny-qwen2"))
    window.convert.out_edit.setText(str(tmp_path / "first.gguf"))
    first = window.convert.start()
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"], "num_hidden_layers": 2}')
    browser_jobs = window.job_controller.queue.jobs()
    assert first is not None and [j.id for j in browser_jobs] == [first.id]
    second = window.convert.start()  # the page follows one conversion at a time
    assert second is None
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.DONE, timeout=60_000)
    window.convert.set_folder(broken)
    window.convert.out_edit.setText(str(tmp_path / "broken.gguf"))
    with qtbot.waitSignal(window.convert.conversion_failed, timeout=30_000):
        window.convert.start()
    qtbot.waitUntil(lambda: bool(window.findChildren(ErrorDialog)), timeout=5_000)
    boxes = [b for b in window.findChildren(ErrorDialog) if b.isVisible()]
    assert len(boxes) == 1 and "no model weights" in boxes[0].text()  # one box, from the window
    assert boxes[0].windowTitle().startswith("Convert broken")
    boxes[0].close()


@pytest.mark.qt_log_ignore("propagateSizeHints")
def test_a_download_queued_from_find_models_cancels_and_retries_from_its_bytes(
        data_dir: Path, fake_hub: FakeHub, window: MainWindow, qtbot: QtBot) -> None:
    data = tiny_gguf_bytes(gguf.LlamaFileType.MOSTLY_Q4_0) + os.urandom(3_000_000)  # a real header, then bulk
    fake_hub.add_repo(FakeRepo("tester/slow-GGUF", [FakeFile("slow-Q4_0.gguf", data, lfs=True)],
                               tags=["gguf"]))
    fake_hub.throttle_bytes_per_second = 1_000_000
    browser = window.model_browser
    browser.search_edit.setText("slow")
    qtbot.mouseClick(browser.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: browser.results.count() > 0, timeout=10_000)
    browser.results.setCurrentRow(0)
    download = browser.inspector.download_button
    qtbot.waitUntil(download.isEnabled, timeout=10_000)
    qtbot.mouseClick(download, Qt.MouseButton.LeftButton)
    jobs = window.jobs
    assert jobs.table.item(0, 0).text() == "Download tester/slow-GGUF (slow-Q4_0.gguf)"
    qtbot.waitUntil(lambda: _only_job(window).done > 300_000, timeout=10_000)
    jobs.update_progress()
    assert "Running: downloading" in jobs.table.item(0, 1).text() and " of " in jobs.table.item(0, 1).text()
    assert jobs.table.item(0, 3).text() not in ("", "–")  # time left
    # the page that started it follows it too: the file, bytes, speed
    qtbot.waitUntil(lambda: "slow-Q4_0.gguf" in browser.downloads.file_label.text(), timeout=5_000)
    qtbot.waitUntil(lambda: "/s" in browser.downloads.status_label.text(), timeout=5_000)  # the speed
    if SCREENSHOT_DIR:
        window.show_page("Find models")
        window.grab().save(str(Path(SCREENSHOT_DIR) / "find-models-downloading.png"))
    qtbot.mouseClick(browser.downloads.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.CANCELLED, timeout=10_000)
    assert not list(hf_cache_dir().rglob("slow-Q4_0.gguf"))  # nothing under the real name
    [partial] = hf_cache_dir().rglob("*.incomplete")
    kept = partial.stat().st_size
    assert kept > 0

    fake_hub.throttle_bytes_per_second = None
    jobs.refresh()
    _actions(jobs).retry.click()
    qtbot.waitUntil(lambda: _only_job(window).state is JobState.DONE, timeout=10_000)
    result = _only_job(window).typed_result()
    assert isinstance(result, DownloadJobResult)
    assert result.resumed_from_bytes == kept and result.transferred_bytes == len(data) - kept
    assert Path(result.path).read_bytes() == data
    jobs.refresh()
    assert not _actions(jobs).open_folder.isHidden()


def test_the_jobs_page_shows_all_three_kinds(qtbot: QtBot, tmp_path: Path, job_controller_at) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "jobs.json"
    before = JobQueue(path)
    done = before.add(CONVERT, "Convert SmolLM2-135M-Instruct → SmolLM2-135M-Instruct.F16.gguf",
                      ConvertJobParams("SmolLM2-135M-Instruct", "SmolLM2-135M-Instruct.F16.gguf"))
    out = tmp_path / "SmolLM2-135M-Instruct.F16.gguf"
    before.update(done.id, state=JobState.DONE, done=1000, total=1000,
                  result=to_json(ConvertJobResult(str(out), str(tmp_path), "llama", "LlamaForCausalLM", "f16",
                                                  272, 270_000_000, 3.1)))
    interrupted = before.add(DOWNLOAD, "Download bartowski/Qwen2.5-0.5B-Instruct-GGUF (2 files)",
                             DownloadJobParams("bartowski/Qwen2.5-0.5B-Instruct-GGUF", ("a", "b")))
    before.update(interrupted.id, state=JobState.RUNNING, stage="download", done=120_000_000,
                  total=900_000_000)
    view = JobsView(job_controller_at(path))  # "after a restart": the download was interrupted
    qtbot.addWidget(view)
    view.resize(980, 300)
    view.controller._closing = True  # drawn, not run: what runs is the other tests' business
    queue = view.controller.queue
    running = view.controller.enqueue(DOWNLOAD, "Download tester/tiny-GGUF (tiny-Q8_0.gguf)",
                                      DownloadJobParams("tester/tiny-GGUF", ("tiny-Q8_0.gguf",)))
    now = time.time()
    queue.update(running.id, state=JobState.RUNNING, stage="download", done=420 * 2**20, total=2**30,
                 started_at=now - 60, stage_started_at=now - 60)
    view.controller.enqueue(QUANTIZE, "Quantize SmolLM2-135M-Instruct.F16.gguf → Q4_K_M, with importance "
                            "matrix", QuantizeJobParams("SmolLM2-135M-Instruct.F16.gguf", "Q4_K_M"))
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
        fake_hub: FakeHub, qtbot: QtBot, tmp_path: Path, job_controller_at) -> None:  # type: ignore[no-untyped-def]
    data = os.urandom(3_000_000)
    fake_hub.add_repo(FakeRepo("tester/slow-GGUF", [FakeFile("slow-Q4_0.gguf", data, lfs=True)]))
    fake_hub.throttle_bytes_per_second = 1_000_000
    path = tmp_path / "jobs.json"
    first = JobsView(job_controller_at(path))
    qtbot.addWidget(first)
    record = first.controller.enqueue(DOWNLOAD, "Download tester/slow-GGUF (slow-Q4_0.gguf)",
                                      DownloadJobParams("tester/slow-GGUF", ("slow-Q4_0.gguf",)))
    qtbot.waitUntil(lambda: first.controller.queue.get(record.id).done > 300_000, timeout=10_000)  # type: ignore[union-attr]
    first.controller.shutdown()  # the window closes mid-download

    fake_hub.throttle_bytes_per_second = None
    again = JobsView(job_controller_at(path))  # the next start
    qtbot.addWidget(again)
    assert again.table.item(0, 1).text() == "Interrupted by a restart"
    assert not again.controller.is_busy() and "1 job(s)" in again.notice.text()
    resume = _actions(again).retry
    assert resume.text() == "Resume"
    resume.click()
    qtbot.waitUntil(lambda: again.controller.queue.get(record.id).state is JobState.DONE, timeout=10_000)  # type: ignore[union-attr]
    result = again.controller.queue.get(record.id).typed_result()  # type: ignore[union-attr]
    assert isinstance(result, DownloadJobResult) and result.resumed_from_bytes > 300_000
    assert Path(result.path).read_bytes() == data
