"""A Linux applications-menu entry for QuantDesk: resources/quantdesk.desktop with this install's command,
and the icon set into the hicolor theme, under $XDG_DATA_HOME (~/.local/share). Only when asked (Settings):
QuantDesk writes nothing outside its own folders on its own.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

from app.core.paths import resources_dir

DESKTOP_FILE = "quantdesk.desktop"
ICON_NAME = "quantdesk"
_RESERVED = set(' \t\n"\'\\><~|&;$*?#()`')


def launch_command() -> list[str]:
    """How this QuantDesk starts: the packaged executable, or this Python with the project's main.py."""
    if getattr(sys, "frozen", False):
        return [sys.executable]
    return [sys.executable, str(Path(__file__).resolve().parents[2] / "main.py")]


def _quote(arg: str) -> str:
    """One Exec argument, quoted as the Desktop Entry spec asks (then escaped as a .desktop string value)."""
    arg = arg.replace("%", "%%")
    if any(c in _RESERVED for c in arg):
        arg = '"' + "".join("\\" + c if c in '"`$\\' else c for c in arg) + '"'
    return arg.replace("\\", "\\\\")


def exec_line(command: list[str]) -> str:
    return " ".join(_quote(a) for a in command)


def data_home() -> Path:
    return Path(os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share")


def install_menu_entry(command: list[str], home: Path | None = None) -> Path:
    """Write the menu entry and the icons; returns the .desktop file's path. Written to a temporary name and
    renamed, so a menu never sees half an entry."""
    home = home or data_home()
    template = (resources_dir() / DESKTOP_FILE).read_text(encoding="utf-8")
    lines = [f"Exec={exec_line(command)}" if line.startswith("Exec=") else line
             for line in template.splitlines() if not line.startswith("#")]
    for png in sorted((resources_dir() / "icons").glob("quantdesk-*.png")):
        size = png.stem.rsplit("-", 1)[1]
        target = home / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{ICON_NAME}.png"
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(png, target)
    scalable = home / "icons" / "hicolor" / "scalable" / "apps" / f"{ICON_NAME}.svg"
    scalable.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(resources_dir() / "icons" / "quantdesk.svg", scalable)
    entry = home / "applications" / DESKTOP_FILE
    entry.parent.mkdir(parents=True, exist_ok=True)
    tmp = entry.with_name(f".{DESKTOP_FILE}.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.replace(tmp, entry)
    return entry
