"""Generation speeds measured on this computer: a small JSON file of the engine's own replies, per model file
and GPU layer count, and the per-layer floor they show (advice/speed.py uses it instead of the fitted one).

A file is known by its name and size (a file downloaded again, or the same Hub file seen in Find models, is
the same file); a short reply says little about speed, so only replies of MIN_TOKENS or more are kept, the
last KEEP of each. Written from the app's engine worker thread after a reply, never from the GUI thread.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.core.advice.speed import Floors, TokenWork
from app.core.paths import data_dir

log = logging.getLogger(__name__)

FILE_NAME = "measured-speeds.json"
MIN_TOKENS = 32
KEEP = 5
_lock = threading.Lock()


def store_path() -> Path:
    return data_dir() / FILE_NAME


def _key(name: str, size: int, n_gpu_layers: int) -> str:
    return f"{name}|{size}|{n_gpu_layers}"


def _load() -> dict[str, Any]:
    try:
        data = json.loads(store_path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:  # a damaged file only loses what was measured
        log.warning("measured speeds unreadable (%s); starting afresh", error)
        return {}
    return data if isinstance(data, dict) else {}


@dataclass(frozen=True)
class MeasuredSpeed:
    tokens_per_second: float  # the median of the last replies
    replies: int
    n_gpu_layers: int  # as loaded: -1 or more than the layers means all


def record_speed(path: str | Path, n_gpu_layers: int, tokens_per_second: float, generated_tokens: int,
                 work: TokenWork | None = None) -> bool:
    """Remember one reply's speed; `work` (what a token read where) lets the floor be measured from it.
    Returns whether it was kept."""
    p = Path(path)
    if generated_tokens < MIN_TOKENS or tokens_per_second <= 0:
        return False
    try:
        size = p.stat().st_size
    except OSError:
        return False
    with _lock:
        data = _load()
        entry = data.setdefault(_key(p.name, size, n_gpu_layers), {"rates": []})
        entry["rates"] = [*entry.get("rates", []), round(tokens_per_second, 2)][-KEEP:]
        entry["n_gpu_layers"] = n_gpu_layers
        if work is not None:
            entry["work"] = {"gpu_bytes": work.gpu_bytes, "cpu_bytes": work.cpu_bytes,
                             "gpu_layers": work.gpu_layers, "cpu_layers": work.cpu_layers}
        target = store_path()
        fd, tmp = tempfile.mkstemp(prefix=".speeds-", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            json.dump(data, out, indent=1)
        os.replace(tmp, target)
    return True


def measured_speed(name: str, size: int, n_gpu_layers: int | None = None) -> MeasuredSpeed | None:
    """What a file of this name and size generated here: with `n_gpu_layers` layers if given, else the
    placement measured most often."""
    data = _load()
    prefix = f"{name}|{size}|"
    found = [(k, v) for k, v in data.items() if k.startswith(prefix) and v.get("rates")]
    if n_gpu_layers is not None:
        found = [(k, v) for k, v in found if k == _key(name, size, n_gpu_layers)]
    if not found:
        return None
    _, entry = max(found, key=lambda kv: len(kv[1]["rates"]))
    rates = [float(r) for r in entry["rates"]]
    return MeasuredSpeed(statistics.median(rates), len(rates), int(entry.get("n_gpu_layers", 0)))


def measured_floors(gpu_bandwidth: float, cpu_bandwidth: float, default: Floors | None = None) -> Floors:
    """The per-layer floor this computer's replies show: a reply's time less what its bytes take at the
    estimated bandwidth, over its layers, from models run wholly on the GPU or wholly on the processor (the
    median of them); the fitted floor where nothing was measured."""
    base = default or Floors()
    gpu, cpu = [], []
    for entry in _load().values():
        w, rates = entry.get("work"), entry.get("rates")
        if not isinstance(w, dict) or not rates:
            continue
        work = TokenWork(dict(w.get("gpu_bytes", {})), dict(w.get("cpu_bytes", {})),
                         int(w.get("gpu_layers", 0)), int(w.get("cpu_layers", 0)))
        seconds = 1.0 / statistics.median(float(r) for r in rates)
        bandwidth_part = work.seconds(gpu_bandwidth, cpu_bandwidth, Floors(0.0, 0.0))
        if work.cpu_layers == 0 and work.gpu_layers > 0 and gpu_bandwidth > 0:
            gpu.append(max(0.0, seconds - bandwidth_part) / work.gpu_layers)
        elif work.gpu_layers == 0 and work.cpu_layers > 0:
            cpu.append(max(0.0, seconds - bandwidth_part) / work.cpu_layers)
    return Floors(statistics.median(gpu) if gpu else base.gpu_layer,
                  statistics.median(cpu) if cpu else base.cpu_layer)


def record_reply(path: str | Path, n_gpu_layers: int, tokens_per_second: float, generated_tokens: int) -> bool:
    """record_speed for a reply of the model file at `path`, with what its tokens read where (from the file's
    header), so it also measures the floor. Never raises: a speed not kept must not disturb the chat."""
    from app.core.advice.speed import token_work
    from app.core.models.facts import read_gguf_facts

    if generated_tokens < MIN_TOKENS:
        return False
    try:
        facts = read_gguf_facts(Path(path))
        work = token_work(facts, facts.tensors, n_gpu_layers)
        return record_speed(path, n_gpu_layers, tokens_per_second, generated_tokens, work)
    except Exception:
        log.exception("could not record the speed of %s", path)
        return False
