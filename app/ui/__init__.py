"""The window: PySide6 views, and the glue that runs core work off the GUI thread. Imports core, never cli.

In the window's process the llama.cpp build is asked of an engine process (engine/build_info.py): nothing in
it imports llama_cpp, so CUDA is never initialised beside Qt's threads.
"""

from app.core.engine.build_info import describe_build
from app.core.machine.llama_build import set_backend_reader

set_backend_reader(describe_build)
