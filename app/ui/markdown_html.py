"""A model's reply as safe HTML for Qt's rich text: Markdown with code blocks, lists, bold and tables.

What a model writes is untrusted text. markdown-it-py runs with raw HTML off, so a <script> or <img> the model
writes is shown as the characters it is; images are never fetched (a Markdown image becomes its alt text and
a link to its address, opened only if the person clicks it); links keep only http, https and mailto
addresses; each code block gets a monospace box and a Copy link ("quantdesk-copy:<n>", handled by the view).
Pure Python, no Qt: the rules are tested without a display.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COPY_SCHEME = "quantdesk-copy"
SAFE_SCHEMES = ("http://", "https://", "mailto:")

@dataclass(frozen=True)
class CodeColours:
    background: str
    border: str
    label: str


# Rich text takes fixed colours; the text itself follows the theme's palette, so the box must follow it too
# (a light box under the dark theme's light text could not be read).
LIGHT_CODE = CodeColours(background="#f3f4f6", border="#d0d4da", label="#6b7280")
DARK_CODE = CodeColours(background="#2b2d31", border="#4a4d52", label="#9aa0a8")


@dataclass(frozen=True)
class RenderedMarkdown:
    html: str
    code_blocks: tuple[str, ...]  # the text each Copy link copies, by index


def _safe_href(url: str) -> str | None:
    url = url.strip()
    return url if url.lower().startswith(SAFE_SCHEMES) else None


class _Renderer:
    def __init__(self) -> None:
        from markdown_it import MarkdownIt  # with the first reply drawn: 50 ms the window's start-up need not pay

        self.md = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
        self.md.enable(["table", "strikethrough"])
        self.code: list[str] = []
        self._open_links: list[bool] = []
        self.colours = LIGHT_CODE
        # markdown-it binds each rule to its renderer (the rule's first argument): wrap ours to keep `self`
        for name, rule in (("fence", self._fence), ("code_block", self._fence), ("image", self._image),
                           ("link_open", self._link_open), ("link_close", self._link_close),
                           ("code_inline", self._code_inline)):
            self.md.add_render_rule(name, self._bind(rule))

    @staticmethod
    def _bind(rule: Any) -> Any:
        def call(_renderer: Any, tokens: Sequence[Any], idx: int, options: Any, env: Any) -> str:
            return str(rule(tokens, idx, options, env))

        return call

    def _fence(self, tokens: Sequence[Any], idx: int, _options: Any, _env: Any) -> str:
        token = tokens[idx]
        code = token.content[:-1] if token.content.endswith("\n") else token.content
        number = len(self.code)
        self.code.append(code)
        language = html.escape(token.info.split()[0]) if token.info.strip() else ""
        c = self.colours
        label = f'<span style="color:{c.label}">{language}</span>&nbsp;&nbsp;' if language else ""
        return (
            f'<table width="100%" cellspacing="0" cellpadding="6" style="margin-top:4px; margin-bottom:6px; '
            f'border: 1px solid {c.border};" bgcolor="{c.background}">'
            f'<tr><td align="right">{label}<a href="{COPY_SCHEME}:{number}">Copy</a></td></tr>'
            f'<tr><td><pre style="white-space: pre-wrap; font-family: monospace;">{html.escape(code)}</pre>'
            "</td></tr></table>\n"
        )

    def _code_inline(self, tokens: Sequence[Any], idx: int, _options: Any, _env: Any) -> str:
        return (f'<code style="font-family: monospace; background-color: {self.colours.background};">'
                f"{html.escape(tokens[idx].content)}</code>")

    def _image(self, tokens: Sequence[Any], idx: int, _options: Any, _env: Any) -> str:
        # never an <img>: nothing is fetched; the address is a link the person may choose to open
        token = tokens[idx]
        alt = html.escape(token.content or "image")
        href = _safe_href(str(token.attrGet("src") or ""))
        if href is None:
            return f"[image: {alt}]"
        return f'<a href="{html.escape(href, quote=True)}">[image: {alt}]</a>'

    def _link_open(self, tokens: Sequence[Any], idx: int, _options: Any, _env: Any) -> str:
        href = _safe_href(str(tokens[idx].attrGet("href") or ""))
        self._open_links.append(href is not None)
        if href is None:
            return ""
        return f'<a href="{html.escape(href, quote=True)}">'

    def _link_close(self, _tokens: Sequence[Any], _idx: int, _options: Any, _env: Any) -> str:
        return "</a>" if self._open_links and self._open_links.pop() else ""

    def render(self, text: str, colours: CodeColours) -> RenderedMarkdown:
        self.colours = colours
        self.code = []
        self._open_links = []
        body = self.md.render(text)
        return RenderedMarkdown(body, tuple(self.code))


_renderer: _Renderer | None = None


def render_markdown(text: str, dark: bool = False) -> RenderedMarkdown:
    """HTML for Qt's rich text (QTextDocument) from a model's Markdown; see the module docstring. `dark`: code
    boxes for a dark theme."""
    global _renderer
    if _renderer is None:
        _renderer = _Renderer()
    return _renderer.render(text, DARK_CODE if dark else LIGHT_CODE)


def plain_html(text: str) -> str:
    """A person's own message: shown as typed, line breaks kept, nothing interpreted."""
    return f'<p style="white-space: pre-wrap;">{html.escape(text)}</p>'
