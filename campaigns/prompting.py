"""Organiser actions on prompts: schedule, send now, cancel, preview, dry run. All audited.

Used alike by the CLI, the organiser chat commands and the dashboard. A bad
request raises `ScheduleError` naming the field, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from sqlite_utils import Database

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
from db.states import PromptKind, PromptState
from db.times import now_text, to_text, utcnow

PREVIEW_PROMPT_ID = 0


class ScheduleError(ValueError):
    """A request an organiser can fix; `field` says which input is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def resolve_ask(db: Database, catalog: Catalog, campaign: str, ask_id: str | None) -> AskRow:
    if campaign not in catalog.packs:
        known = ", ".join(sorted(catalog.packs))
        raise ScheduleError("campaign", f"unknown campaign {campaign!r} (known: {known})")
    if ask_id is None:
        return next_ask(db, campaign)
    ask = catalog_db.get_ask(db, campaign, ask_id)
    if ask is None or ask.retired:
        known = ", ".join(a.id for a in catalog_db.asks(db, campaign))
        raise ScheduleError("ask", f"unknown ask {ask_id!r} in {campaign} (known: {known})")
    return ask


def next_ask(db: Database, campaign: str) -> AskRow:
    """The ask after the campaign's latest one that went out, in pack order, wrapping round."""
    asks = catalog_db.asks(db, campaign)
    if not asks:
        raise ScheduleError("campaign", f"campaign {campaign!r} has no asks")
    last = prompts_db.last_sent_ask(db, campaign)
    ids = [ask.id for ask in asks]
    if last not in ids:
        return asks[0]
    return asks[(ids.index(last) + 1) % len(asks)]


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


@dataclass(frozen=True, slots=True)
class DryRun:
    ask: AskRow
    per_platform: dict[str, int]
    first: list[tuple[str, str, str | None]]

    @property
    def total(self) -> int:
        return sum(self.per_platform.values())


def dry_run(
    db: Database, catalog: Catalog, request: Request, actor: str, limit: int = 50
) -> DryRun:
    """Who a prompt would go to now, and with which ask. Sends nothing."""
    ask = resolve_ask(db, catalog, request.campaign, request.ask_id)
    params = deliveries_db.audience_params(
        now=now_text(),
        platforms=list(PLATFORMS),
        platform=_platform(request.platform),
        source=request.source,
        topic=ask.topic,
    )
    per_platform, first = deliveries_db.audience_preview(db, params, limit)
    audit_db.record(
        db, actor, "dry-run", request.campaign, ask=ask.id, audience=sum(per_platform.values())
    )
    return DryRun(ask, per_platform, first)


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
    return prompts_db.listed(db, states=states, limit=limit)


def record_test_send(db: Database, actor: str, ask: AskRow, platform: str, result: str) -> None:
    """Audit an organiser's test of an ask sent to their own chat; `result` is "ok" or
    "error". The test is no prompt and counts nothing, so the audit is its only trace."""
    target = f"{ask.campaign}/{ask.id}"
    audit_db.record(db, actor, "test-send", target, platform=platform, ok=result)


def audit_log(db: Database, limit: int = 100) -> list[audit_db.AuditRow]:
    """What organisers did, latest first: the record every action here leaves."""
    return audit_db.latest(db, limit)
