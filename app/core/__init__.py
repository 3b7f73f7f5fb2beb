"""The domain: one package per capability, on a few shared modules. No Qt, no UI, no CLI (a test checks).

Shared modules (may import only each other): errors, paths, settings, offline, units, progress, disk, quants,
quant_words, llama_log, desktop_entry.
Each package's docstring says what it holds and, on its "May import" line, which packages it may use; the
import-rule test (tests/test_import_rules.py) holds every module to that line, imports inside functions too.
"""
