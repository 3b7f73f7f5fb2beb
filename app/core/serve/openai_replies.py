"""The replies' JSON, in OpenAI's shapes: chat.completion, its streamed chat.completion.chunk, text_completion,
and the model list. Pure functions of the engine's results."""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

from app.core.engine.protocol import GenerationDone
from app.core.serve.openai_requests import Endpoint

_FINISH = {"end_of_text": "stop", "stopped": "stop", "max_tokens": "length", "context_full": "length"}


def finish_reason(done: GenerationDone) -> str:
    return _FINISH.get(done.stop_reason, "stop")


def usage(done: GenerationDone) -> dict[str, int]:
    prompt, completion = done.stats.prompt_tokens, done.stats.generated_tokens
    return {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}


class ReplyWriter:
    """One reply's id, time and model, and its objects as they go out."""

    def __init__(self, endpoint: Endpoint, model: str) -> None:
        self.endpoint = endpoint
        self.model = model
        self.id = ("chatcmpl-" if endpoint == "chat" else "cmpl-") + uuid.uuid4().hex[:24]
        self.created = int(time.time())

    def _head(self, kind: str) -> dict[str, Any]:
        return {"id": self.id, "object": kind, "created": self.created, "model": self.model,
                "system_fingerprint": None}

    def whole(self, done: GenerationDone) -> dict[str, Any]:
        """The reply in one piece (stream: false)."""
        if self.endpoint == "chat":
            choice = {"index": 0, "message": {"role": "assistant", "content": done.text, "refusal": None},
                      "logprobs": None, "finish_reason": finish_reason(done)}
            kind = "chat.completion"
        else:
            choice = {"index": 0, "text": done.text, "logprobs": None, "finish_reason": finish_reason(done)}
            kind = "text_completion"
        return {**self._head(kind), "choices": [choice], "usage": usage(done)}

    def chunk(self, text: str | None = None, done: GenerationDone | None = None, first: bool = False) -> bytes:
        """One server-sent event: a piece of text, the opening role (first) or the finish (done)."""
        reason = finish_reason(done) if done is not None else None
        if self.endpoint == "chat":
            delta: dict[str, Any] = {}
            if first:
                delta = {"role": "assistant", "content": ""}
            elif text is not None:
                delta = {"content": text}
            choice: dict[str, Any] = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": reason}
            kind = "chat.completion.chunk"
        else:
            choice = {"index": 0, "text": text or "", "logprobs": None, "finish_reason": reason}
            kind = "text_completion"
        return event({**self._head(kind), "choices": [choice]})

    def usage_chunk(self, done: GenerationDone) -> bytes:
        """stream_options.include_usage: a last chunk with no choices and the token counts."""
        kind = "chat.completion.chunk" if self.endpoint == "chat" else "text_completion"
        return event({**self._head(kind), "choices": [], "usage": usage(done)})


def event(data: dict[str, Any]) -> bytes:
    return b"data: " + json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8") + b"\n\n"


DONE_EVENT = b"data: [DONE]\n\n"


def model_list(model_id: str | None, created: int) -> dict[str, Any]:
    data = [] if model_id is None else [{"id": model_id, "object": "model", "created": created,
                                         "owned_by": "quantdesk"}]
    return {"object": "list", "data": data}
