"""A start-up check the packaged app can run on itself, for the bundle's test and its cold-start benchmark.

With QUANTDESK_SMOKE set, the window reports on stdout, one line per step, then quits:
- `window`: "quantdesk-smoke window-shown <unix time>" at the main window's first paint;
- `model`: that line, then "quantdesk-smoke model-loaded <unix time> <file>" once the selected model (the
  starter on a first run) is loaded in the engine process, or "quantdesk-smoke model-failed <message>" and
  exit code 1. So a frozen build proves it can spawn the engine child and find the starter inside itself.
Unset (always, for people), nothing here runs.
"""

from __future__ import annotations

import os
import sys
import time

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication

from app.core.engine.protocol import ModelLoaded
from app.core.errors import QuantDeskError
from app.ui.main_window import MainWindow

ENV = "QUANTDESK_SMOKE"
PREFIX = "quantdesk-smoke"


def _say(*words: object) -> None:
    if sys.stdout is None:  # a windowed frozen app on Windows has no stdout
        return
    sys.stdout.write(" ".join([PREFIX, *map(str, words)]) + "\n")
    sys.stdout.flush()


class SmokeCheck(QObject):
    def __init__(self, app: QApplication, window: MainWindow, until: str) -> None:
        super().__init__(window)
        self._app, self._window, self._until = app, window, until
        self._shown = False
        window.installEventFilter(self)
        window.bridge.model_loaded.connect(self._on_bridge_model_loaded)
        window.bridge.load_failed.connect(self._on_bridge_failed)
        window.bridge.engine_crashed.connect(self._on_bridge_failed)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Paint and not self._shown:
            self._shown = True
            _say("window-shown", f"{time.time():.6f}")
            if self._until == "window":
                QTimer.singleShot(0, self._window.close)
        return False

    def _on_bridge_model_loaded(self, loaded: ModelLoaded) -> None:
        if self._until == "model":
            _say("model-loaded", f"{time.time():.6f}", loaded.info.path)
            QTimer.singleShot(0, self._window.close)

    def _on_bridge_failed(self, error: QuantDeskError) -> None:
        _say("model-failed", error.message.replace("\n", " "))
        self._app.exit(1)


def install_smoke_check(app: QApplication, window: MainWindow) -> SmokeCheck | None:
    until = os.environ.get(ENV, "").strip().lower()
    return SmokeCheck(app, window, until) if until in ("window", "model") else None
