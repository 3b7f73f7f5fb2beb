"""Files on disk, written safely: the name a file has until it is complete, and room for it before starting.

A file being made (a conversion, a quantization, an expansion, an importance matrix) is written as
`.<name>.<pid>.part` beside its real name and renamed when complete. The name is hidden, does not end in
.gguf (so no app that scans folders for models lists a half file), and carries the writer's process id: a
partial file whose writer is gone is stale, and `remove_stale_partials` clears it when the next job starts.
Downloads keep their own resumable `.incomplete` files (app/core/hub/cache.py): those are meant to survive.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

from app.core.errors import NotEnoughDiskError
from app.core.units import format_bytes

PARTIAL_SUFFIX = ".part"
_PARTIAL = re.compile(r"^\.(?P<name>.+)\.(?P<pid>\d+)\.part$")
_OLD_PARTIAL = ".part.gguf"  # what earlier versions named their partial files


def partial_path(dst: Path) -> Path:
    """Where `dst` is written by this process until it is complete."""
    dst = Path(dst)
    return dst.with_name(f".{dst.name}.{os.getpid()}{PARTIAL_SUFFIX}")


def is_partial(path: Path) -> bool:
    return bool(_PARTIAL.match(path.name)) or path.name.endswith(_OLD_PARTIAL)


def _pid_alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    except OSError:  # Windows: os.kill(pid, 0) is not a probe there; psutil is
        import psutil

        return bool(psutil.pid_exists(pid))
    return True


def remove_stale_partials(folder: Path, name: str | None = None) -> list[Path]:
    """Remove the partial files in `folder` (only those of `name`, if given) whose writer is gone."""
    removed: list[Path] = []
    try:
        entries = list(Path(folder).iterdir())
    except OSError:
        return removed
    for path in entries:
        match = _PARTIAL.match(path.name)
        if match is not None:
            if (name is not None and match.group("name") != name) or _pid_alive(int(match.group("pid"))):
                continue
        elif not (name is None and path.name.endswith(_OLD_PARTIAL)):
            continue
        try:
            path.unlink()
            removed.append(path)
        except OSError:
            pass
    return removed


def free_space(path: Path) -> tuple[Path, int]:
    """Free bytes on the disk that holds `path` (or would: the nearest folder that exists)."""
    where = Path(path)
    while not where.exists() and where != where.parent:
        where = where.parent
    return where, shutil.disk_usage(where).free


def check_free_space(folder: Path, need_bytes: int, what: str = "the new file") -> None:
    """NotEnoughDiskError in plain words when `folder`'s disk has less room than `need_bytes`."""
    where, free = free_space(folder)
    if free < need_bytes:
        raise NotEnoughDiskError(
            f"There is not enough free disk space in {where} for {what}: it needs about "
            f"{format_bytes(need_bytes)}, and {format_bytes(free)} is free. Free some space or choose another "
            "folder.",
            f"need {need_bytes} bytes, free {free} bytes at {where}",
        )


def disk_full_error(folder: Path, detail: str) -> NotEnoughDiskError:
    """The disk filled up while writing into `folder`, in plain words. The free space goes in the detail only:
    measured after the partial file is gone, it is back to what it was before and would read as a contradiction."""
    where, free = free_space(folder)
    return NotEnoughDiskError(
        f"The disk is full: QuantDesk could not finish writing to {where}. Nothing half-written was kept. "
        "Free some space, or choose a folder on another disk, and try again.",
        f"{detail}\nfree space at {where} now: {free} bytes",
    )
