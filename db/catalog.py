"""Campaigns and asks: where the running bot reads them from (through
`campaigns.pack_io`), and what prompts, stats and Datasette join.

They come in from pack files (at start, when a file changed), imported packs and,
later, the dashboard's editor; `origin` says which wrote a campaign last. Asks are
never deleted, only retired: prompts and actions refer to them. Every change to
either table moves `catalog_version` on (triggers), for a running bot to notice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
from db.states import AfterLast
from db.times import now_text


@dataclass(frozen=True, slots=True)
class AskRow:
    campaign: str
    id: str
    position: int
    title: str
    topic: str
    ask: str
    stat_figure: str
    stat_sentence: str
    stat_source: str
    stat_url: str
    stat_year: int
    stat_period: str | None
    link_label: str
    link_url: str
    reminder: str | None
    retired: int
    next_text: str | None
    next_link_label: str | None
    next_link_url: str | None
    next_invite: bool
    poll_question: str | None
    poll_answers: str | None  # a JSON list of labels
    poll_after_days: int | None
    campaign_title: str
    extra: str = "{}"  # a JSON object: the ask's pack fields with no column of their own
    version: int = 1  # which version of the ask this is (`db.versions`)

    @property
    def poll_labels(self) -> list[str]:
        """The poll's fixed answers, in order (none if the ask has no poll)."""
        return [str(label) for label in json.loads(self.poll_answers)] if self.poll_answers else []


class CampaignOrigin(StrEnum):
    """What wrote a campaign's stored copy last (the `campaigns.origin` column)."""

    PACK = "pack"  # its file in the packs folder, at start
    IMPORT = "import"  # an imported pack (`campaignbot campaigns import`, the dashboard)
    DASHBOARD = "dashboard"  # the dashboard's editor


@dataclass(frozen=True, slots=True)
class CampaignRow:
    slug: str
    title: str
    description: str
    weekday: str
    time: str  # 'HH:MM', or 'HH:MM:SS' when the pack gave seconds
    timezone: str
    grace_hours: float
    reminder_days: int | None
    after_last: AfterLast
    welcome: str  # a JSON list of {"after_days", "text", "link_label", "link_url"}
    sources: str  # a JSON list of the campaign's own source codes, in its order
    extra: str  # a JSON object: the campaign's pack fields with no column of their own
    pack_file: str  # the file in the packs folder it was last copied from ('' for none)
    pack_hash: str | None  # that file's SHA-256 then
    origin: CampaignOrigin
    retired: bool
    updated_at: str

    @property
    def source_codes(self) -> list[str]:
        return [str(code) for code in json.loads(self.sources)]

    @property
    def welcome_messages(self) -> list[dict[str, Any]]:
        return [dict(message) for message in json.loads(self.welcome)]


_CAMPAIGN_SELECT = f"SELECT {', '.join(CampaignRow.__slots__)} FROM campaigns"

_ASK_SELECT = (
    "SELECT "
    + ", ".join(f"a.{name}" for name in AskRow.__slots__ if name != "campaign_title")
    + ", c.title AS campaign_title FROM asks a JOIN campaigns c ON c.slug = a.campaign"
)


def upsert_campaign(db: Database, campaign: dict[str, Any], asks: list[dict[str, Any]]) -> None:
    """Store a campaign and its asks, in this order; asks it no longer has are kept but
    retired, and a retired campaign comes back.

    `campaign` holds every column but the times; `pack_hash` may be left out, which
    keeps the stored one (an import says nothing of the file in the packs folder).
    """
    now = now_text()
    values = {"pack_hash": None, **campaign, "keep_hash": "pack_hash" not in campaign}
    db.execute(
        """
        INSERT INTO campaigns
            (slug, title, description, weekday, time, timezone, grace_hours, reminder_days,
             pack_file, after_last, welcome, sources, extra, origin, pack_hash, retired,
             created_at, updated_at)
        VALUES (:slug, :title, :description, :weekday, :time, :timezone, :grace_hours,
                :reminder_days, :pack_file, :after_last, :welcome, :sources, :extra, :origin,
                :pack_hash, 0, :now, :now)
        ON CONFLICT (slug) DO UPDATE SET
            title = excluded.title, description = excluded.description,
            weekday = excluded.weekday, time = excluded.time, timezone = excluded.timezone,
            grace_hours = excluded.grace_hours, reminder_days = excluded.reminder_days,
            pack_file = CASE WHEN :keep_hash THEN campaigns.pack_file
                             ELSE excluded.pack_file END,
            after_last = excluded.after_last, welcome = excluded.welcome,
            sources = excluded.sources, extra = excluded.extra, origin = excluded.origin,
            pack_hash = CASE WHEN :keep_hash THEN campaigns.pack_hash
                             ELSE excluded.pack_hash END,
            retired = 0, updated_at = excluded.updated_at
        """,
        {**values, "now": now},
    )
    db.execute("UPDATE asks SET retired = 1 WHERE campaign = ? AND retired = 0", [campaign["slug"]])
    for position, ask in enumerate(asks, start=1):
        db.execute(
            """
            INSERT INTO asks
                (campaign, id, position, title, topic, ask, stat_figure, stat_sentence,
                 stat_source, stat_url, stat_year, stat_period, link_label, link_url,
                 reminder, retired, next_text, next_link_label, next_link_url, next_invite,
                 poll_question, poll_answers, poll_after_days, extra, updated_at)
            VALUES (:campaign, :id, :position, :title, :topic, :ask, :stat_figure,
                    :stat_sentence, :stat_source, :stat_url, :stat_year, :stat_period,
                    :link_label, :link_url, :reminder, 0, :next_text, :next_link_label,
                    :next_link_url, :next_invite, :poll_question, :poll_answers,
                    :poll_after_days, :extra, :now)
            ON CONFLICT (campaign, id) DO UPDATE SET
                position = excluded.position, title = excluded.title, topic = excluded.topic,
                ask = excluded.ask, stat_figure = excluded.stat_figure,
                stat_sentence = excluded.stat_sentence, stat_source = excluded.stat_source,
                stat_url = excluded.stat_url, stat_year = excluded.stat_year,
                stat_period = excluded.stat_period,
                link_label = excluded.link_label, link_url = excluded.link_url,
                reminder = excluded.reminder, retired = 0, next_text = excluded.next_text,
                next_link_label = excluded.next_link_label,
                next_link_url = excluded.next_link_url, next_invite = excluded.next_invite,
                poll_question = excluded.poll_question, poll_answers = excluded.poll_answers,
                poll_after_days = excluded.poll_after_days, extra = excluded.extra,
                updated_at = excluded.updated_at
            """,
            {**ask, "campaign": campaign["slug"], "position": position, "now": now},
        )


def get_campaign(db: Database, slug: str) -> CampaignRow | None:
    return fetch_one(CampaignRow, db.execute(f"{_CAMPAIGN_SELECT} WHERE slug = ?", [slug]))


def campaigns(db: Database, *, include_retired: bool = False) -> list[CampaignRow]:
    """Every campaign, by slug (the retired ones too, if asked)."""
    where = "" if include_retired else " WHERE retired = 0"
    return fetch_all(CampaignRow, db.execute(f"{_CAMPAIGN_SELECT}{where} ORDER BY slug"))


def set_pack_file(db: Database, slug: str, name: str, sha256: str) -> None:
    """Say which pack file a campaign's stored copy is to be compared with from now on."""
    db.execute(
        "UPDATE campaigns SET pack_file = ?, pack_hash = ? WHERE slug = ?", [name, sha256, slug]
    )


def retire_campaign(db: Database, slug: str) -> bool:
    """Leave a campaign out of the running bot (its rows stay); False if it already was."""
    cursor = db.execute("UPDATE campaigns SET retired = 1 WHERE slug = ? AND retired = 0", [slug])
    return cursor.rowcount == 1


def catalog_version(db: Database) -> int:
    """A number that moves on with every change to a campaign or an ask (never back):
    a running bot that remembers it can tell, with one read, that its copy is stale."""
    (version,) = db.execute("SELECT version FROM catalog_version").fetchone()
    return int(version)


def get_ask(db: Database, campaign: str, ask_id: str) -> AskRow | None:
    cursor = db.execute(f"{_ASK_SELECT} WHERE a.campaign = ? AND a.id = ?", [campaign, ask_id])
    return fetch_one(AskRow, cursor)


def asks(db: Database, campaign: str, *, include_retired: bool = False) -> list[AskRow]:
    """A campaign's asks in pack order."""
    where = "" if include_retired else " AND a.retired = 0"
    cursor = db.execute(
        f"{_ASK_SELECT} WHERE a.campaign = ?{where} ORDER BY a.position", [campaign]
    )
    return fetch_all(AskRow, cursor)


def locked_answers(db: Database, campaign: str, ask_id: str) -> list[str]:
    """The ask's poll answers, if its poll went out to anyone (or was answered): then
    answers are counted by position and the buttons in chats carry positions, so an
    edit must keep them, in order. Empty if no poll of the ask went out."""
    (out,) = db.execute(
        """
        SELECT EXISTS (
            SELECT 1 FROM prompts p JOIN deliveries d ON d.prompt_id = p.id
            WHERE p.campaign = ? AND p.ask_id = ? AND p.kind = 'poll'
              AND d.state IN ('sent', 'unknown'))
        OR EXISTS (
            SELECT 1 FROM prompts p JOIN poll_answers x ON x.prompt_id = p.id
            WHERE p.campaign = ? AND p.ask_id = ? AND p.kind = 'poll')
        """,
        [campaign, ask_id, campaign, ask_id],
    ).fetchone()
    found = get_ask(db, campaign, ask_id) if out else None
    return found.poll_labels if found is not None else []


def campaign_created_at(db: Database, slug: str) -> str | None:
    row = db.execute("SELECT created_at FROM campaigns WHERE slug = ?", [slug]).fetchone()
    return str(row[0]) if row else None
