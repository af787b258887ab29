"""Supporters: subscribing, stopping, pausing, topics, export and erasure.

Every function takes a sqlite-utils `Database` and runs inside the caller's
transaction (the store's writer, or `db.atomic()` in the CLI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlite_utils import Database

from campaigns import wording
from campaigns.model import ChatKind, Origin, SupporterStatus
from db import actions as actions_db
from db import deliveries as deliveries_db
from db import supporters as supporters_db
from db.supporters import SupporterRow
from db.times import to_text, utcnow

MAX_PAUSE_WEEKS = 12
_SOURCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def clean_source(value: str | None) -> str | None:
    """A source code as Telegram deep links allow it (A-Z, a-z, 0-9, _ and -), or None."""
    if value and _SOURCE.fullmatch(value):
        return value.lower()
    return None


@dataclass(frozen=True, slots=True)
class Subscribed:
    supporter: SupporterRow
    already: bool


def find(db: Database, origin: Origin) -> SupporterRow | None:
    """The supporter for this chat (the group itself, for a group)."""
    return supporters_db.get(db, origin.platform, origin.chat)


def find_actor(db: Database, origin: Origin) -> SupporterRow | None:
    """The person acting: in a group, the member; else the chat's supporter."""
    return supporters_db.get(db, origin.platform, origin.actor)


def actor_for_press(db: Database, origin: Origin) -> SupporterRow | None:
    """The person pressing a button. A group member we don't know yet is recorded
    as a 'member' (never sent anything) so their press counts once."""
    if origin.kind is not ChatKind.GROUP:
        return find(db, origin)
    found = find_actor(db, origin)
    if found is not None:
        return found
    return supporters_db.insert(
        db,
        platform=origin.platform,
        address=origin.actor,
        kind=ChatKind.PRIVATE,
        status=SupporterStatus.MEMBER,
        source=None,
        consent_version=None,
    )


def subscribe(db: Database, origin: Origin, source: str | None) -> Subscribed:
    """Subscribe a chat (idempotent). A returning supporter keeps the source that first
    brought them."""
    source = clean_source(source)
    found = find(db, origin)
    if found is None:
        row = supporters_db.insert(
            db,
            platform=origin.platform,
            address=origin.chat,
            kind=origin.kind,
            status=SupporterStatus.ACTIVE,
            source=source,
            consent_version=wording.CONSENT_VERSION,
        )
        return Subscribed(row, already=False)
    already = found.status == SupporterStatus.ACTIVE
    if not already:
        supporters_db.resubscribe(
            db, found.id, source=source, consent_version=wording.CONSENT_VERSION
        )
    refreshed = supporters_db.get_by_id(db, found.id)
    assert refreshed is not None
    return Subscribed(refreshed, already=already)


def is_subscribed(row: SupporterRow | None) -> bool:
    return row is not None and row.status in (SupporterStatus.ACTIVE, SupporterStatus.PAUSED)


def stop(db: Database, origin: Origin) -> bool:
    """Unsubscribe; False if there was nothing to stop."""
    found = find(db, origin)
    if not is_subscribed(found):
        return False
    assert found is not None
    supporters_db.set_status(db, found.id, SupporterStatus.STOPPED)
    return True


def pause(db: Database, supporter: SupporterRow, weeks: int | None) -> str | None:
    """Pause, for good or for some weeks; returns the UTC text of the end, if any."""
    until = to_text(utcnow() + timedelta(weeks=weeks)) if weeks else None
    supporters_db.set_status(db, supporter.id, SupporterStatus.PAUSED, paused_until=until)
    return until


def resume(db: Database, supporter: SupporterRow) -> None:
    supporters_db.set_status(db, supporter.id, SupporterStatus.ACTIVE)


def mark_gone(db: Database, platform: str, address: str) -> bool:
    """The platform says we can't reach this chat (blocked, deleted, removed)."""
    found = supporters_db.get(db, platform, address)
    if found is None or found.status in (SupporterStatus.GONE, SupporterStatus.MEMBER):
        return False
    supporters_db.set_status(db, found.id, SupporterStatus.GONE)
    return True


def export(db: Database, supporter: SupporterRow) -> dict[str, Any]:
    """Everything we hold about a supporter, for /mydata."""
    return {
        "platform": supporter.platform,
        "chat_id": supporter.address,
        "chat_kind": supporter.kind,
        "status": supporter.status,
        "source": supporter.source,
        "subscribed_at": supporter.created_at,
        "consent_version": supporter.consent_version,
        "consented_at": supporter.consented_at,
        "paused_until": supporter.paused_until,
        "topics": supporters_db.topics(db, supporter.id) or "all",
        "asks_delivered": deliveries_db.count_for_supporter(db, supporter.id),
        "actions": [
            {
                "prompt": action.prompt_id,
                "action": action.kind,
                "via": action.via,
                "at": action.created_at,
            }
            for action in actions_db.for_supporter(db, supporter.key)
        ],
    }


def forget(db: Database, origin: Origin) -> bool:
    """Erase the supporter; False if we held nothing."""
    found = find(db, origin)
    if found is None:
        return False
    supporters_db.delete(db, found.id)
    return True
