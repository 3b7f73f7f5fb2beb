"""The bodies of OpenAI's requests, read and checked: a malformed one becomes a 400 that says what is wrong.

Read: messages (system, developer, user, assistant; text, or a list of text parts), prompt (completions),
temperature, top_p, max_tokens (or max_completion_tokens), stop, seed, presence_penalty and frequency_penalty
(-2 to 2, over the last 64 tokens as llama.cpp's server counts them), stream, stream_options.include_usage, and
llama.cpp's own top_k, min_p, repeat_penalty, as llama.cpp's server reads them. Sampling a request does not
set is the chat's default (protocol.SamplingSettings). user, n=1 and other fields that change nothing here
are accepted; what would change the answer and is not done here
(n > 1, tools, log-probabilities, images, echo) is refused with a 400 rather than silently ignored.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any, Literal

from app.core.engine.protocol import ChatMessage, SamplingSettings
from app.core.serve.api_error import bad_request

Endpoint = Literal["chat", "completion"]
COMPLETIONS_DEFAULT_MAX_TOKENS = 16  # OpenAI's default for /v1/completions; chat replies run to their end
_ROLES = {"system": "system", "developer": "system", "user": "user", "assistant": "assistant"}
_REFUSED = {
    "tools": "Tools (function calling) are not supported by this server.",
    "functions": "Functions (function calling) are not supported by this server.",
    "tool_choice": "Tools (function calling) are not supported by this server.",
    "logprobs": "Log-probabilities are not supported by this server.",
    "top_logprobs": "Log-probabilities are not supported by this server.",
    "suffix": "`suffix` (fill in the middle) is not supported by this server.",
}


@dataclass(frozen=True)
class GenerationRequest:
    endpoint: Endpoint
    model: str
    messages: tuple[ChatMessage, ...]
    prompt_format: str  # "auto": the model's chat format; "text": continue the prompt as written
    max_tokens: int | None  # None: until the reply ends or the context is full
    sampling: SamplingSettings
    stop: tuple[str, ...]
    stream: bool
    include_usage: bool  # stream_options.include_usage: a last chunk with the token counts


def parse_body(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        raise bad_request("The request has no body. Send a JSON object, e.g. "
                          '{"model": "...", "messages": [{"role": "user", "content": "Hello"}]}.')
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as error:
        raise bad_request(f"The request body is not valid JSON ({error}).") from error
    if not isinstance(body, dict):
        raise bad_request(f"The request body must be a JSON object, not {_kind(body)}.")
    return body


def parse_chat(body: dict[str, Any]) -> GenerationRequest:
    raw = body.get("messages")
    if raw is None:
        raise bad_request("Missing required parameter: 'messages'.", "messages", "missing_required_parameter")
    if not isinstance(raw, list) or not raw:
        raise bad_request("'messages' must be a non-empty list of {role, content} objects.", "messages")
    messages = tuple(_message(m, i) for i, m in enumerate(raw))
    max_tokens = _int(body, "max_completion_tokens", 1) or _int(body, "max_tokens", 1)
    return _request(body, "chat", messages, "auto", max_tokens)


def parse_completion(body: dict[str, Any]) -> GenerationRequest:
    prompt = body.get("prompt")
    if isinstance(prompt, list) and len(prompt) == 1 and isinstance(prompt[0], str):
        prompt = prompt[0]
    if prompt is None:
        raise bad_request("Missing required parameter: 'prompt'.", "prompt", "missing_required_parameter")
    if not isinstance(prompt, str):
        raise bad_request("'prompt' must be a string (token lists and several prompts at once are not "
                          "supported).", "prompt")
    if body.get("echo"):
        raise bad_request("`echo` is not supported by this server.", "echo")
    if _int(body, "best_of", 1) not in (None, 1):
        raise bad_request("Only best_of=1 is supported.", "best_of")
    max_tokens = _int(body, "max_tokens", 1)
    return _request(body, "completion", (ChatMessage("user", prompt),), "text",
                    COMPLETIONS_DEFAULT_MAX_TOKENS if max_tokens is None else max_tokens)


def _request(body: dict[str, Any], endpoint: Endpoint, messages: tuple[ChatMessage, ...], prompt_format: str,
             max_tokens: int | None) -> GenerationRequest:
    for name, why in _REFUSED.items():
        if body.get(name) not in (None, False, [], 0):
            raise bad_request(why, name, "unsupported_parameter")
    if _int(body, "n", 1) not in (None, 1):
        raise bad_request("Only n=1 is supported: one reply per request.", "n")
    model = body.get("model", "")
    if not isinstance(model, str):
        raise bad_request("'model' must be a string.", "model")
    stream = body.get("stream", False)
    if not isinstance(stream, bool) and stream is not None:
        raise bad_request("'stream' must be true or false.", "stream")
    options = body.get("stream_options") or {}
    if not isinstance(options, dict):
        raise bad_request("'stream_options' must be an object.", "stream_options")
    defaults = SamplingSettings()
    seed = _int(body, "seed", -(2**63))
    top_k = _int(body, "top_k", 0)
    sampling = SamplingSettings(
        temperature=_number(body, "temperature", 0.0, 2.0, defaults.temperature),
        top_p=_number(body, "top_p", 0.0, 1.0, defaults.top_p),
        top_k=defaults.top_k if top_k is None else top_k,  # 0: no top-k cut
        min_p=_number(body, "min_p", 0.0, 1.0, defaults.min_p),
        repeat_penalty=_number(body, "repeat_penalty", 0.0, 10.0, defaults.repeat_penalty),
        frequency_penalty=_number(body, "frequency_penalty", -2.0, 2.0, defaults.frequency_penalty),
        presence_penalty=_number(body, "presence_penalty", -2.0, 2.0, defaults.presence_penalty),
        seed=defaults.seed if seed is None else seed % 0xFFFFFFFF,  # 0xFFFFFFFF itself means "random"
    )
    return GenerationRequest(endpoint, model, messages, prompt_format, max_tokens, sampling, _stops(body),
                             bool(stream), bool(options.get("include_usage")))


def _message(raw: Any, index: int) -> ChatMessage:
    param = f"messages[{index}]"
    if not isinstance(raw, dict):
        raise bad_request(f"{param} must be an object with 'role' and 'content', not {_kind(raw)}.", param)
    role = raw.get("role")
    if role not in _ROLES:
        known = ", ".join(sorted(_ROLES))
        if role in ("tool", "function"):
            raise bad_request(f"{param}: '{role}' messages are not supported (no function calling).", param)
        raise bad_request(f"{param}.role must be one of {known}; got {role!r}.", f"{param}.role")
    content = raw.get("content")
    if content is None and role == "assistant":
        content = ""
    if isinstance(content, list):
        content = "".join(_text_part(part, f"{param}.content[{i}]") for i, part in enumerate(content))
    if not isinstance(content, str):
        raise bad_request(f"{param}.content must be a string or a list of text parts.", f"{param}.content")
    return ChatMessage(_ROLES[role], content)  # type: ignore[arg-type]


def _text_part(part: Any, param: str) -> str:
    if isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str):
        return str(part["text"])
    kind = part.get("type") if isinstance(part, dict) else _kind(part)
    raise bad_request(f"{param}: only text parts are supported, not {kind!r}.", param)


def _stops(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    if isinstance(stop, str):
        stop = [stop]
    if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
        raise bad_request("'stop' must be a string or a list of strings.", "stop")
    if len(stop) > 4:
        raise bad_request("'stop' takes at most 4 texts.", "stop")
    return tuple(s for s in stop if s)


def _number(body: dict[str, Any], name: str, low: float, high: float, default: float) -> float:
    value = body.get(name)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad_request(f"'{name}' must be a number; got {_kind(value)}.", name)
    if not low <= value <= high:
        raise bad_request(f"'{name}' must be between {low:g} and {high:g}; got {value}.", name)
    return float(value)


def _int(body: dict[str, Any], name: str, low: int) -> int | None:
    value = body.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"'{name}' must be a whole number; got {_kind(value)}.", name)
    if value < low:
        raise bad_request(f"'{name}' must be at least {low}; got {value}.", name)
    return value


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "true/false", type(None): "null",
            int: "a number", float: "a number"}.get(type(value), type(value).__name__)
