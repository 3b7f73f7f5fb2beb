"""The first-run guide: the computer in words → a model from the list → a download job → the chat; or the
starter at once. The list is a copy in the settings folder naming a repo on the fake Hub, whose file is the
starter's real bytes, so the last step loads a real model in the real engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.chat.store import ConversationStore
from app.core.jobs.queue import JobQueue
from app.core.models.library import starter_model_path
from app.core.offline import set_offline
from app.core.paths import config_dir
from app.core.settings import get_setting, set_setting
from app.ui.application import create_application
from app.ui.engine_bridge import EngineBridge
from app.ui.first_run_view import describe_computer
from app.ui.job_controller import JobController
from app.ui.main_window import MainWindow
from tests.core.advice.test_recommend import machine
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)

# SmolLM2-135M-Instruct's config.json shape fields: the starter itself, offered as a download
STARTER_CONFIG = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 576,
                  "intermediate_size": 1536, "num_hidden_layers": 30, "num_attention_heads": 9,
                  "num_key_value_heads": 3, "vocab_size": 49152, "max_position_embeddings": 8192,
                  "tie_word_embeddings": True, "rope_theta": 100000.0, "rms_norm_eps": 1e-05}


def current_page(window: MainWindow) -> str:
    return window.nav.currentItem().text()


@pytest.fixture
def fresh_window(qtbot: QtBot, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[MainWindow]:
    """A window on a first start: its own settings folder, nothing chosen yet."""
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "first-config"))
    create_application()
    history = ConversationStore(tmp_path / "conversations.sqlite3")
    win = MainWindow(bridge=EngineBridge(), history=history, jobs=JobController(JobQueue(tmp_path / "jobs.json")))
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    history.close()


def own_list(hub: FakeHub) -> None:
    """A popular-models list of one model, in the settings folder, on the fake Hub."""
    shipped = json.loads((Path(__file__).resolve().parents[2] / "resources/popular-models.json").read_text())
    entry = {**shipped["models"][0], "id": "smollm2-135m", "title": "SmolLM2 135M Instruct",
             "gguf_repo": "tester/guide-GGUF", "gguf_file": "guide-{quant}.gguf", "config": STARTER_CONFIG}
    (config_dir() / "popular-models.json").write_text(json.dumps({**shipped, "models": [entry]}))
    hub.add_repo(FakeRepo("tester/guide-GGUF", [FakeFile("guide-Q8_0.gguf", source=starter_model_path(), lfs=True)],
                          tags=["gguf"]))


def test_the_computer_in_words() -> None:
    words = describe_computer(machine(ram_free=6, cores=4))
    assert "4-core processor" in words and "no graphics card" in words
    gpu = describe_computer(machine(ram_free=20, gpu_free=23.5, gpu_name="NVIDIA GeForce RTX 4090"))
    assert "NVIDIA GeForce RTX 4090" in gpu and "answer fastest" in gpu


def test_a_first_start_opens_on_the_guide_and_a_later_one_on_the_chat(fresh_window: MainWindow) -> None:
    assert current_page(fresh_window) == "Get started"
    set_setting("first_run_done", True)
    again = MainWindow(bridge=fresh_window.bridge, history=fresh_window.history, jobs=fresh_window.job_controller)
    assert current_page(again) == "Chat"
    again.deleteLater()


def test_suggest_download_and_chat(fake_hub: FakeHub, fresh_window: MainWindow, qtbot: QtBot) -> None:
    guide = fresh_window.get_started
    qtbot.waitUntil(lambda: bool(guide.found), timeout=30_000)  # the shipped list, sized at start
    own_list(fake_hub)
    guide.refresh_list()
    qtbot.waitUntil(lambda: len(guide.found) == 1, timeout=30_000)
    assert "processor" in guide.computer_label.text()
    assert guide.model_combo.count() == 1 and guide.current() is not None
    assert guide.pick_label.text().startswith("Suggested: <b>SmolLM2 135M Instruct</b>")
    guide.level_combo.setCurrentIndex(guide.level_combo.findData("Q8_0"))
    assert " → " in guide.ladder.headline.text() and "at Q8_0, 4" in guide.ladder.headline.text()  # 4x % smaller
    assert [s.type for s in guide.ladder.steps][:2] == ["F16", "Q8_0"] and "Q8_0" in guide.ladder.bars
    assert guide.download_button.isEnabled() and "guide-Q8_0.gguf" in guide.download_note.text()
    qtbot.mouseClick(guide.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: guide.chat_button.isEnabled(), timeout=60_000)
    downloaded = guide.downloaded_path
    assert downloaded is not None and downloaded.name == "guide-Q8_0.gguf"
    assert downloaded.read_bytes()[:4] == b"GGUF"
    assert [j.kind for j in fresh_window.job_controller.queue.jobs()] == ["download"]  # through the one queue
    with qtbot.waitSignal(fresh_window.bridge.model_loaded, timeout=60_000) as loaded:
        guide.chat_button.click()
    assert Path(loaded.args[0].info.path) == downloaded and current_page(fresh_window) == "Chat"
    assert fresh_window.library.selected_path() == downloaded and get_setting("first_run_done") is True
    # the same model again: already on this computer, no second download
    assert guide.already_downloaded() == downloaded and not guide.download_button.isEnabled()


def test_chat_with_the_starter_at_once(fresh_window: MainWindow, qtbot: QtBot) -> None:
    with qtbot.waitSignal(fresh_window.bridge.model_loaded, timeout=60_000) as loaded:
        fresh_window.get_started.starter_button.click()
    assert Path(loaded.args[0].info.path) == starter_model_path()
    assert current_page(fresh_window) == "Chat" and get_setting("first_run_done") is True


def test_offline_the_guide_does_not_download(fake_hub: FakeHub, fresh_window: MainWindow, qtbot: QtBot) -> None:
    guide = fresh_window.get_started
    qtbot.waitUntil(lambda: bool(guide.found), timeout=30_000)  # the shipped list, sized at start
    own_list(fake_hub)
    guide.refresh_list()
    qtbot.waitUntil(lambda: len(guide.found) == 1, timeout=30_000)
    fresh_window.privacy.offline_switch.setChecked(True)  # the switch in the window's frame
    try:
        assert not guide.download_button.isEnabled() and "Offline mode is on" in guide.download_note.text()
        guide.start_download()
        assert fake_hub.requests == [] and fresh_window.job_controller.queue.jobs() == []
    finally:
        set_offline(False)
