"""Every network connection QuantDesk made since it started: which host, and why.

All of QuantDesk's HTTP goes through huggingface_hub's one shared client (`get_session()`: our own calls
and the library's), so one request hook on that client sees every request, redirects to a download
server included. `install()` puts the hook there (connection.py does, on import). The reason comes from
the gate every network call passes first: `require_online(why)` in connection.py sets it for the calls that
follow on that thread. A request that arrives with no reason is recorded too, as "no reason given": a bug
the tests look for, never hidden.

The window's privacy indicator lists `connections()` and redraws when `add_listener`'s callback fires.
QuantDesk sends no telemetry: HF_HUB_DISABLE_TELEMETRY is set before huggingface_hub is imported
(app/core/offline.py), and nothing else in the app opens a socket to the outside.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the window's privacy bar reads the log at start-up; the HTTP client loads with the first call
    import httpx2

NO_REASON = "no reason given"

_purpose: ContextVar[str] = ContextVar("quantdesk_network_purpose", default="")
_lock = threading.Lock()
_records: dict[tuple[str, str], NetworkUse] = {}
_listeners: list[Callable[[], None]] = []
_installed = False


@dataclass(frozen=True)
class NetworkUse:
    """Requests to one host for one reason."""

    host: str
    why: str
    requests: int
    first_at: float  # time.time()
    last_at: float


def set_purpose(why: str) -> None:
    """Say why the network calls that follow on this thread are made (connection.require_online does)."""
    _purpose.set(why)


def current_purpose() -> str:
    return _purpose.get()


def record(host: str, why: str | None = None) -> None:
    why = (why if why is not None else _purpose.get()) or NO_REASON
    now = time.time()
    with _lock:
        old = _records.get((host, why))
        _records[(host, why)] = (NetworkUse(host, why, 1, now, now) if old is None
                                 else replace(old, requests=old.requests + 1, last_at=now))
        listeners = list(_listeners)
    for listener in listeners:
        listener()


def connections() -> list[NetworkUse]:
    """What was reached since start, oldest first."""
    with _lock:
        return sorted(_records.values(), key=lambda u: u.first_at)


def clear() -> None:
    """Forget the record (tests; the app keeps it for its whole run)."""
    with _lock:
        _records.clear()


def add_listener(callback: Callable[[], None]) -> None:
    """`callback()` after each recorded request, on the thread that made it."""
    with _lock:
        _listeners.append(callback)


def remove_listener(callback: Callable[[], None]) -> None:
    with _lock:
        if callback in _listeners:
            _listeners.remove(callback)


def _on_request(request: httpx2.Request) -> None:
    record(request.url.host)


def _recording_client() -> httpx2.Client:
    from huggingface_hub.utils import _http

    client = _http.default_client_factory()
    hooks = client.event_hooks
    # after huggingface_hub's own hook, which refuses every request in offline mode: a refused request
    # never left the computer, so it is not a connection
    hooks["request"] = [*hooks.get("request", []), _on_request]
    client.event_hooks = hooks
    return client


def install() -> None:
    """Make huggingface_hub's shared client record every request (once; idempotent)."""
    global _installed
    with _lock:
        if _installed:
            return
        _installed = True
    from huggingface_hub.utils import _http

    _http.set_client_factory(_recording_client)
