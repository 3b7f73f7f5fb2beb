"""The quant catalogue reads its numbers from gguf-py, except the three float widths it knows without it (so
the pages built at start-up need not import gguf-py): those must agree with gguf-py too."""

from __future__ import annotations

from gguf import GGML_QUANT_SIZES, GGMLQuantizationType, LlamaFileType

from app.core.quants import FLOAT_WIDTHS, QUANT_TYPES, block_size, quant_type_for_ftype


def test_float_widths_are_gguf_pys() -> None:
    for name, width in FLOAT_WIDTHS.items():
        assert GGML_QUANT_SIZES[GGMLQuantizationType[name]] == (1, width)
        assert block_size(name) == (1, width)


def test_every_block_size_is_gguf_pys() -> None:
    for q in QUANT_TYPES:
        for ggml_type in filter(None, (q.main_type, q.fallback_type)):
            assert block_size(ggml_type) == GGML_QUANT_SIZES[GGMLQuantizationType[ggml_type]]


def test_file_type_numbers_round_trip_with_the_guessed_flag() -> None:
    for q in QUANT_TYPES:
        assert quant_type_for_ftype(q.ftype) is q
        assert quant_type_for_ftype(q.ftype | 1024) is q  # LLAMA_FTYPE_GUESSED, from old converters
    assert quant_type_for_ftype(int(LlamaFileType.MOSTLY_Q4_K_M)).name == "Q4_K_M"
    assert quant_type_for_ftype(9999) is None
