"""Inspect a repo before downloading: GGUF quant from name and header (ranged reads), safetensors, disk."""

from __future__ import annotations

import gguf
import pytest

from app.core.errors import RepoNotFoundError
from app.core.hub.inspect import DEFAULT_DISK_QUANT, inspect_repo
from app.core.models.library import starter_model_path
from app.core.quants import BY_NAME
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)
from tests.fixtures.hub_models import LLAMA_CONFIG, tiny_gguf_bytes, tiny_safetensors_bytes


def test_gguf_quant_confirmed_from_header_of_a_real_model(fake_hub: FakeHub) -> None:
    starter = starter_model_path()
    fake_hub.add_repo(FakeRepo("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF",
                               [FakeFile("smollm2-135m-instruct-q4_1.gguf", source=starter, lfs=True)],
                               tags=["gguf"]))
    fake_hub.cdn_redirect = True  # as on the real Hub, the LFS bytes come from another host
    result = inspect_repo("HuggingFaceTB/SmolLM2-135M-Instruct-GGUF")
    (g,) = result.gguf_files
    assert g.quant_from_name == "Q4_1" and g.quant_from_header == "Q4_1" and g.confirmed is True
    assert g.header is not None and g.header.architecture == "llama"
    assert 130e6 < g.header.parameter_count < 140e6  # SmolLM2-135M
    assert result.architecture == "llama" and not result.convertible  # a ready GGUF, nothing to convert
    reads = fake_hub.downloads_of("q4_1.gguf")
    assert reads and all(r.request.path.startswith("/cdn-lfs/") for r in reads)
    assert all(r.request.range and r.status == 206 for r in reads)
    sent = sum(r.bytes_sent for r in reads)
    assert g.header.header_bytes <= sent < 4 * 1024 * 1024 < starter.stat().st_size  # header only


def test_header_contradicting_the_name_is_reported(fake_hub: FakeHub) -> None:
    data = tiny_gguf_bytes(gguf.LlamaFileType.MOSTLY_Q8_0)
    fake_hub.add_repo(FakeRepo("tester/mislabelled", [FakeFile("model-Q4_K_M.gguf", data, lfs=True)],
                               tags=["gguf"]))
    (g,) = inspect_repo("tester/mislabelled").gguf_files
    assert (g.quant_from_name, g.quant_from_header, g.confirmed) == ("Q4_K_M", "Q8_0", False)


def test_not_a_gguf_is_reported_per_file(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tester/broken", [FakeFile("model-Q8_0.gguf", b"not a gguf", lfs=True)]))
    (g,) = inspect_repo("tester/broken").gguf_files
    assert g.header is None and g.header_error and "not a GGUF" in g.header_error


def test_safetensors_repo(fake_hub: FakeHub) -> None:
    _, params = tiny_safetensors_bytes()
    result = inspect_repo("tester/tiny-llama")
    assert result.safetensors is not None
    assert result.safetensors.parameter_count == params and result.safetensors.dtypes == (("F16", params),)
    assert result.architecture == "LlamaForCausalLM" and result.convertible
    assert result.license == "apache-2.0" and not result.gated
    assert {f.path: f.kind for f in result.files} == {
        "config.json": "config", "tokenizer.json": "config", "model.safetensors": "safetensors"}
    disk = result.disk
    assert disk is not None
    assert disk.download_bytes == result.download_bytes
    assert disk.f16_bytes == params * 2
    # until a recommendation names a level, the catalogue's bits/weight for Q4_K_M (4.89, llama.cpp's table)
    assert disk.quant_bytes == int(params * BY_NAME[DEFAULT_DISK_QUANT].file_bits_per_weight / 8)
    assert disk.total_bytes == disk.download_bytes + disk.f16_bytes + disk.quant_bytes
    assert disk.fits and disk.free_bytes > 0
    assert disk.for_quant(params, 8.5).quant_bytes == int(params * 8.5 / 8)
    # the recommended level's bits replace the default's (advice/repo.py names the level)
    resized = result.with_quant_bits(6.56)
    assert resized.disk is not None and resized.disk.quant_bytes == int(params * 6.56 / 8)


def test_unsupported_architecture_and_gated_licence(fake_hub: FakeHub) -> None:
    weights, _ = tiny_safetensors_bytes()
    config = {**LLAMA_CONFIG, "architectures": ["MambaForCausalLM"], "model_type": "mamba"}
    fake_hub.add_repo(FakeRepo("tester/mamba", [FakeFile("model.safetensors", weights, lfs=True)],
                               config=config, gated="auto", license="other"))
    result = inspect_repo("tester/mamba")
    assert result.architecture == "MambaForCausalLM" and not result.convertible
    assert result.gated and result.license == "other"
    # the headers are behind the gate: the count comes from the Hub's published summary
    assert result.safetensors is not None
    assert result.safetensors.parameter_count == tiny_safetensors_bytes()[1]


def test_gated_gguf_without_token_still_inspects(fake_hub: FakeHub) -> None:
    result = inspect_repo("gated-org/gated-GGUF")
    assert result.gated
    (g,) = result.gguf_files
    assert g.header is None and g.header_error and "gated" in g.header_error
    assert g.quant_from_name == "Q8_0"


def test_unknown_repo(fake_hub: FakeHub) -> None:
    with pytest.raises(RepoNotFoundError) as info:
        inspect_repo("nobody/nothing")
    assert "nobody/nothing" in info.value.message and "RepositoryNotFoundError" in info.value.detail
