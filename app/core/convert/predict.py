"""The facts of the GGUF file a conversion would write, without converting: for sizing a Hugging Face model.

A downloaded folder (its config.json and safetensors headers) or a Hub repo before download (config.json and
the safetensors metadata the Hub serves) is run through the converter's own planning: the family's metadata
keys, written to an in-memory GGUF writer, and its tensor plan (names, shapes, F16 for matrices and F32 for
vectors). So the memory estimate of a Hugging Face model sees exactly the file QuantDesk would make, and
which architectures can be sized is the converter's family table, not a second list. No tensor data is read.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import gguf

from app.core.convert.families import family_for
from app.core.convert.family import ArchFamily
from app.core.convert.supported import SUPPORTED_TITLES, architecture
from app.core.convert.writer import OUTTYPES, plan_tensors
from app.core.errors import ModelInfoError, UnsupportedArchitectureError
from app.core.models.facts import ModelFacts, TensorFacts, facts_from_gguf_fields
from app.core.models.hf_folder import HfFolder, SourceTensor, open_hf_folder, read_config


def converted_facts(folder: HfFolder, source: str, kind: str, outtype: str = "f16") -> ModelFacts:
    """ModelFacts of the file `convert_model(folder, ..., outtype)` would write."""
    family = _family(folder.config)(folder)
    wanted, file_type = OUTTYPES[outtype]
    writer = gguf.GGUFWriter(path=None, arch=family.arch_name)
    family.write_parameters(writer, file_type)
    fields: dict[str, Any] = {key: value.value for key, value in writer.kv_data[0].items()}
    fields.pop("general.file_type", None)  # an unquantized source: no quant level to name
    tensors = [
        TensorFacts(p.tensor.name, tuple(reversed(p.tensor.shape)) or (1,), p.qtype.name, p.nbytes)
        for p in plan_tensors(family, wanted)
    ]
    if not tensors:
        raise ModelInfoError("No model weights (safetensors files) were found.", f"{source}: no tensors")
    return replace(facts_from_gguf_fields(fields, tensors, source, kind), name=Path(source).name)


def _family(config: dict[str, Any]) -> type[ArchFamily]:
    try:
        return family_for(config)
    except UnsupportedArchitectureError as error:
        raise ModelInfoError(
            f"This model's architecture, {architecture(config)[:60]}, is not one QuantDesk can size yet "
            f"(it sizes what it can convert: {SUPPORTED_TITLES}).", error.detail) from None


def read_folder_facts(folder: Path) -> ModelFacts:
    """Facts from a downloaded Hugging Face folder, reading only config.json and the safetensors headers."""
    config = read_config(Path(folder))
    _family(config)  # an architecture it can't size is named before any weights file is read
    return converted_facts(open_hf_folder(Path(folder), config), str(folder), "hf-folder")


def facts_from_metadata(config: dict[str, Any], tensors: Iterable[tuple[str, str, tuple[int, ...]]],
                        source: str, kind: str = "hub-safetensors") -> ModelFacts:
    """Facts from a config.json and (name, safetensors dtype, shape) of each tensor, as the Hub serves them."""
    sources = tuple(SourceTensor(name, dtype, tuple(int(d) for d in shape), Path(source), 0)
                    for name, dtype, shape in tensors)
    return converted_facts(HfFolder(Path(source), config, sources), source, kind)
