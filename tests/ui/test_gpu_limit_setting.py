"""The Settings page's graphics memory limit: saved as the gpu_memory_limit_gb setting the plans read."""

from __future__ import annotations

from pathlib import Path

import pytest

from app.core.settings import get_setting
from app.ui.main_window import MainWindow


def test_graphics_memory_limit_is_saved(window: MainWindow, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "settings"))
    page = window.settings_page
    page.load()
    assert page.gpu_limit.value() == 0 and page.gpu_limit.text() == "All that is free"
    page.gpu_limit.setValue(8)
    assert get_setting("gpu_memory_limit_gb") == 8  # machine/hardware.py caps the GPU's usable memory with it
    page.gpu_limit.setValue(0)
    assert get_setting("gpu_memory_limit_gb") == 0
