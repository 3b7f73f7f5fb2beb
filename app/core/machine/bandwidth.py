"""Memory bandwidth of known hardware, for the tokens/s estimate (generating a token reads every weight once).

Sources: the vendors' published specifications (NVIDIA data sheets, Apple's chip announcements, JEDEC DDR
speeds). These are peak figures; advice/speed.py turns them into the speed llama.cpp reaches (the share of
the peak per kind of weight type, and a per-layer floor), fitted on the engine's own measurements. Every
speed shown from these is labelled an estimate.
"""

from __future__ import annotations

GB = 1e9

# Peak bandwidth in GB/s, matched against the GPU's name (longest matching key wins: "4070 Ti" before "4070").
GPU_BANDWIDTH_GBPS: dict[str, float] = {
    "H200": 4800,
    "H100 NVL": 3900,
    "H100 PCIe": 2000,
    "H100": 3350,
    "GH200": 4000,
    "B200": 8000,
    "A100-SXM4-80GB": 2039,
    "A100 80GB": 1935,
    "A100": 1555,
    "L40S": 864,
    "L40": 864,
    "L4": 300,
    "A10": 600,
    "A40": 696,
    "T4": 320,
    "V100": 900,
    "RTX 6000 Ada": 960,
    "RTX A6000": 768,
    "RTX A5000": 768,
    "RTX 5090": 1792,
    "RTX 5080": 960,
    "RTX 5070 Ti": 896,
    "RTX 5070": 672,
    "RTX 5060 Ti": 448,
    "RTX 4090": 1008,
    "RTX 4080 SUPER": 736,
    "RTX 4080": 717,
    "RTX 4070 Ti SUPER": 672,
    "RTX 4070 Ti": 504,
    "RTX 4070 SUPER": 504,
    "RTX 4070": 504,
    "RTX 4060 Ti": 288,
    "RTX 4060": 272,
    "RTX 3090 Ti": 1008,
    "RTX 3090": 936,
    "RTX 3080 Ti": 912,
    "RTX 3080": 760,
    "RTX 3070 Ti": 608,
    "RTX 3070": 448,
    "RTX 3060 Ti": 448,
    "RTX 3060": 360,
    "RTX 3050": 224,
    "RTX 2080 Ti": 616,
    "RTX 2080": 448,
    "RTX 2070": 448,
    "RTX 2060": 336,
    "GTX 1080 Ti": 484,
    "GTX 1080": 320,
    "GTX 1070": 256,
    "GTX 1660": 192,
    "Apple M1 Ultra": 800,
    "Apple M1 Max": 400,
    "Apple M1 Pro": 200,
    "Apple M1": 68,
    "Apple M2 Ultra": 800,
    "Apple M2 Max": 400,
    "Apple M2 Pro": 200,
    "Apple M2": 100,
    "Apple M3 Ultra": 819,
    "Apple M3 Max": 400,
    "Apple M3 Pro": 150,
    "Apple M3": 100,
    "Apple M4 Max": 546,
    "Apple M4 Pro": 273,
    "Apple M4": 120,
}
# A GPU not in the table: a modest discrete card's figure, so speeds are not promised too high.
UNKNOWN_GPU_BANDWIDTH_GBPS = 300.0
# Main memory without a way to read its speed: dual-channel DDR4-3200 (2 × 25.6 GB/s).
DEFAULT_RAM_BANDWIDTH_GBPS = 51.2
# One core streams about this much from RAM in llama.cpp's kernels, so few cores cannot use all of it.
PER_CORE_BANDWIDTH_GBPS = 6.0
# The share of these peaks that generation reaches depends on the weight types: advice/speed.py.


def gpu_bandwidth(name: str) -> float:
    """Peak bytes/s of the memory of a GPU named `name` (the vendor's figure)."""
    matches = [key for key in GPU_BANDWIDTH_GBPS if key.lower() in name.lower()]
    peak = GPU_BANDWIDTH_GBPS[max(matches, key=len)] if matches else UNKNOWN_GPU_BANDWIDTH_GBPS
    return peak * GB


def cpu_bandwidth(physical_cores: int) -> float:
    """Peak bytes/s the processor can read: RAM's speed, or what its cores can pull (an estimate)."""
    peak = min(DEFAULT_RAM_BANDWIDTH_GBPS, PER_CORE_BANDWIDTH_GBPS * max(1, physical_cores))
    return peak * GB
