"""QuantDesk: pick, download, quantize and chat with language models on your own computer."""

__version__ = "0.1.0"
