"""What housekeeping has done and when: one-off clean-ups and the daily retention run."""

from __future__ import annotations

from sqlite_utils import Database

from db.times import now_text


def done_at(db: Database, task: str) -> str | None:
    row = db.execute("SELECT done_at FROM housekeeping WHERE task = ?", [task]).fetchone()
    return str(row[0]) if row else None


def mark(db: Database, task: str, at: str | None = None) -> None:
    db.execute(
        """
        INSERT INTO housekeeping (task, done_at) VALUES (?, ?)
        ON CONFLICT (task) DO UPDATE SET done_at = excluded.done_at
        """,
        [task, at or now_text()],
    )
