"""The HTTP face: OpenAI's routes on Starlette, each behind the key, every error in OpenAI's format.

Streaming replies are server-sent events (`data: {...}` per piece of text, then `data: [DONE]`). A client
that closes the connection mid-reply stops the engine: Starlette cancels the stream when uvicorn reports the
disconnect, and `EngineStreamResponse` closes the event iterator at once (not whenever it is collected), which
cancels the request's turn. A non-streamed request watches for the same disconnect while it waits.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from app.core.engine.protocol import GenerationDone, PromptReady, TextDelta
from app.core.serve.api_error import ApiError, no_model, server_error, unauthorized
from app.core.serve.api_key import key_matches
from app.core.serve.openai_replies import DONE_EVENT, ReplyWriter, event, model_list
from app.core.serve.openai_requests import GenerationRequest, parse_body, parse_chat, parse_completion
from app.core.serve.shared_engine import SharedEngine, model_created, model_id

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 32 * 1024 * 1024
Events = AsyncGenerator[PromptReady | TextDelta | GenerationDone, None]


class EngineStreamResponse(StreamingResponse):
    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            # the client left mid-reply: end the request now, not when the generator is garbage-collected
            await self.body_iterator.aclose()  # type: ignore[attr-defined]


def client_name(request: Request) -> str:
    """Who asks, for the window: the program's User-Agent and where it connects from."""
    agent = (request.headers.get("user-agent") or "unknown program").split(" (")[0][:48]
    host = request.client.host if request.client else "?"
    return f"{agent} from {host}"


def build_app(engine: SharedEngine, key: Callable[[], str]) -> Starlette:
    """The ASGI app; `key()` is read per request, so a key replaced in the window holds at once."""

    def check_key(request: Request) -> None:
        header = request.headers.get("authorization")
        if not header:
            raise unauthorized("You didn't provide an API key. Send it as 'Authorization: Bearer KEY'; "
                               "QuantDesk shows the key on its API server page.")
        if not key_matches(header, key()):
            raise unauthorized("Incorrect API key provided. QuantDesk shows the key on its API server page.")

    async def read_json(request: Request) -> dict[str, Any]:
        length = request.headers.get("content-length")
        if length and length.isdigit() and int(length) > MAX_BODY_BYTES:
            raise ApiError(413, f"The request body is larger than {MAX_BODY_BYTES // 2**20} MB.")
        return parse_body(await request.body())

    async def models(request: Request) -> Response:
        check_key(request)
        return JSONResponse(model_list(model_id(engine.client.loaded), model_created(engine.client.loaded)))

    async def one_model(request: Request) -> Response:
        check_key(request)
        name = request.path_params["model"]
        listed = model_list(model_id(engine.client.loaded), model_created(engine.client.loaded))["data"]
        for item in listed:
            if item["id"] == name:
                return JSONResponse(item)
        raise ApiError(404, f"The model '{name}' does not exist here; GET /v1/models lists the loaded one.",
                       "invalid_request_error", "model", "model_not_found")

    async def chat_completions(request: Request) -> Response:
        check_key(request)
        return await answer(request, parse_chat(await read_json(request)))

    async def completions(request: Request) -> Response:
        check_key(request)
        return await answer(request, parse_completion(await read_json(request)))

    async def answer(request: Request, generation: GenerationRequest) -> Response:
        name = model_id(engine.client.loaded)
        if name is None:
            raise no_model()
        writer = ReplyWriter(generation.endpoint, name)
        events = engine.generate(generation, client_name(request), request.url.path)
        if generation.stream:
            return EngineStreamResponse(stream(writer, events, generation.include_usage),
                                        media_type="text/event-stream",
                                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        done = await until_done(request, events)
        return JSONResponse(writer.whole(done))

    return Starlette(
        routes=[
            Route("/v1/models", models, methods=["GET"]),
            Route("/v1/models/{model:path}", one_model, methods=["GET"]),
            Route("/v1/chat/completions", chat_completions, methods=["POST"]),
            Route("/v1/completions", completions, methods=["POST"]),
        ],
        exception_handlers={ApiError: api_error, HTTPException: http_error, Exception: unexpected_error},
    )


async def stream(writer: ReplyWriter, events: Events, include_usage: bool) -> AsyncIterator[bytes]:
    try:
        async for item in events:
            if isinstance(item, TextDelta):
                yield writer.chunk(item.text)
            elif isinstance(item, PromptReady):
                if writer.endpoint == "chat":
                    yield writer.chunk(first=True)
            else:
                yield writer.chunk(done=item)
                if include_usage:
                    yield writer.usage_chunk(item)
        yield DONE_EVENT
    except ApiError as error:  # the status line is already sent: the error goes as an event, as OpenAI's does
        yield event(error.body())
    finally:
        await events.aclose()


async def until_done(request: Request, events: Events) -> GenerationDone:
    """The finished reply; if the client leaves first, the request is cancelled (the engine stops)."""

    async def collect() -> GenerationDone:
        async for item in events:
            if isinstance(item, GenerationDone):
                return item
        raise server_error("The engine ended the reply without finishing it.")

    async def client_left() -> None:
        while (await request.receive())["type"] != "http.disconnect":
            pass

    reply = asyncio.ensure_future(collect())
    watch = asyncio.ensure_future(client_left())
    try:
        await asyncio.wait({reply, watch}, return_when=asyncio.FIRST_COMPLETED)
        if not reply.done():
            reply.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reply
            raise ApiError(499, "The client closed the connection.")  # nobody reads it
        return reply.result()
    finally:
        watch.cancel()
        await events.aclose()


async def api_error(_request: Request, error: Exception) -> Response:
    assert isinstance(error, ApiError)
    headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
    return JSONResponse(error.body(), status_code=error.status, headers=headers)


async def http_error(request: Request, error: Exception) -> Response:
    assert isinstance(error, HTTPException)
    if error.status_code == 404:
        message = (f"Unknown request URL: {request.method} {request.url.path}. This server answers "
                   "GET /v1/models, POST /v1/chat/completions and POST /v1/completions.")
    elif error.status_code == 405:
        message = f"{request.method} is not allowed on {request.url.path}."
    else:
        message = str(error.detail)
    return await api_error(request, ApiError(error.status_code, message, "invalid_request_error"))


async def unexpected_error(request: Request, error: Exception) -> Response:
    log.exception("API request %s %s failed", request.method, request.url.path, exc_info=error)
    return await api_error(request, server_error(f"The server met an unexpected error: {error!r}"))

