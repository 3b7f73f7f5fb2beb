"""Offline mode: the setting, and making every library agree with it before anything can make a request.

Offline means no request at all, not one that fails. `apply_offline_mode()` is the first thing every entry
point does (the window and every CLI command, before huggingface_hub is imported): with the setting on it
puts HF_HUB_OFFLINE=1 in the environment, so huggingface_hub's own calls (its agent-harness registry fetch)
stay off and child processes inherit it; app/core/hub/connection.py's guard refuses our own calls. Telemetry
is off whatever the setting. HF_HUB_OFFLINE set by the person is theirs: when it says offline, switching
offline mode off in the app leaves it alone; when it says online ("0"), the setting wins while it is on, and
the person's value comes back when it is switched off.
"""

from __future__ import annotations

import os
import sys

from app.core.settings import get_setting, set_setting

OFFLINE_SETTING = "offline"
_ENV = "HF_HUB_OFFLINE"
_TRUE = {"1", "on", "yes", "true"}
_set_by_us = False  # whether HF_HUB_OFFLINE in the environment is ours (from the setting), not the person's
_persons_value: str | None = None  # what HF_HUB_OFFLINE was before we set it (None: not set)


def _env_says_offline() -> bool:
    return not _set_by_us and (os.environ.get(_ENV) or "").strip().lower() in _TRUE


def is_offline() -> bool:
    """On when the person switched it on, or when their own HF_HUB_OFFLINE says so."""
    return _env_says_offline() or bool(get_setting(OFFLINE_SETTING))


def apply_offline_mode() -> bool:
    """Make the environment and huggingface_hub (if imported) agree with the setting; returns whether offline."""
    global _set_by_us, _persons_value
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    offline = is_offline()
    if offline and not _set_by_us and not _env_says_offline():
        # unset, or "0" (the library's default spelled out): children inherit the environment, so it must agree
        _persons_value = os.environ.get(_ENV)
        os.environ[_ENV] = "1"
        _set_by_us = True
    elif not offline and _set_by_us:
        if _persons_value is None:
            os.environ.pop(_ENV, None)
        else:
            os.environ[_ENV] = _persons_value
        _set_by_us, _persons_value = False, None
    constants = sys.modules.get("huggingface_hub.constants")
    if constants is not None:  # the library read the variable at import; its request hook reads this flag
        constants.HF_HUB_OFFLINE = offline  # type: ignore[attr-defined]
    return offline


def set_offline(on: bool) -> bool:
    """Switch offline mode and remember it; returns whether the app is now offline."""
    set_setting(OFFLINE_SETTING, bool(on))
    return apply_offline_mode()
