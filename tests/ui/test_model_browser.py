"""The "Find models" page with the fake Hub: search, inspect, download, progress, cancel, offline, token."""

from __future__ import annotations

import json
import os
from pathlib import Path

import gguf
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.jobs.queue import JobRecord, JobState
from app.core.paths import hf_cache_dir
from app.core.units import format_bytes
from app.ui.download_panel import DownloadPanel
from app.ui.error_dialog import ErrorDialog
from app.ui.job_controller import JobController
from app.ui.model_browser_view import ModelBrowserView
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_fixtures import GRANTED_TOKEN
from tests.fixtures.hub_models import LLAMA_CONFIG, tiny_gguf_bytes, tiny_safetensors_bytes

SCREENSHOT = os.environ.get("QUANTDESK_SCREENSHOT_DIR")


def _view(qtbot: QtBot, controller: JobController) -> ModelBrowserView:
    view = ModelBrowserView(controller)
    qtbot.addWidget(view)
    view.resize(1100, 700)  # not shown: the offscreen platform warns on show(); isVisibleTo() still works
    return view


def _search(qtbot: QtBot, view: ModelBrowserView, text: str = "") -> None:
    view.search_edit.setText(text)
    qtbot.mouseClick(view.search_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.results.count() > 0 and view.search_button.isEnabled(), timeout=10_000)


def _pick(qtbot: QtBot, view: ModelBrowserView, repo_id: str) -> None:
    for row in range(view.results.count()):
        if view.results.item(row).text().startswith(repo_id + "\n"):
            view.results.setCurrentRow(row)
            break
    else:
        raise AssertionError(f"{repo_id} not in the results")
    qtbot.waitUntil(lambda: view.inspector.inspection is not None
                    and view.inspector.inspection.repo_id == repo_id, timeout=10_000)


def test_search_inspect_and_download(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "tiny")
    assert view.results.count() == 2 and "No models" not in view.search_status.text()
    _pick(qtbot, view, "tester/tiny-GGUF")
    panel = view.inspector
    assert "Ready-made GGUF" in panel.kind_label.text()
    assert panel.checked_files() == ["tiny-Q8_0.gguf"]  # the only GGUF is pre-ticked, the README is not
    header_cells = [panel.table.item(r, 3).text() for r in range(panel.table.rowCount())]
    assert "Q8_0 ✓" in header_cells
    # the recommendation beside it: a tiny model fits anywhere, so the best level, whose file is here
    rec = panel.recommendation
    assert rec is not None and rec.recommended == "Q8_0" and rec.best_file == "tiny-Q8_0.gguf"
    text = panel.recommendation_label.text()
    assert "<b>Q8_0</b> — needs about" in text and "Its Q8_0 file here: <b>tiny-Q8_0.gguf</b>" in text
    with qtbot.waitSignal(view.download_finished, timeout=20_000) as finished:
        qtbot.mouseClick(panel.download_button, Qt.MouseButton.LeftButton)
    result = finished.args[0]
    assert [Path(f).name for f in result.files] == ["tiny-Q8_0.gguf"]
    assert (Path(result.folder) / "tiny-Q8_0.gguf").exists()
    [job] = job_controller.queue.jobs()  # a job of the one queue, listed on the Jobs page
    assert job.kind == "download" and job.title == "Download tester/tiny-GGUF (tiny-Q8_0.gguf)"
    assert view.downloads.overall_bar.value() == view.downloads.overall_bar.maximum()
    assert "Done" in view.downloads.file_label.text()
    if SCREENSHOT:  # the safetensors path: the recommendation and the disk the conversion needs
        _pick(qtbot, view, "tester/tiny-llama")
        view.grab().save(str(Path(SCREENSHOT) / "find-models-safetensors.png"))


def test_progress_of_files_over_2_gib(qtbot: QtBot, job_controller: JobController) -> None:
    """Byte counts past 2**31 reach the panel intact (a Signal(int, int) would overflow)."""
    panel = DownloadPanel(job_controller)
    qtbot.addWidget(panel)
    record = JobRecord("x", "download", "Download big", {}, JobState.RUNNING, "download", 3 * 2**30, 6 * 2**30,
                       detail="File 1 of 1: big.gguf — 3.0 GB of 6.0 GB")
    panel.watcher.changed.emit(record)
    assert panel.status_label.text().startswith("3.0 GB of 6.0 GB")
    assert panel.file_label.text() == record.detail
    assert panel.overall_bar.value() == panel.overall_bar.maximum() // 2


def test_safetensors_repo_shows_params_and_disk(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "tiny-llama")
    _pick(qtbot, view, "tester/tiny-llama")
    panel = view.inspector
    assert "can convert" in panel.kind_label.text()
    assert "4.1 K parameters (F16)" in panel.size_label.text()
    assert "F16" in panel.disk_label.text() and "fits" in panel.disk_label.text()
    assert set(panel.checked_files()) == {"config.json", "tokenizer.json", "model.safetensors"}
    # the recommendation for this computer, beside the inspection: level, memory, placement, why
    rec = panel.recommendation
    assert rec is not None and rec.chosen is not None
    text = panel.recommendation_label.text()
    assert f"<b>{rec.chosen.type}</b> — needs about" in text and rec.sentence in text
    # and the disk estimate's quant is the recommended level's
    assert panel.inspection is not None and panel.inspection.disk is not None
    assert format_bytes(panel.inspection.disk.quant_bytes) + " quantized" in panel.disk_label.text()


def test_gguf_repo_ticks_the_file_that_fits_best(qtbot: QtBot, fake_hub: FakeHub,
                                                 job_controller: JobController) -> None:
    files = [FakeFile(f"tiny-{name}.gguf", tiny_gguf_bytes(ft), lfs=True) for name, ft in
             (("F16", gguf.LlamaFileType.MOSTLY_F16), ("Q8_0", gguf.LlamaFileType.MOSTLY_Q8_0),
              ("Q4_K_M", gguf.LlamaFileType.MOSTLY_Q4_K_M))]
    fake_hub.add_repo(FakeRepo("tester/three-GGUF", files, tags=["gguf", "text-generation"]))
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "three")
    _pick(qtbot, view, "tester/three-GGUF")
    panel = view.inspector
    assert panel.checked_files() == ["tiny-Q8_0.gguf"]  # the recommended level, not the first or largest
    names = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert "★ tiny-Q8_0.gguf" in names
    if SCREENSHOT:
        view.grab().save(str(Path(SCREENSHOT) / "find-models.png"))


def test_unknown_architecture_says_it_cannot_estimate(qtbot: QtBot, fake_hub: FakeHub,
                                                      job_controller: JobController) -> None:
    weights, _ = tiny_safetensors_bytes()
    config = {**LLAMA_CONFIG, "architectures": ["MambaForCausalLM"], "model_type": "mamba"}
    fake_hub.add_repo(FakeRepo("tester/tiny-mamba", [FakeFile("config.json", json.dumps(config).encode()),
                                                     FakeFile("model.safetensors", weights, lfs=True)],
                               config=config, tags=["text-generation"]))
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "mamba")
    _pick(qtbot, view, "tester/tiny-mamba")
    text = view.inspector.recommendation_label.text()
    assert text.startswith("QuantDesk can't estimate what this model needs.") and "MambaForCausalLM" in text
    assert view.findChildren(ErrorDialog) == []  # a line in the panel, never a dialog


def test_paging_with_more_results(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    for i in range(25):
        fake_hub.add_repo(FakeRepo(f"bulk/model-{i:02d}", [], downloads=1000 - i))
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "bulk/")
    assert view.results.count() == 20 and view.more_button.isEnabled()
    qtbot.mouseClick(view.more_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: view.results.count() == 25, timeout=10_000)
    qtbot.waitUntil(lambda: view.search_button.isEnabled(), timeout=5_000)
    assert not view.more_button.isEnabled()


def test_cancel_a_running_download(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    slow = FakeFile("slow-Q4_0.gguf", os.urandom(3_000_000), lfs=True)
    fake_hub.add_repo(FakeRepo("tester/slow-GGUF", [slow], tags=["gguf"]))
    fake_hub.throttle_bytes_per_second = 1_000_000
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "slow")
    _pick(qtbot, view, "tester/slow-GGUF")
    qtbot.mouseClick(view.inspector.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "/s" in view.downloads.status_label.text(), timeout=10_000)  # speed shown
    assert "left" in view.downloads.status_label.text()
    assert not view.inspector.download_button.isEnabled()  # one download at a time
    with qtbot.waitSignal(view.downloads.download_stopped, timeout=10_000):
        qtbot.mouseClick(view.downloads.cancel_button, Qt.MouseButton.LeftButton)
    assert "Cancelled" in view.downloads.status_label.text()
    assert list(hf_cache_dir().rglob("*.incomplete"))  # kept, to resume from
    assert not list(hf_cache_dir().rglob("slow-Q4_0.gguf"))
    assert view.inspector.download_button.isEnabled()


def test_offline_switch(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    view = _view(qtbot, job_controller)
    assert view.offline_banner.isHidden()
    fake_hub.clear_log()
    view.offline_switch.setChecked(True)
    assert view.offline_banner.isVisibleTo(view) and "no network connection" in view.offline_banner.text()
    assert not view.search_button.isEnabled() and not view.search_edit.isEnabled()
    view.start_search()  # even asked directly, it does not go out
    assert view._search_task is None and fake_hub.requests == []
    if SCREENSHOT:
        view.grab().save(str(Path(SCREENSHOT) / "find-models-offline.png"))
    again = _view(qtbot, job_controller)  # remembered
    assert again.offline_switch.isChecked() and again.offline_banner.isVisibleTo(again)
    again.offline_switch.setChecked(False)
    assert again.search_button.isEnabled() and again.offline_banner.isHidden()


def test_gated_repo_asks_for_a_token(qtbot: QtBot, fake_hub: FakeHub, job_controller: JobController) -> None:
    view = _view(qtbot, job_controller)
    _search(qtbot, view, "gated")
    _pick(qtbot, view, "gated-org/gated-GGUF")
    panel = view.inspector
    assert panel.token_box.isVisibleTo(view) and "gated" in panel.licence_label.text()
    panel.token_edit.setText(GRANTED_TOKEN)
    with qtbot.waitSignal(panel.token_saved, timeout=10_000) as saved:
        qtbot.mouseClick(panel.token_button, Qt.MouseButton.LeftButton)
    assert saved.args == ["quantdesk-tester"]
    qtbot.waitUntil(lambda: not panel.token_box.isVisibleTo(view), timeout=10_000)
    assert panel.token_edit.text() == ""
    # with the token the repo is inspected again, and this time the GGUF header behind the gate is read
    qtbot.waitUntil(lambda: panel.inspection is not None
                    and panel.inspection.gguf_files[0].header is not None, timeout=10_000)
    assert "Q8_0 ✓" in [panel.table.item(r, 3).text() for r in range(panel.table.rowCount())]
