"""Supporters: subscribing, stopping, pausing, topics, export and erasure, and group
members known only by a pseudonym.

Every function takes a sqlite-utils `Database` and runs inside the caller's
transaction (the store's writer, or `db.atomic()` in the CLI).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlite_utils import Database

from campaigns import invites, wording
from campaigns.keys import MEMBER_PREFIX, Pseudonyms
from campaigns.model import ChatKind, Origin
from db import actions as actions_db
from db import deliveries as deliveries_db
from db import languages as languages_db
from db import polls as polls_db
from db import sources as sources_db
from db import subscriptions as subscriptions_db
from db import supporters as supporters_db
from db import variants as variants_db
from db.states import SupporterStatus
from db.supporters import SupporterRow
from db.times import to_text, utcnow

_SOURCE = re.compile(r"[A-Za-z0-9_-]{1,64}")


def clean_source(value: str | None) -> str | None:
    """A source code as Telegram deep links allow it (A-Z, a-z, 0-9, _ and -), or None."""
    if value and _SOURCE.fullmatch(value):
        return value.lower()
    return None


def source_for(db: Database, typed: str | None) -> str | None:
    """The source to keep for what came with /start: a declared code, else 'other'
    (what was typed is never kept), or None when nothing came."""
    if not typed:
        return None
    code = clean_source(typed)
    return code if code is not None and sources_db.accepts(db, code) else sources_db.OTHER


@dataclass(frozen=True, slots=True)
class Subscribed:
    supporter: SupporterRow
    already: bool
    first: bool = False  # this chat was not known before (a brand-new supporter)


def find(db: Database, origin: Origin) -> SupporterRow | None:
    """The supporter for this chat (the group itself, for a group)."""
    return supporters_db.get(db, origin.platform, origin.chat)


def find_member(
    db: Database, pseudonyms: Pseudonyms, platform: str, user: str
) -> SupporterRow | None:
    """The pseudonymous record of a person's presses in groups, if they ever pressed."""
    return supporters_db.get(db, platform, pseudonyms.member(platform, user))


def actor_for_press(db: Database, pseudonyms: Pseudonyms, origin: Origin) -> SupporterRow | None:
    """The person answering. In a group: their own subscription if they have one, else
    a 'member' record under a pseudonym (never their platform id), made on first use
    and never sent anything; so each member's answer counts once."""
    if origin.kind is not ChatKind.GROUP:
        return find(db, origin)
    own = supporters_db.get(db, origin.platform, origin.actor)
    if is_subscribed(own):
        return own
    address = pseudonyms.member(origin.platform, origin.actor)
    found = supporters_db.get(db, origin.platform, address)
    if found is not None:
        supporters_db.touch(db, found.id)
        return found
    return supporters_db.insert(
        db,
        platform=origin.platform,
        address=address,
        kind=ChatKind.PRIVATE,
        status=SupporterStatus.MEMBER,
        source=None,
        consent_version=None,
    )


def pseudonymise_members(db: Database, pseudonyms: Pseudonyms) -> int:
    """Group members recorded under their platform id (before pseudonyms) get one."""
    rows = db.execute(
        "SELECT id, platform, address FROM supporters WHERE status = ? AND address NOT LIKE ?",
        [SupporterStatus.MEMBER.value, MEMBER_PREFIX + "%"],
    ).fetchall()
    for supporter_id, platform, address in rows:
        supporters_db.set_address(db, supporter_id, pseudonyms.member(platform, address))
    return len(rows)


def subscribe(db: Database, origin: Origin, source: str | None) -> Subscribed:
    """Subscribe a chat (idempotent). A returning supporter keeps the source that first
    brought them."""
    source = source_for(db, source)
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
        return Subscribed(row, already=False, first=True)
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


def export(
    db: Database, supporter: SupporterRow | None, member: SupporterRow | None
) -> dict[str, Any]:
    """Everything we hold about a person, for /mydata: their subscription (if any), every
    delivery, every answer, and their presses in groups (under a pseudonym)."""
    data: dict[str, Any] = {}
    if supporter is not None:
        data |= {
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
            "language": languages_db.language_of(db, supporter.id),  # the bot writes in
            "campaigns": [
                {"campaign": row.campaign, "title": row.title, "joined_at": row.created_at}
                for row in subscriptions_db.of_supporter(db, supporter.id)
            ],
            "deliveries": [
                {
                    "prompt": sent.prompt_id,
                    "campaign": sent.campaign,
                    "ask": sent.ask_id,
                    "title": sent.title,
                    "reminder": sent.reminder,
                    "state": sent.state,
                    "at": sent.at,
                    "your_answer": sent.answer,
                    "variant": sent.variant,  # the wording they got in an experiment
                }
                for sent in deliveries_db.for_supporter_key(db, supporter.key)
            ],
            "actions": _actions(db, supporter.key),
            "poll_answers": polls_db.export(db, supporter.key),
        }
        if (invite := invites.export(db, supporter)) is not None:
            data["invite"] = invite  # the code and how many joined through it, never who
    if member is not None:
        data["presses_in_groups"] = _actions(db, member.key)
    return data


def _actions(db: Database, key: str) -> list[dict[str, Any]]:
    return [
        {
            "prompt": action.prompt_id,
            "action": action.kind,
            "via": action.via,
            "at": action.created_at,
        }
        for action in actions_db.for_supporter(db, key)
    ]


def forget(db: Database, pseudonyms: Pseudonyms, origin: Origin) -> bool:
    """Erase a person: their subscription and their pseudonymous group record. Their
    answers stay in the totals under keys that nothing leads back from. False if we
    held nothing."""
    erased = False
    for found in (find(db, origin), find_member(db, pseudonyms, origin.platform, origin.chat)):
        if found is not None:
            erase(db, found)
            erased = True
    return erased


def erase(db: Database, found: SupporterRow) -> None:
    """Erase one supporter row as /forget does (and as a replay of the erasure ledger
    does again, on a restored copy: `campaigns.erasures`)."""
    variants_db.forget(db, found.key)  # which wording they got (the counts stay)
    supporters_db.delete(db, found.id)
