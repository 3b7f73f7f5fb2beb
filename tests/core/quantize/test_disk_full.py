"""A disk that fills up while llama.cpp writes: "the disk is full" in plain words, nothing left behind.

The full disk is real: the partial file's name is a link to /dev/full, where every write fails with ENOSPC,
so llama.cpp's own writer meets the error it meets on a full disk and logs "basic_ios::clear: iostream error".
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from app.core.disk import partial_path
from app.core.errors import NotEnoughDiskError
from app.core.llama_log import says_disk_full
from app.core.process.runner import run_in_child
from app.core.quantize.quantizer import quantize_file

pytestmark = pytest.mark.skipif(not os.path.exists("/dev/full"), reason="needs /dev/full (Linux)")


def test_llamas_iostream_error_becomes_the_disk_is_full(tiny_f16: Path, tmp_path: Path) -> None:
    dst = tmp_path / "tiny-Q4_0.gguf"
    partial_path(dst).symlink_to("/dev/full")
    with pytest.raises(NotEnoughDiskError) as caught:
        quantize_file(tiny_f16, dst, "Q4_0", threads=2)
    assert caught.value.message.startswith("The disk is full")
    assert "iostream error" in caught.value.detail  # llama.cpp's own words stay in the details
    assert list(tmp_path.iterdir()) == []  # no output, no partial file


def test_the_log_words_that_mean_a_full_disk() -> None:
    assert says_disk_full(["llama_model_quantize: failed to quantize: basic_ios::clear: iostream error"])
    assert says_disk_full(["failed to quantize: ios_base::clear: unspecified iostream_category error"])
    assert not says_disk_full(["llama_model_quantize: failed to quantize: unknown model architecture"])


def _write_to(path: str, *, on_progress: object) -> None:
    with open(path, "wb") as f:
        f.write(b"x" * 65536)
        f.flush()


def test_a_child_that_fills_the_disk_says_so() -> None:
    """A Python write (a conversion, an importance matrix) that meets ENOSPC in a job's child process."""
    with pytest.raises(NotEnoughDiskError) as caught:
        run_in_child(_write_to, args=("/dev/full",))
    assert caught.value.message.startswith("The disk is full")
    assert os.strerror(errno.ENOSPC) in caught.value.detail
