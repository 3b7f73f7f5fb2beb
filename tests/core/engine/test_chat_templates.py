"""Real chat templates rendered in the sandbox: the exact prompt text each model family was trained on, and
templates that try to escape the sandbox getting nowhere."""

from __future__ import annotations

import datetime
from pathlib import Path

import gguf
import pytest

from app.core.engine.chat_template import (
    TemplateError,
    TemplateMessage,
    looks_like_markup,
    render_chat,
    render_template,
    turn_markers,
)
from app.core.engine.stop_text import StopScanner
from app.core.models.library import starter_model_path

TEMPLATES = Path(__file__).resolve().parents[2] / "fixtures" / "chat_templates"
FIXED_DAY = datetime.datetime(2025, 3, 14)

SYSTEM = TemplateMessage("system", "Be brief.")
HI = TemplateMessage("user", "Hi")
HELLO = TemplateMessage("assistant", "Hello!")
HOW = TemplateMessage("user", "How are you?")


def template(name: str) -> str:
    return (TEMPLATES / f"{name}.jinja").read_text(encoding="utf-8")


def starter_template() -> str:
    return str(gguf.GGUFReader(starter_model_path()).get_field("tokenizer.chat_template").contents())


def test_smollm2_chatml_from_the_starter_gguf() -> None:
    source = starter_template()
    assert render_chat(source, [HI]) == (
        "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert render_chat(source, [SYSTEM, HI, HELLO, HOW]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
        "<|im_start|>assistant\n")
    assert turn_markers(source) == ("<|im_start|>", "<|im_end|>")


def test_qwen25_chatml_with_its_default_system_prompt() -> None:
    source = template("Qwen-Qwen2.5-7B-Instruct")
    assert render_chat(source, [HI]) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    assert render_chat(source, [SYSTEM, HI, HELLO, HOW]) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n"
        "<|im_start|>assistant\nHello!<|im_end|>\n<|im_start|>user\nHow are you?<|im_end|>\n"
        "<|im_start|>assistant\n")


@pytest.mark.parametrize(("name", "day"), [
    ("meta-llama-Llama-3.1-8B-Instruct", "26 Jul 2024"),  # 3.1's template writes a fixed date
    ("meta-llama-Llama-3.2-3B-Instruct", "14 Mar 2025"),  # 3.2's asks strftime_now for today's
])
def test_llama3_headers_and_eot(name: str, day: str) -> None:
    source = template(name)
    prompt = render_chat(source, [SYSTEM, HI, HELLO, HOW], bos_token="<|begin_of_text|>",
                         now=lambda: FIXED_DAY)
    assert prompt == (
        "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
        f"Cutting Knowledge Date: December 2023\nToday Date: {day}\n\nBe brief.<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHi<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\nHello!<|eot_id|>"
        "<|start_header_id|>user<|end_header_id|>\n\nHow are you?<|eot_id|>"
        "<|start_header_id|>assistant<|end_header_id|>\n\n")
    assert "<|eot_id|>" in turn_markers(source) and "<|start_header_id|>" in turn_markers(source)


def test_gemma_turns_and_a_system_prompt_folded_into_the_first_message() -> None:
    source = template("google-gemma-2-2b-it")
    assert render_chat(source, [HI, HELLO, HOW], bos_token="<bos>") == (
        "<bos><start_of_turn>user\nHi<end_of_turn>\n<start_of_turn>model\nHello!<end_of_turn>\n"
        "<start_of_turn>user\nHow are you?<end_of_turn>\n<start_of_turn>model\n")
    # Gemma's template refuses a system role; the prompt goes at the start of the first user turn instead
    with pytest.raises(TemplateError, match="System role not supported"):
        render_template(source, [SYSTEM, HI], bos_token="<bos>")
    assert render_chat(source, [SYSTEM, HI], bos_token="<bos>") == (
        "<bos><start_of_turn>user\nBe brief.\n\nHi<end_of_turn>\n<start_of_turn>model\n")


def test_phi3_tags_and_end() -> None:
    source = template("microsoft-Phi-3.5-mini-instruct")
    assert render_chat(source, [SYSTEM, HI, HELLO, HOW], eos_token="<|endoftext|>") == (
        "<|system|>\nBe brief.<|end|>\n<|user|>\nHi<|end|>\n<|assistant|>\nHello!<|end|>\n"
        "<|user|>\nHow are you?<|end|>\n<|assistant|>\n")
    assert set(turn_markers(source)) == {"<|user|>", "<|assistant|>", "<|system|>", "<|end|>"}


def test_mistral_inst_blocks_with_the_system_prompt_in_the_last_message() -> None:
    source = template("mistralai-Mistral-Nemo-Instruct-2407")
    assert render_chat(source, [SYSTEM, HI, HELLO, HOW], bos_token="<s>", eos_token="</s>") == (
        "<s>[INST]Hi[/INST]Hello!</s>[INST]Be brief.\n\nHow are you?[/INST]")


def test_templates_that_insist_on_alternating_turns_accept_two_messages_in_a_row() -> None:
    # a reply that failed leaves two user messages in a row; Gemma and Mistral would refuse that
    source = template("google-gemma-2-2b-it")
    prompt = render_chat(source, [HI, HOW], bos_token="<bos>")
    assert prompt == "<bos><start_of_turn>user\nHi\n\nHow are you?<end_of_turn>\n<start_of_turn>model\n"


@pytest.mark.parametrize("name", ["google-gemma-2-2b-it", "microsoft-Phi-3.5-mini-instruct"])
def test_builtin_formats_agree_with_the_templates(name: str) -> None:
    # llama.cpp's built-in version of a format is the fallback: it must write the same text
    from app.core.engine.chat_format import apply_builtin

    source = template(name)
    ours = render_chat(source, [HI, HELLO, HOW])
    assert apply_builtin(source, [HI, HELLO, HOW]) == ours


def test_chatml_builtin_matches_smollm2() -> None:
    from app.core.engine.chat_format import apply_builtin

    assert apply_builtin("chatml", [SYSTEM, HI]) == render_chat(starter_template(), [SYSTEM, HI])


# ---- the sandbox ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("evil", [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ cycler.__init__.__globals__.os.system('touch /tmp/quantdesk-pwned') }}",
    "{{ messages.__class__ }}",
    "{% include '/etc/passwd' %}",
    "{% import 'os' as os %}",
    "{{ self._TemplateReference__context }}",
    "{% set x = messages.append(1) %}{{ x }}",
])
def test_a_malicious_template_reaches_nothing(evil: str) -> None:
    # the sandbox either refuses (TemplateError) or hands back an empty undefined value: nothing leaks
    try:
        out = render_template(evil, [HI])
    except TemplateError:
        out = ""
    assert out == ""
    assert not Path("/tmp/quantdesk-pwned").exists()


def test_a_runaway_template_is_cut_off() -> None:
    with pytest.raises(TemplateError, match="more than"):
        render_template("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}", [HI])


def test_raise_exception_is_a_template_error() -> None:
    with pytest.raises(TemplateError, match="nope"):
        render_template("{{ raise_exception('nope') }}", [HI])


# ---- stop texts ----------------------------------------------------------------------------------------


def test_stop_text_split_over_pieces_never_reaches_the_screen() -> None:
    scanner = StopScanner(("<|im_end|>", "<|im_start|>"))
    shown = "".join(scanner.feed(p) for p in ["The capital", " is Paris.", "<|", "im", "_end", "|>", "\n<|im"])
    assert shown == "The capital is Paris."
    assert scanner.matched == "<|im_end|>" and scanner.flush() == ""


def test_text_that_only_looks_like_the_start_of_a_marker_is_let_go() -> None:
    scanner = StopScanner(("<|im_end|>",))
    assert scanner.feed("a <") == "a "
    assert scanner.feed("b") == "<b"
    assert scanner.feed(" [INST] stays") == " [INST] stays"
    assert scanner.feed("<|") == ""
    assert scanner.flush() == "<|"
    assert not looks_like_markup("a < b and c > d") and looks_like_markup("x<|im_end|>")
