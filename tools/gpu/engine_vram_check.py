"""Load MODEL in the engine with the automatic placement and print the engine's RSS and VRAM (NVML)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from app.core.advice.placement import plan_load
from app.core.engine.client import EngineClient
from app.core.engine.protocol import LoadModel
from app.core.machine.hardware import read_memory_snapshot


def main() -> None:
    model = Path(sys.argv[1])
    plan = plan_load(model, 4096)
    print("plan:", plan)
    client = EngineClient()
    try:
        try:
            loaded = client.load_model(
                LoadModel(str(model), n_ctx=4096, n_gpu_layers=plan.n_gpu_layers))
        except Exception as error:
            print("FAILED:", error, getattr(error, "detail", ""))
            raise SystemExit(1) from error
        loaded = client.load_model(LoadModel(str(model), n_ctx=4096, n_gpu_layers=plan.n_gpu_layers))
        snap = read_memory_snapshot(client.pid, with_vram=True)
        vram = f"{snap.process_vram_bytes / 2**20:.0f} MiB" if snap.process_vram_bytes else "none"
        rss = (snap.process_rss_bytes or 0) / 2**20
        print(f"loaded with {loaded.info.n_gpu_layers} GPU layers; engine RSS {rss:.0f} MiB, VRAM {vram}")
    finally:
        client.close()


if __name__ == "__main__":
    main()
