"""The order of a campaign's asks, and retiring and bringing back an ask, from the
dashboard's campaign page.

The weekly runs send a campaign's asks in pack order (`prompting.coming_asks`, over
`asks.position`); an ask that is retired (`asks.retired`) is left out of the pack
the bot runs, so no weekly run sends it again, while its prompts, counts, versions
and any draft stay. Both are what a pack says already: its order, and the asks it
no longer has. So each change here writes the campaign as a pack, through
`pack_io.write_pack` as an import or a publish does: the store, the running bot
(`catalog_version` moves on, and `CatalogFollower` swaps the catalog) and an export
all see the same order, and the export leaves retired asks out. No migration.

A retired ask comes back with its published version's text, last in the order (the
organiser moves it from there). The last ask can't be retired: a pack holds at least
one, and a campaign without asks stops running (retire the campaign for that).

Every change is all or nothing, audited, and refused as stale if the campaign's
asks changed since the page was opened (`order_digest`).
"""

from __future__ import annotations

import hashlib
import json

from pydantic import ValidationError
from sqlite_utils import Database

from campaigns import pack_io
from campaigns.editing import EditError, Stale, stored_campaign
from campaigns.packs import Ask, Pack, PackError
from campaigns.prompting import next_ask
from db import audit as audit_db
from db import catalog as catalog_db
from db import prompts as prompts_db
from db import versions as versions_db
from db.catalog import CampaignOrigin
from db.states import PromptState

UP, DOWN = "up", "down"


def order_digest(db: Database, slug: str) -> str:
    """What the campaign page was opened on: its asks in order, and the retired ones."""
    rows = catalog_db.asks(db, slug, include_retired=True)
    current = [row.id for row in rows if not row.retired]
    retired = sorted(row.id for row in rows if row.retired)
    seen = json.dumps([current, retired])
    return hashlib.sha256(seen.encode()).hexdigest()[:20]


def coming_ask(db: Database, slug: str) -> str | None:
    """The ask the campaign's next weekly run sends: the one after the ask that went out
    last, in the order now (None: every ask went out and the pack says stop)."""
    found = next_ask(db, slug) if catalog_db.asks(db, slug) else None
    return found.id if found is not None else None


def _running_asks(db: Database, slug: str, seen: str) -> tuple[Pack, list[Ask]]:
    """The campaign as the bot runs it, if it is the one the page showed."""
    row, campaign = stored_campaign(db, slug)
    if row.retired:
        raise EditError(
            f"campaign {slug!r} is retired (its pack file went): import its pack to bring "
            "it back before changing it"
        )
    if seen != order_digest(db, slug):
        raise Stale(
            f"the asks of {slug} changed since you opened the page: see them as they are "
            "now, then make your change"
        )
    if not catalog_db.asks(db, slug):
        return Pack.model_construct(campaign=campaign, asks=[]), []
    try:
        pack = pack_io.pack_from_db(db, slug)
    except PackError as exc:
        raise EditError(f"{exc.args[0]} (import a corrected pack to replace it)") from None
    assert pack is not None
    return pack, list(pack.asks)


def _write(db: Database, pack: Pack, asks: list[Ask], actor: str) -> None:
    pack_io.write_pack(
        db, Pack(campaign=pack.campaign, asks=asks), CampaignOrigin.DASHBOARD, by=actor
    )


def _index(asks: list[Ask], slug: str, ask_id: str) -> int:
    for index, ask in enumerate(asks):
        if ask.id == ask_id:
            return index
    raise EditError(f"{slug}/{ask_id} is not one of the asks the weekly runs send")


def move_ask(
    db: Database, slug: str, ask_id: str, where: str, seen: str, actor: str
) -> tuple[int, int]:
    """Move an ask `UP` or `DOWN` one place, or to a position (1 is sent first); the
    position it had and the one it has now (the same: nothing was written)."""
    pack, asks = _running_asks(db, slug, seen)
    index = _index(asks, slug, ask_id)
    if where == UP:
        target = index - 1
    elif where == DOWN:
        target = index + 1
    elif where.isascii() and where.isdigit() and len(where) <= 4:
        target = int(where) - 1
    else:
        raise EditError(f"a position is a number from 1 to {len(asks)}")
    if not 0 <= target < len(asks):
        raise EditError(f"{slug}/{ask_id} can go from 1 to {len(asks)}: it is at {index + 1}")
    if target == index:
        return index + 1, index + 1
    moved = asks.pop(index)
    asks.insert(target, moved)
    _write(db, pack, asks, actor)
    audit_db.record(
        db,
        actor,
        "move-ask",
        f"{slug}/{ask_id}",
        before=index + 1,
        after=target + 1,
        order=[ask.id for ask in asks],
    )
    return index + 1, target + 1


def retire_ask(db: Database, slug: str, ask_id: str, seen: str, actor: str) -> tuple[int, int]:
    """Take an ask out of the weekly runs (kept, with its counts and versions, to bring
    back); the number of asks still sent, and of sends of it an organiser scheduled by
    hand that are still to go (those still go: cancelling them is the Prompts page's)."""
    pack, asks = _running_asks(db, slug, seen)
    index = _index(asks, slug, ask_id)
    if len(asks) == 1:
        raise EditError(
            f"{slug}/{ask_id} is the campaign's only ask, and a campaign needs one to run: "
            "publish another first"
        )
    retired = asks.pop(index)
    _write(db, pack, asks, actor)
    audit_db.record(
        db, actor, "retire-ask", f"{slug}/{ask_id}", position=index + 1, title=retired.title
    )
    waiting = [
        prompt
        for prompt in prompts_db.listed(db, states=(PromptState.SCHEDULED,), limit=10_000)
        if prompt.campaign == slug and prompt.ask_id == ask_id
    ]
    return len(asks), len(waiting)


def restore_ask(db: Database, slug: str, ask_id: str, seen: str, actor: str) -> int:
    """Bring a retired ask back into the weekly runs with its published text, last;
    its position."""
    pack, asks = _running_asks(db, slug, seen)
    row = catalog_db.get_ask(db, slug, ask_id)
    if row is None or not row.retired:
        raise EditError(f"{slug}/{ask_id} is not a retired ask of this campaign")
    published = versions_db.published(db, slug, ask_id)
    if published is None:
        raise EditError(f"{slug}/{ask_id} was never published: publish its draft instead")
    try:
        ask = pack_io.ask_of(published.content)
    except ValidationError:
        raise EditError(
            f"{slug}/{ask_id} v{published.version} no longer passes the pack rules: edit it "
            "and publish the corrected text instead"
        ) from None
    asks.append(ask)
    try:
        Pack(campaign=pack.campaign, asks=asks)
    except ValidationError as exc:
        raise EditError(str(exc.errors()[0]["msg"]).removeprefix("Value error, ")) from None
    _write(db, pack, asks, actor)
    audit_db.record(
        db,
        actor,
        "restore-ask",
        f"{slug}/{ask_id}",
        version=published.version,
        position=len(asks),
    )
    return len(asks)
