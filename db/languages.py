"""The language stored on a supporter (`supporters.language`, migration 0010).

Only the core's own language codes are ever written here (the core checks them); a
NULL means "not chosen yet". The column goes with the row when a supporter is erased.
"""

from __future__ import annotations

from sqlite_utils import Database

from db.times import now_text


def language_of(db: Database, supporter_id: int) -> str | None:
    row = db.execute("SELECT language FROM supporters WHERE id = ?", [supporter_id]).fetchone()
    return str(row[0]) if row is not None and row[0] is not None else None


def set_language(db: Database, supporter_id: int, language: str) -> None:
    db.execute(
        "UPDATE supporters SET language = ?, updated_at = ? WHERE id = ?",
        [language, now_text(), supporter_id],
    )


def set_if_unset(db: Database, supporter_id: int, language: str) -> bool:
    """Store the language the platform gave, unless one is stored already."""
    cursor = db.execute(
        "UPDATE supporters SET language = ? WHERE id = ? AND language IS NULL",
        [language, supporter_id],
    )
    return cursor.rowcount > 0
