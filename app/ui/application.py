"""Start the GUI: the QApplication, its identity (for QSettings), the main window."""

from __future__ import annotations

import logging
import sys

from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from app.core.offline import set_offline
from app.core.paths import resources_dir
from app.core.settings import get_setting
from app.ui.main_window import MainWindow
from app.ui.smoke import install_smoke_check
from app.ui.theme import apply_theme

ICONS = resources_dir() / "icons"


def app_icon() -> QIcon:
    """The icon set in resources/icons (tools/make_icons.py renders it from quantdesk.svg)."""
    icon = QIcon()
    for png in sorted(ICONS.glob("quantdesk-*.png")):
        icon.addFile(str(png))
    return icon


def create_application(argv: list[str] | None = None) -> QApplication:
    existing = QApplication.instance()
    if isinstance(existing, QApplication):
        return existing
    app = QApplication(argv if argv is not None else sys.argv[:1])
    app.setOrganizationName("QuantDesk")
    app.setApplicationName("QuantDesk")
    app.setApplicationDisplayName("QuantDesk")
    app.setDesktopFileName("quantdesk")  # Wayland's app id: the menu entry's icon and name (quantdesk.desktop)
    app.setWindowIcon(app_icon())
    app.setStyle("Fusion")  # the same look on every platform, and legible offscreen
    apply_theme(app, get_setting("theme"))  # the house style sheet, light or dark (Settings)
    return app


def run_app() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    if get_setting("offline_by_default"):
        set_offline(True)  # the window always opens offline; the switch in its frame goes online for a while
    app = create_application()
    window = MainWindow()
    _smoke = install_smoke_check(app, window)  # only with QUANTDESK_SMOKE set: the packaged app's own check
    window.show()
    window.load_default_model()
    return app.exec()
