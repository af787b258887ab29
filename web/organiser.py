"""Organiser pages: schedule a prompt (with a preview of what supporters will
see, and a test send to one's own chat), list and cancel prompts, watch and stop
sends, read the audit.

Reads and changes go through the core (`campaigns.prompting`, send progress from
`campaigns.progress`), as the CLI's do; changes are audited as `web:<account>`.
A bad request gets its message next to the field and changes nothing. Viewing
is for every account; acting is for organisers, and so is seeing organisers' chat
ids (such as `telegram:12345`, in the audit and as who made a prompt): staff see
`telegram:(hidden)`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import asdict, dataclass
from typing import Any
from zoneinfo import available_timezones

from starlette.datastructures import FormData
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response, StreamingResponse
from starlette.routing import BaseRoute, Route

from campaigns import prompting
from campaigns.dashboard import AskRow, AuditRow, PromptRow
from campaigns.messenger import DeliveryError, RecipientGone, send_one
from campaigns.model import PLATFORMS, ChatKind, Message
from campaigns.organising import stopped_text
from campaigns.progress import running_progress
from campaigns.reports import DataTable
from campaigns.supporters import clean_source
from db.times import utcnow
from db.users import UserRow
from web.auth import actor, current_user, organiser_only
from web.context import Dashboard, flash
from web.security import MAX_FORM_FIELDS
from web.tables import chunks, csv_text

log = logging.getLogger(__name__)

FIELDS = ("campaign", "ask", "date", "time", "timezone", "platform", "source")
ZONES = sorted(available_timezones())
MAX_ID = 2**63 - 1  # SQLite's largest integer, so no row id is larger
CHAT_ID = re.compile(rf"\b({'|'.join(PLATFORMS)}):-?[A-Za-z0-9_]+")  # any length: all hidden


def shown_to(user: UserRow, text: str | None) -> str:
    """Text as this account may see it: organisers' chat ids only for organisers."""
    if not text or user.is_organiser:
        return text or ""
    return CHAT_ID.sub(r"\1:(hidden)", text)


@dataclass(frozen=True)
class Preview:
    ask: AskRow
    message: Message


def _values(form: FormData | None, defaults: dict[str, str]) -> dict[str, str]:
    if form is None:
        return dict(defaults)
    return {name: str(form.get(name) or "").strip()[:120] for name in FIELDS}


def _audience(prompt: PromptRow) -> str:
    return ", ".join(filter(None, [prompt.platform, prompt.source])) or "all its subscribers"


async def send_test(
    dash: Dashboard, request: Request, message: Message, ask: AskRow, *, draft: bool = False
) -> tuple[str, str]:
    """Send `message` (an ask, or a draft of one: `draft`) to the signed-in organiser's
    linked chat, through the running bot's adapter at the platform's shared pace, and
    audit it. ("ok" | "error", one line saying what happened.)"""
    user = current_user(request)
    if not user.chat:
        return (
            "error",
            "Your account has no linked chat. Link one with "
            f"`campaignbot users set-chat {user.name} telegram:<your chat id>`.",
        )
    platform, address = user.chat.split(":", 1)
    messengers = dash.messengers
    if messengers is None:
        return (
            "error",
            "Test sends need the bot: this dashboard is running on its own. "
            "Start it with `campaignbot run` and try again.",
        )
    messenger = messengers.get(platform)
    if messenger is None:
        return ("error", f"The bot isn't connected to {platform}, so it can't send there.")
    try:
        await send_one(messenger, address, ChatKind.PRIVATE, message)
    except RecipientGone:
        result = (
            "error",
            f"{platform.title()} says your chat can't be reached: start a chat with "
            "the bot first, then try again.",
        )
    except DeliveryError:
        result = ("error", f"{platform.title()} didn't take the message; try again shortly.")
    except Exception:
        log.exception("test send to an organiser's chat failed")
        result = ("error", "Sorry, the test send failed. The log has the details.")
    else:
        target = f"{ask.campaign}/{ask.id}" + (f" (draft v{ask.version})" if draft else "")
        result = ("ok", f"Sent a test of {target} to your {platform} chat.")
    await dash.core.store.write(
        prompting.record_test_send, actor(request), ask, platform, result[0], draft=draft
    )
    return result


def routes(dash: Dashboard) -> list[BaseRoute]:
    store = dash.core.store
    # `ctx.catalog` is read per request, never kept: the running bot swaps in campaign
    # changes made while it runs (`campaigns.reloading`)
    ctx = dash.core.ctx

    async def form_page(
        request: Request,
        values: dict[str, str],
        *,
        errors: dict[str, str] | None = None,
        preview: Preview | None = None,
        notice: tuple[str, str] | None = None,
        status: int = 200,
        cost: prompting.PaidCost | None = None,
    ) -> Response:
        catalog = ctx.catalog
        asks = await store.read(prompting.asks_by_campaign, catalog)
        user = current_user(request)
        context: dict[str, Any] = {
            "values": values,
            "errors": errors or {},
            "asks": asks,
            "campaigns": sorted(catalog.packs.items()),
            "platforms": PLATFORMS,
            "zones": ZONES,
            "preview": preview,
            "notice": notice,
            "chat": user.chat,
            "bot_running": dash.messengers is not None,
            "paid_broadcast": dash.settings.telegram_paid_broadcast,
            "cost": cost,
        }
        return dash.render(request, "schedule.html", context, status)

    def defaults() -> dict[str, str]:
        return {
            "campaign": ctx.catalog.default,
            "ask": "",
            "date": "",
            "time": "",
            "timezone": dash.settings.timezone,
            "platform": "",
            "source": "",
        }

    @organiser_only
    async def new_prompt(request: Request) -> Response:
        values = defaults()
        for name in ("campaign", "ask"):
            if request.query_params.get(name):
                values[name] = request.query_params[name][:120]
        return await form_page(request, values)

    @organiser_only
    async def submit(request: Request) -> Response:
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        values = _values(form, defaults())
        intent = str(form.get("intent") or "schedule")
        campaign, ask_id = values["campaign"], values["ask"] or None
        who = actor(request)
        if intent in ("preview", "test"):
            try:
                ask, message = await store.write(prompting.preview, ctx, campaign, ask_id, who)
            except prompting.ScheduleError as exc:
                return await form_page(request, values, errors={exc.field: exc.message}, status=422)
            shown = Preview(ask, message)
            if intent == "preview":
                cost = await _paid_cost(values, ask.id)
                return await form_page(request, values, preview=shown, cost=cost)
            notice = await _test_send(request, shown)
            return await form_page(request, values, preview=shown, notice=notice)
        errors: dict[str, str] = {}
        source = values["source"] or None
        if source is not None and clean_source(source) is None:
            errors["source"] = "A source is letters, digits, _ and - (as in /start links)."
        if not values["date"] or not values["time"]:
            errors["at"] = "Give a date and a time."
        if not values["timezone"]:
            errors["timezone"] = "Give a time zone, such as Europe/London."
        if errors:
            return await form_page(request, values, errors=errors, status=422)
        request_ = prompting.Request(
            campaign=campaign,
            ask_id=ask_id,
            platform=values["platform"] or None,
            source=clean_source(source),
        )
        at = f"{values['date']} {values['time']}"
        try:
            prompt = await store.write(
                prompting.schedule, ctx.catalog, request_, at, values["timezone"], who
            )
        except prompting.ScheduleError as exc:
            return await form_page(request, values, errors={exc.field: exc.message}, status=422)
        flash(
            request,
            f"Scheduled prompt {prompt.id}: {prompt.campaign}/{prompt.ask_id} "
            f"at {at} {prompt.timezone}.",
        )
        return RedirectResponse("/prompts", status_code=303)

    async def _paid_cost(values: dict[str, str], ask_id: str) -> prompting.PaidCost | None:
        """What a send of this ask to the chosen audience would cost now, when Telegram's
        paid broadcasts are on (none when they are off, or the audience can't be read)."""
        if not dash.settings.telegram_paid_broadcast:
            return None
        audience = prompting.Request(
            campaign=values["campaign"],
            ask_id=ask_id,
            platform=values["platform"] or None,
            source=clean_source(values["source"]) if values["source"] else None,
        )
        try:
            return await store.read(prompting.send_cost, ctx.catalog, audience)
        except prompting.ScheduleError:  # a platform it doesn't know: no audience to count
            return None

    async def _test_send(request: Request, shown: Preview) -> tuple[str, str]:
        return await send_test(dash, request, shown.message, shown.ask)

    async def prompt_list(request: Request) -> Response:
        every = request.query_params.get("all") == "1"
        prompts = await store.read(prompting.listed_prompts, every=every, limit=300)
        user = current_user(request)
        return dash.render(
            request,
            "prompts.html",
            {
                "prompts": prompts,
                "every": every,
                "audience": _audience,
                "shown": lambda text: shown_to(user, text),
            },
        )

    @organiser_only
    async def cancel(request: Request) -> Response:
        prompt_id = int(request.path_params["prompt_id"])
        if prompt_id > MAX_ID:  # more digits than any prompt id can have
            raise HTTPException(404)
        cancelled = await store.write(prompting.cancel, prompt_id, actor(request))
        if cancelled:
            flash(request, f"Cancelled prompt {prompt_id}.")
        else:
            flash(request, f"Prompt {prompt_id} has already started or ended.", "error")
        return RedirectResponse("/prompts", status_code=303)

    async def sends(request: Request) -> Response:
        running = await store.read(running_progress)
        return dash.render(request, "sends.html", {"running": running})

    @organiser_only
    async def stop_send(request: Request) -> Response:
        """Stop a running send: what has not gone out is cancelled (audited)."""
        prompt_id = int(request.path_params["prompt_id"])
        if prompt_id > MAX_ID:
            raise HTTPException(404)
        stopped = await store.write(prompting.stop, prompt_id, actor(request))
        if stopped is None:
            flash(request, f"Prompt {prompt_id} had already finished or been stopped.", "error")
        else:
            flash(request, stopped_text(stopped))
        return RedirectResponse("/sends", status_code=303)

    async def progress_json(request: Request) -> Response:
        running = await store.read(running_progress)
        return JSONResponse(
            {
                "running": [{**asdict(item), "total": item.total} for item in running],
                "at": utcnow().isoformat(),
            }
        )

    def audit_table(user: UserRow, rows: list[AuditRow]) -> DataTable:
        return DataTable(
            "audit",
            "Audit: what organisers did",
            ["at", "actor", "action", "target", "detail"],
            [
                [r.at, *(shown_to(user, v) for v in (r.actor, r.action, r.target, r.detail))]
                for r in rows
            ],
        )

    async def audit(request: Request) -> Response:
        rows = await store.read(prompting.audit_log, 300)
        table = audit_table(current_user(request), rows)
        return dash.render(request, "audit.html", {"table": table})

    async def audit_csv(request: Request) -> Response:
        rows = await store.read(prompting.audit_log, 10_000)
        text = csv_text(audit_table(current_user(request), rows))
        filename = f"campaignbot-audit-{utcnow():%Y-%m-%d}.csv"
        return StreamingResponse(
            chunks(text),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="{filename}"'},
        )

    return [
        Route("/prompts", prompt_list, methods=["GET"]),
        Route("/prompts/new", new_prompt, methods=["GET"]),
        Route("/prompts/new", submit, methods=["POST"]),
        Route("/prompts/{prompt_id:int}/cancel", cancel, methods=["POST"]),
        Route("/sends", sends, methods=["GET"]),
        Route("/sends/{prompt_id:int}/stop", stop_send, methods=["POST"]),
        Route("/sends/progress.json", progress_json, methods=["GET"]),
        Route("/audit", audit, methods=["GET"]),
        Route("/audit.csv", audit_csv, methods=["GET"]),
    ]
