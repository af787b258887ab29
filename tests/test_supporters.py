"""Subscribing, stopping, pausing and topics: idempotent, and every command answers."""

from __future__ import annotations

from sqlite_utils import Database

from campaigns import wording
from campaigns.dialogue import Context
from campaigns.model import Origin
from db import supporters as supporters_db
from tests.chat import ALICE, action_of, count, press, say, text_of


def status(db: Database, origin: Origin = ALICE) -> str:
    row = supporters_db.get(db, origin.platform, origin.chat)
    assert row is not None
    return row.status


def test_start_subscribes_once_and_shows_the_ask(db: Database, ctx: Context) -> None:
    first = say(db, ctx, ALICE, "/start readme")
    assert "You're subscribed" in first[0].text
    assert first[1].card is not None and first[1].card.ask_id == "ai-images"
    again = say(db, ctx, ALICE, "/start other")
    assert "already subscribed" in again[0].text
    assert count(db, "SELECT count(*) FROM supporters") == 1
    row = supporters_db.get(db, "console", "alice")
    assert row is not None
    assert row.source == "readme"  # the first source is kept
    assert row.consent_version == wording.CONSENT_VERSION and row.consented_at


def test_source_that_is_not_a_code_is_not_stored(db: Database, ctx: Context) -> None:
    say(db, ctx, Origin("console", "c"), "/start <script>alert(1)</script>")
    row = supporters_db.get(db, "console", "c")
    assert row is not None and row.source == "other"


def test_stop_then_start_again(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    assert wording.STOPPED in text_of(say(db, ctx, ALICE, "/stop"))
    assert status(db) == "stopped"
    assert wording.ALREADY_STOPPED in text_of(say(db, ctx, ALICE, "/stop"))
    assert wording.NOT_SUBSCRIBED in text_of(say(db, ctx, ALICE, "/ask"))
    say(db, ctx, ALICE, "/start")
    assert status(db) == "active"


def test_pause_and_resume(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    assert wording.NOT_PAUSED in text_of(say(db, ctx, ALICE, "/resume"))
    assert wording.PAUSED in text_of(say(db, ctx, ALICE, "/pause"))
    assert status(db) == "paused"
    say(db, ctx, ALICE, "/pause")
    assert status(db) == "paused"
    assert wording.RESUMED in text_of(say(db, ctx, ALICE, "/resume"))
    assert status(db) == "active"


def test_pause_for_weeks(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    assert "Paused for 4 weeks" in text_of(say(db, ctx, ALICE, "/pause 4"))
    row = supporters_db.get(db, "console", "alice")
    assert row is not None and row.paused_until is not None
    for bad in ("/pause 0", "/pause 13", "/pause soon", "/pause 1 2"):
        assert wording.PAUSE_USAGE in text_of(say(db, ctx, ALICE, bad))


def test_topics_by_command(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    assert "about: ai, encryption" in text_of(say(db, ctx, ALICE, "/topics encryption ai"))
    assert supporters_db.topics(db, 1) == ["ai", "encryption"]
    reply = text_of(say(db, ctx, ALICE, "/topics ai nonsense"))
    assert "don't know these topics: nonsense" in reply
    assert supporters_db.topics(db, 1) == ["ai", "encryption"]  # unchanged
    say(db, ctx, ALICE, "/topics all")
    assert supporters_db.topics(db, 1) == []


def test_topics_by_buttons(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    menu = say(db, ctx, ALICE, "/topics")
    result = press(db, ctx, ALICE, action_of(menu, "✓ ai"))
    assert result.edit is not None
    labels = [b.label for b in result.edit.all_buttons()]
    assert "○ ai" in labels and "✓ encryption" in labels
    assert "ai" not in supporters_db.topics(db, 1)
    press(db, ctx, ALICE, action_of([result.edit], "○ ai"))
    assert supporters_db.topics(db, 1) == []  # every topic again


def test_ask_on_a_topic_turned_off_says_so(db: Database, ctx: Context) -> None:
    say(db, ctx, ALICE, "/start")
    say(db, ctx, ALICE, "/topics encryption")
    reply = say(db, ctx, ALICE, "/ask")
    assert reply[0].card is not None
    assert "which you've turned off" in reply[0].text


def test_unknown_command_and_help(db: Database, ctx: Context) -> None:
    assert text_of(say(db, ctx, ALICE, "/frobnicate")) == wording.UNKNOWN
    assert "/forget" in text_of(say(db, ctx, ALICE, "/help"))


def test_commands_before_subscribing(db: Database, ctx: Context) -> None:
    for command in ("/ask", "/pause", "/resume", "/topics", "/done"):
        assert wording.NOT_SUBSCRIBED in text_of(say(db, ctx, ALICE, command)), command
    assert wording.NOTHING_HELD in text_of(say(db, ctx, ALICE, "/forget"))
    assert count(db, "SELECT count(*) FROM supporters") == 0
