"""The PySide6 face: views, and the glue that runs core work off the GUI thread. Imports core, never back."""
