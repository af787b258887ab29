"""The loaded campaign packs, and copying them into the store."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from campaigns.packs import Ask, Pack, PackError, load_packs
from db import catalog as catalog_db
from db import housekeeping as housekeeping_db
from db import sources as sources_db

DEFAULT_CAMPAIGN = "one-step-ahead"
SETTLE_SOURCES = "sources-declared"


@dataclass(frozen=True)
class Catalog:
    """Every loaded pack, keyed by campaign slug, and which one /ask talks about."""

    packs: dict[str, Pack]
    default: str

    @classmethod
    def load(cls, directory: Path, default: str | None = None) -> Catalog:
        packs = load_packs(directory)
        if default is None:
            default = DEFAULT_CAMPAIGN if DEFAULT_CAMPAIGN in packs else sorted(packs)[0]
        if default not in packs:
            raise PackError(directory, [f"the default campaign {default!r} is not in any pack"])
        return cls(packs, default)

    @property
    def topics(self) -> list[str]:
        """Every topic of every pack, in pack order."""
        seen: dict[str, None] = {}
        for slug in sorted(self.packs):
            for topic in self.packs[slug].topics:
                seen.setdefault(topic, None)
        return list(seen)

    def sync(self, db: Database) -> None:
        """Copy every pack into the campaigns, asks and sources tables."""
        for slug, pack in self.packs.items():
            schedule = pack.campaign.schedule
            campaign = {
                "slug": slug,
                "title": pack.campaign.title,
                "description": pack.campaign.description,
                "weekday": schedule.weekday,
                "time": schedule.time.strftime("%H:%M"),
                "timezone": schedule.timezone,
                "grace_hours": schedule.grace_hours,
                "reminder_days": schedule.reminder_days,
                "pack_file": f"{slug}.toml",
                "after_last": pack.campaign.after_last.value,
                "welcome": json.dumps(
                    [
                        {
                            "after_days": message.after_days,
                            "text": message.text,
                            "link_label": message.link.label if message.link else None,
                            "link_url": message.link.url if message.link else None,
                        }
                        for message in pack.campaign.welcome
                    ],
                    ensure_ascii=False,
                ),
            }
            asks = [
                {
                    "id": ask.id,
                    "title": ask.title,
                    "topic": ask.topic,
                    "ask": ask.ask,
                    "stat_figure": ask.statistic.figure,
                    "stat_sentence": ask.statistic.sentence,
                    "stat_source": ask.statistic.source,
                    "stat_url": ask.statistic.url,
                    "stat_year": ask.statistic.year or 0,  # 0: undated (the column is NOT NULL)
                    "link_label": ask.link.label,
                    "link_url": ask.link.url,
                    "reminder": ask.reminder,
                    **_next_step(ask),
                    **_poll(ask),
                }
                for ask in pack.asks
            ]
            catalog_db.upsert_campaign(db, campaign, asks)
            sources_db.declare_for_pack(db, f"pack:{slug}", pack.campaign.sources)
        if housekeeping_db.done_at(db, SETTLE_SOURCES) is None:
            # Once, on the first start with declared sources: codes stored as typed
            # before then become 'other'.
            sources_db.settle_undeclared(db)
            housekeeping_db.mark(db, SETTLE_SOURCES)


def _next_step(ask: Ask) -> dict[str, Any]:
    step = ask.next
    return {
        "next_text": step.text if step else None,
        "next_link_label": step.link.label if step and step.link else None,
        "next_link_url": step.link.url if step and step.link else None,
        "next_invite": int(bool(step and step.invite)),
    }


def _poll(ask: Ask) -> dict[str, Any]:
    poll = ask.poll
    return {
        "poll_question": poll.question if poll else None,
        "poll_answers": json.dumps(poll.answers, ensure_ascii=False) if poll else None,
        "poll_after_days": poll.after_days if poll else None,
    }
