"""Dashboard accounts (staff and organisers) and the record of failed sign-ins.

Only password hashes are stored. Account ids are never reused (AUTOINCREMENT),
so nothing that names an id can ever point at a later account. Removing an
account or changing its password ends every session it has, in the same
transaction (`db.sessions` has the sessions themselves).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
from db.states import AccountRole
from db.times import now_text


@dataclass(frozen=True, slots=True)
class UserRow:
    id: int
    name: str
    role: AccountRole
    password_hash: str
    chat: str | None  # a linked chat for test sends, such as telegram:12345
    created_at: str
    updated_at: str

    @property
    def is_organiser(self) -> bool:
        return self.role == AccountRole.ORGANISER


COLUMNS = ", ".join(UserRow.__slots__)


def get(db: Database, name: str) -> UserRow | None:
    """The account of that name, whatever its case."""
    return fetch_one(UserRow, db.execute(f"SELECT {COLUMNS} FROM users WHERE name = ?", [name]))


def get_by_id(db: Database, user_id: int) -> UserRow | None:
    return fetch_one(UserRow, db.execute(f"SELECT {COLUMNS} FROM users WHERE id = ?", [user_id]))


def listed(db: Database) -> list[UserRow]:
    return fetch_all(UserRow, db.execute(f"SELECT {COLUMNS} FROM users ORDER BY name"))


def add(db: Database, *, name: str, role: str, password_hash: str, chat: str | None) -> UserRow:
    now = now_text()
    db.execute(
        """
        INSERT INTO users (name, role, password_hash, chat, created_at, updated_at)
        VALUES (?, ?, ?, ?, ?, ?)
        """,
        [name, role, password_hash, chat, now, now],
    )
    row = get(db, name)
    assert row is not None
    return row


def _end_sessions(db: Database, name: str) -> None:
    db.execute(
        "DELETE FROM dashboard_sessions WHERE user_id IN (SELECT id FROM users WHERE name = ?)",
        [name],
    )


def remove(db: Database, name: str) -> bool:
    """Remove the account; its sessions end with it."""
    _end_sessions(db, name)  # the foreign key cascades too; this says so here
    return db.execute("DELETE FROM users WHERE name = ?", [name]).rowcount == 1


def set_password(db: Database, name: str, password_hash: str) -> bool:
    """A new password hash; every session of the account ends."""
    _end_sessions(db, name)
    cursor = db.execute(
        "UPDATE users SET password_hash = ?, updated_at = ? WHERE name = ?",
        [password_hash, now_text(), name],
    )
    return cursor.rowcount == 1


def rehash(db: Database, user_id: int, old_hash: str, new_hash: str) -> None:
    """Store a stronger hash of the same password (sessions stay)."""
    db.execute(
        "UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?",
        [new_hash, user_id, old_hash],
    )


def set_chat(db: Database, name: str, chat: str | None) -> bool:
    cursor = db.execute(
        "UPDATE users SET chat = ?, updated_at = ? WHERE name = ?", [chat, now_text(), name]
    )
    return cursor.rowcount == 1


@dataclass(frozen=True, slots=True)
class FailureRow:
    scope: str  # what is counted: an account from one client, or one client (web.throttle)
    failures: int
    last_at: str
    blocked_until: str | None


def failures(db: Database, scopes: list[str]) -> list[FailureRow]:
    marks = ", ".join("?" for _ in scopes)
    cursor = db.execute(
        f"SELECT scope, failures, last_at, blocked_until FROM sign_in_failures"
        f" WHERE scope IN ({marks})",
        scopes,
    )
    return fetch_all(FailureRow, cursor)


def save_failure(db: Database, row: FailureRow) -> None:
    db.execute(
        """
        INSERT INTO sign_in_failures (scope, failures, last_at, blocked_until)
        VALUES (?, ?, ?, ?)
        ON CONFLICT (scope) DO UPDATE SET failures = excluded.failures,
            last_at = excluded.last_at, blocked_until = excluded.blocked_until
        """,
        [row.scope, row.failures, row.last_at, row.blocked_until],
    )


def clear_failures(db: Database, scopes: list[str]) -> None:
    marks = ", ".join("?" for _ in scopes)
    db.execute(f"DELETE FROM sign_in_failures WHERE scope IN ({marks})", scopes)


def clear_failures_starting(db: Database, prefix: str) -> None:
    """Forget every count whose scope starts with `prefix` (compared as text, not LIKE)."""
    db.execute("DELETE FROM sign_in_failures WHERE substr(scope, 1, ?) = ?", [len(prefix), prefix])


def forget_failures_before(db: Database, before: str) -> None:
    """Failed sign-ins are kept a day, then forgotten (client addresses with them)."""
    db.execute(
        "DELETE FROM sign_in_failures WHERE last_at < ?"
        " AND (blocked_until IS NULL OR blocked_until < ?)",
        [before, before],
    )
