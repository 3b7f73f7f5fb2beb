"""Hugging Face safetensors → GGUF, with gguf, safetensors headers, numpy and the tokenizer libraries alone.

`convert_model(folder, out_path, outtype)` is the whole job: it refuses an unsupported architecture or an
incomplete folder before any work, checks the disk, then streams tensors to a temporary file that is
renamed when complete. Progress is reported after every tensor (in bytes written); the cancel token is
checked between blocks of rows. The CLI runs it directly; the UI runs it in a child process (child_job).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gguf

from app.core.convert.family import ArchFamily
from app.core.convert.gemma2 import Gemma2Family
from app.core.convert.gemma3 import Gemma3Family
from app.core.convert.hf_folder import open_hf_folder, read_config
from app.core.convert.llama import LlamaFamily
from app.core.convert.phi3 import Phi3Family
from app.core.convert.qwen2 import Qwen2Family
from app.core.convert.qwen3 import Qwen3Family
from app.core.convert.writer import (
    OUTTYPES,
    check_disk_space,
    estimate_size,
    plan_tensors,
    temp_path_for,
    tensor_info_args,
    write_gguf,
)
from app.core.errors import ConversionError, UnsupportedArchitectureError
from app.core.jobs import CancelToken, ProgressCallback, check_cancelled, no_progress

FAMILIES: tuple[type[ArchFamily], ...] = (
    LlamaFamily,
    Qwen2Family,
    Qwen3Family,
    Gemma2Family,
    Gemma3Family,
    Phi3Family,
)

#: For people: what can be converted, in the words of the error message.
SUPPORTED_TITLES = "Llama (Llama 2/3, Mistral, SmolLM), Qwen2/2.5, Qwen3, Gemma 2, Gemma 3, Phi-3/Phi-4-mini"

__all__ = [
    "FAMILIES",
    "OUTTYPES",
    "SUPPORTED_TITLES",
    "ConversionResult",
    "convert_model",
    "family_for",
    "temp_path_for",
]


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    architecture: str  # the GGUF architecture, e.g. "llama"
    hf_architecture: str  # config.json's, e.g. "LlamaForCausalLM"
    outtype: str
    n_tensors: int
    size_bytes: int
    seconds: float


def family_for(config: dict[str, Any]) -> type[ArchFamily]:
    """The converter for this config.json's architecture, or UnsupportedArchitectureError naming it."""
    archs = config.get("architectures") or []
    arch = str(archs[0]) if archs else str(config.get("model_type", "unknown"))
    for family in FAMILIES:
        if arch in family.hf_architectures:
            return family
    readable = arch.removesuffix("ForCausalLM").removesuffix("ForConditionalGeneration") or arch
    raise UnsupportedArchitectureError(
        f"This model's architecture, {readable}, can't be converted yet. Supported: {SUPPORTED_TITLES}.",
        f"config.json architectures={config.get('architectures')!r} model_type={config.get('model_type')!r}; "
        "supported: " + ", ".join(a for f in FAMILIES for a in f.hf_architectures),
    )


def convert_model(
    folder_path: Path | str,
    out_path: Path | str,
    outtype: str = "f16",
    on_progress: ProgressCallback = no_progress,
    cancel: CancelToken | None = None,
) -> ConversionResult:
    """Convert the Hugging Face model in `folder_path` to a GGUF file at `out_path`."""
    started = time.perf_counter()
    if outtype not in OUTTYPES:
        raise ConversionError(
            f"Unknown output type {outtype!r}. Choose one of: {', '.join(OUTTYPES)}.", f"outtype={outtype!r}"
        )
    out = Path(out_path).expanduser().resolve()
    if not out.parent.is_dir():
        raise ConversionError(
            f"The folder for the converted model, {out.parent}, does not exist.", f"no directory {out.parent}"
        )
    config = read_config(Path(folder_path))
    family_class = family_for(config)  # before any work: an unknown architecture is refused at once
    family = family_class(open_hf_folder(Path(folder_path), config))
    family.check_tokenizer()
    wanted, file_type = OUTTYPES[outtype]

    writer = gguf.GGUFWriter(path=None, arch=family.arch_name)
    plan = plan_tensors(family, wanted)
    for planned in plan:
        writer.add_tensor_info(**tensor_info_args(planned))
    check_cancelled(cancel)
    _write_metadata(writer, family, file_type)
    check_disk_space(out.parent, estimate_size(writer, plan))
    check_cancelled(cancel)
    size = write_gguf(writer, plan, out, on_progress, cancel)
    return ConversionResult(
        out,
        family.arch_name,
        family.folder.architecture,
        outtype,
        len(plan),
        size,
        round(time.perf_counter() - started, 2),
    )


def _write_metadata(writer: gguf.GGUFWriter, family: ArchFamily, file_type: int) -> None:
    """general.* from the model card and config (as llama.cpp), then the family's keys and vocabulary."""
    total_params = writer.get_total_parameter_count()[0]
    metadata = gguf.Metadata.load(None, family.folder.path, None, total_params)
    if metadata.name is None:
        metadata.name = family.folder.path.name
    if metadata.size_label is None and total_params > 0:
        metadata.size_label = gguf.size_label(*writer.get_total_parameter_count())
    writer.add_type(gguf.GGUFType.MODEL)
    metadata.set_gguf_meta_model(writer)
    family.write_parameters(writer, file_type)
    writer.add_quantization_version(gguf.GGML_QUANT_VERSION)
    family.write_vocab(writer)
