"""Where QuantDesk keeps its files: platformdirs' per-user folders, the folders a person chose in Settings,
and environment overrides for tests and portable use (in that order of strength: environment, setting,
default)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import platformdirs

from app.core.settings import APP_NAME, config_dir, get_setting

__all__ = ["APP_NAME", "config_dir", "data_dir", "default_data_dir", "hf_cache_dir", "models_dir",
           "resources_dir"]


def default_data_dir() -> Path:
    """The per-user data folder platformdirs gives (~/.local/share/QuantDesk on Linux)."""
    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """Conversions, quants, jobs and the conversation database: QUANTDESK_DATA_DIR, else the folder chosen in
    Settings, else default_data_dir()."""
    override = os.environ.get("QUANTDESK_DATA_DIR") or get_setting("data_dir")
    path = Path(override).expanduser() if override else default_data_dir()
    path.mkdir(parents=True, exist_ok=True)
    return path


def models_dir() -> Path:
    """Models QuantDesk made itself (conversions, quants): the folder chosen in Settings, else
    <data folder>/models."""
    chosen = get_setting("models_dir")
    path = Path(chosen).expanduser() if chosen else data_dir() / "models"
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
