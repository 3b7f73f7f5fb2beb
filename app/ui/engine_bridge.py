"""The GUI's handle on the engine process: every blocking call runs on a worker thread, results are signals.

One operation at a time (load, generate, unload, restart); stop_generation() is the exception and takes
effect within one token. If the engine process dies, `engine_crashed` fires with a plain-words error and
the window stays up; restart() starts a fresh engine and reloads the last model.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.advice.measured_speed import record_reply
from app.core.advice.placement import plan_load
from app.core.engine.client import EngineClient
from app.core.engine.protocol import (
    ChatMessage,
    GenerationDone,
    LoadModel,
    ModelLoaded,
    SamplingSettings,
    TextDelta,
)
from app.core.errors import EngineCrashedError, QuantDeskError

log = logging.getLogger(__name__)


class EngineBridge(QObject):
    model_loaded = Signal(object)  # ModelLoaded
    model_unloaded = Signal()
    load_failed = Signal(object)  # QuantDeskError
    text_arrived = Signal(str, int)  # delta, tokens generated so far
    generation_finished = Signal(object)  # GenerationDone
    generation_failed = Signal(object)  # QuantDeskError
    engine_crashed = Signal(object)  # EngineCrashedError
    busy_changed = Signal(bool)
    status_changed = Signal(str)

    def __init__(self, client: EngineClient | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client or EngineClient()
        self._worker: threading.Thread | None = None
        self._busy = False
        self.last_load: LoadModel | None = None

    # ---- state --------------------------------------------------------------------------------------

    @property
    def busy(self) -> bool:
        return self._busy

    @property
    def loaded(self) -> ModelLoaded | None:
        """The model in the engine now (the client's own record: cleared by a crash, an unload, a restart)."""
        return self.client.loaded

    @property
    def engine_pid(self) -> int | None:
        return self.client.pid if self.client.is_running else None

    def _run(self, name: str, work: Callable[[], None]) -> bool:
        if self._busy:
            return False
        self._busy = True
        self.busy_changed.emit(True)

        def body() -> None:
            try:
                work()
            finally:
                self._busy = False
                self.busy_changed.emit(False)

        self._worker = threading.Thread(target=body, name=f"engine-{name}", daemon=True)
        self._worker.start()
        return True

    def wait_idle(self, timeout: float | None = None) -> None:
        """For shutdown and tests only: never from a slot while the GUI must stay responsive."""
        if self._worker is not None:
            self._worker.join(timeout)

    # ---- intents ------------------------------------------------------------------------------------

    def load_model(self, path: Path, n_ctx: int = 4096, n_gpu_layers: int | None = None) -> bool:
        """Load on a worker thread; n_gpu_layers None lets the memory estimate decide (GPU, partial, CPU)."""
        self.status_changed.emit(self.tr("Loading {name}…").format(name=path.name))

        def work() -> None:
            layers = n_gpu_layers
            if layers is None:
                plan = plan_load(path, n_ctx)
                layers = plan.n_gpu_layers
                log.info("placement for %s: %s", path.name, plan.reason)
            request = LoadModel(str(path), n_ctx=n_ctx, n_gpu_layers=layers)
            log.info("loading %s (context %d, GPU layers %d)", path, n_ctx, layers)
            try:
                loaded = self.client.load_model(request)
            except EngineCrashedError as error:
                log.error("engine crashed while loading: %s\n%s", error.message, error.detail)
                self.engine_crashed.emit(error)
                return
            except QuantDeskError as error:
                log.warning("could not load %s: %s\n%s", path, error.message, error.detail)
                self.load_failed.emit(error)
                return
            log.info("loaded %s in %.2f s (%s)", path.name, loaded.load_seconds, loaded.info.description)
            self.last_load = request
            self.model_loaded.emit(loaded)

        return self._run("load", work)

    def generate(self, messages: Sequence[ChatMessage], max_tokens: int, sampling: SamplingSettings) -> bool:
        def work() -> None:
            try:
                for event in self.client.generate(messages, max_tokens, sampling):
                    if isinstance(event, TextDelta):
                        self.text_arrived.emit(event.text, event.n_generated)
                    elif isinstance(event, GenerationDone):
                        log.info("reply: %d tokens at %.1f tokens/s (%s); prompt %d tokens, %d reused",
                                 event.stats.generated_tokens, event.stats.tokens_per_second, event.stop_reason,
                                 event.stats.prompt_tokens, event.stats.prompt_tokens_reused)
                        if self.last_load is not None:  # what Which quant? and Find models show as measured
                            record_reply(self.last_load.path, self.last_load.n_gpu_layers,
                                         event.stats.tokens_per_second, event.stats.generated_tokens)
                        self.generation_finished.emit(event)
            except EngineCrashedError as error:
                log.error("engine crashed while generating: %s\n%s", error.message, error.detail)
                self.engine_crashed.emit(error)
            except QuantDeskError as error:
                log.warning("reply failed: %s\n%s", error.message, error.detail)
                self.generation_failed.emit(error)

        return self._run("generate", work)

    def unload_model(self) -> bool:
        """Free the model's memory; the engine process stays up for the next load."""

        def work() -> None:
            try:
                self.client.unload_model()
            except EngineCrashedError as error:
                self.engine_crashed.emit(error)
                return
            self.last_load = None
            log.info("model unloaded")
            self.model_unloaded.emit()

        return self._run("unload", work)

    def stop_generation(self) -> None:
        self.client.stop_generation()

    def restart(self) -> bool:
        """A fresh engine process, with the last model loaded again if there was one."""
        last = self.last_load

        def work() -> None:
            log.info("restarting the engine")
            try:
                self.client.restart()
                if last is not None:
                    self.status_changed.emit(self.tr("Restarting the engine…"))
                    self.model_loaded.emit(self.client.load_model(last))
                else:
                    self.status_changed.emit(self.tr("Engine restarted."))
            except EngineCrashedError as error:
                self.engine_crashed.emit(error)
            except QuantDeskError as error:
                self.load_failed.emit(error)

        return self._run("restart", work)

    def shutdown(self) -> None:
        self.client.stop_generation()
        self.wait_idle(5.0)
        self.client.close(timeout=2.0)
