"""Privacy you can see, in the window's frame: the Offline switch, and the network connections made so far.

The switch is the same setting as the one on the Find models page (app/core/offline.py): the window keeps
the two in step. The indicator counts what app/core/hub/network_log.py recorded since QuantDesk started
(every request goes through the Hub client it watches); clicking it lists each host with why it was reached.
QuantDesk sends no telemetry, so on a plain start the indicator says there were none. While the local API
server is on, the indicator and the list say where it listens (connections come in to it; it makes none).
"""

from __future__ import annotations

import time

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.core.hub import network_log


class NetworkLogDialog(QDialog):
    """Each host QuantDesk reached since it started, why, how often, and when last."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle(self.tr("Network connections"))
        self.resize(720, 320)
        intro = QLabel(self.tr(
            "Every connection QuantDesk made since it started, each for something you asked for. QuantDesk "
            "sends no telemetry and no usage data; with Offline on it connects to nothing but the other machines you "
            "added to the chat yourself (llama.cpp RPC)."), self)
        intro.setWordWrap(True)
        self.servers = QLabel(self)
        self.servers.setObjectName("listeningSockets")
        self.servers.setWordWrap(True)
        self.table = QTableWidget(0, 4, self)
        self.table.setHorizontalHeaderLabels([self.tr("Host"), self.tr("Why"), self.tr("Requests"),
                                              self.tr("Last")])
        self.table.setAccessibleName(self.tr("Network connections since start"))
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        layout.addWidget(intro)
        layout.addWidget(self.servers)
        layout.addWidget(self.table, 1)
        layout.addWidget(buttons)
        self.refresh()

    def refresh(self) -> None:
        servers = network_log.open_servers()
        self.servers.setVisible(bool(servers))
        self.servers.setText("\n".join(self.tr("Listening on {address} since {time}: {why}").format(
            address=s.address, time=time.strftime("%H:%M:%S", time.localtime(s.since)), why=s.why)
            for s in servers))
        uses = network_log.connections()
        self.table.setRowCount(len(uses))
        for row, use in enumerate(uses):
            cells = (use.host, use.why, str(use.requests), time.strftime("%H:%M:%S", time.localtime(use.last_at)))
            for column, text in enumerate(cells):
                self.table.setItem(row, column, QTableWidgetItem(text))


class PrivacyBar(QWidget):
    offline_toggled = Signal(bool)  # the person flipped the switch here
    _network_used = Signal()  # from whichever thread made a request

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.offline_switch = QCheckBox(self.tr("Offline"), self)
        self.offline_switch.setObjectName("frameOfflineSwitch")
        self.offline_switch.setAccessibleName(self.tr("Offline mode"))
        self.offline_switch.setToolTip(self.tr("On: QuantDesk makes no network connection at all. Models on this "
                                               "computer keep working."))
        self.network_button = QPushButton(self)
        self.network_button.setObjectName("networkIndicator")
        self.network_button.setFlat(True)
        self.network_button.setToolTip(self.tr("The network connections QuantDesk made since it started"))
        layout = QHBoxLayout(self)
        layout.setContentsMargins(6, 0, 6, 0)
        layout.addWidget(self.offline_switch)
        layout.addWidget(self.network_button)
        self._dialog: NetworkLogDialog | None = None
        self.offline_switch.toggled.connect(self.offline_toggled)
        self.network_button.clicked.connect(self.show_connections)
        self._network_used.connect(self.update_indicator, Qt.ConnectionType.QueuedConnection)
        network_log.add_listener(self._on_network_used)
        self.destroyed.connect(lambda _obj=None, f=self._on_network_used: network_log.remove_listener(f))
        self.update_indicator()

    def _on_network_used(self) -> None:
        try:
            self._network_used.emit()
        except RuntimeError:  # the bar is gone (the window closed): nothing to redraw
            network_log.remove_listener(self._on_network_used)

    def set_offline_shown(self, offline: bool) -> None:
        """Show the setting as it is (changed elsewhere) without flipping it again."""
        self.offline_switch.blockSignals(True)
        self.offline_switch.setChecked(offline)
        self.offline_switch.blockSignals(False)

    def update_indicator(self) -> None:
        uses = network_log.connections()
        hosts = len({u.host for u in uses})
        if not uses:
            text = self.tr("No network connections")
        else:
            text = (self.tr("Network: 1 host") if hosts == 1 else self.tr("Network: {n} hosts").format(n=hosts))
            text += self.tr(", {n} requests").format(n=sum(u.requests for u in uses))
        if network_log.open_servers():  # the list says where; the frame has little room
            text += self.tr(" · API server listening")
        self.network_button.setText(text)
        self.network_button.setAccessibleName(text)
        if self._dialog is not None and self._dialog.isVisible():
            self._dialog.refresh()

    def show_connections(self) -> NetworkLogDialog:
        if self._dialog is None:
            self._dialog = NetworkLogDialog(self.window())
        self._dialog.refresh()
        self._dialog.show()
        return self._dialog

    def shutdown(self) -> None:
        network_log.remove_listener(self._on_network_used)
