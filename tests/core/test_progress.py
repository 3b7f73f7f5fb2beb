"""Speed and time left for the download progress line and panel (times passed in, so nothing is timed)."""

from __future__ import annotations

import pytest

from app.core.progress import TransferMeter, format_duration


def test_rate_and_time_left_from_a_sliding_window() -> None:
    meter = TransferMeter(window=5.0)
    assert meter.update(0, 1000, now=0.0).bytes_per_second is None  # nothing to measure yet
    r = meter.update(200, 1000, now=2.0)
    assert r.bytes_per_second == pytest.approx(100.0) and r.seconds_left == pytest.approx(8.0)
    assert r.fraction == pytest.approx(0.2)
    # the link gets faster: after the window the old, slow samples no longer count
    meter.update(400, 1000, now=4.0)
    meter.update(700, 1000, now=6.0)
    r = meter.update(1000, 1000, now=8.0)
    assert r.bytes_per_second == pytest.approx(150.0) and r.seconds_left == pytest.approx(0.0)


def test_a_restarted_transfer_starts_measuring_again() -> None:
    meter = TransferMeter()
    meter.update(500, 1000, now=0.0)
    meter.update(900, 1000, now=1.0)
    assert meter.update(100, 1000, now=2.0).bytes_per_second is None


def test_format_duration() -> None:
    formatted = [format_duration(s) for s in (None, 4.4, 75, 3 * 3600 + 120)]
    assert formatted == ["–", "4 s", "1 min 15 s", "3 h 2 min"]
