"""Download through the real huggingface_hub client from the fake Hub: cache layout, resume, verification,
bad input (unsafe names, corrupted bytes, full disk, dropped connection), cancel, a picked folder."""

from __future__ import annotations

import os
import threading
from pathlib import Path

import pytest
from huggingface_hub import hf_hub_download

from app.core.errors import (
    Cancelled,
    ChecksumMismatchError,
    NotEnoughDiskError,
    RepoFileNotFoundError,
    UnsafeRepoPathError,
)
from app.core.hub.cache import cache_target
from app.core.hub.connection import save_token
from app.core.hub.download import DownloadPlan, RemoteFile, download, download_model, plan_download
from app.core.paths import hf_cache_dir
from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo
from tests.fixtures.hub_fixtures import *  # noqa: F403 (fixtures)

BIG = os.urandom(3 * 1024 * 1024 + 123)  # several chunks, an odd size


def _big_repo(hub: FakeHub, repo_id: str = "tester/big", **file_kwargs: object) -> FakeRepo:
    return hub.add_repo(FakeRepo(repo_id, [FakeFile("config.json", b'{"model_type": "llama"}'),
                                           FakeFile("weights-Q8_0.gguf", BIG, lfs=True, **file_kwargs)]))  # type: ignore[arg-type]


def _no_partial_files(root: Path) -> bool:
    return not any(p.name.endswith(".incomplete") for p in root.rglob("*"))


def test_download_into_the_shared_cache(fake_hub: FakeHub) -> None:
    repo = _big_repo(fake_hub)
    result = download_model("tester/big")
    cache = hf_cache_dir()
    snapshot = cache / "models--tester--big" / "snapshots" / repo.sha
    assert result.folder == snapshot and result.commit == repo.sha
    weights = snapshot / "weights-Q8_0.gguf"
    assert weights.is_symlink() and weights.read_bytes() == BIG
    blob = cache / "models--tester--big" / "blobs" / repo.file("weights-Q8_0.gguf").sha256  # type: ignore[union-attr]
    assert weights.resolve() == blob
    assert (cache / "models--tester--big" / "refs" / "main").read_text() == repo.sha
    assert result.transferred == len(BIG) + len(b'{"model_type": "llama"}')
    assert _no_partial_files(cache)
    # other tools see it: huggingface_hub itself resolves it offline from the cache
    found = hf_hub_download("tester/big", "weights-Q8_0.gguf", cache_dir=cache, local_files_only=True)
    assert Path(found).read_bytes() == BIG
    # a second run transfers nothing
    fake_hub.clear_log()
    again = download_model("tester/big")
    assert again.transferred == 0 and not fake_hub.downloads_of(".gguf")


def test_lfs_files_from_a_cdn_get_no_token(fake_hub: FakeHub) -> None:
    """The Hub answers LFS files with a 302 to its CDN (another host): follow it, resume there, keep the token
    on the Hub."""
    fake_hub.add_repo(FakeRepo("gated-org/big", [FakeFile("weights-Q8_0.gguf", BIG, lfs=True)], gated="auto"))
    fake_hub.granted_tokens.add("hf_cdn_test_token")
    save_token("hf_cdn_test_token")
    fake_hub.cdn_redirect = True
    fake_hub.drop_after_bytes = 700_000
    result = download_model("gated-org/big")
    assert (result.folder / "weights-Q8_0.gguf").read_bytes() == BIG
    resolve = [r for r in fake_hub.requests if "/resolve/" in r.request.path]
    assert resolve and all(r.status == 302 and r.request.authorization for r in resolve)
    cdn = fake_hub.downloads_of("weights-Q8_0.gguf")
    assert [r.request.path.startswith("/cdn-lfs/") for r in cdn] == [True, True]
    assert not any(r.request.authorization for r in cdn)
    assert cdn[1].request.range == f"bytes={cdn[0].bytes_sent}-"


def test_the_plan_comes_from_the_paged_recursive_tree_listing(fake_hub: FakeHub) -> None:
    files = [FakeFile(f"shards/part-{i:03d}.bin", bytes([i]) * (i + 1)) for i in range(60)]
    repo = fake_hub.add_repo(FakeRepo("tester/many", [FakeFile("config.json", b"{}"), *files]))
    plan = plan_download("tester/many", include=["shards/*"])
    assert plan.commit == repo.sha
    assert [f.path for f in plan.files] == [f.path for f in files]
    assert [f.size for f in plan.files] == list(range(1, 61))
    assert all(f.blob_id == g.blob_id and f.sha256 is None for f, g in zip(plan.files, files, strict=True))
    tree = [r.request for r in fake_hub.requests if "/tree/" in r.request.path]
    assert len(tree) == 2 and all(repo.sha in r.path for r in tree)  # two pages, pinned to the commit
    result = download(plan)
    assert (result.folder / "shards" / "part-059.bin").read_bytes() == bytes([59]) * 60


def test_include_patterns(fake_hub: FakeHub) -> None:
    _big_repo(fake_hub)
    result = download_model("tester/big", include=["*.json"])
    assert [f.path for f in result.files] == ["config.json"]
    with pytest.raises(RepoFileNotFoundError) as info:
        plan_download("tester/big", include=["*Q4_K_M*"])
    assert "*Q4_K_M*" in info.value.message


def test_resume_sends_only_the_rest(fake_hub: FakeHub) -> None:
    repo = _big_repo(fake_hub)
    f = repo.file("weights-Q8_0.gguf")
    assert f is not None
    target = cache_target(hf_cache_dir(), "tester/big", repo.sha, f.path, f.sha256)
    target.partial.parent.mkdir(parents=True)
    already = 1_234_567
    target.partial.write_bytes(BIG[:already])  # what an earlier, interrupted run left
    result = download_model("tester/big", include=["*.gguf"])
    (get,) = fake_hub.downloads_of("weights-Q8_0.gguf")
    assert get.request.range == f"bytes={already}-" and get.status == 206
    assert get.bytes_sent == len(BIG) - already
    assert result.files[0].resumed_from == already and result.files[0].transferred == len(BIG) - already
    assert (result.folder / "weights-Q8_0.gguf").read_bytes() == BIG


def test_a_server_that_ignores_range_gets_the_file_again(fake_hub: FakeHub) -> None:
    repo = _big_repo(fake_hub)
    f = repo.file("weights-Q8_0.gguf")
    assert f is not None
    target = cache_target(hf_cache_dir(), "tester/big", repo.sha, f.path, f.sha256)
    target.partial.parent.mkdir(parents=True)
    target.partial.write_bytes(BIG[:100_000])
    fake_hub.ignore_range = True
    result = download_model("tester/big", include=["*.gguf"])
    gets = fake_hub.downloads_of("weights-Q8_0.gguf")
    assert [g.status for g in gets] == [200, 200]  # the resume was refused, then the whole file fetched
    assert (result.folder / "weights-Q8_0.gguf").read_bytes() == BIG


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="/dev/full (an always-full disk) is Linux-only")
def test_disk_full_while_writing(fake_hub: FakeHub, tmp_path: Path) -> None:
    _big_repo(fake_hub)
    folder = tmp_path / "picked"
    partial = folder / ".cache" / "quantdesk" / "weights-Q8_0.gguf.incomplete"
    partial.parent.mkdir(parents=True)
    partial.symlink_to("/dev/full")  # every write to it fails with ENOSPC, as on a full disk
    with pytest.raises(NotEnoughDiskError) as info:
        download_model("tester/big", include=["*.gguf"], folder=folder)
    assert "disk filled up" in info.value.message and "No space left" in info.value.detail
    assert not (folder / "weights-Q8_0.gguf").exists()


def test_dropped_connection_resumes_within_the_run(fake_hub: FakeHub) -> None:
    _big_repo(fake_hub)
    fake_hub.drop_after_bytes = 600_000
    result = download_model("tester/big", include=["*.gguf"])
    gets = fake_hub.downloads_of("weights-Q8_0.gguf")
    assert len(gets) == 2
    assert gets[0].request.range is None and gets[0].bytes_sent < len(BIG)
    assert gets[1].request.range == f"bytes={gets[0].bytes_sent}-"
    assert (result.folder / "weights-Q8_0.gguf").read_bytes() == BIG


def test_corrupted_bytes_are_never_kept(fake_hub: FakeHub) -> None:
    _big_repo(fake_hub, corrupt=True)
    with pytest.raises(ChecksumMismatchError) as info:
        download_model("tester/big", include=["*.gguf"])
    assert "damaged" in info.value.message and "expected" in info.value.detail
    cache = hf_cache_dir()
    assert not (cache / "models--tester--big" / "snapshots").exists() or not any(
        p.name == "weights-Q8_0.gguf" for p in (cache / "models--tester--big").rglob("*"))
    assert not any((cache / "models--tester--big" / "blobs").iterdir())  # neither blob nor partial


def test_corrupted_small_file_fails_the_git_sha1_check(fake_hub: FakeHub) -> None:
    fake_hub.add_repo(FakeRepo("tester/smallbad", [FakeFile("config.json", b"x" * 200, corrupt=True)]))
    with pytest.raises(ChecksumMismatchError):
        download_model("tester/smallbad")


@pytest.mark.parametrize("name", ["../evil.gguf", "/etc/evil.gguf", "a/../../evil.gguf", "C:evil.gguf"])
def test_unsafe_names_in_the_listing_stop_everything(fake_hub: FakeHub, tmp_path: Path, name: str) -> None:
    fake_hub.add_repo(FakeRepo("evil/repo", [FakeFile("ok.json", b"{}"), FakeFile(name, b"boom")]))
    folder = tmp_path / "picked"
    with pytest.raises(UnsafeRepoPathError) as info:
        download_model("evil/repo", folder=folder)
    assert name in info.value.detail
    assert not fake_hub.downloads_of("")  # refused before any file was fetched
    assert not (tmp_path / "evil.gguf").exists() and not folder.exists()


def test_not_enough_disk_is_checked_before_starting(fake_hub: FakeHub) -> None:
    repo = _big_repo(fake_hub)
    huge = RemoteFile("weights-Q8_0.gguf", 10**18, "0" * 64, None)  # an exabyte: no test disk has it
    plan = DownloadPlan("tester/big", "main", repo.sha, (huge,))
    with pytest.raises(NotEnoughDiskError) as info:
        download(plan)
    assert "not enough free disk space" in info.value.message and "the rest of this download" in info.value.message
    assert not fake_hub.downloads_of("")


def test_cancel_keeps_the_partial_file_and_the_next_run_resumes(fake_hub: FakeHub) -> None:
    _big_repo(fake_hub)
    fake_hub.throttle_bytes_per_second = 4 * 1024 * 1024
    cancel = threading.Event()
    seen: list[int] = []

    def on_progress(done: int, total: int) -> None:
        seen.append(done)
        if done > 500_000:
            cancel.set()

    with pytest.raises(Cancelled):
        download_model("tester/big", include=["*.gguf"], on_progress=on_progress, cancel=cancel)
    partials = [p for p in hf_cache_dir().rglob("*.incomplete")]
    assert len(partials) == 1 and 500_000 < partials[0].stat().st_size < len(BIG)
    assert not (hf_cache_dir() / "models--tester--big" / "snapshots").exists()
    kept = partials[0].stat().st_size
    fake_hub.throttle_bytes_per_second = None
    result = download_model("tester/big", include=["*.gguf"])
    assert fake_hub.downloads_of("weights-Q8_0.gguf")[-1].request.range == f"bytes={kept}-"
    assert result.files[0].resumed_from == kept
    assert seen == sorted(seen)  # overall progress only goes forward


def test_download_into_a_picked_folder(fake_hub: FakeHub, tmp_path: Path) -> None:
    _big_repo(fake_hub)
    folder = tmp_path / "my models"
    files = []
    result = download_model("tester/big", folder=folder, on_file=files.append)
    assert result.folder == folder
    assert (folder / "weights-Q8_0.gguf").read_bytes() == BIG
    assert (folder / "config.json").read_bytes() == b'{"model_type": "llama"}'
    assert _no_partial_files(folder)
    assert {p.path for p in files} == {"config.json", "weights-Q8_0.gguf"}
    assert all(p.count == 2 for p in files)
    assert download_model("tester/big", folder=folder).transferred == 0
