"""The Convert page: a conversion is queued as a job (a child process) and followed with a progress bar; Cancel
leaves nothing; a failure is a plain line with Details."""

from __future__ import annotations

import os
from pathlib import Path

import gguf
import pytest
from pytestqt.qtbot import QtBot

from app.core.jobs.queue import JobState
from app.ui.convert_view import PROGRESS_STEPS, ConvertView
from app.ui.job_controller import JobController
from tests.fixtures.files import partial_files
from tests.fixtures.tiny_hf import build_tiny_folder

SCREENSHOT_DIR = os.environ.get("QUANTDESK_SCREENSHOT_DIR")  # set it to refresh docs/screenshots/convert.png


@pytest.fixture(scope="module", autouse=True)
def _resource_tracker_running() -> None:
    # run_in_child's Queue starts multiprocessing's resource tracker, which then outlives the test
    from multiprocessing import resource_tracker

    resource_tracker.ensure_running()


def test_choosing_a_folder_says_what_it_holds(qtbot: QtBot, tmp_path: Path, job_controller: JobController) -> None:
    view = ConvertView(job_controller)
    qtbot.addWidget(view)
    view.set_folder(build_tiny_folder("gemma2", tmp_path / "gemma-2-tiny"))
    assert "Gemma 2 model, 2 layers" in view.model_label.text()
    assert view.out_edit.text().endswith("gemma-2-tiny.F16.gguf")
    view.type_combo.setCurrentIndex(view.type_combo.findData("q8_0"))
    assert view.out_edit.text().endswith("gemma-2-tiny.Q8_0.gguf")
    assert view.convert_button.isEnabled()

    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "config.json").write_text('{"architectures": ["MambaForCausalLM"]}')
    view.set_folder(tmp_path / "other")
    assert "Mamba, can't be converted yet" in view.model_label.text()


def test_convert_runs_with_progress_and_finishes(qtbot: QtBot, tmp_path: Path, job_controller: JobController) -> None:
    view = ConvertView(job_controller)
    qtbot.addWidget(view)
    view.set_folder(build_tiny_folder("qwen2", tmp_path / "qwen2"))
    out = tmp_path / "qwen2.gguf"
    view.out_edit.setText(str(out))
    values: list[int] = []
    view.progress_bar.valueChanged.connect(values.append)
    with qtbot.waitSignal(view.conversion_finished, timeout=60_000) as finished:
        view.convert_button.click()
        assert view.cancel_button.isEnabled() and not view.convert_button.isEnabled()
    assert finished.args[0].path == str(out)
    assert gguf.GGUFReader(out).fields["general.architecture"].contents() == "qwen2"
    assert values and values[-1] == PROGRESS_STEPS
    assert "Done: qwen2.gguf" in view.status_label.text()
    assert view.convert_button.isEnabled() and not view.cancel_button.isEnabled()
    [record] = job_controller.queue.jobs()  # it ran as a job of the one queue, and is listed there
    assert record.kind == "convert" and record.state is JobState.DONE
    if SCREENSHOT_DIR:
        view.resize(900, 420)
        view.grab().save(str(Path(SCREENSHOT_DIR) / "convert.png"))


def test_cancel_stops_the_child_and_leaves_nothing(qtbot: QtBot, tmp_path: Path, job_controller: JobController) -> None:
    view = ConvertView(job_controller)
    qtbot.addWidget(view)
    view.set_folder(build_tiny_folder("phi3", tmp_path / "phi3"))
    out = tmp_path / "phi3.gguf"
    view.out_edit.setText(str(out))
    with qtbot.waitSignal(view.conversion_cancelled, timeout=30_000):
        view.convert_button.click()
        view.cancel_button.click()  # while the child process is still starting
    assert "Cancelled" in view.status_label.text()
    assert not out.exists() and not partial_files(out)
    assert job_controller.queue.jobs()[0].state is JobState.CANCELLED


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's note when the error box opens
def test_a_failure_is_shown_in_plain_words(qtbot: QtBot, tmp_path: Path, job_controller: JobController) -> None:
    view = ConvertView(job_controller)
    qtbot.addWidget(view)
    folder = tmp_path / "broken"
    folder.mkdir()
    (folder / "config.json").write_text('{"architectures": ["Qwen2ForCausalLM"], "num_hidden_layers": 2}')
    view.set_folder(folder)  # supported architecture, but no weights and no tokenizer
    view.out_edit.setText(str(tmp_path / "broken.gguf"))
    with qtbot.waitSignal(view.conversion_failed, timeout=30_000) as failed:
        view.convert_button.click()
    assert failed.args[0].state is JobState.FAILED
    assert "no model weights" in view.status_label.text()
    assert not view.details_button.isHidden()  # the technical detail is one click away
    assert view.convert_button.isEnabled()
    assert not (tmp_path / "broken.gguf").exists()
