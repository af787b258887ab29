"""Dashboard sessions: one row per signed-in browser.

The browser's cookie holds a random token; the row holds only its SHA-256
(`token_hash`), so a copy of the database can't be turned into a cookie. Ending
a session is deleting its row; `db.users` ends an account's sessions when the
account is removed or its password changes. How long a session may live is the
web layer's policy (`web.sessions`); here are only the rows.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_one
from db.users import UserRow


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class SessionRow:
    token_hash: str
    created_at: str
    last_seen_at: str
    user: UserRow


# A session's `user` is read from the columns named user_<field> (db.rows).
_USER_COLUMNS = ", ".join(f"u.{name} AS user_{name}" for name in UserRow.__slots__)


def start(db: Database, token_hash: str, user_id: int, now: str) -> None:
    db.execute(
        "INSERT INTO dashboard_sessions (token_hash, user_id, created_at, last_seen_at)"
        " VALUES (?, ?, ?, ?)",
        [token_hash, user_id, now, now],
    )


def find(db: Database, token_hash: str) -> SessionRow | None:
    """The session with that token hash, with its account."""
    cursor = db.execute(
        f"""
        SELECT s.token_hash, s.created_at, s.last_seen_at, {_USER_COLUMNS}
        FROM dashboard_sessions s JOIN users u ON u.id = s.user_id
        WHERE s.token_hash = ?
        """,
        [token_hash],
    )
    return fetch_one(SessionRow, cursor)


def touch(db: Database, token_hash: str, now: str) -> None:
    """Note that the session was used (a session already ended stays ended)."""
    db.execute(
        "UPDATE dashboard_sessions SET last_seen_at = ? WHERE token_hash = ?", [now, token_hash]
    )


def end(db: Database, token_hash: str) -> None:
    db.execute("DELETE FROM dashboard_sessions WHERE token_hash = ?", [token_hash])


def purge(db: Database, *, unused_since: str, started_before: str) -> int:
    """Delete sessions idle since `unused_since` or started before `started_before`."""
    return db.execute(
        "DELETE FROM dashboard_sessions WHERE last_seen_at < ? OR created_at < ?",
        [unused_since, started_before],
    ).rowcount
