"""Wording experiments in the store: which wording each delivery carried, and the
counts per wording (migration 0009).

The choice itself (which wording, by a keyed hash) is the core's,
`campaigns.variants`; here are only the rows it reads and writes.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all


def key(db: Database) -> bytes:
    """The random key that picks wordings, made once by the migration."""
    (text,) = db.execute("SELECT key FROM variant_key WHERE id = 1").fetchone()
    return bytes.fromhex(text)


def unassigned(
    db: Database, prompt_id: int, translated: list[str] | None = None
) -> list[tuple[int, str]]:
    """(delivery id, supporter key) of the prompt's deliveries still to go out to a
    private chat with no wording yet, leaving out supporters whose language is one of
    `translated` (they get the ask's translation, not a wording under test). Groups stay
    out of experiments: one delivery there is answered by many members, so "done per
    delivery" means nothing."""
    rows = db.execute(
        """
        SELECT d.id, d.supporter_key FROM deliveries d
        JOIN supporters s ON s.id = d.supporter_id
        WHERE d.prompt_id = ? AND d.state = 'pending' AND d.variant IS NULL
          AND s.kind = 'private'
          AND (s.language IS NULL OR s.language NOT IN (SELECT value FROM json_each(?)))
        """,
        [prompt_id, json.dumps(translated or [])],
    ).fetchall()
    return [(int(delivery_id), str(supporter_key)) for delivery_id, supporter_key in rows]


def set_variants(db: Database, chosen: list[tuple[str, int]]) -> None:
    """Record (wording, delivery id) pairs, only on deliveries that have none yet."""
    db.conn.executemany(
        "UPDATE deliveries SET variant = ? WHERE id = ? AND variant IS NULL AND state = 'pending'",
        chosen,
    )


def copy_from_parent(db: Database, prompt_id: int, parent_id: int) -> int:
    """A reminder carries the wording its supporter got in the first place."""
    cursor = db.execute(
        """
        UPDATE deliveries SET variant = (
            SELECT p.variant FROM deliveries p
            WHERE p.prompt_id = :parent AND p.supporter_key = deliveries.supporter_key)
        WHERE prompt_id = :prompt AND state = 'pending' AND variant IS NULL
          AND EXISTS (SELECT 1 FROM deliveries p WHERE p.prompt_id = :parent
                      AND p.supporter_key = deliveries.supporter_key
                      AND p.variant IS NOT NULL)
        """,
        {"prompt": prompt_id, "parent": parent_id},
    )
    return cursor.rowcount


def of_delivery(db: Database, prompt_id: int, supporter_key: str) -> str | None:
    """The wording a supporter got of a prompt (or of its reminder), if any."""
    row = db.execute(
        """
        SELECT d.variant FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        WHERE d.supporter_key = ? AND (p.id = ? OR p.parent_id = ?) AND d.variant IS NOT NULL
        ORDER BY d.id LIMIT 1
        """,
        [supporter_key, prompt_id, prompt_id],
    ).fetchone()
    return None if row is None else str(row[0])


def forget(db: Database, supporter_key: str) -> int:
    """/forget: the deliveries keep their state, not the wording (counts stay, kept apart)."""
    cursor = db.execute(
        "UPDATE deliveries SET variant = NULL WHERE supporter_key = ? AND variant IS NOT NULL",
        [supporter_key],
    )
    return cursor.rowcount


@dataclass(frozen=True, slots=True)
class VariantCounts:
    """One wording of one version of an ask, summed over the prompts that sent it."""

    campaign: str
    ask_id: str
    ask_version: int | None
    variant: str
    delivered: int
    opened: int
    done: int
    skipped: int


def counts(
    db: Database,
    *,
    campaign: str | None = None,
    since: str | None = None,
    until: str | None = None,
) -> list[VariantCounts]:
    """Per ask, version and wording: deliveries that went out, and the answers.
    `since`/`until` are UTC text on the prompt's time, as the participation report's."""
    clauses = ["p.kind IN ('weekly', 'manual')", "p.state != 'cancelled'"]
    params: list[object] = []
    for clause, value in (
        ("p.campaign = ?", campaign),
        ("p.scheduled_at >= ?", since),
        ("p.scheduled_at < ?", until),
    ):
        if value:
            clauses.append(clause)
            params.append(value)
    cursor = db.execute(
        f"""
        SELECT p.campaign, p.ask_id, p.ask_version, v.variant, sum(v.delivered) AS delivered,
            sum(v.opened) AS opened, sum(v.done) AS done, sum(v.skipped) AS skipped
        FROM variant_counts v JOIN prompts p ON p.id = v.prompt_id
        WHERE {" AND ".join(clauses)}
        GROUP BY p.campaign, p.ask_id, p.ask_version, v.variant
        HAVING sum(v.delivered) != 0 OR sum(v.done) != 0 OR sum(v.skipped) != 0
        ORDER BY p.campaign, p.ask_id, p.ask_version, v.variant
        """,
        params,
    )
    return fetch_all(VariantCounts, cursor)


def names_sent(db: Database, prompt_ids: list[int]) -> set[str]:
    """The wordings the given prompts carried (for tests and checks)."""
    rows = db.execute(
        "SELECT DISTINCT variant FROM deliveries WHERE variant IS NOT NULL"
        " AND prompt_id IN (SELECT value FROM json_each(?))",
        [json.dumps(prompt_ids)],
    ).fetchall()
    return {str(name) for (name,) in rows}
