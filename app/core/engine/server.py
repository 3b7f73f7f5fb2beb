"""The engine process: receives requests over a Pipe, answers with events, one model at a time.

Started by EngineClient through the one child-process runner (app.core.process.runner), which points its
stderr at a log file first, so llama.cpp's own last words before an abort (GGML_ASSERT, CUDA out of memory)
survive the crash and can be shown to the person, and which ends it when the app ends.
"""

from __future__ import annotations

from multiprocessing.connection import Connection

from app.core.engine.protocol import (
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


def serve(conn: Connection) -> None:
    """The engine's main loop. Returns on Shutdown or when the app's end of the pipe closes."""
    import time

    import psutil

    from app.core.engine.llama_session import LlamaSession
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
                text, reason, stats, end_token = session.generate(
                    request.messages,
                    request.max_tokens,
                    request.sampling,
                    lambda delta, n, rid=rid: conn.send(TextDelta(rid, delta, n)),  # type: ignore[misc]
                    stop_requested,
                    prompt_format=request.prompt_format,
                    on_prompt=conn.send,
                    request_id=rid,
                    stop=request.stop,
                )
                conn.send(GenerationDone(rid, text, reason, stats, end_token))
            elif isinstance(request, StopGeneration):
                pass  # nothing is generating: a late Stop is harmless
        except (EOFError, BrokenPipeError):
            break
        except Exception as error:  # every failure goes back as an event; the engine keeps serving
            fail(getattr(request, "request_id", None), error)
    if session is not None:
        session.close()
