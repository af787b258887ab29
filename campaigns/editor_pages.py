"""What the campaign and ask editor's pages show, as plain data: a campaign with its
asks in the weekly runs' order, the state of each one's versions, the ask the next
run sends and its retired asks (`campaign_view`), and one ask with its versions and
the poll answers that went out (`ask_editor`). The changes themselves, and their
rules, are `campaigns.editing`'s and `campaigns.ask_order`'s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlite_utils import Database

from campaigns.ask_order import coming_ask, order_digest
from campaigns.editing import (
    EditError,
    campaign_digest,
    campaign_of,
    content_values,
)
from campaigns.packs import Campaign
from campaigns.versions import describe, digest
from db import catalog as catalog_db
from db import versions as versions_db
from db.catalog import CampaignRow
from db.versions import VersionRow, VersionState


@dataclass(frozen=True)
class AskLine:
    """One ask as its campaign's page lists it."""

    ask_id: str
    title: str  # of its newest version
    published: VersionRow | None
    open: VersionRow | None
    sent: int  # messages of its published version that went out
    position: int = 0  # in the weekly runs' order, from 1; 0: not sent (a new draft)

    @property
    def state(self) -> str:
        """Such as "published v1 · v2 (draft, saved by web:olive)"."""
        parts = [f"published v{self.published.version}"] if self.published else []
        if self.open is not None:
            parts.append(describe(self.open))
        if self.published is None:
            parts.append("never published")
        return " · ".join(parts)


@dataclass(frozen=True)
class RetiredLine:
    """An ask taken out of the weekly runs: kept, with its counts, to bring back."""

    ask_id: str
    title: str
    published: VersionRow | None  # the text it comes back with (None: only a draft)
    open: VersionRow | None
    sent: int  # messages of every version of it that went out


@dataclass(frozen=True)
class CampaignView:
    row: CampaignRow
    campaign: Campaign | None  # None: the stored copy no longer passes the pack rules
    asks: list[AskLine]
    digest: str
    retired: list[RetiredLine] = field(default_factory=list)
    order: str = ""  # `ask_order.order_digest`: what the order buttons were shown on
    next_ask: str | None = None  # what the next weekly run sends (None: nothing)

    @property
    def sent_in_order(self) -> int:
        """How many asks the weekly runs send, in order (the first lines)."""
        return sum(1 for line in self.asks if line.position)

    @property
    def running(self) -> bool:
        """Has it a published ask (else the bot leaves it out)?"""
        return any(line.published is not None and not self.row.retired for line in self.asks)


def campaign_view(db: Database, slug: str) -> CampaignView | None:
    """A campaign and its asks (published, and drafts), for its page; None if none."""
    row = catalog_db.get_campaign(db, slug)
    if row is None:
        return None
    try:
        campaign: Campaign | None = campaign_of(row)
    except EditError:
        campaign = None
    versions: dict[str, dict[VersionState, VersionRow]] = {}
    for version in versions_db.current_of_campaign(db, slug):
        versions.setdefault(version.ask_id, {})[version.state] = version
    rows = catalog_db.asks(db, slug, include_retired=True)
    current = [ask.id for ask in rows if not ask.retired]
    retired_ids = [ask.id for ask in rows if ask.retired]
    ids = current + sorted(set(versions) - set(current) - set(retired_ids))
    lines = []
    for ask_id in ids:
        found = versions.get(ask_id, {})
        published = found.get(VersionState.PUBLISHED) if ask_id in current else None
        opened = found.get(VersionState.DRAFT) or found.get(VersionState.AWAITING_APPROVAL)
        if published is None and opened is None:
            continue
        newest = opened or published
        assert newest is not None
        sent = versions_db.delivered(db, slug, ask_id) if published else {}
        lines.append(
            AskLine(
                ask_id,
                str(newest.data.get("title", ask_id)),
                published,
                opened,
                sent.get(published.version, 0) if published else 0,
                current.index(ask_id) + 1 if ask_id in current else 0,
            )
        )
    titles = {ask.id: ask.title for ask in rows}
    retired = []
    for ask_id in sorted(retired_ids):
        found = versions.get(ask_id, {})
        opened = found.get(VersionState.DRAFT) or found.get(VersionState.AWAITING_APPROVAL)
        retired.append(
            RetiredLine(
                ask_id,
                titles[ask_id],
                found.get(VersionState.PUBLISHED),
                opened,
                sum(versions_db.delivered(db, slug, ask_id).values()),
            )
        )
    return CampaignView(
        row,
        campaign,
        lines,
        campaign_digest(campaign) if campaign else "",
        retired,
        order_digest(db, slug),
        coming_ask(db, slug) if current and not row.retired else None,
    )


@dataclass(frozen=True)
class AskEditor:
    """One ask for its editor: the version shown (the open one, else the published)."""

    row: CampaignRow
    ask_id: str
    published: VersionRow | None
    open: VersionRow | None
    history: list[VersionRow]
    sent: dict[int, int] = field(default_factory=dict)  # messages out, per version
    locked: list[str] = field(default_factory=list)  # poll answers that went out: kept

    @property
    def shown(self) -> VersionRow:
        found = self.open or self.published
        assert found is not None
        return found

    @property
    def values(self) -> dict[str, str]:
        return content_values(self.row.slug, self.shown.content)

    @property
    def digest(self) -> str:
        return digest(self.shown)


def ask_editor(db: Database, slug: str, ask_id: str) -> AskEditor | None:
    """An ask of a campaign with its versions; None if it has none to show."""
    row = catalog_db.get_campaign(db, slug)
    if row is None:
        return None
    current = catalog_db.get_ask(db, slug, ask_id)
    published = versions_db.published(db, slug, ask_id)
    if current is None or current.retired:
        published = None  # retired: only a draft brings it back
    opened = versions_db.open_version(db, slug, ask_id)
    if published is None and opened is None:
        return None
    history = versions_db.of_ask(db, slug, ask_id)
    return AskEditor(
        row,
        ask_id,
        published,
        opened,
        history,
        versions_db.delivered(db, slug, ask_id),
        catalog_db.locked_answers(db, slug, ask_id),
    )
