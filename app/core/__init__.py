"""The domain: everything here runs without Qt (a test enforces it)."""
