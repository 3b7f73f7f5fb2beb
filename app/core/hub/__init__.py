"""The only door to the network: the Hugging Face Hub's endpoint and offline guard, tokens, its errors in
plain words, search, inspecting a repo before download, ranged reads of GGUF headers, resumable downloads,
and the record of every connection made, with its host and why (network_log.py).

May import: shared modules, models, convert.
"""
