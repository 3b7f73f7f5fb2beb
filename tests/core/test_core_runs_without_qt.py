"""app/core must run without Qt: import every module with PySide6 made unimportable."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import app.core

ROOT = Path(__file__).resolve().parents[2]


def test_every_core_module_imports_with_qt_blocked() -> None:
    modules = sorted(m.name for m in pkgutil.walk_packages(app.core.__path__, "app.core."))
    assert "app.core.engine.client" in modules and "app.core.machine.hardware" in modules
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name.split('.')[0] in ('PySide6', 'shiboken6', 'PyQt5', 'PyQt6'):\n"
        "            raise ImportError('Qt is not allowed in app.core: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import importlib\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "assert not any(m.startswith('PySide6') for m in sys.modules)\n"
        "print('ok', len(sys.modules))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_cli_imports_no_qt() -> None:
    code = "import sys; import app.__main__, app.cli.chat, app.cli.doctor; " \
           "assert not any(m.startswith('PySide6') for m in sys.modules); print('ok')"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
