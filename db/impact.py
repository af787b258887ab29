"""What the public impact counter counts, per campaign: the distinct supporters who did
an ask (since a moment, and ever) and the asks that went out. Counts only, never a key.

An ask is a prompt of kind weekly, manual or standing; a reminder's answers count for
its parent, and journey steps (next steps, welcome messages, polls) are not asks.
"Went out" is a delivery in state 'sent', read from `participation_counts` (kept by
triggers, so it costs a few hundred rows however many deliveries there are). Distinct
supporters come from the actions themselves: ever, from the partial index on the "done"
rows, whose (platform, supporter_key) order lets SQLite drop repeats as it goes
(0.29 s for the two queries at a million actions; planned through `actions_by_prompt`
they took 0.71 s; docs/benchmarks.md); lately, from the index on action times.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from sqlite_utils import Database

# The prompts whose deliveries and answers the counter counts: the asks themselves.
COUNTED_KINDS = "('weekly', 'manual', 'standing')"


@dataclass(frozen=True, slots=True)
class Tally:
    """Exact counts, for the core to round off before anyone sees them."""

    acted_since: int  # distinct supporters with a "done" made at or after `since`
    acted_ever: int
    asks_sent: int


def tallies(db: Database, campaigns: list[str], since: str) -> tuple[dict[str, Tally], Tally]:
    """Per campaign of `campaigns`, and for them all together (each supporter once), the
    supporters who did an ask since `since` (UTC text) and ever, and the asks sent."""
    chosen = json.dumps(sorted(campaigns))
    counted = f"p.kind IN {COUNTED_KINDS} AND p.campaign IN (SELECT value FROM json_each(?))"
    ever = _pairs(
        db,
        f"""SELECT campaign, count(*) FROM (
            SELECT DISTINCT a.platform, a.supporter_key, p.campaign AS campaign
            FROM actions a INDEXED BY actions_done_by_platform JOIN prompts p ON p.id = a.prompt_id
            WHERE a.kind = 'done' AND {counted}
        ) GROUP BY campaign""",
        [chosen],
    )
    # A supporter's key belongs to one platform, so (platform, key) is one person.
    ever_all = _one(
        db,
        f"""SELECT count(*) FROM (
            SELECT DISTINCT a.platform, a.supporter_key
            FROM actions a INDEXED BY actions_done_by_platform JOIN prompts p ON p.id = a.prompt_id
            WHERE a.kind = 'done' AND {counted}
        )""",
        [chosen],
    )
    recent_rows = f"""FROM actions a INDEXED BY actions_by_time JOIN prompts p ON p.id = a.prompt_id
        WHERE a.created_at >= ? AND a.kind = 'done' AND {counted}"""
    recent = _pairs(
        db,
        f"SELECT p.campaign, count(DISTINCT a.supporter_key) {recent_rows} GROUP BY p.campaign",
        [since, chosen],
    )
    recent_all = _one(db, f"SELECT count(DISTINCT a.supporter_key) {recent_rows}", [since, chosen])
    sent = _pairs(
        db,
        f"""SELECT p.campaign, sum(t.delivered)
        FROM participation_counts t JOIN prompts p ON p.id = t.prompt_id
        WHERE {counted} GROUP BY p.campaign""",
        [chosen],
    )
    per_campaign = {
        slug: Tally(recent.get(slug, 0), ever.get(slug, 0), sent.get(slug, 0)) for slug in campaigns
    }
    return per_campaign, Tally(recent_all, ever_all, sum(sent.values()))


def previous_ask(db: Database, campaign: str, before: str, after: str) -> int | None:
    """The campaign's latest weekly or manual prompt scheduled in [after, before) that
    started going out (not cancelled): its id, or None."""
    row = db.execute(
        """SELECT id FROM prompts
        WHERE campaign = ? AND kind IN ('weekly', 'manual') AND state IN ('sending', 'sent')
          AND scheduled_at >= ? AND scheduled_at < ?
        ORDER BY scheduled_at DESC, id DESC LIMIT 1""",
        [campaign, after, before],
    ).fetchone()
    return int(row[0]) if row else None


def done_count(db: Database, prompt_id: int) -> int:
    """How many supporters did a prompt's ask (one answer each per prompt, so the
    "done" count is the distinct supporters)."""
    row = db.execute(
        "SELECT COALESCE(sum(done), 0) FROM participation_counts WHERE prompt_id = ?",
        [prompt_id],
    ).fetchone()
    return int(row[0])


def _pairs(db: Database, sql: str, params: list[str] | None = None) -> dict[str, int]:
    return {str(key): int(n or 0) for key, n in db.execute(sql, params or []).fetchall()}


def _one(db: Database, sql: str, params: list[str] | None = None) -> int:
    row = db.execute(sql, params or []).fetchone()
    return int(row[0] or 0) if row else 0
