"""Partial files (hidden, never .gguf, named for their writer) and the free-space check."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from app.core.disk import check_free_space, is_partial, partial_path, remove_stale_partials
from app.core.errors import NotEnoughDiskError
from tests.fixtures.files import dead_pid, leftover_partial


def test_a_partial_name_is_hidden_never_gguf_and_carries_its_writer(tmp_path: Path) -> None:
    partial = partial_path(tmp_path / "model-Q4_K_M.gguf")
    assert partial.parent == tmp_path
    assert partial.name == f".model-Q4_K_M.gguf.{os.getpid()}.part"
    assert not partial.name.endswith(".gguf") and is_partial(partial)
    assert not is_partial(tmp_path / "model-Q4_K_M.gguf")


def test_only_partials_whose_writer_is_gone_are_removed(tmp_path: Path) -> None:
    out = tmp_path / "a.gguf"
    stale = leftover_partial(out)
    live = partial_path(out)  # this process is writing it
    live.write_bytes(b"in progress")
    other = leftover_partial(tmp_path / "b.gguf")
    old_style = tmp_path / "c.part.gguf"  # what earlier versions left
    old_style.write_bytes(b"x")
    keep = tmp_path / "a.gguf.notes.part"  # not ours: no writer's id
    keep.write_bytes(b"x")

    assert remove_stale_partials(tmp_path, "a.gguf") == [stale]  # only a.gguf's, and only the dead writer's
    assert live.exists() and other.exists() and old_style.exists()
    assert sorted(remove_stale_partials(tmp_path)) == sorted([other, old_style])
    assert live.exists() and keep.exists()
    assert remove_stale_partials(tmp_path / "missing") == []


def test_a_dead_pid_is_dead() -> None:
    pid = dead_pid()
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_the_disk_is_checked_in_plain_words(tmp_path: Path) -> None:
    check_free_space(tmp_path, 1)
    with pytest.raises(NotEnoughDiskError) as caught:
        check_free_space(tmp_path / "not" / "yet", 10**18, "the quantized model")
    assert "not enough free disk space" in caught.value.message and "needs about" in caught.value.message
    assert "the quantized model" in caught.value.message
    assert f"at {tmp_path}" in caught.value.detail  # the nearest folder that exists
