"""The engine process: receives requests over a Pipe, answers with events, one model at a time.

Started by EngineClient through the one child-process runner (app.core.process.runner), which points its
stderr at a log file first, so llama.cpp's own last words before an abort (GGML_ASSERT, CUDA out of memory)
survive the crash and can be shown to the person, and which ends it when the app ends.
"""

from __future__ import annotations

import time
from multiprocessing.connection import Connection

from app.core.engine.protocol import (
    BuildDescribed,
    DescribeBuild,
    Generate,
    GenerationDone,
    LoadModel,
    LoadProgress,
    ModelLoaded,
    ModelUnloaded,
    Request,
    RequestFailed,
    Shutdown,
    StopGeneration,
    TextDelta,
    UnloadModel,
)
from app.core.errors import EngineNotReadyError
from app.core.process.runner import ErrorReport

DELTA_SECONDS = 0.02  # the longest a piece of reply text waits in the engine before it is sent


class DeltaSender:
    """Sends a reply's text in pieces of at most DELTA_SECONDS: the first piece at once (the first token is
    what a person waits for), then what gathered since. A message per token cost the engine speed on a fast
    GPU (pickling and a write for each of 900 tokens a second) while the window redraws every 50 ms anyway."""

    def __init__(self, conn: Connection, request_id: int, interval: float = DELTA_SECONDS) -> None:
        self._conn, self._rid, self._interval = conn, request_id, interval
        self._parts: list[str] = []
        self._n = 0
        self._due = 0.0  # the first piece goes at once

    def add(self, text: str, n_generated: int) -> None:
        self._parts.append(text)
        self._n = n_generated
        now = time.perf_counter()
        if now >= self._due:
            self.flush()
            self._due = now + self._interval

    def flush(self) -> None:
        if self._parts:
            self._conn.send(TextDelta(self._rid, "".join(self._parts), self._n))
            self._parts.clear()


def serve(conn: Connection) -> None:
    """The engine's main loop. Returns on Shutdown or when the app's end of the pipe closes."""
    import psutil

    from app.core.engine.llama_session import LlamaSession
    from app.core.engine.token_choices import TokenRecorder
    from app.core.llama_log import LlamaLogCapture

    log = LlamaLogCapture()
    log.install()
    session: LlamaSession | None = None
    pending: list[Request] = []

    def fail(request_id: int | None, error: Exception) -> None:
        conn.send(RequestFailed(request_id, ErrorReport.from_exception(error, "The engine met an unexpected error.")))

    def stop_requested() -> bool:
        # Between tokens: a StopGeneration ends this generation; anything else waits its turn.
        stop = False
        while conn.poll():
            message = conn.recv()
            if isinstance(message, StopGeneration):
                stop = True
            else:
                pending.append(message)
                if isinstance(message, (Shutdown, UnloadModel, LoadModel)):
                    stop = True
        return stop

    while True:
        try:
            request = pending.pop(0) if pending else conn.recv()
        except (EOFError, OSError):
            break
        if isinstance(request, Shutdown):
            break
        try:
            if isinstance(request, LoadModel):
                if session is not None:
                    session.close()
                    session = None
                rss_before = psutil.Process().memory_info().rss
                started = time.perf_counter()
                sent = [-1]

                def progress(fraction: float, sent: list[int] = sent) -> None:
                    percent = int(fraction * 100)
                    if percent != sent[0]:  # llama.cpp reports per tensor: send each whole percent once
                        sent[0] = percent
                        conn.send(LoadProgress(fraction))

                session = LlamaSession(request, log, progress)
                conn.send(ModelLoaded(session.info, time.perf_counter() - started, rss_before))
            elif isinstance(request, UnloadModel):
                if session is not None:
                    session.close()
                    session = None
                conn.send(ModelUnloaded())
            elif isinstance(request, Generate):
                if session is None:
                    raise EngineNotReadyError("Load a model before chatting.", "Generate before LoadModel")
                rid = request.request_id
                deltas = DeltaSender(conn, rid)
                recorder = TokenRecorder(session, request.top_logprobs) if request.top_logprobs > 0 else None
                text, reason, stats, end_token = session.generate(
                    request.messages,
                    request.max_tokens,
                    request.sampling,
                    deltas.add,
                    stop_requested,
                    prompt_format=request.prompt_format,
                    on_prompt=conn.send,
                    request_id=rid,
                    on_token=recorder,
                )
                deltas.flush()
                conn.send(GenerationDone(rid, text, reason, stats, end_token,
                                         tokens=tuple(recorder.tokens) if recorder else ()))
            elif isinstance(request, DescribeBuild):
                from app.core.machine.llama_build import read_backend_here

                conn.send(BuildDescribed(read_backend_here()))
            elif isinstance(request, StopGeneration):
                pass  # nothing is generating: a late Stop is harmless
        except (EOFError, BrokenPipeError):
            break
        except Exception as error:  # every failure goes back as an event; the engine keeps serving
            fail(getattr(request, "request_id", None), error)
    if session is not None:
        session.close()
