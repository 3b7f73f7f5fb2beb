"""Numbers for people: byte sizes and rates in the units a person reads."""

from __future__ import annotations


def format_bytes(n: float | None) -> str:
    """1536 → '1.5 KB'. Decimal-free for bytes, one decimal above (binary units, as memory is sold)."""
    if n is None:
        return "–"
    value = float(n)
    for unit in ("B", "KB", "MB", "GB", "TB"):
        if abs(value) < 1024 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} TB"
