"""Which text of an ask a prompt sends, and a version as the rows messages are made from.

The `asks` row is the published version, what the bot sends now. A prompt records the
version it sent (`prompts.ask_version`), so whatever shows a prompt's ask again after
it went out (the message edited after "I did it", the engine resuming a send begun
before a publish, a tracked link, /ask) shows the text supporters received, and its
counts stay with that text: `ask_for_prompt`.
"""

from __future__ import annotations

import hashlib
import logging

from pydantic import ValidationError
from sqlite_utils import Database

from campaigns import pack_io
from campaigns.packs import Ask
from db import catalog as catalog_db
from db import versions as versions_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.versions import VersionRow, VersionState

log = logging.getLogger(__name__)

STATE_NAMES = {
    VersionState.DRAFT: "draft",
    VersionState.AWAITING_APPROVAL: "awaiting approval",
    VersionState.PUBLISHED: "published",
    VersionState.SUPERSEDED: "superseded",
}


def as_row(
    ask: Ask,
    campaign: str,
    campaign_title: str,
    version: int,
    *,
    position: int = 0,
    retired: int = 0,
) -> AskRow:
    """An ask of a pack as the row messages are composed from, through the same
    mapping the store uses (`pack_io.ask_row`)."""
    return AskRow(
        campaign=campaign,
        position=position,
        retired=retired,
        campaign_title=campaign_title,
        version=version,
        **pack_io.ask_row(ask),
    )


def ask_for_prompt(db: Database, prompt: PromptRow) -> AskRow | None:
    """The ask as this prompt sends (or sent) it: the version it recorded, or the
    published one for a prompt not yet started and for a journey step. None if the
    campaign has no such ask."""
    current = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    if current is None or prompt.ask_version in (None, current.version):
        return current
    version = prompt.ask_version
    assert version is not None
    found = versions_db.get(db, prompt.campaign, prompt.ask_id, version)
    if found is None:
        log.warning(
            "prompt %d: version %d of its ask is gone; using the current", prompt.id, version
        )
        return current
    try:
        ask = pack_io.ask_of(found.content)
    except ValidationError:
        # Stored under rules since tightened: what supporters got can't be rebuilt
        # faithfully, and the current text is the nearest there is.
        log.warning(
            "prompt %d: version %d of %s/%s no longer passes the pack rules; using the current",
            prompt.id,
            version,
            prompt.campaign,
            prompt.ask_id,
        )
        return current
    return as_row(
        ask,
        current.campaign,
        current.campaign_title,
        version,
        position=current.position,
        retired=current.retired,
    )


def not_published(db: Database, campaign: str, ask_id: str | None) -> str | None:
    """Why an ask named to be sent (or, none named, its campaign) can't be: it is only a
    draft, in one line; None if that is not why."""
    if ask_id is not None:
        current = catalog_db.get_ask(db, campaign, ask_id)
        draft = versions_db.open_version(db, campaign, ask_id)
        if draft is not None and (current is None or current.retired):
            return (
                f"ask {ask_id!r} in {campaign} is a draft, {describe(draft)}, and not "
                "published: publish it on the dashboard's Campaigns page first"
            )
    stored = catalog_db.get_campaign(db, campaign)
    if stored is not None and not stored.retired and not catalog_db.asks(db, campaign):
        return (
            f"campaign {campaign!r} has no published ask yet: publish one on the "
            "dashboard's Campaigns page first"
        )
    return None


def digest(row: VersionRow) -> str:
    """What an editor saw (the version and its text): a form carries it back, and a
    change made meanwhile by someone else makes it stale."""
    seen = f"{row.campaign}/{row.ask_id}/{row.version}/{row.state}:{row.content}"
    return hashlib.sha256(seen.encode()).hexdigest()[:20]


def describe(row: VersionRow) -> str:
    """A version in a few words: "v2 (draft, saved by web:sam)"."""
    state = STATE_NAMES[row.state]
    if row.state is VersionState.AWAITING_APPROVAL and row.approved_by:
        state = f"approved by {row.approved_by}"
    elif row.is_open:
        state = f"{state}, saved by {row.created_by}"
    return f"v{row.version} ({state})"
