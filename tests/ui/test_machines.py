"""Other machines in the chat: Add a machine, the model split across two rpc-servers on 127.0.0.1, each host in
the connection list (offline mode on: only the named machines are reached), and a machine killed mid-reply."""

from __future__ import annotations

import os
import signal
import sqlite3
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from PySide6.QtCore import Qt
from pytestqt.qtbot import QtBot

from app.core.engine.machines import RPC_PURPOSE
from app.core.engine.protocol import GREEDY
from app.core.engine.rpc_server import RpcServer
from app.core.hub import network_log
from app.core.machine.rpc_backend import Endpoint
from app.core.models.library import starter_model_path
from app.core.offline import set_offline
from app.core.settings import set_setting
from app.ui.main_window import MainWindow
from tests.core.engine.test_rpc_split import QUESTION, free_port

SCREENSHOT_DIR = os.environ.get("QUANTDESK_SCREENSHOT_DIR")  # set it to refresh docs/screenshots/chat-machines.png


def shoot(window: MainWindow, name: str) -> None:
    if SCREENSHOT_DIR:
        window.update_readouts()
        window.grab().save(str(Path(SCREENSHOT_DIR) / f"{name}.png"))


@pytest.fixture
def servers() -> Iterator[list[RpcServer]]:
    started = [RpcServer(Endpoint("127.0.0.1", free_port()), threads=1) for _ in range(2)]
    try:
        for server in started:
            server.start()
        yield started
    finally:
        for server in started:
            server.stop()
        set_setting("rpc_machines", [])  # the machines added are remembered: the next window must not look for them


@pytest.fixture
def offline() -> Iterator[None]:
    set_offline(True)
    yield
    set_offline(False)


def test_add_machines_split_the_model_and_a_lost_machine_is_a_message(
        window: MainWindow, servers: list[RpcServer], qtbot: QtBot, offline: None) -> None:
    network_log.clear()
    bar = window.chat.machines_bar
    addresses = [str(s.endpoint) for s in servers]
    for address in addresses:
        with qtbot.waitSignal(bar.machine_checked, timeout=30_000):
            assert bar.add_machine(address)
    assert window.bridge.machines == addresses
    assert [bar.machines.item(i).text().split(" — ")[0] for i in range(2)] == addresses
    assert "1 device(s)" in bar.machines.item(0).text()
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=120_000) as loaded:
        window.bridge.load_model(starter_model_path(), n_ctx=2048)
    assert loaded.args[0].info.devices == ("RPC0", "RPC1")
    assert bar.where.text().startswith("Where the model runs: layers 0–") and addresses[1] in bar.where.text()
    # offline, and only the machines named were reached, each with why
    assert {(u.host, u.why) for u in network_log.connections()} == {(a, RPC_PURPOSE) for a in addresses}

    chat = window.chat
    chat.sampling = GREEDY
    with qtbot.waitSignal(chat.reply_finished, timeout=120_000):
        chat.send(QUESTION)
    assert "Paris" in chat.last_reply
    shoot(window, "chat-machines")

    # a machine dies while a reply streams: the crash banner names it, the window stays alive, nothing is lost
    first_text = []
    window.bridge.text_arrived.connect(lambda text, _n: first_text.append(text))
    with qtbot.waitSignal(window.bridge.engine_crashed, timeout=120_000) as crashed:
        chat.send("Write a very long story about a lighthouse keeper who finds a map.")
        qtbot.waitUntil(lambda: bool(first_text), timeout=60_000)
        os.kill(servers[1].pid or 0, signal.SIGKILL)
    assert f"machine at {addresses[1]}, which runs part of the model, was lost" in crashed.args[0].message
    assert chat.banner.isVisible() and "restart" in chat.banner.label.text().lower()
    shoot(window, "machine-lost")
    rows = sqlite3.connect(chat.history.path).execute(
        "SELECT role, content, complete FROM messages ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["user", "assistant", "user", "assistant"]
    assert "Paris" in rows[1][1] and rows[3][1] and rows[3][2] == 0  # the cut reply kept, marked unfinished

    # Restart with the dead machine still listed: it says which machine, in words; without it, the chat goes on
    with qtbot.waitSignal(window.bridge.load_failed, timeout=60_000) as failed:
        qtbot.mouseClick(chat.banner.restart_button, Qt.MouseButton.LeftButton)
    assert addresses[1] in failed.args[0].message and "did not answer" in failed.args[0].message
    bar.machines.item(1).setSelected(True)
    with qtbot.waitSignal(window.bridge.model_loaded, timeout=120_000) as reloaded:
        qtbot.mouseClick(bar.remove_button, Qt.MouseButton.LeftButton)
    assert window.bridge.machines == addresses[:1] and reloaded.args[0].info.devices == ("RPC0",)
    with qtbot.waitSignal(chat.reply_finished, timeout=120_000):
        chat.send(QUESTION)
    assert "Paris" in chat.last_reply


def test_each_cards_share_shows_in_the_status_bar_and_the_chat(window: MainWindow) -> None:
    from app.core.machine.hardware import MemorySnapshot

    gib = 1024**3
    window.readout_ready.emit(MemorySnapshot(8 * gib, 64 * gib, gib, 5 * gib,
                                             process_vram_per_gpu=((0, 3 * gib), (1, 2 * gib))))
    assert "GPU 0 3.0 GB · GPU 1 2.0 GB" in window.engine_label.text()
    cards = window.chat.machines_bar.cards
    assert cards.isVisibleTo(window) and cards.text() == "Engine's graphics memory: GPU 0 3.0 GB · GPU 1 2.0 GB"
    window.readout_ready.emit(MemorySnapshot(8 * gib, 64 * gib, gib))
    assert not cards.isVisibleTo(window)


def test_two_gpus_in_the_computer_and_quant_pages(qtbot: QtBot) -> None:
    """Two cards (20 and 10 GiB free of 24): each listed, the room on each, and the plan across both in words."""
    from app.core.machine.hardware import BackendInfo, GpuInfo
    from app.ui.computer_view import ComputerView
    from app.ui.quant_table_view import QuantTableView
    from tests.fixtures.model_shapes import llama3_8b_facts
    from tests.ui.test_estimate_views import machine

    gib = 1024**3
    base = machine(ram_free=48)
    cards = tuple(GpuInfo(i, "NVIDIA RTX A5000", "NVIDIA", 24 * gib, (24 - free) * gib, free * gib, "550.1", "8.6")
                  for i, free in ((0, 20), (1, 10)))
    report = replace(base, gpus=cards, backend=BackendInfo(True, "CUDA", "0.3.36", ("A5000", "A5000")))
    computer = ComputerView(read_now=False)
    qtbot.addWidget(computer)
    computer.show_report(report)
    assert "GPU 0, NVIDIA RTX A5000" in computer.gpus.text() and "GPU 1, NVIDIA RTX A5000" in computer.gpus.text()
    assert "across your 2 GPUs (GPU 0 18.8 GB, GPU 1 8.8 GB)" in computer.room.text()
    table = QuantTableView(read_hardware_now=False)
    qtbot.addWidget(table)
    table.set_hardware(report)
    table.set_facts(llama3_8b_facts())
    assert "layers 0–22 on GPU 0, 23–31 and the output layer on GPU 1" in table.sentence.text()
    row = table.recommended_row()
    assert row is not None and "2 GPUs — split, fits whole" in table.table.item(row, 3).text()
    if SCREENSHOT_DIR:
        for widget, name in ((computer, "your-computer-2gpus"), (table, "which-quant-2gpus")):
            widget.resize(1000, 640)
            widget.show()
            widget.grab().save(str(Path(SCREENSHOT_DIR) / f"{name}.png"))
