"""Build the Linux one-folder app and measure it: the bundle's size and its cold start to the window.

    .venv/bin/python packaging/build_bundle.py [--runs 7] [--force] [--json] [--archive DIR]

The build (PyInstaller, packaging/quantdesk.spec, run with `nice`) goes into a cache keyed by everything that
goes into it: the app's sources, resources/, the specs, the installed packages and their versions, the
llama.cpp libraries and the Python version. An unchanged tree reuses the last build (the slow test
tests/packaging/test_bundle.py asks for it the same way, so a test session builds at most once).
$QUANTDESK_BUNDLE_CACHE moves the cache (default ~/.cache/quantdesk/bundles); --force rebuilds.

Figures printed (and with --json, as JSON on stdout):
- size: every file in the bundle folder, in MiB (as `du --apparent-size`);
- cold start to window: a fresh process of the bundled executable with a fresh data folder, from just before
  it is started to the main window's first paint (QUANTDESK_SMOKE=window, app/ui/smoke.py); the median of
  --runs after one launch that warms the OS file cache, and that first launch on its own;
- to chat-ready: the same, until the starter model is loaded in the engine process (one run).
--archive DIR also writes DIR/QuantDesk-linux-<machine>.tar.gz, the file a person downloads.
Goals (issue 12): cold start ≤ 2 s; size ≤ the source install's .venv (663 MiB measured) + the starter model.
Exits 1 when a goal is missed, 2 when the build or a launch fails.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from importlib import metadata
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEC = ROOT / "packaging" / "quantdesk.spec"
APP_NAME = "QuantDesk"
MIB = 1024 * 1024
GOAL_COLD_START_S = 2.0
SOURCE_VENV_MIB = 663  # `du -sh .venv` of the source install, measured for issue 12
KEEP_BUILDS = 2  # older cached builds are removed


def cache_root() -> Path:
    override = os.environ.get("QUANTDESK_BUNDLE_CACHE")
    if override:
        return Path(override)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "quantdesk" / "bundles"


def _source_files() -> list[Path]:
    files = [ROOT / "main.py", ROOT / "pyproject.toml", *sorted((ROOT / "packaging").glob("*.spec")),
             ROOT / "packaging" / "spec_common.py"]
    files += sorted(p for p in (ROOT / "app").rglob("*.py"))
    files += sorted(p for p in (ROOT / "resources").rglob("*") if p.is_file())
    return files


def build_key() -> str:
    """A hash of everything the build is made from; a change to any of it means a new build."""
    digest = hashlib.sha256()
    for path in _source_files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    installed = sorted(f"{d.metadata['Name']}=={d.version}" for d in metadata.distributions())
    digest.update("\n".join(installed).encode())
    digest.update(sys.version.encode())
    import llama_cpp  # the wheel is rebuilt per CMAKE_ARGS (CPU, CUDA) without a version change

    for lib in sorted((Path(llama_cpp.__file__).parent / "lib").glob("*")):
        stat = lib.stat()
        digest.update(f"{lib.name}:{stat.st_size}:{stat.st_mtime_ns}".encode())
    return digest.hexdigest()[:16]


def executable(bundle: Path) -> Path:
    return bundle / APP_NAME


def build_bundle(force: bool = False, quiet: bool = False) -> Path:
    """The bundle folder for the current sources: from the cache, or built now (about a minute on 2 cores)."""
    root = cache_root()
    key = build_key()
    bundle = root / key / APP_NAME
    if executable(bundle).is_file() and not force:
        return bundle
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root))
    command = [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN",
               "--distpath", str(work / "dist"), "--workpath", str(work / "build"), str(SPEC)]
    started = time.perf_counter()
    # nice: the build is heavy and the machines it runs on are shared
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True,
                            preexec_fn=(lambda: os.nice(10)) if hasattr(os, "nice") else None)
    if result.returncode != 0:
        shutil.rmtree(work, ignore_errors=True)
        raise RuntimeError(f"PyInstaller failed ({result.returncode}):\n{result.stdout[-3000:]}"
                           f"\n{result.stderr[-6000:]}")
    if not quiet:
        print(f"built {APP_NAME} in {time.perf_counter() - started:.0f} s", flush=True)
    target = root / key
    if target.exists():  # a rebuild (--force) or another process's build of the same key
        shutil.rmtree(target)
    target.mkdir()
    os.replace(work / "dist" / APP_NAME, bundle)  # whole or not at all: a half build is never found
    shutil.rmtree(work, ignore_errors=True)
    _remove_old_builds(root, keep=key)
    return bundle


def _remove_old_builds(root: Path, keep: str) -> None:
    builds = sorted((p for p in root.iterdir() if p.is_dir() and p.name != keep and "-" not in p.name),
                    key=lambda p: p.stat().st_mtime, reverse=True)
    for old in builds[KEEP_BUILDS - 1:]:
        shutil.rmtree(old, ignore_errors=True)


def write_archive(bundle: Path, folder: Path) -> Path:
    """QuantDesk-linux-x86_64.tar.gz holding the QuantDesk folder (links and permissions kept)."""
    import platform

    folder.mkdir(parents=True, exist_ok=True)
    base = folder / f"{APP_NAME}-linux-{platform.machine()}"
    return Path(shutil.make_archive(str(base), "gztar", root_dir=bundle.parent, base_dir=APP_NAME))


def folder_bytes(folder: Path) -> int:
    return sum(p.lstat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def smoke_env(home: Path) -> dict[str, str]:
    """A first launch: fresh data and settings folders, no Hub cache, the offscreen platform unless told."""
    env = dict(os.environ)
    env.setdefault("QT_QPA_PLATFORM", "offscreen")
    env["QUANTDESK_DATA_DIR"] = str(home / "data")
    env["QUANTDESK_CONFIG_DIR"] = str(home / "config")
    env["HF_HOME"] = str(home / "hf")
    env.pop("PYTHONPATH", None)  # the bundle must not lean on the source tree
    return env


def launch(bundle: Path, until: str, timeout: float = 120.0) -> dict[str, float | str]:
    """Start the bundled app once with QUANTDESK_SMOKE=`until`; seconds from start to each reported step."""
    with tempfile.TemporaryDirectory(prefix="quantdesk-bundle-run-") as home:
        env = smoke_env(Path(home))
        env["QUANTDESK_SMOKE"] = until
        start = time.time()
        result = subprocess.run([str(executable(bundle))], env=env, capture_output=True, text=True,
                                timeout=timeout)
    steps: dict[str, float | str] = {}
    for line in result.stdout.splitlines():
        words = line.split(" ", 3)
        if len(words) >= 3 and words[0] == "quantdesk-smoke":
            if words[1] == "model-failed":
                steps["failed"] = " ".join(words[2:])
            else:
                steps[words[1]] = float(words[2]) - start
                if len(words) == 4:
                    steps[f"{words[1]}-path"] = words[3]
    wanted = "window-shown" if until == "window" else "model-loaded"
    if result.returncode != 0 or wanted not in steps:
        raise RuntimeError(f"the bundled app did not report {wanted} (exit {result.returncode}): "
                           f"{steps.get('failed', '')}\n{result.stdout[-2000:]}\n{result.stderr[-4000:]}")
    return steps


def measure(bundle: Path, runs: int) -> dict[str, object]:
    first = float(launch(bundle, "window")["window-shown"])
    times = [float(launch(bundle, "window")["window-shown"]) for _ in range(runs)]
    model = launch(bundle, "model")
    sys.path.insert(0, str(ROOT))
    from app.core.models.library import starter_model_path  # the starter's size is part of the size goal

    starter = starter_model_path()
    size_mib = folder_bytes(bundle) / MIB
    goal_mib = SOURCE_VENV_MIB + starter.stat().st_size / MIB
    venv_mib = folder_bytes(Path(sys.prefix)) / MIB if sys.prefix != sys.base_prefix else None
    cold = statistics.median(times)
    return {
        "bundle": str(bundle),
        "size_mib": round(size_mib, 1),
        "size_goal_mib": round(goal_mib, 1),
        "this_venv_mib": round(venv_mib, 1) if venv_mib is not None else None,
        "cold_start_s": {"median": round(cold, 3), "min": round(min(times), 3), "max": round(max(times), 3),
                         "first_launch": round(first, 3), "runs": runs},
        "cold_start_goal_s": GOAL_COLD_START_S,
        "to_chat_ready_s": round(float(model["model-loaded"]), 3),
        "starter_in_bundle": str(model.get("model-loaded-path", "")).startswith(str(bundle)),
        "platform": os.environ.get("QT_QPA_PLATFORM", "offscreen"),
        "goals_met": cold <= GOAL_COLD_START_S and size_mib <= goal_mib,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--force", action="store_true", help="rebuild even if the cache has this build")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--archive", type=Path, help="also write the bundle as a .tar.gz into this folder")
    args = parser.parse_args()
    try:
        bundle = build_bundle(force=args.force)
        result = measure(bundle, args.runs)
        if args.archive:
            result["archive"] = str(write_archive(bundle, args.archive))
    except (RuntimeError, subprocess.TimeoutExpired) as error:
        print(error, file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        cold = result["cold_start_s"]
        assert isinstance(cold, dict)
        print(f"bundle: {result['bundle']}")
        print(f"  size {result['size_mib']} MiB   (goal <= {result['size_goal_mib']} MiB: the source .venv's "
              f"{SOURCE_VENV_MIB} MiB + the starter; this .venv: {result['this_venv_mib']} MiB)")
        print(f"  cold start to window ({result['platform']}), {cold['runs']} runs: median {cold['median']} s, "
              f"min {cold['min']} s, max {cold['max']} s; first launch {cold['first_launch']} s"
              f"   (goal <= {GOAL_COLD_START_S} s)")
        print(f"  to chat-ready (the starter loaded in the engine process): {result['to_chat_ready_s']} s")
        if "archive" in result:
            archive = Path(str(result["archive"]))
            print(f"  archive {archive} ({archive.stat().st_size / MIB:.1f} MiB)")
        print("  goals met" if result["goals_met"] else "  GOAL MISSED")
    return 0 if result["goals_met"] else 1


if __name__ == "__main__":
    sys.exit(main())
