"""Where QuantDesk keeps its files: platformdirs' per-user folders, overridable for tests and portable use."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

APP_NAME = "QuantDesk"


def data_dir() -> Path:
    """Conversions, quants and the conversation database. QUANTDESK_DATA_DIR overrides it."""
    override = os.environ.get("QUANTDESK_DATA_DIR")
    path = Path(override) if override else Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The settings file. QUANTDESK_CONFIG_DIR overrides it."""
    override = os.environ.get("QUANTDESK_CONFIG_DIR")
    path = Path(override) if override else Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models QuantDesk made itself (conversions, quants)."""
    path = data_dir() / "models"
    path.mkdir(parents=True, exist_ok=True)
    return path


def hf_cache_dir() -> Path:
    """The Hugging Face cache other tools share, found as huggingface_hub finds it: HF_HUB_CACHE, else
    HF_HOME/hub, else $XDG_CACHE_HOME/huggingface/hub (~/.cache/huggingface/hub). Read when called, and with no
    huggingface_hub import: listing the models on disk needs no network code."""
    if os.environ.get("HF_HUB_CACHE"):
        return Path(os.environ["HF_HUB_CACHE"]).expanduser()
    if os.environ.get("HF_HOME"):
        return Path(os.environ["HF_HOME"]).expanduser() / "hub"
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache).expanduser() / "huggingface" / "hub"


def resources_dir() -> Path:
    """The project's resources/ folder (style sheet, calibration and evaluation texts); inside a frozen bundle,
    the copy PyInstaller unpacked."""
    bundle = getattr(sys, "_MEIPASS", None)
    return Path(bundle) / "resources" if bundle else Path(__file__).resolve().parents[2] / "resources"
