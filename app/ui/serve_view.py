"""The API server page: the switch, where programs connect and with which key, examples ready to paste, and
who is using the model now.

Everything shown is what a person copies into another program, so it is the real thing: the address the
server listens on, the kept key, the loaded model's name, and examples built from the three
(core/serve/examples.py). The port and the address to listen on are settings that apply the next time the
switch goes on; anything but this computer only is a choice the page warns about.
"""

from __future__ import annotations

import time

from PySide6.QtGui import QFontDatabase, QGuiApplication
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.core.engine.turns import TurnsState
from app.core.errors import QuantDeskError
from app.core.serve.address import ServerAddress, is_this_computer_only
from app.core.serve.examples import curl_example, python_example
from app.core.serve.shared_engine import Activity, model_id
from app.core.settings import get_setting, set_setting
from app.ui.api_server_switch import ApiServerSwitch
from app.ui.error_dialog import show_error

HOSTS = (("127.0.0.1", "This computer only (127.0.0.1)"),
         ("0.0.0.0", "Every network this computer is on (0.0.0.0)"))  # a person's explicit choice, warned about
PLACEHOLDER_MODEL = "local-model"  # the server answers with the loaded model whatever name is sent


class ServeView(QWidget):
    def __init__(self, switch: ApiServerSwitch, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.switch = switch
        intro = QLabel(self.tr(
            "<h2>API server</h2>Other programs on this computer (an editor, a notebook, a script) can use the "
            "model loaded in QuantDesk, through the same API as OpenAI's. Nothing leaves this computer, and "
            "the chat and the programs take turns at the model."), self)
        intro.setWordWrap(True)
        self.power = QCheckBox(self.tr("Serve the loaded model to other programs"), self)
        self.power.setObjectName("serveSwitch")
        self.power.setAccessibleName(self.tr("API server on"))
        self.state = QLabel(self)
        self.state.setObjectName("serveState")
        self.state.setWordWrap(True)

        self.address = self._read_only(self.tr("Server address"))
        self.copy_address = self._button(self.tr("Copy"), self.tr("Copy the server address"))
        self.key = self._read_only(self.tr("API key"))
        self.copy_key = self._button(self.tr("Copy"), self.tr("Copy the API key"))
        self.new_key = self._button(self.tr("New key"), self.tr("Make a new API key"))
        self.new_key.setToolTip(self.tr("Make a new key: programs using the old one get 'incorrect API key'."))
        self.model = QLabel(self)
        self.model.setWordWrap(True)
        connect = QGroupBox(self.tr("Connect a program"), self)
        form = QFormLayout(connect)
        form.addRow(self.tr("Address (base URL):"), self._row(self.address, self.copy_address))
        form.addRow(self.tr("API key:"), self._row(self.key, self.copy_key, self.new_key))
        form.addRow(self.tr("Model:"), self.model)

        self.port = QSpinBox(self)
        self.port.setRange(1024, 65535)
        self.port.setMaximumWidth(120)
        self.port.setAccessibleName(self.tr("Port"))
        self.host = QComboBox(self)
        self.host.setAccessibleName(self.tr("Listen on"))
        for host, label in HOSTS:
            self.host.addItem(self.tr(label), host)
        self.warning = QLabel(self.tr(
            "Other computers on your networks can reach the server: anyone with the key can use the model. "
            "Choose this only on a network you trust."), self)
        self.warning.setObjectName("serveWarning")
        self.warning.setWordWrap(True)
        self.options = options = QGroupBox(self)
        options_form = QFormLayout(options)
        options_form.addRow(self.tr("Port:"), self.port)
        options_form.addRow(self.tr("Listen on:"), self.host)
        options_form.addRow(self.warning)

        self.activity = QLabel(self)
        self.activity.setObjectName("serveActivity")
        self.activity.setWordWrap(True)
        self.stop_button = self._button(self.tr("Stop the running request"),
                                        self.tr("Stop the API request being answered"))
        now = QGroupBox(self.tr("Who is using the model"), self)
        now_layout = QVBoxLayout(now)
        now_layout.addWidget(self.activity)
        now_layout.addLayout(self._row(self.stop_button, stretch=True))

        self.examples = QTabWidget(self)
        self.examples.setAccessibleName(self.tr("Examples"))
        self.curl = self._example(self.tr("Example: curl"))
        self.python = self._example(self.tr("Example: Python with the openai package"))
        self.examples.addTab(self.curl, self.tr("curl"))
        self.examples.addTab(self.python, self.tr("Python (openai)"))
        self.copy_example = self._button(self.tr("Copy example"), self.tr("Copy the example shown"))
        examples = QGroupBox(self.tr("Try it"), self)
        examples_layout = QVBoxLayout(examples)
        examples_layout.addWidget(self.examples)
        examples_layout.addLayout(self._row(self.copy_example, stretch=True))
        self.note = QLabel(self)
        self.note.setObjectName("serveNote")

        content = QWidget(self)
        layout = QVBoxLayout(content)
        layout.addWidget(intro)
        layout.addWidget(self.power)
        layout.addWidget(self.state)
        for group in (connect, now, examples, options):
            layout.addWidget(group)
        layout.addWidget(self.note)
        layout.addStretch(1)
        scroll = QScrollArea(self)
        scroll.setWidgetResizable(True)
        scroll.setWidget(content)
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.addWidget(scroll)

        self.port.setValue(int(get_setting("serve_port")))
        index = self.host.findData(get_setting("serve_host"))
        if index < 0:  # an address typed into the settings file: shown as it is
            self.host.addItem(str(get_setting("serve_host")), get_setting("serve_host"))
            index = self.host.count() - 1
        self.host.setCurrentIndex(index)

        self.power.toggled.connect(self._on_power_toggled)
        self.copy_address.clicked.connect(lambda: self._copy(self.address.text(), self.tr("address")))
        self.copy_key.clicked.connect(lambda: self._copy(self.switch.key, self.tr("API key")))
        self.copy_example.clicked.connect(
            lambda: self._copy(self.examples.currentWidget().toPlainText(), self.tr("example")))  # type: ignore[attr-defined]
        self.new_key.clicked.connect(self._on_new_key_clicked)
        self.stop_button.clicked.connect(self.switch.stop_request)
        self.port.valueChanged.connect(self._on_port_value_changed)
        self.host.currentIndexChanged.connect(self._on_host_current_index_changed)
        switch.started.connect(self._on_switch_started)
        switch.stopped.connect(self.refresh)
        switch.failed.connect(self._on_switch_failed)
        switch.activity_changed.connect(self._on_switch_activity_changed)
        switch.turns_changed.connect(self._on_switch_turns_changed)
        switch.key_changed.connect(lambda _key: self.refresh())
        switch.bridge.model_loaded.connect(lambda _loaded: self.refresh())
        switch.bridge.model_unloaded.connect(self.refresh)
        self._turns = switch.bridge.turns.state()
        self.refresh()

    # ---- building blocks ----------------------------------------------------------------------------

    def _read_only(self, name: str) -> QLineEdit:
        edit = QLineEdit(self)
        edit.setReadOnly(True)
        edit.setAccessibleName(name)
        edit.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        return edit

    def _button(self, text: str, name: str) -> QPushButton:
        button = QPushButton(text, self)
        button.setAccessibleName(name)
        return button

    def _example(self, name: str) -> QPlainTextEdit:
        text = QPlainTextEdit(self)
        text.setReadOnly(True)
        text.setAccessibleName(name)
        text.setTabChangesFocus(True)
        text.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        text.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        text.setMinimumHeight(150)
        return text

    @staticmethod
    def _row(*widgets: QWidget, stretch: bool = False) -> QHBoxLayout:
        row = QHBoxLayout()
        for i, widget in enumerate(widgets):
            row.addWidget(widget, 1 if i == 0 and not stretch else 0)
        if stretch:
            row.addStretch(1)
        return row

    # ---- what is shown ------------------------------------------------------------------------------

    def base_url(self) -> str:
        address = self.switch.address or ServerAddress(str(self.host.currentData()), self.port.value())
        if address.host == "0.0.0.0":  # listening everywhere: programs on this computer still use 127.0.0.1
            address = ServerAddress("127.0.0.1", address.port)
        return address.base_url

    def model_name(self) -> str:
        return model_id(self.switch.bridge.loaded) or PLACEHOLDER_MODEL

    def refresh(self) -> None:
        running, loaded = self.switch.running, self.switch.bridge.loaded
        if not self.switch.switching:  # while it switches, the box shows what the person asked for
            self._show_power(running)
        url = self.base_url()
        if running:
            self.state.setText(self.tr("On: programs on this computer can connect at {url}").format(url=url)
                               if is_this_computer_only(self.switch.address.host)  # type: ignore[union-attr]
                               else self.tr("On, and open to your networks: {url} (on this computer)").format(
                                   url=url))
        else:
            self.state.setText(self.tr("Off. Switch it on to let other programs use the model."))
        self.address.setText(url)
        self.key.setText(self.switch.key)
        self.model.setText(self.model_name() if loaded is not None else self.tr(
            "No model is loaded: load one on the Chat page. Until then requests get the answer "
            "'no model is loaded'."))
        self.curl.setPlainText(curl_example(url, self.switch.key, self.model_name()))
        self.python.setPlainText(python_example(url, self.switch.key, self.model_name()))
        self.warning.setVisible(not is_this_computer_only(str(self.host.currentData())))
        self.port.setEnabled(not running)
        self.host.setEnabled(not running)
        self.options.setTitle(self.tr("Where it listens (switch the server off to change it)") if running
                              else self.tr("Where it listens (applies when the server is switched on)"))
        self._draw_activity(self.switch.activity())

    def _show_power(self, on: bool) -> None:
        self.power.blockSignals(True)
        self.power.setChecked(on)
        self.power.blockSignals(False)

    def _draw_activity(self, activity: Activity) -> None:
        lines = [self.tr("Requests since the server started: {n}").format(n=activity.requests)]  # a count
        serving = self._turns.serving
        if activity.running is not None:
            lines.append(self.tr("Now: answering {who}").format(who=activity.running.client))
        elif serving is not None:
            lines.append(self.tr("Now: the chat is using the model") if serving == self.switch.bridge.CHAT
                         else self.tr("Now: {who}").format(who=serving))
        else:
            lines.append(self.tr("Now: nobody; the model is free"))
        if activity.waiting or self._turns.waiting:
            lines.append(self.tr("Waiting their turn: {n}").format(n=len(self._turns.waiting)))
        if activity.last_client:
            last = activity.recent[-1] if activity.recent else None
            when = time.strftime("%H:%M:%S", time.localtime(last.received_at)) if last else ""
            lines.append(self.tr("Last client: {who}{when}").format(
                who=activity.last_client, when=self.tr(" at {t}").format(t=when) if when else ""))
        self.activity.setText("\n".join(lines))
        self.stop_button.setEnabled(activity.running is not None)

    # ---- slots --------------------------------------------------------------------------------------

    def _on_power_toggled(self, on: bool) -> None:
        if on:
            self.state.setText(self.tr("Starting…"))
            self.switch.start()
        else:
            self.state.setText(self.tr("Stopping…"))
            self.switch.stop()

    def _on_switch_started(self, _address: ServerAddress) -> None:
        self.refresh()

    def _on_switch_failed(self, error: QuantDeskError) -> None:
        self.refresh()
        self._show_power(False)
        self.state.setText(error.message)
        show_error(self.window(), error, self.tr("The API server did not start"))

    def _on_switch_activity_changed(self, activity: Activity) -> None:
        self._draw_activity(activity)

    def _on_switch_turns_changed(self, state: TurnsState) -> None:
        self._turns = state
        self._draw_activity(self.switch.activity())

    def _on_port_value_changed(self, value: int) -> None:
        set_setting("serve_port", value)
        self.refresh()

    def _on_host_current_index_changed(self, _index: int) -> None:
        set_setting("serve_host", str(self.host.currentData()))
        self.refresh()

    def _on_new_key_clicked(self) -> None:
        self.switch.new_key()
        self.note.setText(self.tr("A new key is in use: programs must use it from now on."))

    def _copy(self, text: str, what: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.note.setText(self.tr("Copied the {what} to the clipboard.").format(what=what))
