"""The Numbers tab's chart: round sizes on its axis, and it draws a ladder (the recommended level ringed in its
own colour) without QtCharts."""

from __future__ import annotations

from pytestqt.qtbot import QtBot

from app.ui.quality_chart import RECOMMENDED, ChartPoint, QualityChart, size_ticks

MB = 1024**2


def test_axis_marks_round_sizes_within_the_range() -> None:
    assert [t for _, t in size_ticks(70.2 * MB, 272.3 * MB)] == ["100 MB", "150 MB", "200 MB", "250 MB"]
    assert [t for _, t in size_ticks(3 * 1024 * MB, 17 * 1024 * MB)] == ["5 GB", "7.5 GB", "10 GB", "12.5 GB",
                                                                           "15 GB"]
    for lo, hi in ((80 * MB, 150 * MB), (1.1 * 1024 * MB, 1.3 * 1024 * MB)):
        ticks = size_ticks(lo, hi)
        assert 2 <= len(ticks) <= 6 and all(lo <= size <= hi for size, _ in ticks)


def test_chart_draws_the_ladder_with_the_recommended_level_ringed(qtbot: QtBot) -> None:
    chart = QualityChart()
    qtbot.addWidget(chart)
    chart.resize(700, 320)
    empty = chart.grab().toImage()
    chart.set_points([ChartPoint("F16", 270 * MB, 0.0, reference=True), ChartPoint("Q8_0", 144 * MB, 0.0035, True),
                      ChartPoint("Q4_K_M", 105 * MB, 0.048), ChartPoint("Q2_K", 88 * MB, 0.37)])
    image = chart.grab().toImage()
    assert [p.label for p in chart.points] == ["Q2_K", "Q4_K_M", "Q8_0", "F16"]  # by size
    colours = {image.pixelColor(x, y).name() for x in range(0, image.width(), 2) for y in range(0, image.height(), 2)}
    assert RECOMMENDED.name() in colours and image != empty
