"""The recommendation beside an inspected Hub repo: sized from what the inspection read, for this computer."""

from __future__ import annotations

import json

import gguf

from app.core.advice.recommend import ram_budget
from app.core.advice.repo import HardwareOnce, inspect_and_recommend, recommend_for_inspection
from app.core.hub.inspect import inspect_repo
from app.core.machine.hardware import read_hardware
from app.core.models.library import starter_model_path
from app.core.offline import set_offline
from app.core.quants import BY_NAME
from tests.core.advice.test_recommend import machine
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_models import LLAMA_CONFIG, tiny_gguf_bytes, tiny_safetensors_bytes

FT = gguf.LlamaFileType
GIB = 1024**3


def _gguf_repo(hub: FakeHub, repo_id: str, types: dict[str, FT], blocks: dict[str, int] | None = None) -> None:
    files = [FakeFile(name, tiny_gguf_bytes(ft, n_blocks=(blocks or {}).get(name, 2)), lfs=True)
             for name, ft in types.items()]
    hub.add_repo(FakeRepo(repo_id, [FakeFile("README.md", b"# test\n"), *files], tags=["gguf"]))


def test_safetensors_repo_gets_a_recommendation_that_fits_this_computers_ram(fake_hub: FakeHub) -> None:
    hardware = read_hardware()  # this machine, for real
    result = inspect_and_recommend("tester/tiny-llama", HardwareOnce())
    rec = result.recommendation
    assert rec is not None and rec.problem is None and rec.recommendation is not None
    chosen = rec.chosen
    assert chosen is not None and rec.recommended == chosen.type
    assert chosen.placement in ("cpu", "partial", "gpu")
    if chosen.placement == "cpu":  # the RAM rule: what is available now, less the reserve
        assert chosen.memory.cpu.total <= ram_budget(hardware.memory.available_bytes,
                                                     hardware.memory.total_bytes)
    assert rec.sentence.startswith(chosen.type)
    # sized from the safetensors headers the inspection read: the model's own parameter count
    assert result.inspection.safetensors is not None
    assert rec.recommendation.options[0].memory.file_bytes > 0
    # the disk estimate's quant is now the recommended level's, at the catalogue's bits per weight
    assert result.inspection.disk is not None
    params = result.inspection.safetensors.parameter_count
    assert result.inspection.disk.quant_bytes == int(params * BY_NAME[chosen.type].file_bits_per_weight / 8)
    # nothing fetched twice: config.json once (the inspection does not read it), the weights only through
    # the safetensors header reads the inspection made
    assert len(fake_hub.downloads_of("/config.json")) == 1
    weights = fake_hub.downloads_of("/model.safetensors")
    assert weights and all(r.request.range for r in weights)


def test_less_ram_gets_a_smaller_level_and_nothing_when_nothing_fits(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tester/smol-GGUF", [
        FakeFile("smollm2-135m-instruct-q4_1.gguf", source=starter_model_path(), lfs=True)], tags=["gguf"]))
    inspection = inspect_repo("tester/smol-GGUF")
    roomy = recommend_for_inspection(inspection, machine(ram_free=8))
    assert roomy.recommended == "Q8_0" and roomy.recommendation is not None
    assert roomy.best_file == "smollm2-135m-instruct-q4_1.gguf"  # no Q8_0 file: the largest that fits
    # a machine whose RAM budget is one byte short of Q8_0's need (16 GB total: 1.6 GB is kept back)
    q8_need = roomy.recommendation.option("Q8_0").memory.cpu.total
    tight = machine(ram_free=(q8_need - 1 + int(1.6 * GIB)) / GIB)
    budget = ram_budget(tight.memory.available_bytes, tight.memory.total_bytes)
    assert budget < q8_need
    rec = recommend_for_inspection(inspection, tight)
    assert rec.recommended not in (None, "Q8_0", "F16"), rec.sentence
    assert rec.chosen is not None and rec.chosen.memory.cpu.total <= budget
    nothing = recommend_for_inspection(inspection, machine(ram_free=1.1))
    assert nothing.recommended is None and nothing.sentence.startswith("Nothing fits")
    assert nothing.best_file is None  # the one file does not fit either: nothing is pre-ticked


def test_gguf_repo_picks_the_recommended_file(fake_hub: FakeHub) -> None:
    _gguf_repo(fake_hub, "tester/many-GGUF", {"m-F16.gguf": FT.MOSTLY_F16, "m-Q8_0.gguf": FT.MOSTLY_Q8_0,
                                              "m-Q4_K_M.gguf": FT.MOSTLY_Q4_K_M})
    result = inspect_and_recommend("tester/many-GGUF", HardwareOnce())
    rec = result.recommendation
    assert rec is not None and rec.recommended == "Q8_0"  # a tiny model fits anywhere: the best level
    assert rec.best_file == "m-Q8_0.gguf"
    assert {f.path for f in rec.files} == {"m-F16.gguf", "m-Q8_0.gguf", "m-Q4_K_M.gguf"}
    assert all(f.fits for f in rec.files)
    # sized from the headers the inspection read: no request beyond what inspecting alone makes
    with_rec = len(fake_hub.requests)
    fake_hub.clear_log()
    inspect_repo("tester/many-GGUF")
    assert len(fake_hub.requests) == with_rec


def test_gguf_repo_without_the_recommended_level_picks_the_largest_that_fits(fake_hub: FakeHub) -> None:
    _gguf_repo(fake_hub, "tester/low-GGUF", {"m-Q2_K.gguf": FT.MOSTLY_Q2_K, "m-Q4_K_M.gguf": FT.MOSTLY_Q4_K_M,
                                             "m-IQ4_XS.gguf": FT.MOSTLY_IQ4_XS},
               blocks={"m-Q2_K.gguf": 2, "m-Q4_K_M.gguf": 4, "m-IQ4_XS.gguf": 3})
    rec = inspect_and_recommend("tester/low-GGUF", HardwareOnce()).recommendation
    assert rec is not None and rec.recommended == "Q8_0"
    sizes = {f.path: f.size for f in rec.files}
    assert sizes["m-Q4_K_M.gguf"] > sizes["m-IQ4_XS.gguf"] > sizes["m-Q2_K.gguf"]
    assert rec.best_file == "m-Q4_K_M.gguf"


def test_unknown_architecture_says_it_cannot_estimate(fake_hub: FakeHub) -> None:
    weights, _ = tiny_safetensors_bytes()
    config = {**LLAMA_CONFIG, "architectures": ["MambaForCausalLM"], "model_type": "mamba"}
    fake_hub.add_repo(FakeRepo("tester/mamba", [FakeFile("config.json", json.dumps(config).encode()),
                                                FakeFile("model.safetensors", weights, lfs=True)],
                               config=config))
    result = inspect_and_recommend("tester/mamba", HardwareOnce())
    rec = result.recommendation
    assert rec is not None and rec.recommendation is None and rec.recommended is None
    assert rec.sentence.startswith("QuantDesk can't estimate what this model needs.")
    assert "MambaForCausalLM" in rec.sentence and "Traceback" not in rec.sentence


def test_missing_config_says_it_cannot_estimate(fake_hub: FakeHub) -> None:
    weights, _ = tiny_safetensors_bytes()
    fake_hub.add_repo(FakeRepo("tester/no-config", [FakeFile("model.safetensors", weights, lfs=True)]))
    rec = inspect_and_recommend("tester/no-config", HardwareOnce()).recommendation
    assert rec is not None and rec.recommendation is None
    assert rec.sentence.startswith("QuantDesk can't estimate what this model needs.")


def test_offline_midway_says_so(fake_hub: FakeHub) -> None:
    inspection = inspect_repo("tester/tiny-llama")
    set_offline(True)
    try:
        rec = recommend_for_inspection(inspection, machine(ram_free=8))
    finally:
        set_offline(False)
    assert rec.recommendation is None and "offline" in rec.sentence


def test_hardware_is_read_once() -> None:
    reads = []

    def read():  # type: ignore[no-untyped-def]
        reads.append(1)
        return machine(ram_free=8)

    once = HardwareOnce(read)
    assert once.get() is once.get() and len(reads) == 1
