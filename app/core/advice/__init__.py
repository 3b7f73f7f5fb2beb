"""Which quant level, where, and why: the memory estimate, llama.cpp's per-tensor type mix, the
recommendation and its sentence, where a file loads (GPU layers), and the advice beside a Hub repo.

May import: shared modules, machine, models, convert, hub.
"""
