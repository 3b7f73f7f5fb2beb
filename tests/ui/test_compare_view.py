"""The Compare page with real engines and real jobs: a blind round (hidden names, the parting token, a vote,
Reveal, the tally), the Numbers tab measuring a ladder as evaluation jobs with the chart, the measured
figures reaching "Which quant?", and "Make the ladder…" opening the quantize dialog with the ladder ticked.
tools/compare_screenshots.py drives the same page for the screenshots in docs/."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.jobs.queue import JobState
from app.core.machine.hardware import read_hardware
from app.core.paths import models_dir
from app.core.quants import DEFAULT_LADDER
from app.ui.main_window import MainWindow
from app.ui.quantize_dialog import QuantizeDialog

pytestmark = pytest.mark.slow
def test_a_blind_round_hides_names_shows_where_replies_part_and_tallies_the_vote(
        data_dir: Path, window: MainWindow, qtbot: QtBot, starter_ladder: dict[str, Path]) -> None:
    window.show_page("Compare")
    page = window.compare.sides
    for level in ("Q8_0", "Q2_K"):
        page.picker.add_path(starter_ladder[level])
    page.picker.set_checked([starter_ladder["Q2_K"], starter_ladder["Q8_0"]])
    page.blind_box.setChecked(True)
    page.temperature.setValue(0.0)
    page.max_tokens.setValue(64)
    with qtbot.waitSignal(page.bridge.sides_ready, timeout=30_000):
        qtbot.mouseClick(page.start_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not page.bridge.busy, timeout=60_000)
    assert "side by side" in page.plan_label.text()
    assert [c.title.text() for c in page.columns] == ["A", "B"]
    assert sorted(page.specs[s].label for s in page.order) == ["Q2_K", "Q8_0"]
    assert not page.vote_buttons["a"].isEnabled()  # nothing to vote on yet

    page.prompt.setText("Write a short story about a lighthouse keeper.")
    with qtbot.waitSignal(page.bridge.round_finished, timeout=180_000):
        qtbot.keyClick(page.prompt, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: page.vote_buttons["a"].isEnabled(), timeout=5_000)
    assert all(c.last_turn is not None and c.last_turn.reply for c in page.columns)
    assert page.parting.isVisible() and "part ways at token" in page.parting.text()
    assert all(c.last_turn is not None and c.last_turn.part_at is not None for c in page.columns)
    assert "ffd966" in page.columns[0].transcript.toHtml().lower()  # the parting token, highlighted
    assert "Q8_0" not in page.parting.text() and "Q2_K" not in page.parting.text()  # still blind

    labels = [page.specs[s].label for s in page.order]
    qtbot.mouseClick(page.vote_buttons["a"], Qt.MouseButton.LeftButton)
    assert [c.title.text() for c in page.columns] == [f"A — {labels[0]}", f"B — {labels[1]}"]  # revealed
    assert page.votes.count() == 1 and not page.vote_buttons["b"].isEnabled()  # one vote per blind round
    [row] = page.tally.rows_text()
    assert f"{labels[0]} won 1" in row and f"{labels[1]} won 0" in row and "Q2_K vs Q8_0" in row
    assert f"A was {labels[0]}" in page.vote_label.text()

    engines = [c.pid for c in page.bridge.session.clients] if page.bridge.session else []
    assert len(engines) == 2

    # New conversation: the history forgotten and the sides shuffled again, the engines kept loaded
    qtbot.mouseClick(page.new_button, Qt.MouseButton.LeftButton)
    assert page.bridge.session is not None and not page.bridge.busy
    assert all(c.messages == [] for c in page.bridge.session.conversations)
    assert [c.title.text() for c in page.columns] == ["A", "B"] and all(c.last_turn is None for c in page.columns)
    page.prompt.setText("What is the capital of France? Answer in one word.")
    with qtbot.waitSignal(page.bridge.round_finished, timeout=180_000):
        qtbot.mouseClick(page.send_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: page.reveal_button.isEnabled() and page.vote_buttons["tie"].isEnabled(), timeout=5_000)
    assert all(len(c.messages) == 2 for c in page.bridge.session.conversations)  # this round only
    labels = [page.specs[s].label for s in page.order]
    qtbot.mouseClick(page.reveal_button, Qt.MouseButton.LeftButton)  # Reveal without a vote
    assert [c.title.text() for c in page.columns] == [f"A — {labels[0]}", f"B — {labels[1]}"]
    assert page.votes.count() == 1 and not page.vote_buttons["tie"].isEnabled()  # no vote after the reveal
    assert f"B was {labels[1]}" in page.vote_label.text()
    assert [c.pid for c in page.bridge.session.clients] == engines  # nothing loaded again
    qtbot.mouseClick(page.close_button, Qt.MouseButton.LeftButton)  # their memory back, off the GUI thread
    qtbot.waitUntil(lambda: page.bridge.session is None and not page.bridge.busy, timeout=10_000)
    assert not page.send_button.isEnabled() and "Start again" in page.plan_label.text()


def test_numbers_measures_the_ladder_as_jobs_and_feeds_which_quant(
        data_dir: Path, window: MainWindow, qtbot: QtBot, starter_ladder: dict[str, Path], short_text: Path) -> None:
    text = data_dir / "text.txt"  # about 500 tokens: 7 chunks of 64, enough to tell Q8_0 from Q2_K
    text.write_text(short_text.read_text(encoding="utf-8")[:3000], encoding="utf-8")
    for level in ("F16", "Q8_0", "Q2_K"):  # the ladder, as QuantDesk's own models
        (models_dir() / starter_ladder[level].name).symlink_to(starter_ladder[level])
    window.compare.refresh_models()
    window.show_page("Compare")
    numbers = window.compare.numbers
    window.compare.tabs.setCurrentWidget(numbers)
    numbers.ctx.setValue(64)
    numbers.set_text(text)
    numbers.set_model(models_dir() / starter_ladder["Q2_K"].name)
    qtbot.waitUntil(lambda: numbers.survey is not None and numbers._task is None, timeout=30_000)
    survey = numbers.survey
    assert survey is not None and survey.reference.file is not None and survey.reference.file.type == "F16"
    assert survey.ladder.types == ("F16", "Q8_0", "Q4_1", "Q2_K")  # the starter (Q4_1) is a level too
    assert numbers.measure_button.isEnabled()

    with qtbot.waitSignal(window.compare.measurements_changed, timeout=600_000):
        qtbot.mouseClick(numbers.measure_button, Qt.MouseButton.LeftButton)
        assert numbers.cancel_button.isEnabled() and len(numbers.job_ids) == 3
        qtbot.waitUntil(lambda: "chunk" in numbers.progress.format(), timeout=60_000)
    qtbot.waitUntil(lambda: all(r.state is JobState.DONE for r in numbers._mine()), timeout=600_000)
    qtbot.waitUntil(lambda: numbers.survey is not None and len(numbers.survey.results) == 3, timeout=30_000)
    survey = numbers.survey
    assert survey.results["Q8_0"].kld_mean < survey.results["Q2_K"].kld_mean
    assert numbers.table.item(1, 4).text() == f"{survey.results['Q8_0'].kld_mean:.4f}"
    assert [p.label for p in numbers.chart.points if p.reference] == ["F16"]
    assert sum(p.recommended for p in numbers.chart.points) == 1 and survey.recommended is not None
    assert not numbers.measure_button.isEnabled() and "Every level is measured" in numbers.status.text()
    assert [r.kind for r in window.job_controller.queue.jobs()] == ["evaluate"] * 3  # on the one queue

    quant = window.quant_table
    quant.set_hardware(read_hardware())
    with qtbot.waitSignal(quant.recommendation_changed, timeout=30_000):
        quant.show_model(str(starter_ladder["F16"]))
    assert quant.measured is not None and quant.measured.reference_type == "F16"
    assert quant.recommendation is not None
    loss = {o.type: quant.table.item(row, 5).text() for row, o in enumerate(quant.recommendation.options)}
    assert all("measured here" in loss[level] for level in ("F16", "Q8_0", "Q2_K")), loss
    assert loss["F16"].startswith("the reference")  # no loss of its own to show
    assert "Llama-3-8B" in loss["Q6_K"]
    assert "measured here" in quant.note.text()
    steps = {s.type: s for s in quant.ladder.steps}  # the size bars speak of the measured figures too
    q2 = survey.results["Q2_K"]
    assert steps["Q2_K"].measured and not steps["Q6_K"].measured
    assert steps["Q2_K"].percent_worse == pytest.approx(100 * (q2.ppl - q2.ppl_reference) / q2.ppl_reference)


def test_cancel_on_the_numbers_tab_stops_the_jobs(
        data_dir: Path, window: MainWindow, qtbot: QtBot, starter_ladder: dict[str, Path], short_text: Path) -> None:
    numbers = window.compare.numbers
    numbers.ctx.setValue(64)
    numbers.set_text(short_text)
    numbers.set_model(starter_ladder["F16"])
    qtbot.waitUntil(lambda: numbers.survey is not None and numbers._task is None, timeout=30_000)
    assert numbers.survey is not None and [f.type for f in numbers.survey.to_measure()] == ["Q4_1"]
    numbers.measure()
    qtbot.waitUntil(lambda: any(r.state is JobState.RUNNING for r in numbers._mine()), timeout=30_000)
    qtbot.mouseClick(numbers.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: all(r.state is JobState.CANCELLED for r in numbers._mine()), timeout=30_000)
    assert not list((data_dir / "evaluations").glob("*"))


def test_make_the_ladder_opens_the_quantize_dialog_with_the_ladder_ticked(
        data_dir: Path, window: MainWindow, qtbot: QtBot, starter_f16: Path) -> None:
    window.compare.ladder_requested.emit(starter_f16)
    dialog = window.jobs.findChild(QuantizeDialog)
    assert dialog is not None and dialog.isVisible()
    choice = dialog.choice()
    assert choice is not None and choice.src == starter_f16 and choice.type_names == DEFAULT_LADDER
    assert window.pages.currentWidget() is window.jobs
    dialog.reject()
