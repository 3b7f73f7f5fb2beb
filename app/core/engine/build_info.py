"""The llama.cpp build, as an engine process sees it: what the window shows without loading llama.cpp itself.

The window's process never imports llama_cpp (loading it initialises CUDA on a CUDA build, and on one machine
that crashed the window at start-up when done on a background thread). The first question starts a short-lived
engine process (the same program that runs models, with the same libraries), asks it, and keeps the answer
for the rest of the app's run; forget() makes the next question ask again.
"""

from __future__ import annotations

import threading

from app.core.errors import QuantDeskError
from app.core.machine.llama_build import BackendInfo

_lock = threading.Lock()
_known: list[BackendInfo | None] = []  # empty: not asked yet


def describe_build() -> BackendInfo | None:
    """The llama.cpp build of an engine process (None: llama-cpp-python is missing or the engine failed)."""
    from app.core.engine.client import EngineClient

    with _lock:  # two pages asking at start-up start one engine, not two
        if _known:
            return _known[0]
        client = EngineClient()
        try:
            backend = client.describe_build()
        except QuantDeskError:
            backend = None  # the engine could not start: the hardware report says llama.cpp is missing
        finally:
            client.close()
        _known.append(backend)
        return backend


def forget() -> None:
    with _lock:
        _known.clear()
