"""Long work: the kinds of job (download, convert, quantize, evaluate) with typed parameters and results, and the
queue that keeps them in a file and runs them one at a time. Heavy steps run through the process runner.

May import: shared modules, process, models, hub, convert, quantize, evaluate.
"""
