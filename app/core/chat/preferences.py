"""The chat's choices that outlive a session: sampling, reply length, context length, where models run.

Kept under one key ("chat") of the settings file (app/core/settings.py), as a small dict with defaults, so
an older or damaged value reads as the defaults instead of stopping the app.
"""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass, fields
from typing import Any

from app.core.chat.presets import DEFAULT_MAX_TOKENS, DEFAULT_PRESET, preset
from app.core.engine.protocol import SamplingSettings
from app.core.settings import get_setting, set_setting

log = logging.getLogger(__name__)

SETTINGS_KEY = "chat"
DEFAULT_CONTEXT = 4096
MIN_CONTEXT = 64


@dataclass(frozen=True)
class ChatPreferences:
    sampling: SamplingSettings = preset(DEFAULT_PRESET).sampling
    max_tokens: int = DEFAULT_MAX_TOKENS
    context_length: int = DEFAULT_CONTEXT
    placement: str = "auto"  # "auto", "gpu", "cpu" or a number of layers on the GPU (as text: "12")
    prompt_format: str = "auto"  # "auto", "text" or a llama.cpp built-in format name

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["sampling"] = {k: v for k, v in asdict(self.sampling).items() if k != "logit_bias"}
        return data


def _sampling_from(raw: object) -> SamplingSettings:
    default = ChatPreferences.sampling
    if not isinstance(raw, dict):
        return default
    known = {f.name: f.type for f in fields(SamplingSettings)}
    values: dict[str, Any] = {}
    for name, value in raw.items():
        if name in known and name != "logit_bias" and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[name] = type(getattr(default, name))(value)
    return SamplingSettings(**{**asdict(default), **values, "logit_bias": ()})


def load_preferences() -> ChatPreferences:
    raw = get_setting(SETTINGS_KEY)
    if not isinstance(raw, dict):
        return ChatPreferences()
    base = ChatPreferences()
    try:
        return ChatPreferences(
            sampling=_sampling_from(raw.get("sampling")),
            max_tokens=max(1, int(raw.get("max_tokens", base.max_tokens))),
            context_length=max(MIN_CONTEXT, int(raw.get("context_length", base.context_length))),
            placement=str(raw.get("placement", base.placement)),
            prompt_format=str(raw.get("prompt_format", base.prompt_format)),
        )
    except (TypeError, ValueError) as error:
        log.warning("chat settings unreadable (%s); using defaults", error)
        return base


def save_preferences(prefs: ChatPreferences) -> None:
    set_setting(SETTINGS_KEY, prefs.to_json())
