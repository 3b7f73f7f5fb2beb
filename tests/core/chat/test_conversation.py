"""Conversations as the chat keeps them: titles, rename, search, system prompt, Regenerate, Edit and resend,
where a reply stopped, Markdown export, presets and the chat's saved settings."""

from __future__ import annotations

import dataclasses
import datetime
import sqlite3
from pathlib import Path

import pytest

from app.core.chat.conversation import Conversation, title_from
from app.core.chat.export import conversation_markdown, export_file_name, write_markdown
from app.core.chat.preferences import ChatPreferences, load_preferences, save_preferences
from app.core.chat.presets import PRESETS, matching_preset, preset
from app.core.chat.store import ConversationStore, ReplyFigures
from app.core.engine.protocol import ChatMessage


def chat(store: ConversationStore, question: str, answer: str, figures: ReplyFigures | None = None) -> Conversation:
    c = Conversation(store, model="/models/SmolLM2.gguf")
    c.add_user_message(question)
    c.start_reply()
    c.append_to_reply(answer)
    c.finish_reply(True, figures or ReplyFigures("end_of_text", 7, 95.5, 0.21))
    return c


def test_title_from_the_first_message_cut_at_a_word() -> None:
    assert title_from("  What is\nthe capital of France?  ") == "What is the capital of France?"
    long = "Tell me about " + "the history of the Roman empire " * 4
    title = title_from(long)
    assert len(title) <= 61 and title.endswith("…") and not title[:-1].endswith(" ")


def test_list_rename_search_and_delete(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    a = chat(store, "What is the capital of France?", "Paris.")
    b = chat(store, "Write a haiku about rain", "Soft rain on the roof")
    assert [s.title for s in store.conversations()] == ["Write a haiku about rain", "What is the capital of France?"]
    a.rename("Capitals")
    assert Conversation.load(store, a.id or 0).title == "Capitals"
    # search looks in titles and in every message, any case; % and _ are plain characters
    assert [s.id for s in store.conversations(search="capit")] == [a.id]
    assert [s.id for s in store.conversations(search="ROOF")] == [b.id]
    assert store.conversations(search="100%") == [] and store.conversations(search="_") == []
    store.delete_conversation(a.id or 0)
    assert [s.id for s in store.conversations()] == [b.id]
    assert store.messages(a.id or 0) == []
    store.close()


def test_system_prompt_is_kept_and_sent(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    c = Conversation(store)
    c.set_system_prompt("Answer in French.")  # before the first message: stored with the conversation
    c.add_user_message("Hello")
    again = Conversation.load(store, c.id or 0)
    assert again.system_prompt == "Answer in French."
    assert again.for_model()[0] == ChatMessage("system", "Answer in French.")
    again.set_system_prompt("")
    assert Conversation.load(store, c.id or 0).for_model() == [ChatMessage("user", "Hello")]
    store.close()


def test_regenerate_removes_the_last_reply_only(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    c = chat(store, "First?", "One.")
    c.add_user_message("Second?")
    c.start_reply()
    c.append_to_reply("Two.")
    c.finish_reply(True)
    assert c.prepare_regenerate()
    assert [m.content for m in c.messages] == ["First?", "One.", "Second?"]
    assert [m.content for m in Conversation.load(store, c.id or 0).messages] == ["First?", "One.", "Second?"]
    assert c.for_model()[-1] == ChatMessage("user", "Second?")
    assert not Conversation(store).prepare_regenerate()  # nothing to answer
    store.close()


def test_edit_and_resend_drops_what_came_after(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    c = chat(store, "Capital of Frnace?", "Do you mean France?")
    c.add_user_message("yes")
    first = c.messages[0]
    c.edit_user_message(first, "Capital of France?")
    assert [(m.role, m.content) for m in c.messages] == [("user", "Capital of France?")]
    assert [m.content for m in Conversation.load(store, c.id or 0).messages] == ["Capital of France?"]
    store.close()


def test_where_a_reply_stopped_survives_a_reopen(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    store = ConversationStore(db)
    stopped = chat(store, "Tell a story", "Once upon", ReplyFigures("stopped", 3, 50.0, 0.1))
    stopped.messages[-1].complete = False
    store.finish_message(stopped.messages[-1].id or 0, "Once upon", False, ReplyFigures("stopped", 3, 50.0, 0.1))
    # a reply the app never finished: the app was killed while it streamed
    c = Conversation(store)
    c.add_user_message("Another")
    c.start_reply()
    c.append_to_reply("Half a sent")
    store.close()

    reopened = ConversationStore(db)
    killed = Conversation.latest(reopened)
    assert killed.messages[-1].content == "Half a sent" and killed.messages[-1].interrupted
    earlier = Conversation.load(reopened, stopped.id or 0).messages[-1]
    assert not earlier.interrupted and earlier.figures == ReplyFigures("stopped", 3, 50.0, 0.1, 0)
    reopened.close()


def test_a_version_1_database_is_brought_up_to_date(tmp_path: Path) -> None:
    db = tmp_path / "old.sqlite3"
    old = sqlite3.connect(db)
    old.executescript("""
        CREATE TABLE conversations (id INTEGER PRIMARY KEY, title TEXT NOT NULL, model_path TEXT NOT NULL DEFAULT '',
                                    created_at REAL NOT NULL, updated_at REAL NOT NULL);
        CREATE TABLE messages (id INTEGER PRIMARY KEY, conversation_id INTEGER NOT NULL, role TEXT NOT NULL,
                               content TEXT NOT NULL, complete INTEGER NOT NULL DEFAULT 1, created_at REAL NOT NULL);
        INSERT INTO conversations VALUES (1, 'Old chat', '', 1, 1);
        INSERT INTO messages VALUES (1, 1, 'user', 'hi', 1, 1), (2, 1, 'assistant', 'hel', 0, 1);
        PRAGMA user_version = 1;
    """)
    old.close()
    store = ConversationStore(db)
    c = Conversation.latest(store)
    assert c.title == "Old chat" and c.system_prompt == ""
    assert c.messages[-1].interrupted  # an old cut-off reply reads as interrupted
    assert store._db.execute("PRAGMA user_version").fetchone()[0] == 2
    store.close()


def test_opened_by_an_older_version_in_between_the_database_still_opens(tmp_path: Path) -> None:
    # an older QuantDesk (version-1 schema) sets user_version back to 1 on a database that already has the
    # new columns; the next start used to die on "duplicate column name: system_prompt"
    db = tmp_path / "c.sqlite3"
    store = ConversationStore(db)
    chat(store, "Kept across versions", "Yes.")
    store.close()
    older = sqlite3.connect(db)
    older.execute("PRAGMA user_version = 1")
    older.commit()
    older.close()
    again = ConversationStore(db)
    c = Conversation.latest(again)
    assert c.title == "Kept across versions" and c.messages[-1].content == "Yes."
    assert again._db.execute("PRAGMA user_version").fetchone()[0] == 2
    again.close()


def test_markdown_export(tmp_path: Path) -> None:
    store = ConversationStore(tmp_path / "c.sqlite3")
    c = chat(store, "Show me code", "```python\nprint('hi')\n```")
    c.set_system_prompt("Be brief.")
    c.add_user_message("And more?")
    c.start_reply()
    c.append_to_reply("Well")
    c.finish_reply(False, ReplyFigures("stopped", 1, 10.0, 0.2))
    text = conversation_markdown(c, now=datetime.datetime(2025, 3, 14, 9, 30))
    assert text.startswith("# Show me code\n\n*Exported from QuantDesk on 2025-03-14 09:30 · model: SmolLM2.gguf*")
    assert "## System prompt\n\nBe brief." in text
    assert "## You\n\nShow me code\n\n## Model\n\n```python\nprint('hi')\n```" in text
    assert text.endswith("## Model\n\nWell\n\n*(stopped by you)*\n")
    assert export_file_name(c) == "show-me-code.md"
    out = tmp_path / "out.md"
    write_markdown(c, out)
    assert out.read_text(encoding="utf-8").startswith("# Show me code") and not list(tmp_path.glob(".*part"))
    store.close()


def test_presets_and_custom_settings() -> None:
    assert [p.name for p in PRESETS] == ["Precise", "Balanced", "Creative"]
    temps = [p.sampling.temperature for p in PRESETS]
    assert temps == sorted(temps) and len(set(temps)) == 3
    balanced = preset("balanced")
    assert balanced.max_tokens == 1024
    assert matching_preset(dataclasses.replace(balanced.sampling, seed=42)) is balanced  # the seed is apart
    assert matching_preset(dataclasses.replace(balanced.sampling, top_k=7)) is None  # "Custom"


def test_preferences_roundtrip_and_damaged_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("QUANTDESK_CONFIG_DIR", str(tmp_path / "config"))
    prefs = ChatPreferences(preset("precise").sampling, 300, 8192, "12", "text")
    save_preferences(prefs)
    assert load_preferences() == prefs
    from app.core.settings import set_setting

    set_setting("chat", {"sampling": {"temperature": "hot", "top_k": 5}, "context_length": "x"})
    loaded = load_preferences()
    assert loaded == ChatPreferences()  # unreadable: the defaults, never a crash
    set_setting("chat", {"sampling": {"top_k": 5}, "context_length": 10})
    loaded = load_preferences()
    assert loaded.sampling.top_k == 5 and loaded.context_length == 64  # the shortest context offered
