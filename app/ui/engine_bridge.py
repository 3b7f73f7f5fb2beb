"""The GUI's handle on the engine process: every blocking call runs on a worker thread, results are signals.

One operation at a time (load, generate, unload, restart); stop_generation() is the exception and takes
effect within one token. If the engine process dies, `engine_crashed` fires with a plain-words error and
the window stays up; restart() starts a fresh engine and reloads the last model.

The engine is shared with the local API server (core/serve): every operation here takes its turn
(`turns`, core/engine/turns.py) like each API request does, so a chat message sent while a program is being
answered waits (`waiting_for_turn` says for whom) and then runs.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from app.core.advice.measured_speed import record_reply
from app.core.advice.placement import LoadPlan, plan_load
from app.core.engine.client import EngineClient
from app.core.engine.protocol import (
    ChatMessage,
    GenerationDone,
    GenerationStats,
    LoadModel,
    ModelLoaded,
    PromptReady,
    SamplingSettings,
    TextDelta,
)
from app.core.engine.turns import EngineTurns, Turn
from app.core.errors import EngineCrashedError, QuantDeskError
from app.core.settings import get_setting, set_setting

log = logging.getLogger(__name__)


class EngineBridge(QObject):
    model_loaded = Signal(object)  # ModelLoaded
    model_unloaded = Signal()
    load_failed = Signal(object)  # QuantDeskError
    load_started = Signal(object)  # Path
    load_planned = Signal(object)  # LoadPlan: where it runs and why, and the memory estimate
    load_progress = Signal(float)  # 0..1
    prompt_ready = Signal(object)  # PromptReady: the prompt's size, and oldest messages dropped to fit
    text_arrived = Signal(str, int)  # delta, tokens generated so far
    generation_finished = Signal(object)  # GenerationDone
    generation_failed = Signal(object)  # QuantDeskError
    engine_crashed = Signal(object)  # EngineCrashedError
    busy_changed = Signal(bool)
    status_changed = Signal(str)
    waiting_for_turn = Signal(str)  # who uses the engine now (an API request): ours comes after it
    plan_changed = Signal(str)  # where the model's parts go, in words ("layers 0–16 on GPU 0, …"); "" for one device

    CHAT = "Chat"  # the bridge's name in the engine's line (TurnsState)

    def __init__(self, client: EngineClient | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.client = client or EngineClient()
        self._worker: threading.Thread | None = None
        self._busy = False
        self.last_load: LoadModel | None = None
        self.last_plan: LoadPlan | None = None
        self.loading: Path | None = None  # the model being loaded now
        self.turns = EngineTurns(self.client.stop_generation)
        self._turn: Turn | None = None  # ours, while an operation waits for the engine or uses it
        self.machines: list[str] = list(get_setting("rpc_machines"))  # other machines (RPC), "host:port"
        self.plan_where = ""

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

    def _run(self, name: str, work: Callable[[], Callable[[], None] | None]) -> bool:
        """Run `work` on a worker thread. What it returns (an emit of its outcome) runs once the bridge is
        idle again, so a slot that hears "loaded" or "finished" can act on it at once (send, load...)."""
        if self._busy:
            return False
        self._busy = True
        self.busy_changed.emit(True)
        turn = self._turn = self.turns.enter(self.CHAT)  # in line now: a Stop from here on finds it

        def body() -> None:
            announce = None
            try:
                serving = self.turns.state().serving
                if serving != self.CHAT and serving is not None:
                    self.waiting_for_turn.emit(serving)
                if self.turns.wait(turn):
                    try:
                        announce = work()
                    finally:
                        self.turns.leave(turn)
                elif name == "generate":  # Stop pressed while waiting: the reply ends before it began
                    announce = self._stopped_before_start
            finally:
                self._turn = None
                self._busy = False
                self.busy_changed.emit(False)
                if announce is not None:
                    announce()

        self._worker = threading.Thread(target=body, name=f"engine-{name}", daemon=True)
        self._worker.start()
        return True

    def _stopped_before_start(self) -> None:
        self.generation_finished.emit(GenerationDone(0, "", "stopped", GenerationStats(0, 0, 0.0, 0, 0.0)))

    def wait_idle(self, timeout: float | None = None) -> None:
        """For shutdown and tests only: never from a slot while the GUI must stay responsive."""
        if self._worker is not None:
            self._worker.join(timeout)

    # ---- intents ------------------------------------------------------------------------------------

    def load_model(self, path: Path, n_ctx: int = 4096, n_gpu_layers: int | None = None,
                   placement: str = "auto") -> bool:
        """Load on a worker thread. n_gpu_layers None: the memory estimate decides (GPU, partial, CPU), or the
        person's `placement` ("gpu", "cpu", a number of layers), and load_planned says where and why."""
        if self._busy:
            return False
        self.status_changed.emit(self.tr("Loading {name}…").format(name=path.name))
        self.loading = path
        self.load_started.emit(path)

        def work() -> Callable[[], None] | None:
            try:
                request = (self._planned(path, n_ctx, placement) if n_gpu_layers is None
                           else LoadModel(str(path), n_ctx=n_ctx, n_gpu_layers=n_gpu_layers))
                log.info("loading %s (context %d, GPU layers %d)", path, n_ctx, request.n_gpu_layers)
                loaded = self.client.load_model(request, self.load_progress.emit)
            except EngineCrashedError as error:
                log.error("engine crashed while loading: %s\n%s", error.message, error.detail)
                return lambda e=error: self.engine_crashed.emit(e)  # type: ignore[misc]
            except QuantDeskError as error:
                log.warning("could not load %s: %s\n%s", path, error.message, error.detail)
                return lambda e=error: self.load_failed.emit(e)  # type: ignore[misc]
            finally:
                self.loading = None
            log.info("loaded %s in %.2f s (%s); chat format: %s", path.name, loaded.load_seconds,
                     loaded.info.description, loaded.info.chat_format)
            self.last_load = request
            return lambda: self.model_loaded.emit(loaded)

        return self._run("load", work)

    def _planned(self, path: Path, n_ctx: int, placement: str = "auto") -> LoadModel:
        """The load request the memory estimate plans: this computer's GPUs and the added machines' devices (read
        now, each host first recorded in the connection list). Worker thread only: it waits on the network."""
        hardware = None
        if self.machines:
            from app.core.engine.machines import RPC_PURPOSE, read_remote_devices
            from app.core.hub.network_log import record
            from app.core.machine.hardware import read_hardware
            from app.core.machine.rpc_backend import parse_endpoints

            for endpoint in parse_endpoints(self.machines):
                record(str(endpoint), RPC_PURPOSE)
            if self.client.rpc_servers:  # an RPC server serves one client at a time: let go of them first
                self.client.close(timeout=2.0)
            hardware = replace(read_hardware(), remote_devices=read_remote_devices(self.machines))
        plan = plan_load(path, n_ctx, hardware, choice=placement)
        log.info("placement for %s: %s", path.name, plan.reason)
        self.last_plan = plan
        self.load_planned.emit(plan)
        self.plan_where = plan.where
        self.plan_changed.emit(plan.where)
        return LoadModel(str(path), n_ctx=n_ctx, n_gpu_layers=plan.n_gpu_layers, rpc_servers=plan.rpc_servers,
                         tensor_split=plan.tensor_split)

    def set_machines(self, machines: Sequence[str]) -> None:
        """The other machines to plan over from the next load on (kept in the settings)."""
        self.machines = list(dict.fromkeys(machines))
        set_setting("rpc_machines", self.machines)

    def generate(self, messages: Sequence[ChatMessage], max_tokens: int, sampling: SamplingSettings,
                 prompt_format: str = "auto") -> bool:
        def work() -> Callable[[], None] | None:
            turn, stopping = self._turn, False
            try:
                for event in self.client.generate(messages, max_tokens, sampling, prompt_format):
                    # a Stop that came before the engine had the request
                    if turn is not None and turn.cancelled.is_set() and not stopping:
                        stopping = True
                        self.client.stop_generation()
                    if isinstance(event, TextDelta):
                        self.text_arrived.emit(event.text, event.n_generated)
                    elif isinstance(event, PromptReady):
                        if event.dropped_messages:
                            log.info("context full: the %d oldest messages left out", event.dropped_messages)
                        self.prompt_ready.emit(event)
                    elif isinstance(event, GenerationDone):
                        log.info("reply: %d tokens at %.1f tokens/s (%s); prompt %d tokens, %d reused",
                                 event.stats.generated_tokens, event.stats.tokens_per_second, event.stop_reason,
                                 event.stats.prompt_tokens, event.stats.prompt_tokens_reused)
                        if self.last_load is not None:  # what Which quant? and Find models show as measured
                            record_reply(self.last_load.path, self.last_load.n_gpu_layers,
                                         event.stats.tokens_per_second, event.stats.generated_tokens)
                        return lambda done=event: self.generation_finished.emit(done)  # type: ignore[misc]
            except EngineCrashedError as error:
                log.error("engine crashed while generating: %s\n%s", error.message, error.detail)
                return lambda e=error: self.engine_crashed.emit(e)  # type: ignore[misc]
            except QuantDeskError as error:
                log.warning("reply failed: %s\n%s", error.message, error.detail)
                return lambda e=error: self.generation_failed.emit(e)  # type: ignore[misc]
            return None

        return self._run("generate", work)

    def unload_model(self) -> bool:
        """Free the model's memory; the engine process stays up for the next load."""

        def work() -> Callable[[], None] | None:
            try:
                self.client.unload_model()
            except EngineCrashedError as error:
                return lambda e=error: self.engine_crashed.emit(e)  # type: ignore[misc]
            self.last_load = None
            log.info("model unloaded")
            return self.model_unloaded.emit

        return self._run("unload", work)

    def stop_generation(self) -> None:
        """Stop our reply: out of the line if it still waits, else the engine stops within one token."""
        turn = self._turn
        if turn is not None:
            self.turns.cancel(turn)
        else:
            self.client.stop_generation()

    def restart(self) -> bool:
        """A fresh engine process, with the last model loaded again if there was one."""
        last = self.last_load

        def work() -> Callable[[], None] | None:
            log.info("restarting the engine")
            try:
                self.client.restart()
                if last is None:
                    self.status_changed.emit(self.tr("Engine restarted."))
                    return None
                self.status_changed.emit(self.tr("Restarting the engine…"))
                # a model split across machines is planned again: one may be gone, or removed meanwhile
                again = self._planned(Path(last.path), last.n_ctx) if last.rpc_servers or self.machines else last
                loaded = self.client.load_model(again, self.load_progress.emit)
                self.last_load = again
                return lambda: self.model_loaded.emit(loaded)
            except EngineCrashedError as error:
                return lambda e=error: self.engine_crashed.emit(e)  # type: ignore[misc]
            except QuantDeskError as error:
                return lambda e=error: self.load_failed.emit(e)  # type: ignore[misc]

        return self._run("restart", work)

    def shutdown(self) -> None:
        if self._turn is not None:
            self.turns.cancel(self._turn)
        self.client.stop_generation()
        self.wait_idle(5.0)
        self.client.close(timeout=2.0)
