"""Sampling presets: three named starting points, and the details behind each.

- Precise: low temperature, for facts, code and answers that should not wander.
- Balanced: the everyday setting (close to llama.cpp's own defaults, with a light repeat penalty, which
  keeps small models out of loops).
- Creative: more randomness and a wider choice of words, for stories and brainstorming.
A person can change any detail; the settings then read as "Custom".
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.core.engine.protocol import SamplingSettings

DEFAULT_MAX_TOKENS = 1024  # long enough for a full answer with code, short enough to stop a runaway reply
RANDOM_SEED = 0xFFFFFFFF  # llama.cpp's LLAMA_DEFAULT_SEED: a new random seed for every reply


@dataclass(frozen=True)
class SamplingPreset:
    key: str
    name: str
    description: str
    sampling: SamplingSettings
    max_tokens: int = DEFAULT_MAX_TOKENS


PRESETS = (
    SamplingPreset("precise", "Precise", "Sticks to the most likely words: facts, code, exact answers.",
                   SamplingSettings(temperature=0.2, top_k=40, top_p=0.9, min_p=0.05, repeat_penalty=1.1)),
    SamplingPreset("balanced", "Balanced", "The everyday setting: natural, still on topic.",
                   SamplingSettings(temperature=0.7, top_k=40, top_p=0.95, min_p=0.05, repeat_penalty=1.1)),
    SamplingPreset("creative", "Creative", "More surprising word choices: stories, ideas, brainstorming.",
                   SamplingSettings(temperature=1.0, top_k=100, top_p=0.98, min_p=0.02, repeat_penalty=1.05)),
)
DEFAULT_PRESET = "balanced"
BY_KEY = {p.key: p for p in PRESETS}


def preset(key: str) -> SamplingPreset:
    return BY_KEY.get(key, BY_KEY[DEFAULT_PRESET])


def matching_preset(sampling: SamplingSettings) -> SamplingPreset | None:
    """The preset these settings are (whatever the seed), or None when a detail was changed."""
    for p in PRESETS:
        if replace(sampling, seed=p.sampling.seed) == p.sampling:
            return p
    return None
