"""The API server's key: made once by the app, kept in the data folder, shown to the person to paste.

A program on this computer must send `Authorization: Bearer <key>`: a listening port is open to every
process and every web page the browser runs, and the key keeps them from the model without the person's
say. The file is written under a temporary name, readable by its owner only, and renamed.
"""

from __future__ import annotations

import contextlib
import hmac
import os
import secrets
from pathlib import Path

from app.core.paths import data_dir

ENV_VAR = "QUANTDESK_API_KEY"
_FILE = "api-key.txt"
_PREFIX = "qd-"


def key_path() -> Path:
    return data_dir() / _FILE


def new_key() -> str:
    """A fresh key: 32 random bytes, URL-safe, with a prefix that says whose it is."""
    return _PREFIX + secrets.token_urlsafe(32)


def kept_key() -> str:
    """The kept key, made and kept the first time it is asked for."""
    path = key_path()
    with contextlib.suppress(OSError):
        key = path.read_text(encoding="utf-8").strip()
        if key:
            return key
    return replace_key()


def replace_key() -> str:
    """A new kept key (the old one stops working the next time the server checks a request)."""
    key = new_key()
    path = key_path()
    partial = path.with_name(f".{path.name}.{os.getpid()}.part")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        file.write(key + "\n")
    os.replace(partial, path)
    return key


def choose_key(given: str | None = None) -> str:
    """The key a server started from the command line uses: --api-key, else QUANTDESK_API_KEY, else the kept
    one."""
    for candidate in (given, os.environ.get(ENV_VAR)):
        if candidate and candidate.strip():
            return candidate.strip()
    return kept_key()


def key_matches(header: str | None, key: str) -> bool:
    """Whether an Authorization header carries `key` as a Bearer token (compared in constant time)."""
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(token.strip().encode("utf-8"), key.encode("utf-8"))
