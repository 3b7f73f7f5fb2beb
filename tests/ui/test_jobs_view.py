"""The Jobs page: a real quantization queued, run in a child process, cancelled, and shown after a restart."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PySide6.QtWidgets import QProgressBar

from app.core.jobs.kind import to_json
from app.core.jobs.quantize import QUANTIZE, QuantizeJobParams, QuantizeJobResult
from app.core.jobs.queue import JobQueue, JobState
from app.ui.job_controller import JobController
from app.ui.jobs_view import JobRow, JobsView
from app.ui.quantize_dialog import QuantizeChoice, QuantizeDialog


@pytest.fixture
def make_view(qtbot):  # type: ignore[no-untyped-def]
    """A Jobs page on its own queue file, its controller shut down at the end (as the window does)."""
    controllers: list[JobController] = []

    def make(path: Path) -> JobsView:
        controllers.append(JobController(JobQueue(path)))
        view = JobsView(controllers[-1])
        qtbot.addWidget(view)
        view.resize(900, 360)
        return view

    yield make
    for controller in controllers:
        controller.shutdown()


@pytest.mark.slow
def test_a_queued_ladder_runs_to_done_with_progress(make_view, qtbot, tiny_f16: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = make_view(tmp_path / "jobs.json")
    outputs = {name: tmp_path / f"tiny-{name}.gguf" for name in ("Q8_0", "Q4_K_M")}
    for name, out in outputs.items():
        params = QuantizeJobParams(src=str(tiny_f16), type_name=name, dst=str(out), threads=2)
        view.controller.enqueue(QUANTIZE, f"Quantize tiny → {name}", params)
    assert view.table.rowCount() == 2
    qtbot.waitUntil(lambda: all(r.state is JobState.DONE for r in view.controller.queue.jobs()),
                    timeout=60_000)
    view.update_progress()
    assert all(out.is_file() for out in outputs.values())
    for row in range(2):
        assert view.table.item(row, 1).text() == "Done"
        bar = view.table.cellWidget(row, 2)
        assert isinstance(bar, QProgressBar) and bar.value() == bar.maximum()
        actions = view.table.cellWidget(row, 4)
        assert isinstance(actions, JobRow)
        assert not actions.open_folder.isHidden() and actions.cancel.isHidden()
    saved = json.loads((tmp_path / "jobs.json").read_text())
    assert [j["state"] for j in saved["jobs"]] == ["done", "done"]


@pytest.mark.slow
def test_cancel_from_the_page_leaves_no_file(make_view, qtbot, starter_f16: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    view = make_view(tmp_path / "jobs.json")
    out = tmp_path / "out" / "starter-Q6_K.gguf"
    params = QuantizeJobParams(src=str(starter_f16), type_name="Q6_K", dst=str(out), threads=1)
    record = view.controller.enqueue(QUANTIZE, "Quantize starter → Q6_K", params)
    qtbot.waitUntil(lambda: (view.controller.queue.get(record.id).done or 0) > 10, timeout=60_000)  # type: ignore[union-attr]
    actions = view.table.cellWidget(0, 4)
    assert isinstance(actions, JobRow)
    actions.cancel.click()
    qtbot.waitUntil(lambda: view.controller.queue.get(record.id).state is JobState.CANCELLED,  # type: ignore[union-attr]
                    timeout=20_000)
    assert not view.controller.is_busy()
    assert not out.parent.exists() or list(out.parent.iterdir()) == []
    view.refresh()
    assert view.table.item(0, 1).text() == "Cancelled"
    assert not view.table.cellWidget(0, 4).retry.isHidden()  # type: ignore[union-attr]


def test_unfinished_jobs_come_back_interrupted_and_can_be_cleared(make_view, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "jobs.json"
    before = JobQueue(path)
    running = before.add(QUANTIZE, "Quantize a → Q8_0", QuantizeJobParams("a.gguf", "Q8_0"))
    before.update(running.id, state=JobState.RUNNING, done=40, total=272)
    before.add(QUANTIZE, "Quantize a → Q2_K", QuantizeJobParams("a.gguf", "Q2_K"))
    done = before.add(QUANTIZE, "Quantize a → Q6_K", QuantizeJobParams("a.gguf", "Q6_K"))
    result = QuantizeJobResult(str(tmp_path / "a-Q6_K.gguf"), str(tmp_path), "Q6_K", 1, 1.0, None, None)
    before.update(done.id, state=JobState.DONE, result=to_json(result))

    view = make_view(path)  # "after a restart"
    states = [r.state for r in view.controller.queue.jobs()]
    assert states == [JobState.INTERRUPTED, JobState.INTERRUPTED, JobState.DONE]
    assert not view.controller.is_busy()  # nothing restarts on its own
    assert view.notice.isVisibleTo(view) and "2 job(s)" in view.notice.text()
    first = view.table.cellWidget(0, 4)
    assert isinstance(first, JobRow) and first.retry.text() == "Resume"
    view.controller.clear_finished()
    assert view.table.rowCount() == 2  # the done one went; interrupted ones wait for Resume or Clear
    first.clear.click()
    assert [j["title"] for j in json.loads(path.read_text())["jobs"]] == ["Quantize a → Q2_K"]
    second = view.table.cellWidget(0, 4)
    assert isinstance(second, JobRow)
    with qtbot.waitSignal(view.controller.job_failed, timeout=10_000) as failed:
        second.retry.click()  # Resume: queued again (it fails fast here: a.gguf does not exist)
    assert view.controller.queue.jobs()[0].state is JobState.FAILED
    assert "a.gguf" in view.controller.queue.jobs()[0].error_message
    record, error = failed.args  # the window shows it, once (test_jobs_all_kinds)
    assert record.id == second.job_id and "a.gguf" in error.message


def test_quantize_dialog_offers_every_type_and_the_ladder(qtbot) -> None:  # type: ignore[no-untyped-def]
    dialog = QuantizeDialog()
    qtbot.addWidget(dialog)
    assert dialog.types.count() == 30
    choice = dialog.choice()
    assert isinstance(choice, QuantizeChoice)
    assert choice.type_names == ("Q8_0", "Q6_K", "Q4_K_M", "Q3_K_M", "Q2_K")
    assert choice.use_imatrix
    dialog.set_types(("IQ2_XXS",))
    assert dialog.choice().type_names == ("IQ2_XXS",)  # type: ignore[union-attr]


@pytest.mark.qt_log_ignore("propagateSizeHints")  # the offscreen platform's note when a message box opens
def test_an_already_quantized_model_asks_before_queueing_a_ladder(make_view, qtbot, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QMessageBox

    from app.core.models.library import starter_model_path

    view = make_view(tmp_path / "jobs.json")
    view.controller._closing = True  # queue only: running the ladder is the job tests' business
    ladder = ("Q8_0", "Q6_K", "Q4_K_M", "Q2_K")
    view.quantize_requested(QuantizeChoice(starter_model_path(), ladder, None, True))
    qtbot.waitUntil(lambda: bool(view.findChildren(QMessageBox)), timeout=10_000)
    [box] = view.findChildren(QMessageBox)
    assert "already Q4_1" in box.text() and "loses more quality" in box.text()
    assert view.controller.queue.jobs() == []  # nothing is queued before the person answers
    box.button(QMessageBox.StandardButton.Yes).click()
    jobs = view.controller.queue.jobs()
    assert [j.params["type_name"] for j in jobs] == ["Q8_0", "Q6_K", "Q4_K_M", "Q2_K"]
    assert all(j.params["allow_requantize"] for j in jobs)
    assert all(j.params["calibration"].endswith("general-en.txt") for j in jobs)
    assert jobs[0].title.startswith("Quantize SmolLM2-135M-Instruct.Q4_1.gguf → Q8_0")
