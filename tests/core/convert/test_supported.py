"""supported.py is the one list of what converts; the converter classes take their names from it."""

from __future__ import annotations

import pytest

from app.core.convert.families import FAMILIES, family_for
from app.core.convert.supported import CONVERTIBLE_ARCHITECTURES, convertible_family
from app.core.errors import InvalidModelFolderError, UnsupportedArchitectureError


def test_every_listed_architecture_has_its_converter_and_no_other() -> None:
    assert {arch: f.title for f in FAMILIES for arch in f.hf_architectures} == CONVERTIBLE_ARCHITECTURES
    assert len({f.title for f in FAMILIES}) == len(FAMILIES)
    for arch, title in CONVERTIBLE_ARCHITECTURES.items():
        config = {"architectures": [arch]}
        assert convertible_family(config) == title == family_for(config).title


def test_an_unknown_or_damaged_architecture_is_named_in_plain_words() -> None:
    with pytest.raises(UnsupportedArchitectureError, match="MambaFor, can't be converted yet"):
        convertible_family({"architectures": ["MambaForForCausalLM"]})
    with pytest.raises(UnsupportedArchitectureError, match="architecture, mamba,"):
        family_for({"model_type": "mamba"})
    with pytest.raises(InvalidModelFolderError, match="does not name the model's architecture"):
        convertible_family({"architectures": [3]})
