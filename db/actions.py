"""Queries on actions: what supporters did about a prompt. Each counts once."""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from db.times import now_text


@dataclass(frozen=True, slots=True)
class ActionRow:
    prompt_id: int
    kind: str
    platform: str
    via: str
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
    """Store an action; False when this supporter already did this about this prompt."""
    cursor = db.execute(
        """
        INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via, created_at)
        VALUES (?, ?, ?, ?, ?, ?, ?)
        ON CONFLICT (supporter_key, prompt_id, kind) DO NOTHING
        """,
        [prompt_id, supporter_key, kind, platform, source, via, now_text()],
    )
    return cursor.rowcount == 1


def kinds_for(db: Database, supporter_key: str, prompt_id: int) -> set[str]:
    cursor = db.execute(
        "SELECT kind FROM actions WHERE supporter_key = ? AND prompt_id = ?",
        [supporter_key, prompt_id],
    )
    return {row[0] for row in cursor.fetchall()}


def for_supporter(db: Database, supporter_key: str) -> list[ActionRow]:
    cursor = db.execute(
        """
        SELECT prompt_id, kind, platform, via, created_at FROM actions
        WHERE supporter_key = ? ORDER BY id
        """,
        [supporter_key],
    )
    return [ActionRow(*values) for values in cursor.fetchall()]
