"""A model's Markdown as safe rich text: the rules, without a display."""

from __future__ import annotations

from app.ui.markdown_html import COPY_SCHEME, plain_html, render_markdown


def test_code_blocks_lists_bold_and_inline_code() -> None:
    out = render_markdown("**Steps**\n\n1. one\n2. `two`\n\n- a\n- b\n\n```python\nprint('<hi>')\n```\n")
    assert "<strong>Steps</strong>" in out.html
    assert "<ol>" in out.html and "<ul>" in out.html
    assert 'font-family: monospace' in out.html and "two</code>" in out.html
    assert out.code_blocks == ("print('<hi>')",)
    assert f'href="{COPY_SCHEME}:0"' in out.html
    assert "print(&#x27;&lt;hi&gt;&#x27;)" in out.html or "print('&lt;hi&gt;')" in out.html


def test_raw_html_from_the_model_is_shown_as_text() -> None:
    out = render_markdown('Look: <script>alert(1)</script> <img src="http://evil/x.png"> <b>bold?</b>')
    assert "<script" not in out.html and "<img" not in out.html and "<b>" not in out.html
    assert "&lt;script&gt;" in out.html and "&lt;img" in out.html


def test_images_are_never_fetched_and_only_web_links_survive() -> None:
    out = render_markdown("![cat](https://example.com/cat.png) ![x](file:///etc/passwd) "
                          "[site](https://example.com) [bad](javascript:alert(1)) [local](file:///etc/passwd)")
    assert "<img" not in out.html
    assert '<a href="https://example.com/cat.png">[image: cat]</a>' in out.html  # a link, fetched only on a click
    assert '<a href="https://example.com">site</a>' in out.html
    # file: and javascript: addresses are not links at all: they stay visible as the text the model wrote
    assert 'href="file' not in out.html and 'href="javascript' not in out.html
    assert "[bad](javascript:alert(1))" in out.html and "![x](file:///etc/passwd)" in out.html


def test_a_half_written_code_block_while_streaming() -> None:
    out = render_markdown("Here:\n\n```py\ndef f():\n    return 1")
    assert out.code_blocks == ("def f():\n    return 1",)


def test_a_persons_message_is_plain_text() -> None:
    assert plain_html("**not bold** <b>x</b>") == (
        '<p style="white-space: pre-wrap;">**not bold** &lt;b&gt;x&lt;/b&gt;</p>')


def test_code_boxes_follow_the_theme() -> None:
    # the text follows the palette (light on dark under the dark theme): a light box would hide it
    from app.ui.markdown_html import DARK_CODE, LIGHT_CODE

    text = "Use `x`:\n\n```python\nx = 1\n```\n"
    light, dark = render_markdown(text).html, render_markdown(text, dark=True).html
    assert f'bgcolor="{LIGHT_CODE.background}"' in light and LIGHT_CODE.background not in dark
    assert f'bgcolor="{DARK_CODE.background}"' in dark and f"background-color: {DARK_CODE.background}" in dark
