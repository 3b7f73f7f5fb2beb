"""The settings a person chooses (not window state: that is QSettings), in one small versioned JSON file.

`settings.json` in config_dir() holds {"version": N, ...keys}. Features add their own keys with a default in
DEFAULTS; a file written by an older version is migrated on read (MIGRATIONS), a newer or damaged one is read
as far as it makes sense and never crashes the app. Writes go to a temporary name and are renamed.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from app.core.paths import config_dir

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FILE_NAME = "settings.json"

#: Every key with its default. A key missing from the file reads as its default.
DEFAULTS: dict[str, Any] = {
    "offline": False,  # no network call at all while on (hub.py)
    # graphics memory QuantDesk may plan to use, in GB (0: all that is free); also a way to try what a
    # smaller card would do (machine/hardware.py applies it, advice/recommend.py plans within it)
    "gpu_memory_limit_gb": 0,
}

#: MIGRATIONS[n] turns a version-n dict into a version-(n+1) dict. Empty until the schema first changes.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_lock = threading.Lock()


def settings_path() -> Path:
    return config_dir() / FILE_NAME


def _migrate(data: dict[str, Any]) -> dict[str, Any]:
    version = data.get("version", 0)
    if not isinstance(version, int):
        version = 0
    while version < SCHEMA_VERSION:
        step = MIGRATIONS.get(version)
        if step is not None:
            data = step(data)
        version += 1
        data["version"] = version
    return data


def load_settings() -> dict[str, Any]:
    """All settings: the defaults overlaid with what the file says."""
    values = dict(DEFAULTS)
    path = settings_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return values
    except (OSError, ValueError) as error:
        # a damaged file must not stop the app: fall back to the defaults, and say so in the log
        log.warning("settings file %s unreadable (%s); using defaults", path, error)
        return values
    if isinstance(raw, dict):
        values.update({k: v for k, v in _migrate(raw).items() if k != "version"})
    return values


def get_setting(key: str) -> Any:
    return load_settings().get(key, DEFAULTS.get(key))


def set_setting(key: str, value: Any) -> None:
    """Change one key and write the file atomically (temporary name, then rename)."""
    with _lock:
        values = load_settings()
        values[key] = value
        data = {"version": SCHEMA_VERSION, **values}
        path = settings_path()
        fd, tmp = tempfile.mkstemp(prefix=".settings-", suffix=".tmp", dir=path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                json.dump(data, f, indent=2, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
