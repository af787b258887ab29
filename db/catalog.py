"""Campaigns and asks, copied from the packs so prompts, stats and Datasette can join them."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from sqlite_utils import Database

from db.rows import fetch_all, fetch_one
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

    @property
    def poll_labels(self) -> list[str]:
        """The poll's fixed answers, in order (none if the ask has no poll)."""
        return [str(label) for label in json.loads(self.poll_answers)] if self.poll_answers else []


_ASK_SELECT = (
    "SELECT "
    + ", ".join(f"a.{name}" for name in AskRow.__slots__ if name != "campaign_title")
    + ", c.title AS campaign_title FROM asks a JOIN campaigns c ON c.slug = a.campaign"
)


def upsert_campaign(db: Database, campaign: dict[str, Any], asks: list[dict[str, Any]]) -> None:
    """Store a campaign and its asks; asks no longer in the pack are kept but retired.

    Asks are never deleted: prompts and actions refer to them.
    """
    now = now_text()
    db.execute(
        """
        INSERT INTO campaigns
            (slug, title, description, weekday, time, timezone, grace_hours, reminder_days,
             pack_file, after_last, welcome, created_at, updated_at)
        VALUES (:slug, :title, :description, :weekday, :time, :timezone, :grace_hours,
                :reminder_days, :pack_file, :after_last, :welcome, :now, :now)
        ON CONFLICT (slug) DO UPDATE SET
            title = excluded.title, description = excluded.description,
            weekday = excluded.weekday, time = excluded.time, timezone = excluded.timezone,
            grace_hours = excluded.grace_hours, reminder_days = excluded.reminder_days,
            pack_file = excluded.pack_file, after_last = excluded.after_last,
            welcome = excluded.welcome, updated_at = excluded.updated_at
        """,
        {**campaign, "now": now},
    )
    db.execute("UPDATE asks SET retired = 1 WHERE campaign = ?", [campaign["slug"]])
    for position, ask in enumerate(asks, start=1):
        db.execute(
            """
            INSERT INTO asks
                (campaign, id, position, title, topic, ask, stat_figure, stat_sentence,
                 stat_source, stat_url, stat_year, link_label, link_url, reminder, retired,
                 next_text, next_link_label, next_link_url, next_invite, poll_question,
                 poll_answers, poll_after_days, updated_at)
            VALUES (:campaign, :id, :position, :title, :topic, :ask, :stat_figure,
                    :stat_sentence, :stat_source, :stat_url, :stat_year, :link_label,
                    :link_url, :reminder, 0, :next_text, :next_link_label, :next_link_url,
                    :next_invite, :poll_question, :poll_answers, :poll_after_days, :now)
            ON CONFLICT (campaign, id) DO UPDATE SET
                position = excluded.position, title = excluded.title, topic = excluded.topic,
                ask = excluded.ask, stat_figure = excluded.stat_figure,
                stat_sentence = excluded.stat_sentence, stat_source = excluded.stat_source,
                stat_url = excluded.stat_url, stat_year = excluded.stat_year,
                link_label = excluded.link_label, link_url = excluded.link_url,
                reminder = excluded.reminder, retired = 0, next_text = excluded.next_text,
                next_link_label = excluded.next_link_label,
                next_link_url = excluded.next_link_url, next_invite = excluded.next_invite,
                poll_question = excluded.poll_question, poll_answers = excluded.poll_answers,
                poll_after_days = excluded.poll_after_days, updated_at = excluded.updated_at
            """,
            {**ask, "campaign": campaign["slug"], "position": position, "now": now},
        )


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


def campaign_created_at(db: Database, slug: str) -> str | None:
    row = db.execute("SELECT created_at FROM campaigns WHERE slug = ?", [slug]).fetchone()
    return str(row[0]) if row else None
