"""The window's handle on the local API server: switch it on and off off the GUI thread, and turn what it
does (requests, who is served, who waits) into signals for the page and the status bar.

The server shares the chat's engine and its line of turns (EngineBridge.turns): it never starts an engine
of its own. It opens one socket, on the address and port in the settings, and says so in the network log
(the privacy indicator lists it); offline mode does not switch it off, as it connects to nothing.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, Signal

from app.core.engine.turns import TurnsState
from app.core.errors import EngineCrashedError, QuantDeskError
from app.core.hub import network_log
from app.core.serve.address import ServerAddress, is_this_computer_only
from app.core.serve.api_key import kept_key, replace_key
from app.core.serve.shared_engine import Activity, SharedEngine
from app.core.settings import get_setting
from app.ui.engine_bridge import EngineBridge

if TYPE_CHECKING:  # uvicorn and Starlette load when the server is first switched on, not with the window
    from app.core.serve.server import ApiServer

log = logging.getLogger(__name__)


class ApiServerSwitch(QObject):
    started = Signal(object)  # ServerAddress
    stopped = Signal()
    failed = Signal(object)  # QuantDeskError: it could not start
    activity_changed = Signal(object)  # Activity, from whichever thread served
    turns_changed = Signal(object)  # TurnsState: who uses the engine, who waits
    key_changed = Signal(str)

    def __init__(self, bridge: EngineBridge, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.engine = SharedEngine(bridge.client, bridge.turns)
        self.engine.add_listener(self.activity_changed.emit)
        self.engine.on_engine_crashed = self._on_engine_crashed
        bridge.turns.add_listener(self._on_turns_changed)
        self.server: ApiServer | None = None
        self.address: ServerAddress | None = None
        self._key = ""
        self._worker: threading.Thread | None = None

    # ---- state --------------------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.server is not None and self.address is not None

    @property
    def switching(self) -> bool:
        return self._worker is not None and self._worker.is_alive()

    @property
    def key(self) -> str:
        """The key programs send; made and kept in the data folder the first time it is shown."""
        if not self._key:
            self._key = kept_key()
        return self._key

    def new_key(self) -> str:
        """A new kept key; the old one stops working at once."""
        self._key = replace_key()
        self.key_changed.emit(self._key)
        return self._key

    def activity(self) -> Activity:
        return self.engine.activity()

    # ---- intents ------------------------------------------------------------------------------------

    def start(self) -> bool:
        """Switch on (on a worker thread); `started` or `failed` follows."""
        if self.running or self.switching:
            return False
        from app.core.serve.server import ApiServer  # the HTTP stack loads when the server is first switched on

        host, port = str(get_setting("serve_host")), int(get_setting("serve_port"))
        key = self.key
        server = ApiServer(self.engine, lambda: self._key or key, host, port)

        def work() -> None:
            try:
                address = server.start()
            except QuantDeskError as error:
                log.warning("API server did not start: %s (%s)", error.message, error.detail)
                self.failed.emit(error)
                return
            self.server, self.address = server, address
            where = "programs on this computer" if is_this_computer_only(address.host) else \
                "programs on this computer and on the network"
            network_log.server_opened(f"{address.host}:{address.port}",
                                      f"Local API server: {where} can use the loaded model (with the key)")
            self.started.emit(address)

        return self._switch("api-server-start", work)

    def stop(self) -> bool:
        """Switch off (on a worker thread): running and waiting requests end; `stopped` follows."""
        server, address = self.server, self.address
        if server is None or self.switching:
            return False
        self.server, self.address = None, None

        def work() -> None:
            server.stop()
            if address is not None:
                network_log.server_closed(f"{address.host}:{address.port}")
            self.stopped.emit()

        return self._switch("api-server-stop", work)

    def stop_request(self) -> bool:
        """The window's Stop: end the API request being answered now."""
        return self.engine.stop_running()

    def _switch(self, name: str, work: object) -> bool:
        self._worker = threading.Thread(target=work, name=name, daemon=True)  # type: ignore[arg-type]
        self._worker.start()
        return True

    def shutdown(self) -> None:
        """The window closes: stop at once, here."""
        if self._worker is not None:
            self._worker.join(5.0)
        server, address = self.server, self.address
        self.server, self.address = None, None
        if server is not None:
            server.stop(timeout=3.0)
        if address is not None:
            network_log.server_closed(f"{address.host}:{address.port}")
        self.bridge.turns.remove_listener(self._on_turns_changed)

    # ---- from other threads -------------------------------------------------------------------------

    def _on_turns_changed(self, state: TurnsState) -> None:
        with contextlib.suppress(RuntimeError):  # the window is gone
            self.turns_changed.emit(state)

    def _on_engine_crashed(self, error: EngineCrashedError) -> None:
        self.bridge.engine_crashed.emit(error)  # the chat shows its banner with Restart, whoever met the crash
