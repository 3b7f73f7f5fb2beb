"""How a conversation becomes prompt text for one model: its own template, llama.cpp's built-in format, or
plain text for a model without a chat format (a base model, which continues text rather than answering).

Chosen once when the model loads (`choose_format`), in this order:
1. the Jinja template in the GGUF, rendered in a sandbox (chat_template.py), if it renders a probe
   conversation;
2. llama.cpp's built-in formats (llama_chat_apply_template), which recognise a template by its markers;
3. none: the chat runs in text-continuation mode, and the person is told so in plain words.
A request can also name a format: "text" (continue the text) or one of llama.cpp's built-in names.
Runs in the engine process (it calls llama.cpp).
"""

from __future__ import annotations

import ctypes
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from app.core.engine.chat_template import TemplateError, TemplateMessage, render_chat, turn_markers
from app.core.engine.protocol import ChatMessage
from app.core.errors import QuantDeskError

log = logging.getLogger(__name__)

FormatKind = Literal["template", "builtin", "text"]

_PROBE = (
    TemplateMessage("system", "S"),
    TemplateMessage("user", "U"),
    TemplateMessage("assistant", "A"),
    TemplateMessage("user", "V"),
)

NO_TEMPLATE_NOTE = (
    "This model has no chat template, so it is probably a base model: it continues text rather than "
    "answering. The chat runs in text mode: write the start of a text and the model writes what comes next."
)


@dataclass(frozen=True)
class ChatFormat:
    kind: FormatKind
    source: str  # the Jinja text ("template"), the text llama.cpp matches or a built-in name ("builtin")
    note: str  # one sentence for the person
    stops: tuple[str, ...]  # turn markers: a reply ends where the model writes one


def builtin_names() -> tuple[str, ...]:
    import llama_cpp as L

    n = L.llama_chat_builtin_templates(None, 0)
    names = (ctypes.c_char_p * n)()
    L.llama_chat_builtin_templates(names, n)
    return tuple(name.decode() for name in names if name)


def apply_builtin(template: str, messages: Sequence[TemplateMessage]) -> str:
    """llama.cpp's own formatting: `template` is a built-in name or a Jinja text it recognises."""
    import llama_cpp as L

    array = (L.llama_chat_message * len(messages))()
    keep = []  # the bytes must outlive the call
    for i, m in enumerate(messages):
        role, content = m.role.encode(), m.content.encode("utf-8")
        keep.extend([role, content])
        array[i].role = role
        array[i].content = content
    name = template.encode("utf-8")
    size = 4096 + sum(len(m.content) * 2 for m in messages)
    for _ in range(2):
        buf = ctypes.create_string_buffer(size)
        n = L.llama_chat_apply_template(name, array, len(messages), True, buf, size)
        if n < 0:
            raise TemplateError("llama.cpp does not recognise this chat format")
        if n <= size:
            return buf.raw[:n].decode("utf-8", errors="replace")
        size = n + 1
    raise TemplateError("llama.cpp's formatted prompt kept growing")


def _stops(markers: tuple[str, ...], eos: str) -> tuple[str, ...]:
    """The format's turn markers and the model's end-of-sequence text ("</s>" ends a Mistral turn)."""
    return markers + ((eos,) if eos and eos not in markers and not eos.isalnum() else ())


def choose_format(template: str | None, bos: str, eos: str, requested: str = "auto") -> ChatFormat:
    """The format a model's conversations are written in (see the module docstring)."""
    if requested == "text":
        return ChatFormat("text", "", "Text mode: the model continues what you write.", ())
    if requested not in ("auto", ""):
        if requested not in builtin_names():
            raise QuantDeskError(f"There is no chat format called {requested!r}.",
                                 "known: " + ", ".join(builtin_names()))
        probe = apply_builtin(requested, _PROBE)
        return ChatFormat("builtin", requested, f"Chat format chosen by you: {requested}.",
                          _stops(turn_markers(probe), eos))
    if not template:
        return ChatFormat("text", "", NO_TEMPLATE_NOTE, ())
    try:
        render_chat(template, _PROBE, bos, eos)
        return ChatFormat("template", template, "Chat format: the model's own template.",
                          _stops(turn_markers(template), eos))
    except TemplateError as error:
        log.warning("the model's chat template cannot be used (%s); trying llama.cpp's built-in formats", error)
    try:
        probe = apply_builtin(template, _PROBE)
    except TemplateError:
        return ChatFormat("text", "", "This model's chat template could not be used, so the chat runs in text "
                          "mode: write the start of a text and the model writes what comes next.", ())
    return ChatFormat("builtin", template,
                      "Chat format: llama.cpp's built-in version of this model's format (its own template "
                      "could not be used).", _stops(turn_markers(probe), eos))


def build_prompt(fmt: ChatFormat, messages: Sequence[ChatMessage], bos: str = "", eos: str = "") -> str:
    """The prompt text for `messages`; in text mode the texts follow one another and the system prompt is
    left out (a base model has no notion of one)."""
    if fmt.kind == "text":
        return "".join(m.content for m in messages if m.role != "system")
    turns = [TemplateMessage(m.role, m.content) for m in messages]
    try:
        if fmt.kind == "template":
            return render_chat(fmt.source, turns, bos, eos)
        return apply_builtin(fmt.source, turns)
    except TemplateError as error:
        raise QuantDeskError("This conversation could not be put in the model's chat format.", str(error)) from error
