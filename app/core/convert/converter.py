"""`convert_model(folder, out_path, outtype)`: a Hugging Face safetensors folder → a GGUF file.

It refuses an unsupported architecture or an incomplete folder before any work, checks the disk, then streams
tensors to a temporary file that is renamed when complete. Progress is reported after every tensor (in bytes
written); the cancel token is checked between blocks of rows.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path

import gguf

from app.core.convert.families import family_for
from app.core.convert.family import ArchFamily
from app.core.convert.writer import (
    OUTTYPES,
    check_disk_space,
    estimate_size,
    plan_tensors,
    tensor_info_args,
    write_gguf,
)
from app.core.errors import ConversionError
from app.core.models.hf_folder import open_hf_folder, read_config
from app.core.progress import CancelToken, ProgressCallback, check_cancelled, no_progress

__all__ = ["OUTTYPES", "ConversionResult", "convert_model"]


@dataclass(frozen=True)
class ConversionResult:
    path: Path
    architecture: str  # the GGUF architecture, e.g. "llama"
    hf_architecture: str  # config.json's, e.g. "LlamaForCausalLM"
    outtype: str
    n_tensors: int
    size_bytes: int
    seconds: float


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
