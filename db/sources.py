"""Queries on sources: the codes organisers declared for "how they found us".

A supporter's source is stored only if it is one of these codes; a code that
was never declared is counted as `other`. Removing a code keeps its row (with
`removed_at`): it is no longer taken from new supporters, and the history that
counts it keeps its name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all
from db.times import now_text

OTHER = "other"  # every undeclared code counts as this; it can't be declared itself


@dataclass(frozen=True, slots=True)
class SourceRow:
    code: str
    declared_by: str
    created_at: str
    removed_at: str | None
    supporters: int  # subscribed with it (now)


def declare(db: Database, code: str, declared_by: str) -> bool:
    """Declare a code (again); False if it was already declared and in use."""
    cursor = db.execute(
        """
        INSERT INTO sources (code, declared_by, created_at) VALUES (?, ?, ?)
        ON CONFLICT (code) DO UPDATE SET removed_at = NULL, declared_by = excluded.declared_by
        WHERE removed_at IS NOT NULL
        """,
        [code, declared_by, now_text()],
    )
    return cursor.rowcount == 1


def declare_for_pack(db: Database, declared_by: str, codes: list[str]) -> None:
    """Make a pack's codes exactly those declared by it: new ones in, dropped ones removed."""
    for code in codes:
        declare(db, code, declared_by)
    db.execute(
        """
        UPDATE sources SET removed_at = :now
        WHERE declared_by = :by AND removed_at IS NULL
          AND code NOT IN (SELECT value FROM json_each(:codes))
        """,
        {"now": now_text(), "by": declared_by, "codes": json.dumps(codes)},
    )


def remove(db: Database, code: str) -> bool:
    """Stop taking a code from new supporters; False if it wasn't in use."""
    cursor = db.execute(
        "UPDATE sources SET removed_at = ? WHERE code = ? AND removed_at IS NULL",
        [now_text(), code],
    )
    return cursor.rowcount == 1


def accepts(db: Database, code: str) -> bool:
    """Is this code declared and in use?"""
    found = db.execute(
        "SELECT 1 FROM sources WHERE code = ? AND removed_at IS NULL", [code]
    ).fetchone()
    return found is not None


def get(db: Database, code: str) -> SourceRow | None:
    return next((row for row in listed(db) if row.code == code), None)


def listed(db: Database) -> list[SourceRow]:
    cursor = db.execute(
        """
        SELECT s.code, s.declared_by, s.created_at, s.removed_at,
            (SELECT count(*) FROM supporters p WHERE p.source = s.code
               AND p.status IN ('active', 'paused')) AS supporters
        FROM sources s ORDER BY s.code
        """
    )
    return fetch_all(SourceRow, cursor)


def settle_undeclared(db: Database) -> int:
    """Every stored source that was never declared becomes `other`, everywhere it is kept
    (the participation counts follow through their triggers). Returns the rows changed."""
    changed = 0
    for table in ("supporters", "deliveries", "actions"):
        cursor = db.execute(
            f"""
            UPDATE {table} SET source = :other
            WHERE source IS NOT NULL AND source != :other
              AND source NOT IN (SELECT code FROM sources)
            """,
            {"other": OTHER},
        )
        changed += cursor.rowcount
    # the counts moved to 'other' through their triggers; drop the emptied rows
    db.execute(
        "DELETE FROM participation_counts"
        " WHERE delivered = 0 AND opened = 0 AND done = 0 AND skipped = 0"
    )
    return changed
