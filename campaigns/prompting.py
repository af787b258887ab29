"""Organiser actions on prompts: schedule, send now, cancel, preview, dry run. All audited.

Used alike by the CLI, the organiser chat commands and the dashboard. A bad
request raises `ScheduleError` naming the field, and changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlite_utils import Database

from campaigns import versions
from campaigns.catalog import Catalog
from campaigns.compose import ask_message
from campaigns.delivery import cancel_send
from campaigns.dialogue import Context
from campaigns.model import PLATFORMS, Message
from db import audit as audit_db
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db.catalog import AskRow
from db.prompts import PromptRow
from db.states import AfterLast, PromptKind, PromptState
from db.times import now_text, to_text, utcnow

log = logging.getLogger(__name__)

PREVIEW_PROMPT_ID = 0


class ScheduleError(ValueError):
    """A request an organiser can fix; `field` says which input is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def resolve_ask(db: Database, catalog: Catalog, campaign: str, ask_id: str | None) -> AskRow:
    """The ask an organiser named, or (none named) the campaign's next one. A draft
    named (or a campaign with none but drafts) is refused as such: only a published
    version is ever sent."""
    unpublished = versions.not_published(db, campaign, ask_id)
    if unpublished is not None:
        raise ScheduleError("ask" if ask_id else "campaign", unpublished)
    if campaign not in catalog.packs:
        known = ", ".join(sorted(catalog.packs))
        raise ScheduleError("campaign", f"unknown campaign {campaign!r} (known: {known})")
    stored = catalog_db.get_campaign(db, campaign)
    if stored is not None and stored.retired:  # since `catalog` was read: the store decides
        raise ScheduleError("campaign", f"campaign {campaign!r} is retired, so it sends nothing")
    if ask_id is None:
        coming = next_ask(db, campaign)
        if coming is None:
            known = ", ".join(a.id for a in catalog_db.asks(db, campaign))
            raise ScheduleError(
                "ask",
                f"{campaign} has no next ask: every ask has gone out and the pack says stop; "
                f"name the ask to send (known: {known})",
            )
        return coming
    ask = catalog_db.get_ask(db, campaign, ask_id)
    if ask is None or ask.retired:
        known = ", ".join(a.id for a in catalog_db.asks(db, campaign))
        raise ScheduleError("ask", f"unknown ask {ask_id!r} in {campaign} (known: {known})")
    return ask


# ---------------------------------------------------------------- which ask is next
#
# An ask has *gone out* (`db.prompts.gone_out`) once a weekly or manual prompt of it
# is being sent or was sent. A prompt that was cancelled or missed sent nothing, so
# its ask is still to go; reminders, standing asks (the welcome ask a new supporter
# gets) and journey steps ('next', 'welcome', 'poll') follow an ask, they don't use
# one up.
#
# "Every ask" is every ask in the pack now: an ask taken out of the pack (retired)
# no longer counts, and one whose id comes back counts as gone out if it went out
# before. A changed text under the same id is the same ask; a new id is a new ask.


@dataclass(frozen=True, slots=True)
class SentAsks:
    """A campaign's asks that have gone out, and when each last did (stored UTC text)."""

    when: dict[str, str]
    last: str | None = None  # the ask that went out latest


@dataclass(frozen=True, slots=True)
class Coming:
    """The asks the weekly runs send, in order, before the campaign runs out of asks
    (empty: it has run out, and its pack says stop)."""

    asks: tuple[str, ...]
    again: bool = False  # every ask had gone out: these start again from the first


def sent_asks(db: Database, campaign: str) -> SentAsks:
    """Which of the campaign's asks have gone out (see above), latest first."""
    rows = prompts_db.gone_out(db, campaign)
    when: dict[str, str] = {}
    for ask_id, at in rows:
        when.setdefault(ask_id, at)
    return SentAsks(when, rows[0][0] if rows else None)


def coming_asks(ids: Sequence[str], sent: SentAsks, after_last: AfterLast) -> Coming:
    """What the weekly runs send next, from the pack's ask ids in order.

    Each run takes the ask after the one that went out latest. With `after_last =
    "repeat"` they go round the pack in order, for ever, as they always did (an ask
    added anywhere is reached on the next time round). With "stop" a run takes the
    next ask, going round, that has not gone out; when none is left the weekly runs
    send nothing until the pack gains an ask, which is then next.
    """
    start = _after_latest(ids, sent)
    if after_last is AfterLast.STOP:
        going_round = [*ids[start:], *ids[:start]]
        return Coming(tuple(i for i in going_round if i not in sent.when))
    if start < len(ids):
        return Coming(tuple(ids[start:]))
    return Coming(tuple(ids), again=True)


def _after_latest(ids: Sequence[str], sent: SentAsks) -> int:
    """Where the runs go on: after the ask that went out latest, or, when that one has
    left the order (retired, or dropped by an import), after the latest still in it,
    so retiring last week's ask doesn't send a repeating campaign back to its first."""
    if sent.last is not None and sent.last in ids:
        return ids.index(sent.last) + 1
    still = [ask_id for ask_id in ids if ask_id in sent.when]
    if not still:
        return 0
    return ids.index(max(still, key=sent.when.__getitem__)) + 1


def after_last(db: Database, campaign: str) -> AfterLast:
    """What the campaign's pack says follows its last ask (as the catalog copied it)."""
    row = db.execute("SELECT after_last FROM campaigns WHERE slug = ?", [campaign]).fetchone()
    return AfterLast(row[0]) if row else AfterLast.REPEAT


def _coming(db: Database, campaign: str) -> tuple[AskRow | None, Coming]:
    asks = catalog_db.asks(db, campaign)
    if not asks:
        raise ScheduleError("campaign", f"campaign {campaign!r} has no asks")
    coming = coming_asks([a.id for a in asks], sent_asks(db, campaign), after_last(db, campaign))
    first = next((a for a in asks if a.id == coming.asks[0]), None) if coming.asks else None
    return first, coming


def next_ask(db: Database, campaign: str) -> AskRow | None:
    """The ask the campaign's next weekly run sends; None when every ask has gone out
    and the pack says stop."""
    return _coming(db, campaign)[0]


def ran_out_line(campaign: str) -> str:
    """What a weekly run that sends nothing says, in the log."""
    return (
        f"campaign {campaign}: every ask has gone out and the pack says stop; no weekly ask "
        '(add asks to the pack, or set after_last = "repeat")'
    )


def weekly_ask(db: Database, campaign: str) -> AskRow | None:
    """The ask for a weekly run about to be made; None when there is none to send.

    A campaign at the end of its asks says so in the log: one line for a run that
    sends nothing, or one when its asks start again from the first.
    """
    ask, coming = _coming(db, campaign)
    if ask is None:
        log.warning("%s", ran_out_line(campaign))
    elif coming.again:
        log.info(
            "campaign %s: every ask has gone out; starting again from the first "
            "(after_last = repeat)",
            campaign,
        )
    return ask


def _platform(platform: str | None) -> str | None:
    if platform is not None and platform not in PLATFORMS:
        raise ScheduleError("platform", f"platform must be one of {', '.join(PLATFORMS)}")
    return platform


def parse_local_time(at: str, timezone: str) -> datetime:
    """'2026-12-01 18:00' in an IANA zone, as an aware datetime."""
    if not timezone:
        raise ScheduleError("timezone", "give a time zone, such as Europe/London")
    try:
        zone = ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleError("timezone", f"{timezone!r} is not an IANA time zone") from None
    try:
        naive = datetime.strptime(at.strip().replace("T", " "), "%Y-%m-%d %H:%M")
    except ValueError:
        raise ScheduleError(
            "at", "give the time as YYYY-MM-DD HH:MM, such as 2026-12-01 18:00"
        ) from None
    moment = naive.replace(tzinfo=zone)
    try:
        moment.astimezone(UTC)
    except OverflowError:
        raise ScheduleError("at", "give a time before the year 9999") from None
    return moment


@dataclass(frozen=True, slots=True)
class Request:
    """What an organiser asked for."""

    campaign: str
    ask_id: str | None = None
    platform: str | None = None
    source: str | None = None


def _manual_prompt(
    db: Database,
    request: Request,
    ask: AskRow,
    scheduled_at: str,
    timezone: str,
    actor: str,
    action: str,
) -> PromptRow:
    """Create an organiser's prompt and audit it."""
    prompt = prompts_db.create(
        db,
        campaign=request.campaign,
        ask_id=ask.id,
        kind=PromptKind.MANUAL,
        scheduled_at=scheduled_at,
        timezone=timezone,
        platform=_platform(request.platform),
        source=request.source,
        created_by=actor,
    )
    audit_db.record(
        db,
        actor,
        action,
        f"prompt:{prompt.id}",
        campaign=request.campaign,
        ask=ask.id,
        at=prompt.scheduled_at,
        timezone=timezone,
        platform=request.platform,
        source=request.source,
    )
    return prompt


def schedule(
    db: Database, catalog: Catalog, request: Request, at: str, timezone: str, actor: str
) -> PromptRow:
    """Schedule a prompt for a local time in the future."""
    ask = resolve_ask(db, catalog, request.campaign, request.ask_id)
    moment = parse_local_time(at, timezone)
    if moment <= utcnow():
        raise ScheduleError("at", "that time has passed; choose a time in the future")
    return _manual_prompt(db, request, ask, to_text(moment), timezone, actor, "schedule")


def send_now(db: Database, catalog: Catalog, request: Request, actor: str) -> PromptRow:
    """A prompt due now; the running bot sends it within seconds."""
    ask = resolve_ask(db, catalog, request.campaign, request.ask_id)
    timezone = catalog.packs[request.campaign].campaign.schedule.timezone
    return _manual_prompt(db, request, ask, now_text(), timezone, actor, "send-now")


def cancel(db: Database, prompt_id: int, actor: str) -> bool:
    """Cancel a prompt that has not started; audited either way."""
    cancelled = prompts_db.cancel(db, prompt_id)
    audit_db.record(db, actor, "cancel", f"prompt:{prompt_id}", done=cancelled)
    return cancelled


@dataclass(frozen=True, slots=True)
class Stopped:
    """A prompt stopped: `running` if it was being sent (then `cancelled` deliveries
    that had not gone out are cancelled), else it had not started and is cancelled."""

    prompt_id: int
    running: bool
    cancelled: int


def stop(db: Database, prompt_id: int, actor: str) -> Stopped | None:
    """Stop a prompt, whether it is still to come or being sent; None if it is neither.

    A running send's pending deliveries become 'cancelled'; requests already out
    finish, and the running engine stops picking the rest up by itself. Audited.
    """
    prompt = prompts_db.get(db, prompt_id)
    if (
        prompt is not None
        and prompt.state == PromptState.SCHEDULED
        and cancel(db, prompt_id, actor)
    ):
        return Stopped(prompt_id, running=False, cancelled=0)
    cancelled = cancel_send(db, prompt_id)
    audit_db.record(
        db,
        actor,
        "stop-send",
        f"prompt:{prompt_id}",
        done=cancelled is not None,
        cancelled=cancelled,
    )
    return None if cancelled is None else Stopped(prompt_id, running=True, cancelled=cancelled)


STARS_PER_PAID_MESSAGE = Decimal("0.1")  # Telegram's fee for a paid broadcast message


@dataclass(frozen=True, slots=True)
class PaidCost:
    """What a send costs when Telegram's paid broadcasts are on: 0.1 Stars for each
    message, from the bot's balance (replies to supporters stay free)."""

    telegram: int  # supporters on Telegram the send reaches

    @property
    def stars(self) -> Decimal:
        return STARS_PER_PAID_MESSAGE * self.telegram

    def line(self) -> str:
        """`Telegram: 12,345 supporters × 0.1 Stars = 1,234.5 Stars (paid broadcast is on)`"""
        who = "supporter" if self.telegram == 1 else "supporters"
        return (
            f"Telegram: {self.telegram:,} {who} × {STARS_PER_PAID_MESSAGE} Stars = "
            f"{self.stars:,} Stars (paid broadcast is on)"
        )


@dataclass(frozen=True, slots=True)
class DryRun:
    ask: AskRow
    per_platform: dict[str, int]
    first: list[tuple[str, str, str | None]]
    paid: PaidCost | None = None  # what it costs, when Telegram's paid broadcasts are on

    @property
    def total(self) -> int:
        return sum(self.per_platform.values())


def _audience(request: Request, ask: AskRow) -> dict[str, object]:
    """Who a prompt of this request reaches: the engine's own audience (`delivery.prepare`)."""
    return deliveries_db.audience_params(
        now=now_text(),
        campaign=request.campaign,
        platforms=list(PLATFORMS),
        platform=_platform(request.platform),
        source=request.source,
        topic=ask.topic,
    )


def audience_size(db: Database, request: Request, ask: AskRow) -> int:
    """How many a prompt of this ask would reach if it went out now (not audited)."""
    per_platform, _ = deliveries_db.audience_preview(db, _audience(request, ask), 0)
    return sum(per_platform.values())


def dry_run(
    db: Database,
    catalog: Catalog,
    request: Request,
    actor: str,
    limit: int = 50,
    *,
    paid: bool = False,
) -> DryRun:
    """Who a prompt would go to now, and with which ask, and (`paid`: Telegram's paid
    broadcasts are on) what it would cost. Sends nothing."""
    ask = resolve_ask(db, catalog, request.campaign, request.ask_id)
    per_platform, first = deliveries_db.audience_preview(db, _audience(request, ask), limit)
    audit_db.record(
        db, actor, "dry-run", request.campaign, ask=ask.id, audience=sum(per_platform.values())
    )
    cost = PaidCost(per_platform.get("telegram", 0)) if paid else None
    return DryRun(ask, per_platform, first, cost)


def send_cost(db: Database, catalog: Catalog, request: Request) -> PaidCost:
    """What a prompt of this request would cost now as a paid broadcast (not audited)."""
    ask = resolve_ask(db, catalog, request.campaign, request.ask_id)
    per_platform, _ = deliveries_db.audience_preview(db, _audience(request, ask), 0)
    return PaidCost(per_platform.get("telegram", 0))


def preview(
    db: Database, ctx: Context, campaign: str, ask_id: str | None, actor: str
) -> tuple[AskRow, Message]:
    """The ask exactly as supporters will see it; its buttons count nothing."""
    ask = resolve_ask(db, ctx.catalog, campaign, ask_id)
    stand_in = PromptRow(
        id=PREVIEW_PROMPT_ID,
        campaign=campaign,
        ask_id=ask.id,
        kind=PromptKind.MANUAL,
        parent_id=None,
        scheduled_at=now_text(),
        timezone="UTC",
        platform=None,
        source=None,
        state=PromptState.SCHEDULED,
        created_by=actor,
        created_at=now_text(),
        started_at=None,
        finished_at=None,
        step=None,
    )
    audit_db.record(db, actor, "preview", campaign, ask=ask.id)
    return ask, ask_message(ctx.ids, ask, stand_in)


def asks_by_campaign(db: Database, catalog: Catalog) -> dict[str, list[AskRow]]:
    """Each campaign's asks in pack order (retired ones left out): what can be scheduled."""
    return {slug: catalog_db.asks(db, slug) for slug in sorted(catalog.packs)}


def listed_prompts(db: Database, *, every: bool = False, limit: int = 300) -> list[PromptRow]:
    """Prompts newest first: those still to come or being sent, or (`every`) all of them."""
    states = () if every else (PromptState.SCHEDULED, PromptState.SENDING)
    return prompts_db.listed(db, states=states, journeys=True, limit=limit)


def record_test_send(
    db: Database, actor: str, ask: AskRow, platform: str, result: str, *, draft: bool = False
) -> None:
    """Audit an organiser's test of an ask sent to their own chat; `result` is "ok" or
    "error"; `draft`: of a version not yet published (`ask.version`). The test is no
    prompt and counts nothing, so the audit is its only trace."""
    target = f"{ask.campaign}/{ask.id}"
    more = {"version": ask.version, "draft": True} if draft else {}
    audit_db.record(db, actor, "test-send", target, platform=platform, ok=result, **more)


def audit_log(db: Database, limit: int = 100) -> list[audit_db.AuditRow]:
    """What organisers did, latest first: the record every action here leaves."""
    return audit_db.latest(db, limit)
