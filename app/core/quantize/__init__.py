"""Quantizing with llama.cpp's own quantizer: llama_model_quantize with progress, expanding a quantized file
back to F16, and the importance matrix (computing it, reading and writing llama.cpp's formats).

May import: shared modules, models.
"""
