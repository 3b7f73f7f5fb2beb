"""Conversations: the conversation a chat shows (messages, the reply as it streams) and its storage in
SQLite, written as text arrives.

May import: shared modules, engine (the message types of its protocol).
"""
