"""Helpers that talk to the core the way an adapter does."""

from __future__ import annotations

from sqlite_utils import Database

from campaigns.commands import parse
from campaigns.dialogue import Context, handle_command, handle_press
from campaigns.model import Button, ChatKind, Message, Origin, PressResult

ALICE = Origin("console", "alice")
BOB = Origin("telegram", "2002")
GROUP = Origin("telegram", "-100500", ChatKind.GROUP, user="3003")


def say(
    db: Database, ctx: Context, origin: Origin, text: str, *, admin: bool = False
) -> list[Message]:
    command = parse(text)
    assert command is not None, text
    with db.atomic():
        return handle_command(db, ctx, origin, command.name, command.args, admin)


def press(db: Database, ctx: Context, origin: Origin, value: str) -> PressResult:
    with db.atomic():
        return handle_press(db, ctx, origin, value)


def button(messages: list[Message], label: str) -> Button:
    for message in messages:
        for candidate in message.all_buttons():
            if candidate.label == label:
                return candidate
    raise AssertionError(f"no button {label!r} in {messages}")


def action_of(messages: list[Message], label: str) -> str:
    value = button(messages, label).id
    assert value is not None
    return value


def text_of(messages: list[Message]) -> str:
    return "\n".join(message.text for message in messages)


def count(db: Database, sql: str, params: list[object] | None = None) -> int:
    return int(db.execute(sql, params or []).fetchone()[0])
