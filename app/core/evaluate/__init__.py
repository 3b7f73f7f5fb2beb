"""Measuring what quantization costs, with llama.cpp's own definitions (llama-perplexity --kl-divergence;
shared facts/evaluation.md): perplexity, KL divergence from a reference and the share of positions with the
same top token, over the shipped evaluation text or the person's own. The reference's log-probabilities file,
the passes that run in a child process, the cache of results per (file, text, context), and a model's
measured ladder as the quality figures the recommendation uses.

May import: shared modules, models.
"""
