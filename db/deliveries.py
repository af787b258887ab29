"""Queries on deliveries: one per prompt and supporter, moving
pending → sending → sent | gone | failed | unknown.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from db.supporters import SupporterRow
from db.times import now_text

FINAL_STATES = ("sent", "gone", "failed", "unknown")


@dataclass(frozen=True, slots=True)
class DeliveryRow:
    id: int
    prompt_id: int
    supporter_id: int | None
    supporter_key: str
    platform: str
    source: str | None
    state: str
    attempts: int
    error: str | None


_COLUMNS = ", ".join(DeliveryRow.__slots__)


def get(db: Database, prompt_id: int, supporter_key: str) -> DeliveryRow | None:
    cursor = db.execute(
        f"SELECT {_COLUMNS} FROM deliveries WHERE prompt_id = ? AND supporter_key = ?",
        [prompt_id, supporter_key],
    )
    values = cursor.fetchone()
    return DeliveryRow(*values) if values else None


def record_direct(db: Database, prompt_id: int, supporter: SupporterRow) -> bool:
    """Record a prompt shown in reply to a supporter's own request (/ask, /start).

    Returns False if this supporter already has a delivery of this prompt: the
    reply is shown again, but nothing is counted twice.
    """
    now = now_text()
    cursor = db.execute(
        """
        INSERT INTO deliveries
            (prompt_id, supporter_id, supporter_key, platform, source, state, attempts,
             created_at, updated_at, sent_at)
        VALUES (?, ?, ?, ?, ?, 'sent', 1, ?, ?, ?)
        ON CONFLICT (prompt_id, supporter_key) DO NOTHING
        """,
        [
            prompt_id,
            supporter.id,
            supporter.key,
            supporter.platform,
            supporter.source,
            now,
            now,
            now,
        ],
    )
    return cursor.rowcount == 1


def count_for_supporter(db: Database, supporter_id: int) -> int:
    cursor = db.execute(
        "SELECT count(*) FROM deliveries WHERE supporter_id = ? AND state = 'sent'",
        [supporter_id],
    )
    return int(cursor.fetchone()[0])
