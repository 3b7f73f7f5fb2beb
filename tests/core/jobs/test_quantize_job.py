"""The app's path (a child process) against a direct llama_model_quantize call; Cancel; the job runner."""

from __future__ import annotations

import ctypes
import os
import threading
from pathlib import Path

import gguf
import llama_cpp
import pytest

from app.core.errors import AlreadyQuantizedError, Cancelled, InvalidModelFileError
from app.core.jobs.kind import JobContext
from app.core.jobs.quantize import QuantizeJobParams, QuantizeJobResult, run_quantize_job
from app.core.models.library import starter_model_path
from app.core.process.runner import run_in_child
from app.core.progress import ProgressCallback, no_progress
from app.core.quantize.quantizer import QuantizeResult, quantize_file
from app.core.quants import quant_type


def quantize_in_child(src: Path, dst: Path, type_name: str, threads: int | None = None,
                      on_progress: ProgressCallback = no_progress,
                      cancel: threading.Event | None = None) -> QuantizeResult:
    """What the quantize job's last step does: quantize_file in a child process through the one runner."""
    result: QuantizeResult = run_in_child(quantize_file, args=(src, dst, type_name), kwargs={"threads": threads},
                                          on_progress=on_progress, cancel=cancel, outputs=[dst])
    return result


def tensors_by_name(path: Path) -> dict[str, tuple[str, bytes]]:
    reader = gguf.GGUFReader(path)
    return {t.name: (t.tensor_type.name, bytes(t.data.tobytes())) for t in reader.tensors}


@pytest.mark.slow
def test_output_tensors_are_byte_identical_to_a_direct_call(tiny_f16: Path, tmp_path: Path) -> None:
    ours = quantize_in_child(tiny_f16, tmp_path / "ours-Q4_K_M.gguf", "Q4_K_M", threads=2).path
    params = llama_cpp.llama_model_quantize_default_params()
    params.ftype = quant_type("Q4_K_M").ftype
    params.nthread = 2
    direct = tmp_path / "direct-Q4_K_M.gguf"
    assert llama_cpp.llama_model_quantize(os.fsencode(tiny_f16), os.fsencode(direct),
                                          ctypes.byref(params)) == 0
    a, b = tensors_by_name(ours), tensors_by_name(direct)
    assert list(a) == list(b)
    for name in a:
        assert a[name] == b[name], name
    assert {kind for kind, _ in a.values()} >= {"Q4_K", "Q6_K"}


@pytest.mark.slow
def test_cancel_half_way_leaves_nothing(starter_f16: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    def on_progress(done: int, total: int) -> None:
        seen.append(done)
        if total and done >= total // 2:
            cancel.set()

    with pytest.raises(Cancelled):
        quantize_in_child(starter_f16, tmp_path / "m-Q6_K.gguf", "Q6_K", threads=1,
                          on_progress=on_progress, cancel=cancel)
    assert seen and max(seen) < 272  # it really stopped part way
    assert list(tmp_path.iterdir()) == []


@pytest.mark.slow
def test_a_corrupt_input_is_a_clear_error_in_the_child_too(tmp_path: Path) -> None:
    bad = tmp_path / "truncated.gguf"
    bad.write_bytes(starter_model_path().read_bytes()[:200_000])  # a real header, then the file ends
    with pytest.raises(InvalidModelFileError) as caught:
        quantize_in_child(bad, tmp_path / "out.gguf", "Q8_0")
    assert "truncated.gguf" in caught.value.message
    assert "Traceback" not in caught.value.message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["truncated.gguf"]


@pytest.mark.slow
def test_job_expands_a_quantized_input_once_and_reuses_it(data_dir: Path) -> None:
    params = QuantizeJobParams(src=str(starter_model_path()), type_name="Q8_0", threads=2)
    with pytest.raises(AlreadyQuantizedError):
        run_quantize_job(params, JobContext())
    stages: list[str] = []
    allowed = QuantizeJobParams(src=params.src, type_name="Q8_0", threads=2, allow_requantize=True)
    first = run_quantize_job(allowed, JobContext(on_stage=stages.append))
    assert isinstance(first, QuantizeJobResult)
    assert stages == ["expand", "quantize"]
    assert Path(first.path).name == "SmolLM2-135M-Instruct-Q8_0.gguf"
    assert Path(first.path).parent == data_dir / "models"
    assert first.expanded_from == str(starter_model_path())
    stages.clear()
    second = run_quantize_job(QuantizeJobParams(src=params.src, type_name="Q4_0", threads=2,
                                                allow_requantize=True), JobContext(on_stage=stages.append))
    assert stages == ["quantize"]  # the F16 expansion was reused
    assert sorted(p.name for p in (data_dir / "models").iterdir()) == [
        "SmolLM2-135M-Instruct-F16.gguf", "SmolLM2-135M-Instruct-Q4_0.gguf",
        "SmolLM2-135M-Instruct-Q8_0.gguf"]
    assert second.type == "Q4_0"
