"""Which campaigns each supporter joined: the `subscriptions` table (migration 0006).

A supporter's status (active, paused, stopped, gone) holds across campaigns; a
subscription says only that they chose a campaign, and since when. The rows go
with the supporter's own (ON DELETE CASCADE), so erasure needs nothing here, and a
stopped supporter keeps theirs, to find their choices again if they come back.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlite_utils import Database

from db.rows import fetch_all
from db.stats import NO_SOURCE
from db.times import now_text


@dataclass(frozen=True, slots=True)
class SubscriptionRow:
    campaign: str
    title: str  # the campaign's title as its pack last gave it
    created_at: str  # when they joined it (UTC)


def of_supporter(db: Database, supporter_id: int) -> list[SubscriptionRow]:
    """The campaigns a supporter joined, first joined first."""
    cursor = db.execute(
        """
        SELECT j.campaign, COALESCE(c.title, j.campaign) AS title, j.created_at
        FROM subscriptions j LEFT JOIN campaigns c ON c.slug = j.campaign
        WHERE j.supporter_id = ? ORDER BY j.created_at, j.campaign
        """,
        [supporter_id],
    )
    return fetch_all(SubscriptionRow, cursor)


def join(db: Database, supporter_id: int, campaign: str) -> bool:
    """Subscribe a supporter to a campaign; False if they already were."""
    cursor = db.execute(
        """
        INSERT INTO subscriptions (supporter_id, campaign, created_at) VALUES (?, ?, ?)
        ON CONFLICT (supporter_id, campaign) DO NOTHING
        """,
        [supporter_id, campaign, now_text()],
    )
    return cursor.rowcount == 1


def leave(db: Database, supporter_id: int, campaign: str) -> bool:
    """Unsubscribe a supporter from one campaign; False if they were not on it."""
    cursor = db.execute(
        "DELETE FROM subscriptions WHERE supporter_id = ? AND campaign = ?",
        [supporter_id, campaign],
    )
    return cursor.rowcount == 1


@dataclass(frozen=True, slots=True)
class SubscriberCount:
    campaign: str
    platform: str
    status: str
    n: int


def counts(
    db: Database,
    *,
    campaign: str | None = None,
    platform: str | None = None,
    source: str | None = None,
) -> list[SubscriberCount]:
    """How many supporters each campaign has, per platform and status (never who).
    `source` filters on how supporters found us (`NO_SOURCE`: none recorded)."""
    cursor = db.execute(
        """
        SELECT j.campaign, s.platform, s.status, count(*) AS n
        FROM subscriptions j JOIN supporters s ON s.id = j.supporter_id
        WHERE (:campaign IS NULL OR j.campaign = :campaign)
          AND (:platform IS NULL OR s.platform = :platform)
          AND (:source IS NULL OR COALESCE(s.source, :none) = :source)
        GROUP BY j.campaign, s.platform, s.status
        ORDER BY j.campaign, s.platform, s.status
        """,
        {"campaign": campaign, "platform": platform, "source": source, "none": NO_SOURCE},
    )
    return fetch_all(SubscriberCount, cursor)


def campaigns(db: Database, campaign: str | None = None) -> list[str]:
    """Every campaign the store knows (or just `campaign`, if it does), by slug."""
    cursor = db.execute(
        "SELECT slug FROM campaigns WHERE (:campaign IS NULL OR slug = :campaign) ORDER BY slug",
        {"campaign": campaign},
    )
    return [str(row[0]) for row in cursor.fetchall()]
