"""Queries on actions: what supporters did about a prompt. Each counts once, and a
supporter has one answer (done or skipped) per prompt: the latest."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all
from db.states import ANSWERS, ActionKind, ActionVia
from db.times import now_text


@dataclass(frozen=True, slots=True)
class ActionRow:
    prompt_id: int
    kind: ActionKind
    platform: str
    via: ActionVia
    created_at: str


def record(
    db: Database,
    *,
    prompt_id: int,
    supporter_key: str,
    kind: str,
    platform: str,
    source: str | None,
    via: str,
) -> bool:
    """Store an action; False when this supporter already did this about this prompt.

    An answer (done, skipped) replaces the supporter's other answer to the prompt,
    so done + skipped never exceed what was delivered.
    """
    values = [prompt_id, supporter_key, kind, platform, source, via, now_text()]
    if kind in ANSWERS:
        cursor = db.execute(
            """
            INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (supporter_key, prompt_id) WHERE kind IN ('done', 'skipped')
            DO UPDATE SET kind = excluded.kind, via = excluded.via,
                created_at = excluded.created_at
            WHERE kind != excluded.kind
            """,
            values,
        )
    else:
        cursor = db.execute(
            """
            INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via, created_at)
            VALUES (?, ?, ?, ?, ?, ?, ?)
            ON CONFLICT (supporter_key, prompt_id, kind) DO NOTHING
            """,
            values,
        )
    return cursor.rowcount == 1


def for_supporter(db: Database, supporter_key: str) -> list[ActionRow]:
    cursor = db.execute(
        """
        SELECT prompt_id, kind, platform, via, created_at FROM actions
        WHERE supporter_key = ? ORDER BY id
        """,
        [supporter_key],
    )
    return fetch_all(ActionRow, cursor)
