"""The blind votes' tally, one row per level pair: who won how often, and the ties."""

from __future__ import annotations

from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableWidget, QTableWidgetItem, QWidget

from app.core.compare.votes import PairTally

COLUMNS = ("Model", "Pair", "Blind votes", "Ties")


class TallyTable(QTableWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(0, len(COLUMNS), parent)
        self.setObjectName("tallyTable")
        self.setAccessibleName(self.tr("Blind votes per level pair"))
        self.setTabKeyNavigation(False)
        self.setHorizontalHeaderLabels([self.tr(c) for c in COLUMNS])
        self.verticalHeader().setVisible(False)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)  # the result, not Ties
        self.setMaximumHeight(110)

    def show_tally(self, tallies: list[PairTally]) -> None:
        self.setRowCount(max(len(tallies), 1))
        if not tallies:
            self.setSpan(0, 0, 1, len(COLUMNS))
            self.setItem(0, 0, QTableWidgetItem(self.tr("No blind votes yet: tick two files, tick Blind test, "
                                                        "Start, ask, and vote.")))
            return
        self.clearSpans()
        for row, t in enumerate(tallies):
            result = self.tr("{a} won {x} · {b} won {y}").format(a=t.first, x=t.first_wins, b=t.second,
                                                                 y=t.second_wins)
            cells = (t.model, self.tr("{a} vs {b}").format(a=t.first, b=t.second), result, str(t.ties))
            for column, text in enumerate(cells):
                self.setItem(row, column, QTableWidgetItem(text))

    def rows_text(self) -> list[str]:
        """What the table shows, a row per line (for tests and screenshots' checks)."""
        rows = []
        for r in range(self.rowCount()):
            items = [self.item(r, c) for c in range(self.columnCount())]
            rows.append(" | ".join(item.text() for item in items if item is not None))
        return rows
