"""The settings a person chooses (not window state: that is QSettings), in one small versioned JSON file.

`settings.json` in config_dir() holds {"version": N, ...keys}. Features add their own keys with a default in
DEFAULTS (and, where a wrong value could hurt, a check in VALID); a file written by an older version is
migrated on read (MIGRATIONS), a newer or damaged one is read as far as it makes sense and never crashes the
app: a value that fails its check reads as the default. Writes go to a temporary name and are renamed.

The settings file's own folder is decided here (config_dir), not in paths.py: paths.py reads the settings
(the data and models folders a person chose), so the arrow points from paths to settings.
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

import platformdirs

log = logging.getLogger(__name__)

APP_NAME = "QuantDesk"
THEMES = ("system", "light", "dark")

SCHEMA_VERSION = 1
FILE_NAME = "settings.json"

#: Every key with its default. A key missing from the file reads as its default.
DEFAULTS: dict[str, Any] = {
    "offline": False,  # no network call at all while on (hub/connection.py); the switch in the window's frame
    "offline_by_default": False,  # the window always opens offline, whatever the switch was last time
    "data_dir": "",  # conversations, jobs, conversions: "" = the per-user data folder (paths.data_dir)
    "models_dir": "",  # where QuantDesk's own models go: "" = <data folder>/models
    "threads": 0,  # llama.cpp threads for chat and quantization: 0 = automatic
    "theme": "system",  # one of THEMES
    "first_run_done": False,  # the first-run guide was finished or skipped
    "added_models": [],  # GGUF files a person added or dropped on the window (read in place)
    # graphics memory QuantDesk may plan to use, in GB (0: all that is free); also a way to try what a
    # smaller card would do (machine/hardware.py applies it, advice/recommend.py plans within it)
    "gpu_memory_limit_gb": 0,
    "chat": {},  # the chat's sampling, reply length, context length, placement (core/chat/preferences.py)
    "serve_port": 8642,  # the local API server's port (core/serve)
    "serve_host": "127.0.0.1",  # what it listens on: this computer only, unless a person chose otherwise
    # other machines lending their devices through llama.cpp's RPC backend ("host:port"): Chat → Add a machine
    "rpc_machines": [],
}

#: Checks for values a hand-edited file could get wrong; a value that fails reads as its default.
VALID: dict[str, Callable[[Any], bool]] = {
    "offline": lambda v: isinstance(v, bool),
    "offline_by_default": lambda v: isinstance(v, bool),
    "data_dir": lambda v: isinstance(v, str),
    "models_dir": lambda v: isinstance(v, str),
    "threads": lambda v: isinstance(v, int) and not isinstance(v, bool) and 0 <= v <= 1024,
    "theme": lambda v: v in THEMES,
    "first_run_done": lambda v: isinstance(v, bool),
    "added_models": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
    "gpu_memory_limit_gb": lambda v: isinstance(v, (int, float)) and not isinstance(v, bool) and 0 <= v <= 4096,
    "chat": lambda v: isinstance(v, dict),
    "serve_port": lambda v: isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 65535,
    "serve_host": lambda v: isinstance(v, str) and bool(v.strip()),
    "rpc_machines": lambda v: isinstance(v, list) and all(isinstance(p, str) for p in v),
}

#: MIGRATIONS[n] turns a version-n dict into a version-(n+1) dict. Empty until the schema first changes.
MIGRATIONS: dict[int, Callable[[dict[str, Any]], dict[str, Any]]] = {}

_lock = threading.Lock()


def config_dir() -> Path:
    """The settings file's folder (platformdirs' per-user config folder). QUANTDESK_CONFIG_DIR overrides it."""
    override = os.environ.get("QUANTDESK_CONFIG_DIR")
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


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
        for key, value in _migrate(raw).items():
            if key == "version":
                continue
            check = VALID.get(key)
            if check is not None and not check(value):
                log.warning("settings: %s = %r is not valid; using %r", key, value, DEFAULTS[key])
                continue
            values[key] = value
    return values


def get_setting(key: str) -> Any:
    return load_settings().get(key, DEFAULTS.get(key))


def configured_threads() -> int | None:
    """The threads the person chose for llama.cpp, or None for automatic."""
    threads = get_setting("threads")
    return threads if isinstance(threads, int) and threads > 0 else None


def set_setting(key: str, value: Any) -> None:
    """Change one key and write the file atomically (temporary name, then rename). ValueError for a value
    its check refuses."""
    check = VALID.get(key)
    if check is not None and not check(value):
        raise ValueError(f"{value!r} is not a valid value for the setting {key!r}")
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
