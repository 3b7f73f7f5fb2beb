"""bootstrap.py builds llama.cpp with its RPC backend on, whatever else CMAKE_ARGS asks, and caches per build."""

from __future__ import annotations

import pytest

import bootstrap


def test_rpc_is_on_for_every_build(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CMAKE_ARGS", raising=False)
    assert bootstrap.cmake_args() == "-DGGML_RPC=ON"
    plain = bootstrap.wheel_cache_dir("llama-cpp-python==0.3.36")
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_CUDA=on")
    assert bootstrap.cmake_args() == "-DGGML_CUDA=on -DGGML_RPC=ON"
    assert bootstrap.wheel_cache_dir("llama-cpp-python==0.3.36") != plain  # a CUDA wheel is cached apart
    monkeypatch.setenv("CMAKE_ARGS", "-DGGML_RPC=OFF")  # a person's own choice about RPC is left alone
    assert bootstrap.cmake_args() == "-DGGML_RPC=OFF"
