"""Shared test set-up: offscreen Qt, a private data folder, and no leftover threads or child processes."""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator

# Set before anything imports Qt: tests never need a display.
os.environ["QT_QPA_PLATFORM"] = "offscreen"
_DATA = tempfile.mkdtemp(prefix="quantdesk-test-data-")
os.environ["QUANTDESK_DATA_DIR"] = _DATA
os.environ["QUANTDESK_CONFIG_DIR"] = os.path.join(_DATA, "config")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
# Never read or write the person's own Hugging Face cache or token from a test.
os.environ["HF_HOME"] = os.path.join(_DATA, "hf")
os.environ.pop("HF_HUB_CACHE", None)
os.environ.pop("HF_TOKEN", None)
# Set before anything imports numpy: on the two shared cores tests run on, OpenBLAS's worker threads make
# numpy's small matrix products (the reference forward pass in tests/fixtures/hf_llama.py) 5-10x slower.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
# A shell without job control starts a background command (`python3 bootstrap.py test &`) with SIGINT ignored,
# and a child process inherits that: `serve` and `rpc-server` would then never see the Ctrl+C their tests send.
# With a handler here, the children this run starts get the default again (exec resets handlers, not ignores).
if signal.getsignal(signal.SIGINT) == signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

import psutil  # noqa: E402
import pytest  # noqa: E402

# session-scoped model files (starter expanded to F16, a tiny random-weight Llama, its imatrix) for any test folder
pytest_plugins = ["tests.model_fixtures", "tests.fixtures.ladder"]


def _children() -> set[int]:
    """Live child processes, less multiprocessing's own resource tracker (it lives as long as pytest)."""
    found = set()
    for p in psutil.Process().children(recursive=True):
        try:
            if p.status() == psutil.STATUS_ZOMBIE or "resource_tracker" in " ".join(p.cmdline()):
                continue
        except psutil.NoSuchProcess:
            continue
        found.add(p.pid)
    return found


def _threads() -> set[int]:
    """Non-daemon threads, and QuantDesk's own workers (daemon threads named engine-* / task-* / api-*)."""
    return {
        t.ident
        for t in threading.enumerate()
        if t.ident is not None and (not t.daemon or t.name.startswith(("engine-", "task-", "api-")))
    }


@pytest.fixture(autouse=True)
def no_leftover_processes_or_threads() -> Iterator[None]:
    """A test that leaves an engine process or a worker thread running fails (qutebrowser/napari style)."""
    children_before = _children()
    threads_before = _threads()
    yield
    deadline = time.monotonic() + 5.0
    while time.monotonic() < deadline:
        extra_children = _children() - children_before
        extra_threads = _threads() - threads_before
        if not extra_children and not extra_threads:
            return
        time.sleep(0.05)
    names = [t.name for t in threading.enumerate() if t.ident in extra_threads]
    pytest.fail(f"test left child processes {sorted(extra_children)} or threads {names} running")


@pytest.fixture
def data_dir(tmp_path, monkeypatch):  # type: ignore[no-untyped-def]
    """A fresh, empty QuantDesk data folder for this test alone."""
    folder = tmp_path / "data"
    monkeypatch.setenv("QUANTDESK_DATA_DIR", str(folder))
    return folder
