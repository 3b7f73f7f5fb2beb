"""The chat page's "where the model runs" row: the other machines lending their devices (Add a machine… host:port,
Remove), where each part of the model goes in words, and each GPU's memory held by the engine, live.

Adding a machine asks it for its devices on a worker thread (a machine that does not answer gives a message,
never a frozen window) and, with a model loaded, loads it again planned over the new set of devices.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.core.errors import QuantDeskError
from app.core.machine.hardware import MemorySnapshot
from app.core.machine.rpc_backend import RemoteDevice, parse_endpoint
from app.core.units import format_bytes
from app.ui.engine_bridge import EngineBridge
from app.ui.error_dialog import show_error


class MachinesBar(QWidget):
    machine_checked = Signal(str, object)  # address, tuple[RemoteDevice, ...]: from the checking thread
    machine_failed = Signal(object)  # QuantDeskError

    def __init__(self, bridge: EngineBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.where = QLabel(self)
        self.where.setObjectName("planWhere")
        self.where.setWordWrap(True)
        self.cards = QLabel(self)
        self.cards.setObjectName("gpuReadout")
        self.machines = QListWidget(self)
        self.machines.setAccessibleName(self.tr("Other machines"))
        self.machines.setMaximumHeight(52)
        self.add_button = QPushButton(self.tr("Add a machine…"), self)
        self.add_button.setToolTip(self.tr(
            "Use the GPUs of another computer on your network: run `python main.py rpc-server --host ADDRESS` "
            "there, then add ADDRESS:50052 here. llama.cpp's RPC traffic is not encrypted: trusted networks only."))
        self.remove_button = QPushButton(self.tr("Remove"), self)
        self.note = QLabel(self)
        self.note.setWordWrap(True)

        buttons = QHBoxLayout()
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.remove_button)
        self.heading = QLabel(self)
        row = QHBoxLayout()
        row.addWidget(self.heading, 1)
        row.addLayout(buttons)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.machines)
        layout.addWidget(self.note)
        layout.addWidget(self.where)
        layout.addWidget(self.cards)

        self.add_button.clicked.connect(self._on_add_button_clicked)
        self.remove_button.clicked.connect(self._on_remove_button_clicked)
        self.machines.itemSelectionChanged.connect(self._update_buttons)
        self.machine_checked.connect(self._on_machine_checked)
        self.machine_failed.connect(self._on_machine_failed)
        bridge.plan_changed.connect(self._on_bridge_plan_changed)
        bridge.model_loaded.connect(self._on_bridge_model_loaded)
        self._described: dict[str, str] = {}
        self._checking = False
        for label in (self.where, self.cards, self.note):
            self._say(label, "")
        self._fill()

    # ---- the list -----------------------------------------------------------------------------------

    def _fill(self) -> None:
        """The list of machines; without any, one line says the model runs here (the list would be empty space)."""
        self.machines.clear()
        for address in self.bridge.machines:
            self.machines.addItem(self._described.get(address, address))
        alone = not self.bridge.machines
        self.heading.setText(self.tr("The model runs on this computer.") if alone else self.tr("Other machines:"))
        self.machines.setVisible(not alone)
        self.remove_button.setVisible(not alone)
        self._update_buttons()

    def _update_buttons(self) -> None:
        self.add_button.setEnabled(not self._checking)
        self.remove_button.setEnabled(bool(self.bridge.machines) and bool(self.machines.selectedItems()))

    def add_machine(self, address: str) -> bool:
        """Check `address` (host:port) on a worker thread; it joins the list once it describes its devices."""
        try:
            endpoint = parse_endpoint(address)
        except QuantDeskError as error:
            show_error(self.window(), error)
            return False
        self._checking = True
        self._update_buttons()
        self._say(self.note, self.tr("Asking {address} for its devices…").format(address=endpoint))

        def check() -> None:
            from app.core.engine.machines import RPC_PURPOSE, read_remote_devices
            from app.core.hub.network_log import record

            record(str(endpoint), RPC_PURPOSE)
            if self.bridge.client.rpc_servers and not self.bridge.busy:
                self.bridge.client.close(timeout=2.0)  # a server serves one client: the engine lets go
            try:
                self.machine_checked.emit(str(endpoint), read_remote_devices([str(endpoint)]))
            except QuantDeskError as error:
                self.machine_failed.emit(error)

        threading.Thread(target=check, name="machine-check", daemon=True).start()
        return True

    def _on_add_button_clicked(self) -> None:
        address, ok = QInputDialog.getText(
            self, self.tr("Add a machine"),
            self.tr("Address of a computer running `python main.py rpc-server` (host:port):"), text="")
        if ok and address.strip():
            self.add_machine(address)

    def _on_machine_checked(self, address: str, devices: tuple[RemoteDevice, ...]) -> None:
        self._checking = False
        free = sum(d.free_bytes for d in devices)
        self._described[address] = self.tr("{address} — {n} device(s), {free} free").format(
            address=address, n=len(devices), free=format_bytes(free))
        self.bridge.set_machines([*self.bridge.machines, address])
        self._say(self.note, "")
        self._fill()
        self._reload()

    def _on_machine_failed(self, error: QuantDeskError) -> None:
        self._checking = False
        self._say(self.note, "")
        self._update_buttons()
        show_error(self.window(), error, self.tr("Machine not added"))

    def _on_remove_button_clicked(self) -> None:
        rows = {self.machines.row(item) for item in self.machines.selectedItems()}
        kept = [m for i, m in enumerate(self.bridge.machines) if i not in rows]
        self.bridge.set_machines(kept)
        self._fill()
        self._reload()

    def _reload(self) -> None:
        """With a model loaded, load it again over the devices now listed."""
        last = self.bridge.last_load
        if last is not None:
            self.bridge.load_model(Path(last.path), last.n_ctx)

    # ---- the plan and the readout -------------------------------------------------------------------

    @staticmethod
    def _say(label: QLabel, text: str) -> None:
        """An empty line takes no room."""
        label.setText(text)
        label.setVisible(bool(text))

    def _on_bridge_plan_changed(self, where: str) -> None:
        self._say(self.where, self.tr("Where the model runs: {where}").format(where=where) if where else "")

    def _on_bridge_model_loaded(self, _loaded: object) -> None:
        self._on_bridge_plan_changed(self.bridge.plan_where)

    def show_readout(self, snap: MemorySnapshot) -> None:
        """Each GPU's memory held by the engine (drawn by the window's readout timer)."""
        if not snap.process_vram_per_gpu:
            self._say(self.cards, "")
            return
        self._say(self.cards, self.tr("Engine's graphics memory: {cards}").format(cards=" · ".join(
            self.tr("GPU {i} {vram}").format(i=i, vram=format_bytes(b)) for i, b in snap.process_vram_per_gpu)))
