"""The engine's context settings, decided in one place and shared with the estimate and the benchmarks."""

from __future__ import annotations

import pytest

from app.core.context_settings import DEFAULT_BATCH, context_settings, physical_cores


def test_everything_is_explicit_and_modest() -> None:
    s = context_settings(4096)
    assert (s.n_ctx, s.n_batch, s.n_ubatch) == (4096, DEFAULT_BATCH, DEFAULT_BATCH)
    assert s.flash_attn and s.kv_type == "F16" and s.swa_full
    assert s.n_outputs_max == 1  # a chat reads one row of logits: no 512-row logits buffer
    assert s.n_threads == s.n_threads_batch == physical_cores()
    assert not s.backend_sampling  # on the processor llama_sampler_sample's own loop samples


def test_threads_and_sampling_follow_where_the_model_runs() -> None:
    gpu = context_settings(4096, output_on_gpu=True, all_on_gpu=True)
    assert gpu.backend_sampling and gpu.n_threads == 1 and gpu.n_threads_batch == physical_cores()
    partial = context_settings(4096, output_on_gpu=True)  # llama.cpp offloads the output layer first
    assert partial.backend_sampling and partial.n_threads == physical_cores()
    assert context_settings(4096, n_threads=3, all_on_gpu=True).n_threads == 3  # asked for: kept


def test_batch_is_capped_like_llama_cpp_does() -> None:
    s = context_settings(256, n_batch=2048)
    assert s.n_ubatch == DEFAULT_BATCH and s.effective_ubatch == 256  # micro-batch ≤ batch ≤ context


@pytest.mark.parametrize(("value", "expected"), [("on", True), ("off", False), ("", False)])
def test_backend_sampling_override_for_benchmarks(monkeypatch: pytest.MonkeyPatch, value: str, expected: bool) -> None:
    monkeypatch.setenv("QUANTDESK_BACKEND_SAMPLING", value)
    assert context_settings(2048).backend_sampling is expected


def test_llama_bench_gets_the_same_settings() -> None:
    args = context_settings(4096, n_threads=6).as_llama_bench_args()
    assert args == ["-fa", "1", "-b", "512", "-ub", "512", "-t", "6", "-ctk", "f16", "-ctv", "f16"]
    gpu = context_settings(4096, output_on_gpu=True, all_on_gpu=True, cores=8)
    assert gpu.as_llama_bench_args()[7] == "1"  # generation: the engine's one thread
    assert gpu.as_llama_bench_args(prompt=True)[7] == "8"  # prompts: one per core, as the engine


def test_threads_chosen_in_settings_stand_for_the_cores() -> None:
    cpu = context_settings(4096, cores=3)
    assert cpu.n_threads == cpu.n_threads_batch == 3
    gpu = context_settings(4096, output_on_gpu=True, all_on_gpu=True, cores=3)
    assert gpu.n_threads == 1 and gpu.n_threads_batch == 3  # the processor only looks up embeddings then
    assert context_settings(4096, n_threads=2, cores=3).n_threads_batch == 2  # the request wins
