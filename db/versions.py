"""Versions of asks: drafts, approval, and what was published when (migration 0008).

An ask's versions are numbered from 1. At most one is open (a 'draft', or one
'awaiting_approval') and at most one is 'published'; the rest are 'superseded'. The
open one is always numbered after every other, so a draft is "vN+1" over the
published "vN". The `asks` row holds the published version's content and its
number (`asks.version`); a prompt records the version it sent (`prompts.ask_version`).

A version a dashboard import holds for approval keeps the order of the import's pack
(`pack_order`, migration 0011), so the ask goes where the pack put it when published.

Content is the ask's pack fields as JSON (`campaigns.pack_io.ask_content`); two
contents are the same when they parse to the same value. The rules (who may approve,
what may be published) are the core's: `campaigns.editing`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
from db.times import now_text


class VersionState(StrEnum):
    """Where a version of an ask stands (the `ask_versions.state` column)."""

    DRAFT = "draft"
    AWAITING_APPROVAL = "awaiting_approval"  # approved, once `approved_by` is set
    PUBLISHED = "published"  # what the bot sends (the `asks` row)
    SUPERSEDED = "superseded"  # published once, replaced by a later version


OPEN = (VersionState.DRAFT, VersionState.AWAITING_APPROVAL)


@dataclass(frozen=True, slots=True)
class VersionRow:
    campaign: str
    ask_id: str
    version: int
    content: str  # the ask's pack fields, as JSON
    state: VersionState
    created_by: str  # who saved this text last (its author, for approval)
    created_at: str
    approved_by: str | None
    approved_at: str | None
    published_by: str | None
    published_at: str | None
    pack_order: str | None  # held by an import: its pack's ask ids, as JSON (`keep_pack_order`)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN

    @property
    def data(self) -> dict[str, object]:
        found: dict[str, object] = json.loads(self.content)
        return found

    @property
    def held_order(self) -> list[str]:
        """The ask ids of the pack whose import held this version, in the pack's order
        (empty if no import held it)."""
        found = json.loads(self.pack_order) if self.pack_order else []
        return [str(one) for one in found] if isinstance(found, list) else []


_SELECT = f"SELECT {', '.join(VersionRow.__slots__)} FROM ask_versions"


def same_content(one: str, other: str) -> bool:
    """Do two contents say the same (key order and spacing aside)?"""
    return bool(json.loads(one) == json.loads(other))


def get(db: Database, campaign: str, ask_id: str, version: int) -> VersionRow | None:
    cursor = db.execute(
        f"{_SELECT} WHERE campaign = ? AND ask_id = ? AND version = ?", [campaign, ask_id, version]
    )
    return fetch_one(VersionRow, cursor)


def published(db: Database, campaign: str, ask_id: str) -> VersionRow | None:
    """The version the bot sends, if the ask was ever published."""
    cursor = db.execute(
        f"{_SELECT} WHERE campaign = ? AND ask_id = ? AND state = 'published'", [campaign, ask_id]
    )
    return fetch_one(VersionRow, cursor)


def open_version(db: Database, campaign: str, ask_id: str) -> VersionRow | None:
    """The ask's draft, or its version awaiting approval, if it has one."""
    cursor = db.execute(
        f"{_SELECT} WHERE campaign = ? AND ask_id = ? AND state IN ('draft', 'awaiting_approval')",
        [campaign, ask_id],
    )
    return fetch_one(VersionRow, cursor)


def of_ask(db: Database, campaign: str, ask_id: str) -> list[VersionRow]:
    """Every version of one ask, newest first."""
    cursor = db.execute(
        f"{_SELECT} WHERE campaign = ? AND ask_id = ? ORDER BY version DESC", [campaign, ask_id]
    )
    return fetch_all(VersionRow, cursor)


def current_of_campaign(db: Database, campaign: str) -> list[VersionRow]:
    """Each ask's open and published versions (the others are history), by ask."""
    cursor = db.execute(
        f"{_SELECT} WHERE campaign = ? AND state IN ('draft', 'awaiting_approval', 'published')"
        " ORDER BY ask_id, version",
        [campaign],
    )
    return fetch_all(VersionRow, cursor)


def last_number(db: Database, campaign: str, ask_id: str, *, closed_only: bool = False) -> int:
    """The highest version number the ask has (0 if none); `closed_only`: of those
    published or superseded."""
    where = " AND state IN ('published', 'superseded')" if closed_only else ""
    (number,) = db.execute(
        f"SELECT COALESCE(max(version), 0) FROM ask_versions"
        f" WHERE campaign = ? AND ask_id = ?{where}",
        [campaign, ask_id],
    ).fetchone()
    return int(number)


def add_draft(db: Database, campaign: str, ask_id: str, content: str, by: str) -> VersionRow:
    """A new open version, numbered after every other."""
    number = last_number(db, campaign, ask_id) + 1
    db.execute(
        """
        INSERT INTO ask_versions (campaign, ask_id, version, content, state, created_by,
                                  created_at)
        VALUES (?, ?, ?, ?, 'draft', ?, ?)
        """,
        [campaign, ask_id, number, content, by, now_text()],
    )
    found = get(db, campaign, ask_id, number)
    assert found is not None
    return found


def rewrite_draft(db: Database, row: VersionRow, content: str, by: str) -> None:
    """New text for an open version: a draft again, its approval (if any) gone, and
    `by` its author now."""
    db.execute(
        """
        UPDATE ask_versions SET content = ?, state = 'draft', created_by = ?, created_at = ?,
            approved_by = NULL, approved_at = NULL
        WHERE campaign = ? AND ask_id = ? AND version = ?
          AND state IN ('draft', 'awaiting_approval')
        """,
        [content, by, now_text(), row.campaign, row.ask_id, row.version],
    )


def await_approval(db: Database, row: VersionRow) -> None:
    db.execute(
        "UPDATE ask_versions SET state = 'awaiting_approval'"
        " WHERE campaign = ? AND ask_id = ? AND version = ? AND state = 'draft'",
        [row.campaign, row.ask_id, row.version],
    )


def keep_pack_order(db: Database, campaign: str, ask_ids: list[str], order: list[str]) -> None:
    """Keep, with each ask's open version, the order of the pack an import holds it
    from (`order`, ask ids), so `campaigns.placing` can put it at the pack's place when
    it is published, however long it waits."""
    db.conn.executemany(
        "UPDATE ask_versions SET pack_order = ?"
        " WHERE campaign = ? AND ask_id = ? AND state IN ('draft', 'awaiting_approval')",
        [(json.dumps(order), campaign, ask_id) for ask_id in ask_ids],
    )


def approve(db: Database, row: VersionRow, by: str) -> None:
    db.execute(
        "UPDATE ask_versions SET state = 'awaiting_approval', approved_by = ?, approved_at = ?"
        " WHERE campaign = ? AND ask_id = ? AND version = ?"
        " AND state IN ('draft', 'awaiting_approval')",
        [by, now_text(), row.campaign, row.ask_id, row.version],
    )


def discard(db: Database, row: VersionRow) -> bool:
    """Delete an open version (it was never sent, so nothing refers to it)."""
    cursor = db.execute(
        "DELETE FROM ask_versions WHERE campaign = ? AND ask_id = ? AND version = ?"
        " AND state IN ('draft', 'awaiting_approval')",
        [row.campaign, row.ask_id, row.version],
    )
    return cursor.rowcount == 1


def mark_published(db: Database, row: VersionRow, by: str) -> None:
    """Make an open version the published one; the one published before is superseded.
    The `asks` row is written by the caller (`settle` then numbers it)."""
    db.execute(
        "UPDATE ask_versions SET state = 'superseded'"
        " WHERE campaign = ? AND ask_id = ? AND state = 'published'",
        [row.campaign, row.ask_id],
    )
    db.execute(
        "UPDATE ask_versions SET state = 'published', published_by = ?, published_at = ?"
        " WHERE campaign = ? AND ask_id = ? AND version = ?",
        [by, now_text(), row.campaign, row.ask_id, row.version],
    )


def settle(db: Database, campaign: str, contents: dict[str, str], by: str) -> list[str]:
    """After a campaign's `asks` rows were written (a pack file, an import, a publish):
    make each ask's published version the content its row now holds, and number the row.

    An ask whose published version says the same keeps it. Any other gets a new
    published version, numbered after the others (an open draft moves up one, and stays
    a draft over the new text), and the one before is superseded. The ids of the asks
    given a new version are returned.
    """
    made: list[str] = []
    now = now_text()
    for ask_id, content in contents.items():
        current = published(db, campaign, ask_id)
        if current is None or not same_content(current.content, content):
            number = last_number(db, campaign, ask_id, closed_only=True) + 1
            db.execute(
                "UPDATE ask_versions SET version = version + 1"
                " WHERE campaign = ? AND ask_id = ? AND state IN ('draft', 'awaiting_approval')"
                " AND version <= ?",
                [campaign, ask_id, number],
            )
            db.execute(
                "UPDATE ask_versions SET state = 'superseded'"
                " WHERE campaign = ? AND ask_id = ? AND state = 'published'",
                [campaign, ask_id],
            )
            db.execute(
                """
                INSERT INTO ask_versions (campaign, ask_id, version, content, state, created_by,
                                          created_at, published_by, published_at)
                VALUES (?, ?, ?, ?, 'published', ?, ?, ?, ?)
                """,
                [campaign, ask_id, number, content, by, now, by, now],
            )
            made.append(ask_id)
        else:
            number = current.version
        db.execute(
            "UPDATE asks SET version = ? WHERE campaign = ? AND id = ? AND version != ?",
            [number, campaign, ask_id, number],
        )
    return made


def delivered(db: Database, campaign: str, ask_id: str) -> dict[int, int]:
    """Deliveries that went out (sent, or perhaps: unknown), per version of the ask."""
    rows = db.execute(
        """
        SELECT p.ask_version, count(*) FROM prompts p
        JOIN deliveries d ON d.prompt_id = p.id
        WHERE p.campaign = ? AND p.ask_id = ? AND p.ask_version IS NOT NULL
          AND d.state IN ('sent', 'unknown')
        GROUP BY p.ask_version
        """,
        [campaign, ask_id],
    ).fetchall()
    return {int(version): int(count) for version, count in rows}
