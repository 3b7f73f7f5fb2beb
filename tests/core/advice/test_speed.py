"""The speed estimate (bandwidth plus a per-layer floor) and the speeds measured here."""

from __future__ import annotations

import json

import pytest

from app.core.advice.measured_speed import (
    MIN_TOKENS,
    measured_floors,
    measured_speed,
    record_reply,
    record_speed,
    store_path,
)
from app.core.advice.quant_mix import predict_tensors
from app.core.advice.recommend import file_option, recommend
from app.core.advice.speed import GPU_LAYER_SECONDS, Floors, token_work, tokens_per_second, type_kind
from app.core.machine.bandwidth import gpu_bandwidth
from app.core.models.facts import read_gguf_facts
from app.core.models.library import starter_model_path
from app.core.quants import quant_type
from tests.core.advice.test_recommend import machine
from tests.fixtures.model_shapes import llama3_8b_facts

H200 = "NVIDIA H200"


@pytest.fixture(autouse=True)
def _no_measurements() -> None:
    store_path().unlink(missing_ok=True)


def test_kinds_of_types() -> None:
    assert [type_kind(t) for t in ("F16", "BF16", "Q8_0", "Q4_1", "Q4_K", "Q6_K", "IQ4_XS")] == [
        "float", "float", "8-bit", "8-bit", "k-quant", "k-quant", "k-quant"]


def test_the_starter_on_a_big_gpu_is_held_by_its_layers_not_its_bytes() -> None:
    """Bandwidth alone said ~17,900 tokens/s for the 135M starter on an H200; 31 layers at the measured floor
    cost more than its bytes do."""
    facts = read_gguf_facts(starter_model_path())
    option = recommend(facts, machine(ram_free=64, gpu_free=130, gpu_name=H200)).this_file
    assert option is not None and option.placement == "gpu"
    assert option.tokens_per_second is not None
    assert 400 < option.tokens_per_second < 1 / ((facts.n_layers + 1) * GPU_LAYER_SECONDS)


@pytest.mark.parametrize(("type_name", "measured"), [("Q4_K_M", 267.9), ("Q8_0", 249.0), ("F16", 200.6)])
def test_llama3_8b_on_an_h200_within_ten_percent_of_the_engine(type_name: str, measured: float) -> None:
    """The engine's greedy tg128 on an H200 (docs/benchmarks/gpu.md: cases the constants were fitted on)."""
    facts = llama3_8b_facts()
    work = token_work(facts, predict_tensors(facts, quant_type(type_name)), -1)
    assert tokens_per_second(work, gpu_bandwidth(H200), 10e9) == pytest.approx(measured, rel=0.10)


def test_token_work_follows_llama_cpps_offload_order() -> None:
    facts = llama3_8b_facts()
    tensors = predict_tensors(facts, quant_type("Q4_K_M"))
    total = sum(t.n_bytes for t in tensors)
    embd = next(t.n_bytes for t in tensors if t.name == "token_embd.weight")
    full, cpu, one = (token_work(facts, tensors, n) for n in (-1, 0, 1))
    assert (full.gpu_layers, full.cpu_layers, cpu.gpu_layers, cpu.cpu_layers) == (33, 0, 0, 33)
    assert sum(full.cpu_bytes.values()) == embd // facts.vocab_size  # one row of the embedding
    assert sum(cpu.cpu_bytes.values()) + embd - embd // facts.vocab_size == total
    output = next(t.n_bytes for t in tensors if t.name == "output.weight")
    assert output <= sum(one.gpu_bytes.values()) < output + 10**6  # the output layer (and its norm) first
    assert tokens_per_second(cpu, 0.0, 40e9) < tokens_per_second(one, gpu_bandwidth(H200), 40e9)


def test_measured_speed_is_kept_per_file_and_shown(tmp_path) -> None:  # type: ignore[no-untyped-def]
    starter = starter_model_path()
    assert not record_speed(starter, 0, 100.0, MIN_TOKENS - 1)  # too short a reply to say much
    for rate in (90.0, 110.0, 100.0):
        assert record_reply(starter, 0, rate, 64)
    seen = measured_speed(starter.name, starter.stat().st_size)
    assert seen is not None and seen.tokens_per_second == 100.0 and seen.replies == 3
    assert measured_speed(starter.name, starter.stat().st_size + 1) is None  # another file of that name
    assert measured_speed(starter.name, starter.stat().st_size, n_gpu_layers=-1) is None
    option = file_option(read_gguf_facts(starter), machine(ram_free=16), 2048)
    assert option.measured == seen and option.to_json()["tokens_per_second_measured"] == 100.0
    store_path().write_text("{ damaged")
    assert measured_speed(starter.name, starter.stat().st_size) is None  # a damaged file loses only that
    assert record_reply(starter, 0, 50.0, 64) and json.loads(store_path().read_text())


def test_floor_measured_here_replaces_the_fitted_one() -> None:
    starter = starter_model_path()
    facts = read_gguf_facts(starter)
    cpu_bw = 10e9
    assert measured_floors(0.0, cpu_bw) == Floors()  # nothing measured yet
    work = token_work(facts, facts.tensors, 0)
    bandwidth_seconds = work.seconds(0.0, cpu_bw, Floors(0.0, 0.0))
    per_layer = 100e-6
    rate = 1 / (bandwidth_seconds + per_layer * work.cpu_layers)
    record_reply(starter, 0, rate, 64)
    floors = measured_floors(0.0, cpu_bw)
    assert floors.cpu_layer == pytest.approx(per_layer, rel=0.01) and floors.gpu_layer == Floors().gpu_layer
    # and the estimate for the same file now gives what was measured
    assert tokens_per_second(work, 0.0, cpu_bw, floors) == pytest.approx(rate, rel=0.01)
