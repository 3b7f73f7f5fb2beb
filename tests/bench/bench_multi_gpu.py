"""A model split across two GPUs, and across two RPC servers, against llama.cpp's own llama-bench with the same
split; and each card's VRAM against QuantDesk's per-device estimate.

    python tests/bench/bench_multi_gpu.py MODEL.gguf [--mode layer|rpc|both] [--cap-gb 5] [--rounds 3]
        [--json OUT.json] [--speed-goal 0.95] [--vram-goal 0.05]

layer  this machine's GPUs, with a VRAM cap (Settings → gpu_memory_limit_gb) that keeps the model off any one
       card: QuantDesk plans the split (plan_load: tensor_split in proportion to each card's budget), the engine
       loads with it, and llama-bench runs with `-sm layer -ts A/B -ngl 999` and the same context settings.
rpc    two `rpc-server`s (QuantDesk's, app/core/engine/rpc_server.py: llama.cpp's server from the same build),
       one per GPU (CUDA_VISIBLE_DEVICES per server), the engine and llama-bench with no GPU of their own
       (CUDA_VISIBLE_DEVICES=""), both through `--rpc` / LoadModel.rpc_servers with the planned split.
For each: prompt (512 tokens) and generation (128 tokens, greedy) tokens/s of the engine ÷ llama-bench's pp512
and tg128; VRAM on each card (NVML, the engine's or each server's process) ÷ the estimate for that device.
Exits 1 when the engine is below --speed-goal of llama-bench, or a card is off its estimate by more than
--vram-goal.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

import llama_cpp  # noqa: F401  (llama.cpp's libraries before numpy's: app/core/process/bootstrap.py)
import psutil

from app.core.advice.placement import plan_load
from app.core.advice.recommend import budget_for, file_option
from app.core.context_settings import context_settings
from app.core.engine.client import EngineClient
from app.core.engine.machines import read_remote_devices
from app.core.engine.protocol import GREEDY, LoadModel
from app.core.engine.rpc_server import RpcServer
from app.core.machine.hardware import read_hardware, read_nvidia_gpus
from app.core.machine.rpc_backend import Endpoint
from app.core.models.facts import read_gguf_facts
from app.core.settings import set_setting
from tests.bench.bench_engine_speed import N_CTX, calibrate_words, engine_generation, engine_prompt
from tests.bench.llama_tools import _env, tool_path

MIB = 2**20


@dataclass
class SplitResult:
    mode: str
    model: str
    n_gpu_layers: int
    tensor_split: list[float]
    where: str
    devices: list[str]
    bench_command: str = ""
    bench_pp: list[float] = field(default_factory=list)
    bench_tg: list[float] = field(default_factory=list)
    engine_pp: list[float] = field(default_factory=list)
    engine_tg: list[float] = field(default_factory=list)
    estimate_per_device: list[int] = field(default_factory=list)
    vram_per_card: list[int] = field(default_factory=list)
    # rpc: bytes over the loopback interface (engine ↔ servers, both ways) per token evaluated during generation,
    # and to load the model
    io_per_token: list[int] = field(default_factory=list)
    io_load: list[int] = field(default_factory=list)
    engine_log_buffers: list[str] = field(default_factory=list)

    def speed(self, engine: list[float], bench: list[float]) -> float:
        return statistics.median(engine) / statistics.median(bench) if engine and bench else 0.0


def card_vram(pids: list[int], baseline: list[int]) -> list[int]:
    """VRAM each GPU holds for these processes (NVML), in NVML's order; where NVML lists no process (a container's
    own process ids), the growth of the card's used memory since `baseline`."""
    cards = read_nvidia_gpus()
    per_card = [0] * len(cards)
    for pid in pids:
        for gpu in read_nvidia_gpus(pid):
            per_card[gpu.index] += gpu.process_used_bytes or 0
    if not any(per_card):
        per_card = [max(0, g.used_bytes - b) for g, b in zip(cards, baseline, strict=False)]
    return per_card


def used_now() -> list[int]:
    return [g.used_bytes for g in read_nvidia_gpus()]


def llama_bench(model: str, split: list[float], extra: list[str], rounds: int, env: dict[str, str]) -> tuple[
        dict[str, list[float]], str]:
    tool = tool_path("llama-bench")
    settings = context_settings(N_CTX, output_on_gpu=True, all_on_gpu=True)
    cmd = [str(tool), "-m", model, "-p", "512", "-n", "128", "-r", str(rounds), "-ngl", "999", "-sm", "layer",
           "-ts", "/".join(f"{s:g}" for s in split), "-o", "json", *settings.as_llama_bench_args(), *extra]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**_env(tool), **env}, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"llama-bench failed ({done.returncode}): {' '.join(cmd)}\n{done.stderr[-3000:]}")
    rows = json.loads(done.stdout)
    out = {("pp" if r["n_gen"] == 0 else "tg"): [float(x) for x in r["samples_ts"]] for r in rows}
    return out, " ".join(["llama-bench", *cmd[1:]])


def io_chars(pids: list[int]) -> list[int]:
    """Bytes sent over the loopback interface so far (RPC servers on this host talk to the engine through it; each
    byte counts once), one figure per server asked about: the servers' share is not told apart. A quiet machine
    (the device) has no other loopback traffic to speak of."""
    sent = int(psutil.net_io_counters(pernic=True)["lo"].bytes_sent) if pids else 0
    return [sent for _ in pids[:1]]


def run_engine(result: SplitResult, request: LoadModel, rounds: int, pids_of_cards: list[int] | None) -> None:
    client = EngineClient()
    baseline = used_now()
    servers = pids_of_cards or []
    before_load = io_chars(servers)
    try:
        loaded = client.load_model(request)
        result.io_load = [b - a for a, b in zip(before_load, io_chars(servers), strict=True)]
        result.devices = list(loaded.info.devices)
        n_words = calibrate_words(client)
        engine_generation(client, GREEDY)  # warm-up
        for r in range(rounds):
            result.engine_pp.append(engine_prompt(client, r, n_words)[0])
        before, tokens = io_chars(servers), 0
        for _ in range(rounds):
            stats = engine_generation(client, GREEDY).stats
            result.engine_tg.append(stats.tokens_per_second)
            tokens += stats.generated_tokens + stats.prompt_tokens - stats.prompt_tokens_reused
        result.io_per_token = [(b - a) // max(1, tokens) for a, b in zip(before, io_chars(servers), strict=True)]
        # llama.cpp allocates the whole KV cache and reserves the compute buffers at load: no need to fill it
        result.vram_per_card = card_vram(pids_of_cards or [client.pid or 0], baseline)
        result.engine_log_buffers = [line for line in client.log_tail(400).splitlines()
                                     if "buffer size" in line or "pipeline" in line or "layers to" in line]
    finally:
        client.close()


def measure_layer(model: str, cap_gb: float, rounds: int) -> SplitResult:
    set_setting("gpu_memory_limit_gb", cap_gb)
    hardware = read_hardware()
    plan = plan_load(Path(model), N_CTX, hardware)
    option = file_option(read_gguf_facts(model), hardware, N_CTX)
    result = SplitResult("layer", Path(model).name, plan.n_gpu_layers, list(plan.tensor_split), plan.where, [])
    result.estimate_per_device = [d.total for d in option.memory.devices]
    print(f"layer plan: {plan.reason} (placement {plan.placement}, ngl {plan.n_gpu_layers}, split "
          f"{plan.tensor_split}); budgets {[d.budget for d in budget_for(hardware).devices]}", file=sys.stderr)
    request = LoadModel(model, n_ctx=N_CTX, n_gpu_layers=plan.n_gpu_layers, tensor_split=plan.tensor_split)
    run_engine(result, request, rounds, None)
    bench, result.bench_command = llama_bench(model, list(plan.tensor_split), [], rounds, {})
    result.bench_pp, result.bench_tg = bench["pp"], bench["tg"]
    set_setting("gpu_memory_limit_gb", 0)
    return result


def measure_rpc(model: str, rounds: int, base_port: int) -> SplitResult:
    servers = []
    saved = os.environ.get("CUDA_VISIBLE_DEVICES")
    try:
        for i in range(2):
            os.environ["CUDA_VISIBLE_DEVICES"] = str(i)  # the server's child inherits it: one GPU each
            server = RpcServer(Endpoint("127.0.0.1", base_port + i), threads=4)
            servers.append(server)
            ready = server.start()
            print(f"rpc server {ready.endpoint}: {ready.devices}", file=sys.stderr)
        os.environ["CUDA_VISIBLE_DEVICES"] = ""  # the engine (and its helpers) see no local GPU
        addresses = [str(s.endpoint) for s in servers]
        remote = read_remote_devices(addresses)
        hardware = replace(read_hardware(), gpus=(), remote_devices=remote)
        plan = plan_load(Path(model), N_CTX, hardware)
        option = file_option(read_gguf_facts(model), hardware, N_CTX)
        result = SplitResult("rpc", Path(model).name, plan.n_gpu_layers, list(plan.tensor_split), plan.where, [])
        result.estimate_per_device = [d.total for d in option.memory.devices]
        print(f"rpc plan: {plan.reason} (ngl {plan.n_gpu_layers}, split {plan.tensor_split})", file=sys.stderr)
        request = LoadModel(model, n_ctx=N_CTX, n_gpu_layers=plan.n_gpu_layers, rpc_servers=plan.rpc_servers,
                            tensor_split=plan.tensor_split)
        run_engine(result, request, rounds, [s.pid or 0 for s in servers])
        time.sleep(1.0)  # the servers free the engine's buffers when it disconnects
        bench, result.bench_command = llama_bench(model, list(plan.tensor_split), ["--rpc", ",".join(addresses)],
                                                  rounds, {"CUDA_VISIBLE_DEVICES": ""})
        result.bench_pp, result.bench_tg = bench["pp"], bench["tg"]
        return result
    finally:
        if saved is None:
            os.environ.pop("CUDA_VISIBLE_DEVICES", None)
        else:
            os.environ["CUDA_VISIBLE_DEVICES"] = saved
        for server in servers:
            server.stop()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model")
    parser.add_argument("--mode", choices=("layer", "rpc", "both"), default="both")
    parser.add_argument("--cap-gb", type=float, default=5.0, help="VRAM cap per card that forces the layer split")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--port", type=int, default=50152)
    parser.add_argument("--speed-goal", type=float, default=0.95)
    parser.add_argument("--vram-goal", type=float, default=0.05)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    started = time.perf_counter()
    results: list[SplitResult] = []
    modes = ("layer", "rpc") if args.mode == "both" else (args.mode,)
    failures = []
    for mode in modes:
        try:
            results.append(measure_layer(args.model, args.cap_gb, args.rounds) if mode == "layer"
                           else measure_rpc(args.model, args.rounds, args.port))
        except Exception as error:  # one mode failing still reports the other
            failures.append(f"{mode}: {type(error).__name__}: {error}")
            print(f"{mode} failed: {error}", file=sys.stderr)
        if args.json:
            args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
        print(f"{mode}: {time.perf_counter() - started:.0f} s", file=sys.stderr, flush=True)
    missed = list(failures)
    print("| split | where | llama-bench pp512 | engine pp512 | ratio | llama-bench tg128 | engine tg128 | ratio |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        pp, tg = r.speed(r.engine_pp, r.bench_pp), r.speed(r.engine_tg, r.bench_tg)
        print(f"| {r.mode} {r.tensor_split} | {r.where} | {statistics.median(r.bench_pp):,.1f} "
              f"| {statistics.median(r.engine_pp):,.1f} | {pp:.3f} | {statistics.median(r.bench_tg):,.1f} "
              f"| {statistics.median(r.engine_tg):,.1f} | {tg:.3f} |")
        for name, value in (("prompt", pp), ("generation", tg)):
            if value < args.speed_goal:
                missed.append(f"{r.mode} {name}: {value:.3f} < {args.speed_goal}")
    print("\n| split | card | estimate MiB | measured MiB | measured ÷ estimate |")
    print("|---|---|---|---|---|")
    for r in results:
        cards = [v for v in r.vram_per_card if v > 0]
        for i, (est, got) in enumerate(zip(r.estimate_per_device, cards, strict=False)):
            ratio = got / est if est else 0.0
            print(f"| {r.mode} | {i} | {est / MIB:,.0f} | {got / MIB:,.0f} | {ratio:.3f} |")
            if abs(ratio - 1) > args.vram_goal:
                missed.append(f"{r.mode} card {i}: VRAM {ratio:.3f} of the estimate")
        if len(cards) != len(r.estimate_per_device):
            missed.append(f"{r.mode}: {len(cards)} cards used, {len(r.estimate_per_device)} planned")
    for r in results:
        if r.io_per_token:
            print(f"\n{r.mode}: bytes engine ↔ servers per token (generation, prompts included): "
                  f"{r.io_per_token}; to load the model: {[f'{b / 2**20:,.0f} MiB' for b in r.io_load]}")
    for r in results:
        print(f"\n{r.mode}: {r.bench_command}\n  devices {r.devices}; llama.cpp's buffers:")
        for line in r.engine_log_buffers:
            print(f"    {line}")
    print(f"\ntotal {time.perf_counter() - started:.0f} s")
    for line in missed:
        print("MISSED", line)
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
