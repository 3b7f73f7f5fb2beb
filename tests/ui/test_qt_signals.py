"""The Qt binding itself, where a defect of it would take the app down.

PySide6 6.12.0's Signal.emit drops a reference to Py_True on every call. The app emits a signal per streamed
token, per readout, per progress step; after as many emits as True has references (some thousands) Python
aborts with "bool_dealloc: deallocating True or False". pyproject.toml excludes that version; this test
fails on any version that does the same.
"""

from __future__ import annotations

import sys
import threading

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication


class _Emitter(QObject):
    text = Signal(str, int)


def test_emitting_signals_leaves_pythons_booleans_alone(qapp: QApplication) -> None:
    emitter = _Emitter()
    got: list[int] = []
    emitter.text.connect(lambda _t, n: got.append(n))
    before = sys.getrefcount(True), sys.getrefcount(False)

    def emit_many() -> None:
        for i in range(200):
            emitter.text.emit("x", i)

    emit_many()  # on the GUI thread
    worker = threading.Thread(target=emit_many, name="task-emit")  # and from a worker, queued
    worker.start()
    worker.join()
    for _ in range(5):
        qapp.processEvents()
    after = sys.getrefcount(True), sys.getrefcount(False)
    assert len(got) == 400
    # a few references come and go with the objects alive now; 400 lost ones would show
    assert after[0] >= before[0] - 20 and after[1] >= before[1] - 20, (before, after)
