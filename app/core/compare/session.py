"""A comparison in progress: one prompt to every side with the same seed and sampling, each side answering
from its own conversation (its own earlier replies), side by side or one after the other (sides.RunPlan).

Blocking: `load` and `ask` are meant for a worker thread (the page's glue) or a script. Events arrive through
`on_event` from the sides' threads; `stop()` is safe from any thread. Each side runs in its own engine
process when side by side (a crash of one is that side's error, not the others'); one after the other, one
engine loads each model in turn.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from app.core.advice.placement import plan_load
from app.core.chat.conversation import Conversation
from app.core.compare.sides import RunPlan, SideSpec
from app.core.engine.client import EngineClient
from app.core.engine.protocol import GenerationDone, LoadModel, ModelLoaded, SamplingSettings, TextDelta
from app.core.errors import QuantDeskError

RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's "pick one for me"
TOP_CHOICES = 5  # alternatives kept per token, for where the replies part ways


@dataclass(frozen=True)
class SideLoading:
    side: int


@dataclass(frozen=True)
class SideLoaded:
    side: int
    loaded: ModelLoaded


@dataclass(frozen=True)
class SideWaiting:
    """One after the other: this side answers when the ones before it are done."""

    side: int


@dataclass(frozen=True)
class SideText:
    side: int
    text: str
    n_generated: int


@dataclass(frozen=True)
class SideDone:
    side: int
    done: GenerationDone


@dataclass(frozen=True)
class SideFailed:
    side: int
    error: QuantDeskError


SideEvent = SideLoading | SideLoaded | SideWaiting | SideText | SideDone | SideFailed
EventCallback = Callable[[SideEvent], None]


def _ignore(event: SideEvent) -> None:
    pass


@dataclass(frozen=True)
class Round:
    prompt: str
    seed: int
    replies: tuple[GenerationDone | None, ...]  # None: that side failed or was stopped before it began


class ComparisonSession:
    def __init__(self, sides: Sequence[SideSpec], plan: RunPlan, log_dir: Path | None = None,
                 client_factory: Callable[[], EngineClient] | None = None) -> None:
        self.sides = tuple(sides)
        self.plan = plan
        make = client_factory or (lambda: EngineClient(log_dir))
        count = len(self.sides) if plan.parallel else 1
        self.clients = [make() for _ in range(count)]
        self.conversations = [Conversation(model=s.path) for s in self.sides]
        self.rounds: list[Round] = []
        self._stop = threading.Event()

    # ---- engines ------------------------------------------------------------------------------------

    def _client(self, side: int) -> EngineClient:
        return self.clients[side if self.plan.parallel else 0]

    def _load_request(self, side: int) -> LoadModel:
        path = self.sides[side].path
        if self.plan.parallel:
            return LoadModel(path, n_ctx=self.plan.n_ctx, n_gpu_layers=self.plan.n_gpu_layers,
                             n_threads=self.plan.threads_per_side)
        return LoadModel(path, n_ctx=self.plan.n_ctx, n_gpu_layers=plan_load(Path(path), self.plan.n_ctx).n_gpu_layers)

    def _ensure_loaded(self, side: int, on_event: EventCallback) -> EngineClient:
        client = self._client(side)
        loaded = client.loaded
        if loaded is None or loaded.info.path != self.sides[side].path:
            if not client.is_running:
                client.restart()
            on_event(SideLoading(side))
            on_event(SideLoaded(side, client.load_model(self._load_request(side))))
        return client

    def load(self, on_event: EventCallback = _ignore) -> None:
        """Side by side: load every side now, in parallel. One after the other: the first side only."""
        targets = range(len(self.sides)) if self.plan.parallel else range(1)
        self._each(targets, lambda side: self._ensure_loaded(side, on_event), on_event)

    def _each(self, sides: Sequence[int] | range, work: Callable[[int], object], on_event: EventCallback) -> None:
        """Run work(side) for each side: on a thread per side when side by side, in order otherwise."""

        def guarded(side: int) -> None:
            try:
                work(side)
            except QuantDeskError as error:
                on_event(SideFailed(side, error))

        if not self.plan.parallel:
            for side in sides:
                if self._stop.is_set():
                    break
                guarded(side)
            return
        threads = [threading.Thread(target=guarded, args=(side,), name=f"engine-compare-{side}", daemon=True)
                   for side in sides]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()

    # ---- a round --------------------------------------------------------------------------------------

    def ask(self, prompt: str, sampling: SamplingSettings, max_tokens: int = 512, system_prompt: str = "",
            on_event: EventCallback = _ignore) -> Round:
        """Send `prompt` to every side, each with its own history; the same concrete seed for all."""
        self._stop.clear()
        seed = sampling.seed if sampling.seed != RANDOM_SEED else random.SystemRandom().randrange(0, 2**31)
        sampling = replace(sampling, seed=seed)
        replies: list[GenerationDone | None] = [None] * len(self.sides)
        for conversation in self.conversations:
            conversation.add_user_message(prompt)
        if not self.plan.parallel:
            for side in range(1, len(self.sides)):
                on_event(SideWaiting(side))

        def answer(side: int) -> None:
            client = self._ensure_loaded(side, on_event)
            conversation = self.conversations[side]
            messages = conversation.for_model(system_prompt)
            conversation.start_reply()
            try:
                for event in client.generate(messages, max_tokens, sampling, top_logprobs=TOP_CHOICES):
                    if isinstance(event, TextDelta):
                        conversation.append_to_reply(event.text)
                        on_event(SideText(side, event.text, event.n_generated))
                    elif isinstance(event, GenerationDone):
                        replies[side] = event
                        conversation.finish_reply(event.stop_reason != "stopped")
                        on_event(SideDone(side, event))
            finally:
                conversation.finish_reply(False)  # a no-op after a normal end; marks a failed reply cut off

        self._each(range(len(self.sides)), answer, on_event)
        result = Round(prompt, seed, tuple(replies))
        self.rounds.append(result)
        return result

    def new_conversation(self) -> None:
        """Forget every side's history; the engines stay loaded (not during a round)."""
        self.conversations = [Conversation(model=s.path) for s in self.sides]
        self.rounds.clear()

    def stop(self) -> None:
        """Safe from any thread: every side stops after its current token; waiting sides don't start."""
        self._stop.set()
        for client in self.clients:
            client.stop_generation()

    def close(self) -> None:
        self.stop()
        for client in self.clients:
            client.close(timeout=2.0)
