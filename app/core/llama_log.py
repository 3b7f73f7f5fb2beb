"""Capture llama.cpp's own log, so a failure can be explained with llama.cpp's reason.

With verbose=False the bindings send this log to /dev/null; QuantDesk installs its own callback instead,
keeps the recent lines in memory, and also writes them to stderr (which the engine process points at a
log file, so the lines printed just before an abort survive it).
"""

from __future__ import annotations

import ctypes
import sys
import threading
from collections import deque
from dataclasses import dataclass

# ggml_log_level as ggml.h defines it today (the bindings' _logger.py still has an older order)
LEVEL_NONE, LEVEL_DEBUG, LEVEL_INFO, LEVEL_WARN, LEVEL_ERROR, LEVEL_CONT = range(6)
LEVEL_NAMES = {LEVEL_NONE: "none", LEVEL_INFO: "info", LEVEL_WARN: "warn", LEVEL_ERROR: "error",
               LEVEL_DEBUG: "debug"}


# What llama.cpp logs when a write fails because the disk filled up: its file writers are std::ofstream with
# failbit exceptions (src/llama-quant.cpp: `fout.exceptions(std::ofstream::failbit)`), whose what() is
# libstdc++'s "basic_ios::clear: iostream error" (libc++ says "ios_base::clear: unspecified iostream_category
# error"), logged as "failed to quantize: ..."; a C-level write says strerror(ENOSPC).
_DISK_FULL_WORDS = ("iostream error", "iostream_category error", "No space left on device")


def says_disk_full(lines: list[str]) -> bool:
    """Whether llama.cpp's log lines say a write failed (after a full disk: the one likely cause)."""
    return any(words in line for line in lines for words in _DISK_FULL_WORDS)


@dataclass(frozen=True)
class LogLine:
    level: int
    text: str

    @property
    def level_name(self) -> str:
        return LEVEL_NAMES.get(self.level, str(self.level))


_installed: object | None = None  # the callback llama.cpp calls now (the last one installed)


class LlamaLogCapture:
    """Keeps the last `capacity` complete log lines of llama.cpp (continuations joined)."""

    def __init__(self, capacity: int = 400, echo: bool = True) -> None:
        self._lines: deque[LogLine] = deque(maxlen=capacity)
        self._partial = ""
        self._partial_level = LEVEL_INFO
        self._echo = echo
        self._echo_this = echo
        self._appended = 0
        self._lock = threading.Lock()
        self._callback: object | None = None

    def install(self) -> None:
        import llama_cpp

        @llama_cpp.llama_log_callback
        def callback(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
            self.feed(level, text.decode("utf-8", errors="replace"))

        # llama.cpp holds only the raw pointer, for the rest of the process: the callback must live as long,
        # not as long as this object (a capture dropped while installed left llama.cpp calling freed memory)
        global _installed
        self._callback = _installed = callback
        llama_cpp.llama_log_set(callback, ctypes.c_void_p(0))

    def feed(self, level: int, text: str) -> None:
        if level != LEVEL_CONT:
            self._echo_this = self._echo and level != LEVEL_DEBUG  # debug lines would drown the crash report
        if self._echo_this:
            sys.stderr.write(text)
            sys.stderr.flush()
        with self._lock:
            if level != LEVEL_CONT:
                if self._partial.strip() and self._partial_level != LEVEL_DEBUG:
                    self._lines.append(LogLine(self._partial_level, self._partial))
                    self._appended += 1
                self._partial = ""
                self._partial_level = level
            if self._partial_level == LEVEL_DEBUG:
                return  # llama.cpp's debug chatter (graph details) explains no failure
            self._partial += text
            while "\n" in self._partial:
                line, self._partial = self._partial.split("\n", 1)
                if line.strip():
                    self._lines.append(LogLine(self._partial_level, line))
                    self._appended += 1

    def mark(self) -> int:
        """A position to read from later: lines logged after this call are `since(mark)`."""
        with self._lock:
            return self._appended

    def lines(self) -> list[LogLine]:
        with self._lock:
            return list(self._lines)

    def since(self, mark: int) -> list[LogLine]:
        with self._lock:
            dropped = self._appended - len(self._lines)
            return list(self._lines)[max(0, mark - dropped):]

    def problems_since(self, mark: int) -> list[str]:
        """Warning and error lines since `mark`: the part of the log that explains a failure."""
        return [ln.text for ln in self.since(mark) if ln.level in (LEVEL_WARN, LEVEL_ERROR)]
