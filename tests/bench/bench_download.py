"""Benchmark: QuantDesk's resumable, verified download against plain `hf_hub_download` of the same file.

Both fetch the starter model (SmolLM2-135M Q4_1, ~98 MB) from the fake Hub on 127.0.0.1 (the kernel's
sendfile serves it, so the server is not the bottleneck) into fresh cache folders, alternating, over
several rounds.
QuantDesk's path also hashes every byte (sha256) and writes through a `.incomplete` file; the goal is
throughput ≥ 0.9 × hf_hub_download's.

    .venv/bin/python tests/bench/bench_download.py [--rounds 5] [--file PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.fixtures.fake_hub import FakeFile, FakeHub, FakeRepo

REPO = "bench/starter-GGUF"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--file", type=Path, default=None,
                        help="the file to serve (default: the starter model)")
    args = parser.parse_args()

    from app.core.models.library import starter_model_path

    source = args.file or starter_model_path()
    hub = FakeHub().start()
    name = source.name
    hub.add_repo(FakeRepo(REPO, [FakeFile(name, source=source, lfs=True)]))
    work = Path(tempfile.mkdtemp(prefix="bench-download-"))
    os.environ["HF_ENDPOINT"] = hub.url
    os.environ["QUANTDESK_CONFIG_DIR"] = str(work / "config")
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"

    from huggingface_hub import hf_hub_download

    from app.core.hub.download import download_model

    size = source.stat().st_size
    ours: list[float] = []
    theirs: list[float] = []
    try:
        for i in range(args.rounds):
            for which in (("hf", "ours") if i % 2 else ("ours", "hf")):
                cache = work / f"{which}-{i}"
                if which == "ours":
                    os.environ["HF_HUB_CACHE"] = str(cache)
                    t = time.perf_counter()
                    result = download_model(REPO)
                    elapsed = time.perf_counter() - t
                    assert result.transferred == size
                    ours.append(size / elapsed)
                else:
                    t = time.perf_counter()
                    path = hf_hub_download(REPO, name, cache_dir=cache, endpoint=hub.url)
                    elapsed = time.perf_counter() - t
                    assert Path(path).stat().st_size == size
                    theirs.append(size / elapsed)
                shutil.rmtree(cache)
    finally:
        hub.stop()
        shutil.rmtree(work, ignore_errors=True)

    mb = 1024 * 1024
    print(f"file: {name} ({size / mb:.1f} MiB), {args.rounds} rounds, loopback fake Hub (sendfile)")
    print(f"hf_hub_download : median {statistics.median(theirs) / mb:7.1f} MiB/s  "
          f"(min {min(theirs) / mb:.1f}, max {max(theirs) / mb:.1f})")
    print(f"QuantDesk       : median {statistics.median(ours) / mb:7.1f} MiB/s  "
          f"(min {min(ours) / mb:.1f}, max {max(ours) / mb:.1f})  [+ sha256 verify, resumable]")
    ratio = statistics.median(ours) / statistics.median(theirs)
    print(f"ratio (median QuantDesk / median hf_hub_download): {ratio:.2f}  (goal ≥ 0.9)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
