"""The memory estimate: the type mix against files llama.cpp really wrote, the formula against llama.cpp's own
logged buffer sizes and measured resident memory, and the device split for offload."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from app.core.advice.estimate import (
    CUDA_CONTEXT_BYTES,
    FLOAT_MATMUL_BYTES,
    REPACK_X86_AVX2,
    compute_bytes,
    estimate_file,
    estimate_memory,
    gpu_blocks,
    gpu_compute_bytes,
    kv_cache_bytes,
    pad,
    repacked_types,
)
from app.core.advice.quant_mix import predict_tensors, use_more_bits
from app.core.context_settings import ContextSettings
from app.core.models.facts import read_gguf_facts
from app.core.quants import OFFERED, quant_type
from tests.bench.measure_memory import measure
from tests.fixtures.model_shapes import llama3_8b_facts

MIB = 1024 * 1024


@pytest.fixture(scope="session")
def estimate_ladder(starter_f16: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The starter's F16 and two real quantizations of it (Q4_K_M, Q2_K), made by llama.cpp once per session."""
    from app.core.quantize.quantizer import quantize_file

    folder = tmp_path_factory.mktemp("ladder")
    ladder = {"F16": starter_f16}
    for name in ("Q4_K_M", "Q2_K"):
        ladder[name] = quantize_file(starter_f16, folder / f"starter-{name}.gguf", name, threads=2).path
    return ladder


@pytest.mark.parametrize("name", ["Q4_K_M", "Q2_K"])
def test_predicted_type_mix_is_what_llama_cpp_wrote(estimate_ladder: dict[str, Path], name: str) -> None:
    source = read_gguf_facts(estimate_ladder["F16"])
    real = {t.name: t for t in read_gguf_facts(estimate_ladder[name]).tensors}
    predicted = {t.name: t for t in predict_tensors(source, quant_type(name))}
    assert predicted.keys() == real.keys()
    wrong = [
        (n, p.ggml_type, real[n].ggml_type)
        for n, p in predicted.items()
        if (p.ggml_type, p.n_bytes) != (real[n].ggml_type, real[n].n_bytes)
    ]
    assert wrong == []


def test_type_mix_rules_visible_in_the_starter_files(estimate_ladder: dict[str, Path]) -> None:
    """The three rules the issue names, on real files: Q6_K kept, legacy fallback, the tied embedding."""
    q4 = {t.name: t.ggml_type for t in read_gguf_facts(estimate_ladder["Q4_K_M"]).tensors}
    assert q4["blk.0.ffn_down.weight"] == "Q6_K" and use_more_bits(0, 30)  # rows of 1536: k-quants fit
    assert q4["blk.3.ffn_down.weight"] == "Q4_K" and not use_more_bits(3, 30)
    assert q4["blk.3.attn_q.weight"] == "Q5_0"  # rows of 576 are not a multiple of 256: legacy fallback
    assert q4["token_embd.weight"] == "Q8_0"  # tied embedding = output layer, 576 not a k-quant multiple
    q2 = {t.name: t.ggml_type for t in read_gguf_facts(estimate_ladder["Q2_K"]).tensors}
    assert q2["blk.3.ffn_down.weight"] == "Q3_K" and q2["blk.3.attn_q.weight"] == "Q4_0"


def test_bits_per_weight_match_published_llama3_8b_files() -> None:
    """At Llama-3-8B's shape the predicted mix gives the published bits/weight (tools/quantize README)."""
    facts = llama3_8b_facts()
    for lvl in OFFERED:
        if lvl.published_bits_per_weight is None:
            continue
        bits = sum(t.n_bytes for t in predict_tensors(facts, lvl)) * 8 / facts.n_params
        assert bits == pytest.approx(lvl.published_bits_per_weight, abs=0.01), lvl.name


@pytest.mark.parametrize(("name", "n_ctx"), [("F16", 2048), ("Q4_K_M", 512)])
def test_formula_against_llama_cpp_logged_buffers_and_measured_memory(
    estimate_ladder: dict[str, Path], name: str, n_ctx: int
) -> None:
    path = estimate_ladder[name]
    facts = read_gguf_facts(path)
    measured = measure(str(path), n_ctx, n_prompt=64)  # a short prompt keeps the test fast on 2 cores
    est = estimate_file(facts, n_ctx, filled_tokens=64, repack=REPACK_X86_AVX2)
    logged_weights = sum(measured.model_buffers.values())  # CPU_Mapped + CPU_REPACK
    assert est.weights == pytest.approx(logged_weights, abs=0.02 * MIB)
    assert est.kv_cache == pytest.approx(measured.kv_buffers["CPU"], abs=0.01 * MIB)
    reserved = compute_bytes(facts, pad(n_ctx), 512)  # flash attention: no score matrix
    assert reserved == pytest.approx(measured.compute_buffers["CPU"], rel=0.03)
    assert est.total == pytest.approx(measured.rss_growth, rel=0.05)


def test_kv_cache_formula_and_sliding_window() -> None:
    facts = llama3_8b_facts()
    # 32 layers × 8 KV heads × 128 dims × (K + V) × 8192 cells × 2 bytes = 1 GiB, the known figure
    assert kv_cache_bytes(facts, 8192) == 1024 * MIB
    assert kv_cache_bytes(facts, 1000) == kv_cache_bytes(facts, 1024)  # padded to 256 cells
    swa = replace(facts, sliding_window=1024, swa_layers=tuple(i % 2 == 0 for i in range(32)))
    assert kv_cache_bytes(swa, 8192) == kv_cache_bytes(facts, 8192)  # llama-cpp-python keeps full SWA caches
    windowed = kv_cache_bytes(swa, 8192, swa_full=False)
    assert windowed == (16 * 8192 + 16 * 1536) * 8 * 256 * 2


def test_offload_split_follows_llama_cpp_placement() -> None:
    """llama.cpp counts the output layer as the last layer and offloads from the end: n_gpu_layers = k puts the
    output layer and the last k - 1 blocks on the GPU (seen in its log's per-device KV sizes on an H200)."""
    facts = llama3_8b_facts()
    q4 = quant_type("Q4_K_M")
    tensors = {t.name: t.n_bytes for t in predict_tensors(facts, q4)}
    cpu_only = estimate_memory(facts, q4, 4096)
    assert cpu_only.gpu.total == 0 and cpu_only.n_gpu_layers == 0
    full = estimate_memory(facts, q4, 4096, n_gpu_layers=-1)
    assert full.n_gpu_layers == 33
    assert full.cpu.weights == tensors["token_embd.weight"]  # the token embedding stays on the CPU
    assert full.gpu.overhead == CUDA_CONTEXT_BYTES and full.gpu.kv_cache == kv_cache_bytes(facts, 4096)
    assert full.gpu.compute == gpu_compute_bytes(facts, 4096, 512)  # the whole reserved buffer
    output_only = estimate_memory(facts, q4, 4096, n_gpu_layers=1)
    assert output_only.gpu.weights == tensors["output.weight"] + tensors["output_norm.weight"]
    assert output_only.gpu.kv_cache == 0 and gpu_blocks(facts, 1) == 0
    last_block = estimate_memory(facts, q4, 4096, n_gpu_layers=2)
    block = sum(n for name, n in tensors.items() if name.startswith("blk.31."))
    assert last_block.gpu.weights - output_only.gpu.weights == block  # then blocks, from the last one
    half = estimate_memory(facts, q4, 4096, n_gpu_layers=17)
    assert half.gpu.kv_cache == half.cpu.kv_cache == kv_cache_bytes(facts, 4096) // 2
    assert estimate_memory(facts, q4, 4096, n_gpu_layers=33).gpu.total == full.gpu.total


def test_tied_embedding_is_copied_to_the_gpu_as_output(estimate_ladder: dict[str, Path]) -> None:
    facts = read_gguf_facts(estimate_ladder["Q4_K_M"])
    sizes = {t.name: t.n_bytes for t in facts.tensors}
    embd = sizes["token_embd.weight"]
    output_only = estimate_file(facts, 512, n_gpu_layers=1)
    assert output_only.gpu.weights == embd + sizes["output_norm.weight"]
    assert output_only.cpu.weights >= embd  # the original stays on the CPU for the token lookup


def test_float_matrices_on_the_gpu_add_cublas_buffers() -> None:
    facts = llama3_8b_facts()
    f16, q4 = (estimate_memory(facts, quant_type(n), 4096, n_gpu_layers=-1) for n in ("F16", "Q4_K_M"))
    assert f16.gpu.compute - q4.gpu.compute == FLOAT_MATMUL_BYTES


def test_estimate_models_the_engines_settings() -> None:
    """The estimate reads the engine's context settings: backend sampling's buffers on a GPU, a larger batch's
    compute buffer, and no repacked copies once layers are on the GPU."""
    facts = llama3_8b_facts()
    q4 = quant_type("Q4_K_M")
    big_batch = estimate_memory(facts, q4, 4096, settings=ContextSettings(n_ctx=4096, n_batch=1024, n_ubatch=1024))
    assert big_batch.compute > estimate_memory(facts, q4, 4096).compute
    partial = estimate_memory(facts, q4, 4096, n_gpu_layers=10, repack=REPACK_X86_AVX2)
    plain = estimate_memory(facts, q4, 4096, n_gpu_layers=10, repack=frozenset())
    assert partial.cpu.weights == plain.cpu.weights


def test_repacked_tensors_count_twice_on_the_cpu_only() -> None:
    facts = llama3_8b_facts()
    q4 = quant_type("Q4_K_M")
    plain = estimate_memory(facts, q4, 2048, repack=frozenset())
    avx2 = estimate_memory(facts, q4, 2048, repack=repacked_types(("AVX", "AVX2")))
    # every Q4_K matrix but the token embedding (looked up by row, never repacked)
    q4k = sum(t.n_bytes for t in predict_tensors(facts, q4) if t.ggml_type == "Q4_K" and t.layer is not None)
    assert avx2.weights - plain.weights == q4k
    assert repacked_types(()) == frozenset()


def test_more_context_costs_more_and_json_sums() -> None:
    facts = llama3_8b_facts()
    small, big = (estimate_memory(facts, quant_type("Q4_K_M"), n) for n in (2048, 8192))
    assert big.kv_cache == 4 * small.kv_cache and big.total > small.total
    data = big.to_json()
    assert data["total"] == data["weights"] + data["kv_cache"] + data["compute"] + data["overhead"]
