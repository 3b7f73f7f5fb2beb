"""The Compare page's handle on its engines: every blocking call of core's ComparisonSession runs on a
worker thread, and what happens comes back as signals (queued onto the GUI thread).

One operation at a time (start, ask); stop() is safe at any moment and takes effect within a token.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.compare.session import ComparisonSession, Round
from app.core.compare.sides import RunPlan, describe_sides, plan_run
from app.core.engine.protocol import SamplingSettings
from app.core.errors import QuantDeskError
from app.core.machine.hardware import read_hardware

log = logging.getLogger(__name__)


class CompareBridge(QObject):
    sides_ready = Signal(object, object)  # tuple[SideSpec, ...], RunPlan: engines start loading
    side_event = Signal(object)  # a core SideEvent, from a side's thread
    round_finished = Signal(object)  # Round
    failed = Signal(object)  # QuantDeskError (the whole comparison, not one side)
    busy_changed = Signal(bool)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.session: ComparisonSession | None = None
        self._worker: threading.Thread | None = None
        self._busy = False

    @property
    def busy(self) -> bool:
        return self._busy

    def _run(self, name: str, work: Callable[[], None]) -> bool:
        if self._busy:
            return False
        self._busy = True
        self.busy_changed.emit(True)

        def body() -> None:
            try:
                work()
            except QuantDeskError as error:
                log.warning("comparison failed: %s\n%s", error.message, error.detail)
                self.failed.emit(error)
            finally:
                self._busy = False
                self.busy_changed.emit(False)

        self._worker = threading.Thread(target=body, name=f"engine-compare-{name}", daemon=True)
        self._worker.start()
        return True

    def start(self, paths: Sequence[Path], n_ctx: int = 4096,
              plan_override: Callable[[RunPlan], RunPlan] | None = None) -> bool:
        """Read the files, plan (side by side or in turn), start the engines and load the models."""

        def work() -> None:
            self.close_session()
            specs = describe_sides(paths)
            plan = plan_run(paths, read_hardware(), n_ctx)
            if plan_override is not None:
                plan = plan_override(plan)
            log.info("comparing %s: %s", ", ".join(s.label for s in specs), plan.reason)
            session = ComparisonSession(specs, plan)
            self.session = session
            self.sides_ready.emit(specs, plan)
            session.load(self.side_event.emit)

        return self._run("start", work)

    def ask(self, prompt: str, sampling: SamplingSettings, max_tokens: int, system_prompt: str = "") -> bool:
        session = self.session
        if session is None:
            return False

        def work() -> None:
            result: Round = session.ask(prompt, sampling, max_tokens, system_prompt, self.side_event.emit)
            self.round_finished.emit(result)

        return self._run("ask", work)

    def stop(self) -> None:
        if self.session is not None:
            self.session.stop()

    def wait_idle(self, timeout: float | None = None) -> None:
        """For shutdown and tests only."""
        if self._worker is not None:
            self._worker.join(timeout)

    def close_engines(self) -> bool:
        """End the engines on the worker thread (ending a process can take a moment); False while busy."""
        return self._run("close", self.close_session)

    def close_session(self) -> None:
        """End the engines, here and now (the worker thread, or shutdown)."""
        session, self.session = self.session, None
        if session is not None:
            session.close()

    def shutdown(self) -> None:
        self.stop()
        self.wait_idle(5.0)
        self.close_session()

