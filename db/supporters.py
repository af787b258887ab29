"""Queries on supporters and their topics."""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from sqlite_utils import Database

from db import invites as invites_db
from db.rows import fetch_one
from db.states import ChatKind, SupporterStatus
from db.times import now_text


@dataclass(frozen=True, slots=True)
class SupporterRow:
    id: int
    key: str
    platform: str
    address: str
    kind: ChatKind
    status: SupporterStatus
    source: str | None
    consent_version: str | None
    consented_at: str | None
    paused_until: str | None
    created_at: str
    updated_at: str


_COLUMNS = ", ".join(SupporterRow.__slots__)


def get(db: Database, platform: str, address: str) -> SupporterRow | None:
    cursor = db.execute(
        f"SELECT {_COLUMNS} FROM supporters WHERE platform = ? AND address = ?",
        [platform, address],
    )
    return fetch_one(SupporterRow, cursor)


def get_by_id(db: Database, supporter_id: int) -> SupporterRow | None:
    cursor = db.execute(
        f"SELECT {_COLUMNS} FROM supporters WHERE id = ?",
        [supporter_id],
    )
    return fetch_one(SupporterRow, cursor)


def insert(
    db: Database,
    *,
    platform: str,
    address: str,
    kind: str,
    status: str,
    source: str | None,
    consent_version: str | None,
) -> SupporterRow:
    now = now_text()
    db.execute(
        """
        INSERT INTO supporters
            (key, platform, address, kind, status, source, consent_version, consented_at,
             created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
        """,
        [
            secrets.token_hex(12),
            platform,
            address,
            kind,
            status,
            source,
            consent_version,
            now if consent_version else None,
            now,
            now,
        ],
    )
    row = get(db, platform, address)
    assert row is not None
    return row


def set_status(
    db: Database, supporter_id: int, status: str, *, paused_until: str | None = None
) -> None:
    db.execute(
        "UPDATE supporters SET status = ?, paused_until = ?, updated_at = ? WHERE id = ?",
        [status, paused_until, now_text(), supporter_id],
    )


def set_address(db: Database, supporter_id: int, address: str) -> None:
    db.execute(
        "UPDATE supporters SET address = ?, updated_at = ? WHERE id = ?",
        [address, now_text(), supporter_id],
    )


def touch(db: Database, supporter_id: int) -> None:
    """Note that a record was used (a member pressed again), for retention."""
    db.execute("UPDATE supporters SET updated_at = ? WHERE id = ?", [now_text(), supporter_id])


def resubscribe(
    db: Database, supporter_id: int, *, source: str | None, consent_version: str
) -> None:
    """Make a known supporter active again, with fresh consent; keep the first source."""
    now = now_text()
    db.execute(
        """
        UPDATE supporters
        SET status = 'active', paused_until = NULL, source = COALESCE(source, ?),
            consent_version = ?, consented_at = ?, updated_at = ?
        WHERE id = ?
        """,
        [source, consent_version, now, now, supporter_id],
    )


def move_address(db: Database, platform: str, old: str, new: str) -> bool:
    """A chat that changed its address (a Telegram group that became a supergroup)."""
    cursor = db.execute(
        "UPDATE supporters SET address = ?, updated_at = ? WHERE platform = ? AND address = ?",
        [new, now_text(), platform, old],
    )
    return cursor.rowcount > 0


def topics(db: Database, supporter_id: int) -> list[str]:
    cursor = db.execute(
        "SELECT topic FROM supporter_topics WHERE supporter_id = ? ORDER BY topic",
        [supporter_id],
    )
    return [row[0] for row in cursor.fetchall()]


def set_topics(db: Database, supporter_id: int, chosen: list[str]) -> None:
    """Replace the supporter's topics; an empty list means every topic."""
    db.execute("DELETE FROM supporter_topics WHERE supporter_id = ?", [supporter_id])
    for topic in sorted(set(chosen)):
        db.execute(
            "INSERT INTO supporter_topics (supporter_id, topic) VALUES (?, ?)",
            [supporter_id, topic],
        )
    db.execute("UPDATE supporters SET updated_at = ? WHERE id = ?", [now_text(), supporter_id])


def delete(db: Database, supporter_id: int) -> None:
    """Erase a supporter. Deliveries and actions keep only the pseudonymous key.

    Deliveries that had not gone out yet end as 'gone' so none is left pending. In
    the running bot, the DELETE first writes the erasure ledger's line (`db.erasures`).
    """
    now = now_text()
    db.execute(
        """
        UPDATE deliveries SET state = 'gone', error = 'erased', updated_at = ?
        WHERE supporter_id = ? AND state = 'pending'
        """,
        [now, supporter_id],
    )
    invites_db.remove_code_of(db, supporter_id)  # their old invite link counts nobody now
    db.execute("DELETE FROM supporters WHERE id = ?", [supporter_id])


def counts_by_status(db: Database) -> dict[tuple[str, str], int]:
    """(platform, status) → how many supporters, for overviews."""
    cursor = db.execute(
        "SELECT platform, status, count(*) FROM supporters GROUP BY platform, status"
    )
    return {(platform, status): n for platform, status, n in cursor.fetchall()}
