"""The local API server: the engine's model for other programs on this computer, OpenAI-compatible
(`/v1/models`, `/v1/chat/completions`, `/v1/completions`), on Starlette and uvicorn, behind a key
(`api_key.py`). It listens on 127.0.0.1 unless told otherwise and opens no other socket. Requests take turns
at the one engine with the chat (engine/turns.py) and use the chat's own prompt formats.

May import: shared modules, engine.
"""
