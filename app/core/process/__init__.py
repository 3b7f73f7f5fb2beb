"""Child processes: the one runner that starts every child (the engine and each heavy job step), the
bootstrap they start from, errors across the boundary, and a child that dies with its parent.

May import: shared modules.
"""
