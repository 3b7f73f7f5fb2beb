"""Keyboard and screen-reader rules that hold on every screen, checked by tests/ui/test_accessibility.py.

- Tab always moves to the next control: text areas (the chat input, the log) and tables don't keep it
  (Ctrl+Tab is Qt's way to type a tab character; the arrow keys move inside lists and tables).
- Every control has a name a screen reader reads: its own text, a form label, or setAccessibleName where it
  has neither (each view names its own widgets; `unnamed_controls` lists what is missing).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAccessible
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QAbstractSpinBox,
    QComboBox,
    QLineEdit,
    QPlainTextEdit,
    QSlider,
    QTextEdit,
    QWidget,
)

CONTROLS = (QAbstractButton, QLineEdit, QPlainTextEdit, QTextEdit, QComboBox, QAbstractSpinBox, QSlider,
            QAbstractItemView)


def tab_moves_focus(root: QWidget) -> None:
    """Let Tab leave every text area and table under `root`."""
    for widget in root.findChildren(QWidget):
        if isinstance(widget, (QPlainTextEdit, QTextEdit)):
            widget.setTabChangesFocus(True)
        elif isinstance(widget, QAbstractItemView):
            widget.setTabKeyNavigation(False)


def keyboard_controls(page: QWidget, window: QWidget) -> list[QWidget]:
    """The controls on `page` a keyboard user must be able to reach: shown, enabled, taking Tab focus."""
    found: list[QWidget] = []
    for widget in page.findChildren(QWidget):
        if not isinstance(widget, CONTROLS) or not widget.isVisibleTo(window) or not widget.isEnabled():
            continue
        if not widget.focusPolicy() & Qt.FocusPolicy.TabFocus:
            continue
        if isinstance(widget.parent(), (QComboBox, QAbstractSpinBox)):
            continue  # the line edit inside an editable combo box or a spin box is part of it
        found.append(widget)
    return found


def accessible_name(widget: QWidget) -> str:
    interface = QAccessible.queryAccessibleInterface(widget)
    return interface.text(QAccessible.Text.Name).strip() if interface is not None else ""


def unnamed_controls(page: QWidget, window: QWidget) -> list[QWidget]:
    return [w for w in keyboard_controls(page, window) if not accessible_name(w)]
