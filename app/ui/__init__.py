"""The window: PySide6 views, and the glue that runs core work off the GUI thread. Imports core, never cli."""
