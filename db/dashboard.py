"""Queries the dashboard's pages need beyond the participation report: who is
subscribed, what went out last and goes out next, returning supporters, and where
a tracked link leads. The report's own numbers come from `db.stats` alone; the
pages are put together in the core (`campaigns/dashboard.py`)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlite_utils import Database

from db.prompts import PromptRow
from db.rows import fetch_all, fetch_one
from db.stats import (
    NO_SOURCE,
    Filters,
    covered_prompts,
    prompt_condition,
    row_filter,
)

_PROMPT_COLUMNS = ", ".join(f"p.{name}" for name in PromptRow.__slots__)


@contextmanager
def snapshot(db: Database) -> Iterator[None]:
    """One read transaction: every query inside sees the database as it was at the
    first, so a page's numbers add up even while supporters act."""
    db.execute("BEGIN")
    try:
        yield
    finally:
        db.execute("COMMIT")


@dataclass(frozen=True, slots=True)
class LinkTarget:
    prompt_id: int  # the prompt an open counts for (a reminder's parent)
    campaign: str
    ask_id: str
    url: str
    supporter_key: str
    platform: str
    source: str | None
    erased: bool


def link_target(db: Database, delivery_id: int) -> LinkTarget | None:
    """A delivery's ask, its link and (pseudonymous) supporter. The link is the one of
    the ask's version the prompt sent (`prompts.ask_version`, `db.versions`), where
    that version is in the store: the address the supporter's button showed."""
    cursor = db.execute(
        """
        SELECT CASE WHEN p.kind = 'reminder' AND p.parent_id IS NOT NULL
                    THEN p.parent_id ELSE p.id END AS prompt_id,
            p.campaign, p.ask_id,
            COALESCE(json_extract(v.content, '$.link.url'), a.link_url) AS url,
            d.supporter_key, d.platform, d.source, d.supporter_id IS NULL AS erased
        FROM deliveries d
        JOIN prompts p ON p.id = d.prompt_id
        JOIN asks a ON a.campaign = p.campaign AND a.id = p.ask_id
        LEFT JOIN ask_versions v ON v.campaign = p.campaign AND v.ask_id = p.ask_id
            AND v.version = p.ask_version AND p.ask_version != a.version
        WHERE d.id = ?
        """,
        [delivery_id],
    )
    return fetch_one(LinkTarget, cursor)


def supporters_by_source(db: Database) -> dict[str, dict[str, int]]:
    """source (or '(none)') → status → how many supporters."""
    result: dict[str, dict[str, int]] = {}
    for source, status, n in db.execute(
        f"""SELECT COALESCE(source, '{NO_SOURCE}'), status, count(*) FROM supporters
        GROUP BY source, status"""
    ).fetchall():
        result.setdefault(source, {})[status] = n
    return result


def sources(db: Database) -> list[str]:
    """Every source that has supporters or counts, for filters."""
    found = {
        row[0] or NO_SOURCE
        for row in db.execute("SELECT DISTINCT source FROM participation_counts").fetchall()
    }
    found |= {
        row[0] or NO_SOURCE
        for row in db.execute("SELECT DISTINCT source FROM supporters").fetchall()
    }
    return sorted(found)


def recent_sends(db: Database, limit: int = 5) -> list[PromptRow]:
    """Prompts that went out (or are going out), latest first; reminders included, journey
    steps not (each goes on for as long as supporters reach it: see the journeys table)."""
    cursor = db.execute(
        f"""SELECT {_PROMPT_COLUMNS} FROM prompts p WHERE p.state IN ('sending', 'sent')
        AND p.kind IN ('weekly', 'manual', 'standing', 'reminder')
        ORDER BY COALESCE(p.started_at, p.scheduled_at) DESC, p.id DESC LIMIT ?""",
        [limit],
    )
    return fetch_all(PromptRow, cursor)


def upcoming(db: Database, limit: int = 5) -> list[PromptRow]:
    """Prompts waiting for their time, soonest first."""
    cursor = db.execute(
        f"""SELECT {_PROMPT_COLUMNS} FROM prompts p WHERE p.state = 'scheduled'
        ORDER BY p.scheduled_at, p.id LIMIT ?""",
        [limit],
    )
    return fetch_all(PromptRow, cursor)


def delivered(db: Database, prompt_ids: list[int]) -> dict[int, int]:
    """Deliveries that went out, per prompt."""
    if not prompt_ids:
        return {}
    marks = ", ".join("?" for _ in prompt_ids)
    cursor = db.execute(
        f"""SELECT prompt_id, sum(delivered) FROM participation_counts
        WHERE prompt_id IN ({marks}) GROUP BY prompt_id""",
        prompt_ids,
    )
    return {prompt_id: n for prompt_id, n in cursor.fetchall()}


@dataclass(frozen=True, slots=True)
class Returning:
    unique: int  # distinct supporters who did at least one ask
    returning: int  # of those, how many did asks of two or more prompts


def returning(db: Database, filters: Filters) -> Returning:
    """Unique and returning supporters for the prompts and rows the filters cover."""
    prompts = covered_prompts(db, filters)
    if not prompts.groups:
        return Returning(0, 0)
    row_where, row_params = row_filter("a", filters)
    prompt_where, prompt_params = prompt_condition(prompts)
    # A supporter's key belongs to one platform, so grouping by both follows the
    # index and gives one group per supporter.
    unique, again = db.execute(
        f"""SELECT count(*), COALESCE(sum(n > 1), 0) FROM (
            SELECT count(*) AS n FROM actions a INDEXED BY actions_done_by_platform
            WHERE a.kind = 'done'{row_where}{prompt_where}
            GROUP BY a.platform, a.supporter_key)""",
        [*row_params, *prompt_params],
    ).fetchone()
    return Returning(int(unique), int(again))
