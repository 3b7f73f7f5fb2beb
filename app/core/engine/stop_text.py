"""Stop texts: end a reply where the model writes a turn marker, and never show any part of the marker.

Text streams out a piece at a time, and a marker such as "<|im_end|>" can arrive split over several pieces
("<|", "im", "_end", "|>"). The scanner holds back the end of the text while it could still be the start
of a marker, and lets it go as soon as it cannot.
"""

from __future__ import annotations


class StopScanner:
    def __init__(self, stops: tuple[str, ...]) -> None:
        self.stops = tuple(s for s in stops if s)
        self._starts = frozenset(s[0] for s in self.stops)
        self._held = ""
        self.matched: str | None = None

    def feed(self, text: str) -> str:
        """The part of `text` (with what was held back) that is safe to show now; after a match, nothing."""
        if self.matched is not None:
            return ""
        buffer = self._held + text
        if not self.stops or (not self._held and not any(c in self._starts for c in text)):
            return buffer  # the common case, per token: nothing here could begin a marker
        cut = -1
        for stop in self.stops:
            at = buffer.find(stop)
            if at != -1 and (cut == -1 or at < cut):
                cut, self.matched = at, stop
        if cut != -1:
            self._held = ""
            return buffer[:cut]
        keep = self._partial_suffix(buffer)
        self._held = buffer[len(buffer) - keep:] if keep else ""
        return buffer[: len(buffer) - keep]

    def flush(self) -> str:
        """At the end of the reply: what was held back was not a marker after all."""
        held, self._held = self._held, ""
        return "" if self.matched is not None else held

    def _partial_suffix(self, buffer: str) -> int:
        """The length of the longest end of `buffer` that is the start of a stop text."""
        longest = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(buffer)), longest, -1):
                if buffer.endswith(stop[:n]):
                    longest = n
                    break
        return longest
