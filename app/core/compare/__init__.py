"""Comparing quant levels by feel: the sides (one engine process each, side by side when they fit in memory
together, else one after the other), each side's own conversation, where two replies first part ways, the
blind votes and their tally per level pair, and the ladder of a model (its files, its reference).

May import: shared modules, engine, chat, advice, machine, models, evaluate, quantize.
"""
