"""The Linux menu entry: this install's command, quoted as the Desktop Entry spec asks, and the icon set."""

from __future__ import annotations

import shlex
from pathlib import Path

from app.core.desktop_entry import exec_line, install_menu_entry, launch_command


def test_entry_and_icons(tmp_path: Path) -> None:
    command = ["/opt/Quant Desk/QuantDesk"]
    entry = install_menu_entry(command, home=tmp_path)
    text = entry.read_text()
    assert entry == tmp_path / "applications" / "quantdesk.desktop"
    assert 'Exec="/opt/Quant Desk/QuantDesk"' in text.splitlines()
    assert "Icon=quantdesk" in text and "Terminal=false" in text and "#" not in text
    for size in (16, 48, 256, 512):
        assert (tmp_path / f"icons/hicolor/{size}x{size}/apps/quantdesk.png").read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "icons/hicolor/scalable/apps/quantdesk.svg").is_file()


def test_exec_quoting() -> None:
    assert exec_line(["/usr/bin/python3", "/home/a/main.py"]) == "/usr/bin/python3 /home/a/main.py"
    assert exec_line(["/x/100%"]) == "/x/100%%"
    # inside quotes " ` $ \ are backslash-escaped, and every backslash is doubled again as a string value
    assert exec_line(['/a b/$x']) == '"/a b/\\\\$x"'
    assert shlex.split(exec_line(launch_command()))  # this install's own command is a valid line
