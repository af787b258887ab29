"""A supporter's journey: the next step after an ask, the welcome series, outcome polls.

Each step is one prompt (`db.journeys`), sent by the delivery engine like any other:
paced, claimed before it goes, exactly once, counted. What differs is who gets it and
when: its deliveries are added as supporters reach the step.

- A next step: the moment a supporter says they did its ask (a press or /done), for
  the person who acted, in their own private chat. It goes out within seconds: the
  core starts the engine on it at once (`start_waiting`).
- A welcome message: `after_days` after a supporter joined the campaign.
- An outcome poll: `after_days` after a supporter did its ask.

Welcome messages and polls are added by `reach_due_steps`, which the scheduler runs
every minute. Neither catches up: a supporter who joined (or did the ask) before the
step existed, or whose day for it passed more than `db.journeys.CATCH_UP` ago (the
bot was down), never gets it. Every step goes only to supporters still subscribed
and not paused, in private chats, and to each at most once, ever.

Retiring an ask stops its weekly runs, not the journey of those who did it: its next
step still follows an "I did it" on a message of it already sent, and its poll still
falls due for those who did it (`db.journeys.asks_with_polls`). Nobody new is
reached: both follow doing the ask, and no weekly run sends it any more.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlite_utils import Database

from campaigns import campaign_languages, compose, invites
from campaigns.model import Message
from campaigns.reports import defuse
from db import catalog as catalog_db
from db import journeys as journeys_db
from db import supporters as supporters_db
from db.catalog import AskRow
from db.journeys import StepCount
from db.prompts import PromptRow
from db.states import ChatKind, PromptKind, SupporterStatus
from db.stats import NO_SOURCE, Filters
from db.store import Store
from db.supporters import SupporterRow
from db.times import now_text

if TYPE_CHECKING:  # the engine and the conversation import this module
    from campaigns.delivery import DeliveryEngine
    from campaigns.dialogue import Context

# ---------------------------------------------------------------- reaching a step


def after_done(db: Database, actor: SupporterRow, prompt: PromptRow) -> bool:
    """`actor` just did the ask of `prompt`: its next step, if it has one, is on its way
    to them (True), unless they had it already. Only to a subscriber's own private chat:
    a group member's press brings it to their own subscription, if they have one, and
    never to the pseudonymous record of a member who has none."""
    if actor.kind != ChatKind.PRIVATE or not _reachable(actor, now_text()):
        return False
    ask = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    if ask is None or not ask.next_text:
        return False
    step = journeys_db.ensure_step_prompt(
        db,
        campaign=ask.campaign,
        kind=PromptKind.NEXT,
        ask_id=ask.id,
        timezone=journeys_db.campaign_timezone(db, ask.campaign),
    )
    return journeys_db.add_for_supporter(db, step, actor)


def _reachable(supporter: SupporterRow, now: str) -> bool:
    """Subscribed and not paused (or at the end of a pause), as the weekly audience."""
    if supporter.status == SupporterStatus.ACTIVE:
        return True
    return (
        supporter.status == SupporterStatus.PAUSED
        and supporter.paused_until is not None
        and supporter.paused_until <= now
    )


def reach_due_steps(
    db: Database, campaigns: Iterable[str], platforms: list[str], now: datetime
) -> int:
    """Add the welcome messages and polls whose day has come, for `campaigns` (those in
    the packs) and supporters on `platforms` (those the engine sends to); how many.

    Every step of the packs gets its prompt here first, so the time it came to exist is
    known: nobody who joined, or did the ask, before then gets it."""
    slugs = set(campaigns)
    added = 0
    for slug in sorted(slugs):
        for step in journeys_db.welcome_steps(db, slug):
            prompt = journeys_db.welcome_prompt(db, slug, step.step)
            if prompt is not None:
                added += journeys_db.add_welcome(db, prompt, step, now=now, platforms=platforms)
    for ask in journeys_db.asks_with_polls(db):
        if ask.campaign not in slugs:
            continue
        prompt = journeys_db.ensure_step_prompt(
            db,
            campaign=ask.campaign,
            kind=PromptKind.POLL,
            ask_id=ask.ask_id,
            timezone=journeys_db.campaign_timezone(db, ask.campaign),
        )
        added += journeys_db.add_poll(db, prompt, ask.poll_after_days, now=now, platforms=platforms)
    return added


async def start_waiting(store: Store, engine: DeliveryEngine) -> list[int]:
    """Start the engine on every step with deliveries waiting (a step being sent
    already is sent again when that send ends, for what came after its last look)."""
    waiting = await store.read(journeys_db.sending_steps)
    for prompt_id in waiting:
        engine.restart(prompt_id)
    return waiting


# ---------------------------------------------------------------- the messages


def personal(prompt: PromptRow, ask: AskRow) -> bool:
    """Does each supporter get their own version of this step (their invite link)?"""
    return prompt.kind == PromptKind.NEXT and ask.next_invite


def step_message(
    db: Database, ctx: Context, prompt: PromptRow, ask: AskRow, delivery_id: int
) -> Message | None:
    """A journey step as one delivery sends it; None if the pack no longer has the step
    (nothing to send). A next step that invites a friend carries the supporter's own
    invite code, made on first use: call this in a write."""
    if prompt.kind == PromptKind.NEXT:
        if not ask.next_text:
            return None
        invite = _invitation(db, ctx, ask, delivery_id) if ask.next_invite else None
        return compose.next_step_message(ask, invite)
    if prompt.kind == PromptKind.WELCOME:
        steps = {step.step: step for step in journeys_db.welcome_steps(db, prompt.campaign)}
        found = steps.get(prompt.step or 0)
        return compose.welcome_message(found) if found else None
    if prompt.kind == PromptKind.POLL:
        return compose.poll_message(ctx.ids, ask, prompt) if ask.poll_labels else None
    raise ValueError(f"prompt {prompt.id} is not a journey step")


def _invitation(db: Database, ctx: Context, ask: AskRow, delivery_id: int) -> str | None:
    """The supporter's invitation to the ask's campaign, as /invite words it."""
    supporter_id = journeys_db.supporter_of(db, delivery_id)
    found = supporters_db.get_by_id(db, supporter_id) if supporter_id is not None else None
    if found is None:
        return None
    slug = None if ask.campaign == ctx.catalog.default else ask.campaign
    pack = ctx.catalog.packs.get(ask.campaign)
    title = campaign_languages.translated_title(pack.campaign if pack else None)
    return invites.invite_text(db, ctx.start_links, found, title or ask.campaign_title, slug)


# ---------------------------------------------------------------- counts

COLUMNS = ("sent", "waiting", "unknown", "failed_or_gone")
NOTES = {
    "waiting": "added as supporters reached the step, not yet sent",
    "unknown": "may have arrived (the request was out when something failed); never resent",
    "failed_or_gone": "could not be sent: blocked, erased, refused, or the step left the pack",
}


def step_label(row: StepCount) -> str:
    """A step as staff read it: 'welcome 2', 'next: <ask>', 'poll: <ask>'."""
    if row.kind == PromptKind.WELCOME:
        return f"welcome {row.step}"
    return f"{row.kind.value}: {row.ask_id}"


def table(db: Database, filters: Filters | None = None) -> tuple[list[str], list[list[Any]]]:
    """The JOURNEYS report table: per campaign and step, its deliveries by outcome.
    Counts only, never who. The filters apply to deliveries (their platform, their
    supporter's source, and the day they were added), since a step goes on for as long
    as supporters reach it."""
    filters = filters or Filters()
    found = journeys_db.step_counts(
        db,
        campaign=filters.campaign,
        platform=filters.platform,
        source=filters.source,
        since=filters.since,
        until=filters.until,
        no_source=NO_SOURCE,
    )
    header = ["campaign", "step", *COLUMNS]
    rows: list[list[Any]] = [
        [row.campaign, step_label(row), row.sent, row.waiting, row.unknown, row.failed_or_gone]
        for row in found
    ]
    return header, rows


def to_csv(table: tuple[list[str], list[list[Any]]]) -> str:
    """The journeys table as CSV, by the report tables' rules (formula-looking text
    defused)."""
    header, rows = table
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([defuse(value) for value in row] for row in rows)
    return out.getvalue()


def records(table: tuple[list[str], list[list[Any]]]) -> list[dict[str, Any]]:
    """The journeys table's rows as JSON objects."""
    header, rows = table
    return [dict(zip(header, row, strict=True)) for row in rows]
