"""Hugging Face safetensors → GGUF, with gguf, safetensors headers, numpy and the tokenizer libraries alone.

`converter.convert_model(folder, out_path, outtype)` is the whole job. The CLI runs it directly; the app runs
it as a job, in a child process. Also here: the family table (families.py, one converter class per family),
what can be converted (supported.py: plain data without gguf-py or numpy, for the pages the window builds at
start-up), and the facts of the file a conversion would write (predict.py).

This file imports nothing: importing any module of the package runs it first, and the window's start-up
must not pay for gguf-py and numpy (about 0.2 s) to learn which families can be converted.

May import: shared modules, models.
"""
