"""The main module of every QuantDesk child process (the engine, conversions, quantizations).

multiprocessing's "spawn" re-imports the parent's main module in each child before anything else. The
parent's main module may import numpy (through gguf, the UI, a script), and on a CUDA build, numpy's
libraries loaded before llama.cpp's made the engine die with SIGSEGV as soon as it put a model on the GPU
(seen on an H100 with CUDA 13: `import numpy` first → exit code -11; llama.cpp first → fine). So the children
get this module as their main instead (app.core.process.runner), and it loads llama.cpp's libraries first.
"""

import contextlib

with contextlib.suppress(ImportError):  # a child that needs no llama.cpp still starts where it is missing
    import llama_cpp  # noqa: F401
