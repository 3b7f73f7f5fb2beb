"""Which quant level, where, and why: the memory and speed estimates (and the speeds measured here),
llama.cpp's per-tensor type mix, the recommendation and its sentence, where a file loads (GPU layers), the
advice beside a Hub repo, and the popular-models list with the first-run guide's pick (catalog.py).

May import: shared modules, machine, models, convert, hub.
"""
