"""Start child processes with app.core.child_bootstrap as their main module (see its docstring for why)."""

from __future__ import annotations

import importlib.util
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

_lock = threading.Lock()


@contextmanager
def child_main_module() -> Iterator[None]:
    """While active, a "spawn" child imports app.core.child_bootstrap instead of the parent's __main__.

    multiprocessing reads `__main__.__spec__.name` when it starts a child and runs that module first there;
    the parent's own __main__ is untouched apart from that attribute, restored on exit.
    """
    with _lock:
        main = sys.modules.get("__main__")
        if main is None:
            yield
            return
        saved = getattr(main, "__spec__", None)
        main.__spec__ = importlib.util.find_spec("app.core.child_bootstrap")
        try:
            yield
        finally:
            main.__spec__ = saved
