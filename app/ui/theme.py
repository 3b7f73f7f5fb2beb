"""The look: system, light or dark (Settings), applied to the whole application at once.

Fusion with an explicit palette draws the same on every platform and offscreen (where there is no system
theme to ask), so a screenshot shows what a person sees. "System" follows the platform's colour scheme
(Qt's style hints) and falls back to light where the platform does not say. resources/style.qss is the
house style; style-dark.qss adjusts its few fixed colours for the dark palette.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from app.core.paths import resources_dir
from app.core.settings import THEMES

_DARK = {
    QPalette.ColorRole.Window: "#2b2d31",
    QPalette.ColorRole.WindowText: "#e8e9eb",
    QPalette.ColorRole.Base: "#1e1f22",
    QPalette.ColorRole.AlternateBase: "#26282c",
    QPalette.ColorRole.ToolTipBase: "#3a3d42",
    QPalette.ColorRole.ToolTipText: "#e8e9eb",
    QPalette.ColorRole.PlaceholderText: "#9aa0a8",
    QPalette.ColorRole.Text: "#e8e9eb",
    QPalette.ColorRole.Button: "#35373c",
    QPalette.ColorRole.ButtonText: "#e8e9eb",
    QPalette.ColorRole.BrightText: "#ff6b6b",
    QPalette.ColorRole.Light: "#4a4d52",
    QPalette.ColorRole.Midlight: "#3e4146",
    QPalette.ColorRole.Mid: "#55595f",
    QPalette.ColorRole.Dark: "#1a1b1e",
    QPalette.ColorRole.Shadow: "#000000",
    QPalette.ColorRole.Highlight: "#3d6fb6",
    QPalette.ColorRole.HighlightedText: "#ffffff",
    QPalette.ColorRole.Link: "#7fb2ff",
    QPalette.ColorRole.LinkVisited: "#b19cff",
}
_DARK_DISABLED = "#7c8189"


def dark_palette() -> QPalette:
    palette = QPalette()
    for role, colour in _DARK.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor(_DARK_DISABLED))
    return palette


def resolved_theme(theme: str, app: QApplication) -> str:
    """"light" or "dark": "system" asks the platform."""
    if theme in ("light", "dark"):
        return theme
    return "dark" if app.styleHints().colorScheme() == Qt.ColorScheme.Dark else "light"


def apply_theme(app: QApplication, theme: str) -> str:
    """Apply `theme` (one of THEMES) to the application; returns "light" or "dark"."""
    if theme not in THEMES:
        theme = "system"
    resolved = resolved_theme(theme, app)
    app.setPalette(dark_palette() if resolved == "dark" else app.style().standardPalette())
    sheets = [resources_dir() / "style.qss"] + ([resources_dir() / "style-dark.qss"] if resolved == "dark" else [])
    app.setStyleSheet("\n".join(p.read_text(encoding="utf-8") for p in sheets if p.exists()))
    return resolved
