"""A model's own chat template (the Jinja text in its GGUF), rendered in a sandbox.

A chat template is code written by whoever made the GGUF: it must not reach files, Python objects or the
network. It runs in Jinja's ImmutableSandboxedEnvironment (no attribute starting with "_", no mutating
methods, no loader, so no {% include %} or {% import %}), with an output cap and a time cap, and with only
the names Hugging Face's own renderer gives templates: messages, add_generation_prompt, bos_token,
eos_token, raise_exception and strftime_now. Whatever goes wrong comes out as TemplateError, and the
caller falls back to llama.cpp's built-in formats.

Pure Python (jinja2), no llama.cpp: the prompt text for any template can be checked without a model.
"""

from __future__ import annotations

import datetime
import json
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

MAX_PROMPT_CHARS = 8 * 1024 * 1024  # far beyond any context; a template looping to fill memory is stopped
MAX_RENDER_SECONDS = 2.0

# Turn markers of the common chat formats. Those that appear in a model's template are stop texts: when a
# model spells one out in ordinary tokens, it is starting a turn that is not its own (or ending its own).
TURN_MARKERS = (
    "<|im_start|>", "<|im_end|>",  # ChatML: SmolLM2, Qwen
    "<|start_header_id|>", "<|eot_id|>", "<|eom_id|>",  # Llama 3
    "<start_of_turn>", "<end_of_turn>",  # Gemma
    "<|user|>", "<|assistant|>", "<|system|>", "<|end|>",  # Phi-3
    "[INST]", "[/INST]",  # Mistral, Llama 2
    "<|endoftext|>",
)


class TemplateError(Exception):
    """The template could not be rendered (a syntax error, raise_exception, a sandbox refusal, a cap hit)."""


@dataclass(frozen=True)
class TemplateMessage:
    role: str
    content: str


def _raise_exception(message: str) -> None:
    raise TemplateError(f"the template refused the conversation: {message}")


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False, sort_keys: bool = False) -> str:
    # Jinja's own tojson escapes <, > and & for HTML; templates expect plain JSON (as Hugging Face renders it)
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii, sort_keys=sort_keys)


def _environment() -> Any:
    from jinja2.ext import loopcontrols
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    # trim_blocks/lstrip_blocks: the settings templates are written for (Hugging Face renders them so)
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True, extensions=[loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    return env


_compiled: dict[str, Any] = {}


def compile_template(source: str) -> Any:
    """The compiled template; TemplateError for a syntax error."""
    from jinja2 import TemplateError as JinjaError

    found = _compiled.get(source)
    if found is None:
        try:
            found = _environment().from_string(source)
        except JinjaError as error:
            raise TemplateError(f"the template does not parse: {error}") from error
        if len(_compiled) > 16:
            _compiled.clear()
        _compiled[source] = found
    return found


def render_template(
    source: str,
    messages: Sequence[TemplateMessage],
    bos_token: str = "",
    eos_token: str = "",
    add_generation_prompt: bool = True,
    now: Callable[[], datetime.datetime] = datetime.datetime.now,
) -> str:
    """The prompt text the template makes of `messages`, ready for the assistant's turn."""
    from jinja2 import TemplateError as JinjaError
    from jinja2.exceptions import SecurityError

    template = compile_template(source)
    context = {
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "add_generation_prompt": add_generation_prompt,
        "bos_token": bos_token,
        "eos_token": eos_token,
        "strftime_now": lambda fmt: now().strftime(fmt),
    }
    pieces: list[str] = []
    size = 0
    started = time.monotonic()
    try:
        for piece in template.generate(context):
            pieces.append(piece)
            size += len(piece)
            if size > MAX_PROMPT_CHARS:
                raise TemplateError(f"the template wrote more than {MAX_PROMPT_CHARS} characters")
            if time.monotonic() - started > MAX_RENDER_SECONDS:
                raise TemplateError(f"the template ran longer than {MAX_RENDER_SECONDS} s")
    except TemplateError:
        raise
    except SecurityError as error:
        raise TemplateError(f"the sandbox refused what the template tried: {error}") from error
    except (JinjaError, TypeError, ValueError, KeyError, IndexError, AttributeError, ZeroDivisionError,
            OverflowError, RecursionError) as error:
        raise TemplateError(f"the template failed: {type(error).__name__}: {error}") from error
    return "".join(pieces)


def merge_same_roles(messages: Sequence[TemplateMessage]) -> list[TemplateMessage]:
    """Consecutive messages of one role joined into one: templates that insist on alternating turns (Gemma,
    Mistral) accept a conversation where a reply failed and the person wrote again."""
    out: list[TemplateMessage] = []
    for m in messages:
        if out and out[-1].role == m.role and m.role != "system":
            out[-1] = TemplateMessage(m.role, out[-1].content + "\n\n" + m.content)
        else:
            out.append(m)
    return out


def fold_system_prompt(messages: Sequence[TemplateMessage]) -> list[TemplateMessage]:
    """The system prompt put at the start of the first user message, for templates without a system role
    (Gemma's raises "System role not supported")."""
    system = [m.content for m in messages if m.role == "system"]
    rest = [m for m in messages if m.role != "system"]
    if not system:
        return rest
    prefix = "\n\n".join(system)
    for i, m in enumerate(rest):
        if m.role == "user":
            rest[i] = TemplateMessage("user", f"{prefix}\n\n{m.content}")
            return rest
    return [TemplateMessage("user", prefix), *rest]


def render_chat(
    source: str,
    messages: Sequence[TemplateMessage],
    bos_token: str = "",
    eos_token: str = "",
    now: Callable[[], datetime.datetime] = datetime.datetime.now,
) -> str:
    """render_template for a chat: same-role turns merged, and the system prompt folded into the first user
    message when the template has no system role."""
    merged = merge_same_roles(messages)
    try:
        return render_template(source, merged, bos_token, eos_token, now=now)
    except TemplateError:
        if not any(m.role == "system" for m in merged):
            raise
    return render_template(source, merge_same_roles(fold_system_prompt(merged)), bos_token, eos_token, now=now)


def turn_markers(source: str) -> tuple[str, ...]:
    """The turn markers a template writes: the texts that end a reply if a model spells them out."""
    return tuple(m for m in TURN_MARKERS if m in source)


_SPECIAL_LOOKING = re.compile(r"<\|[A-Za-z0-9_]+\|>|<(?:start|end)_of_turn>|\[/?INST\]")


def looks_like_markup(text: str) -> bool:
    """True if `text` holds something shaped like a chat-format marker (tests use it to check replies)."""
    return bool(_SPECIAL_LOOKING.search(text))
