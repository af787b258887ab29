"""Organiser pages: schedule a prompt (with a preview of what supporters will
see, and a test send to one's own chat), send one now (after a confirmation that
says whom it reaches: `web.confirmations`), list and cancel prompts, watch and stop
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
from dataclasses import asdict, dataclass, replace
from typing import Any
from urllib.parse import urlencode
from zoneinfo import available_timezones

from sqlite_utils import Database
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
from campaigns.wording import counted
from db.times import utcnow
from db.users import UserRow
from web.auth import actor, current_user, organiser_only
from web.confirmations import SendConfirmations
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


def _filled(values: dict[str, str], ask_id: str) -> dict[str, str]:
    """The schedule form's choices (the ask resolved), for a link back to it."""
    chosen = {**values, "ask": ask_id}
    return {
        name: chosen[name] for name in ("campaign", "ask", "platform", "source") if chosen[name]
    }


def _audience(prompt: PromptRow) -> str:
    return ", ".join(filter(None, [prompt.platform, prompt.source])) or "all its subscribers"


@dataclass(frozen=True)
class Reach:
    """Whom a send now reaches, as `send --dry-run` counts it, and what of that the
    running bot can send to (`skipped`: platforms it isn't connected to; unknown
    when this dashboard runs without the bot)."""

    dry: prompting.DryRun
    platforms: tuple[str, ...]  # the audience's platforms, in order
    skipped: tuple[str, ...]
    bot_running: bool

    @property
    def count(self) -> int:
        """How many the send goes to: every platform the bot sends to."""
        return sum(self.dry.per_platform.get(p, 0) for p in self.platforms if p not in self.skipped)

    def lines(self) -> list[str]:
        """`telegram: 2 supporters` for each platform, then the total (the CLI's words)."""
        shown = []
        for name in self.platforms:
            line = f"{name}: {counted(self.dry.per_platform.get(name, 0), 'supporter')}"
            if name in self.skipped:
                line += " (this bot doesn't send there: skipped)"
            shown.append(line)
        if self.bot_running:
            shown.append(f"total: {self.count}")
        else:
            shown.append(f"total: {self.count} (platforms without a running adapter are skipped)")
        if self.dry.paid is not None:
            shown.append(f"cost: {self.dry.paid.line()}")
        return shown


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
        refused: str = "Nothing was scheduled.",
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
            "refused": refused,
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
        for name in ("campaign", "ask", "platform", "source"):
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
        if intent == "sendnow":
            return await confirm_page(request, values, errors)
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

    confirmations = SendConfirmations()

    async def confirm_page(
        request: Request, values: dict[str, str], errors: dict[str, str]
    ) -> Response:
        """Step one of a send now: the ask as previewed and whom it reaches, with the
        one button that sends it (`web.confirmations`). Sends nothing; audited as the
        dry run and the preview it is."""
        refused = "Nothing was sent."
        if errors:
            return await form_page(request, values, errors=errors, status=422, refused=refused)
        source = values["source"]
        wanted = prompting.Request(
            campaign=values["campaign"],
            ask_id=values["ask"] or None,
            platform=values["platform"] or None,
            source=clean_source(source) if source else None,
        )
        who = actor(request)
        paid = dash.settings.telegram_paid_broadcast

        def look(db: Database) -> tuple[prompting.DryRun, tuple[AskRow, Message]]:
            dry = prompting.dry_run(db, ctx.catalog, wanted, who, 0, paid=paid)
            return dry, prompting.preview(db, ctx, wanted.campaign, dry.ask.id, who)

        try:
            dry, (ask, message) = await store.write(look)
        except prompting.ScheduleError as exc:
            errors = {exc.field: exc.message}
            return await form_page(request, values, errors=errors, status=422, refused=refused)
        platforms = (wanted.platform,) if wanted.platform else PLATFORMS
        running = dash.messengers
        skipped = tuple(p for p in platforms if running is not None and p not in running)
        reach = Reach(dry, tuple(platforms), skipped, running is not None)
        confirmed = replace(wanted, ask_id=ask.id)
        token = confirmations.offer(current_user(request).id, confirmed)
        context = {
            "preview": Preview(ask, message),
            "reach": reach,
            "token": token,
            "values": values,
            "back": f"/prompts/new?{urlencode(_filled(values, ask.id))}",
        }
        return dash.render(request, "send_now.html", context)

    @organiser_only
    async def send_now(request: Request) -> Response:
        """Step two: the explicit "Send to N supporters now". Only a token this page
        handed this account sends, once; anything else sends nothing, in one line."""
        form = await request.form(max_fields=MAX_FORM_FIELDS, max_files=0)
        given = _values(form, defaults())  # the choices, to fill the form in again
        values = defaults() | {name: value for name, value in given.items() if value}
        token = str(form.get("confirm") or "")[:100]
        wanted = confirmations.take(token, current_user(request).id)
        if wanted is None:
            line = (
                "That confirmation has expired or was already used, so nothing was sent. "
                "Press “Send now…” again to see whom it reaches now."
            )
            return await form_page(request, values, notice=("error", line), status=409)
        try:
            prompt = await store.write(prompting.send_now, ctx.catalog, wanted, actor(request))
        except prompting.ScheduleError as exc:
            line = f"Nothing was sent: {exc.message}."
            return await form_page(request, values, notice=("error", line), status=422)
        what = f"prompt {prompt.id} ({prompt.campaign}/{prompt.ask_id})"
        if dash.messengers is None:
            flash(
                request,
                f"Queued {what}. This dashboard runs without the bot: it waits for "
                "`campaignbot run` on this database, which sends it (within its grace "
                "window).",
            )
        else:
            flash(request, f"Sending {what} now: it shows here while it goes out.")
        return RedirectResponse("/sends", status_code=303)

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
        Route("/prompts/send-now", send_now, methods=["POST"]),
        Route("/prompts/{prompt_id:int}/cancel", cancel, methods=["POST"]),
        Route("/sends", sends, methods=["GET"]),
        Route("/sends/{prompt_id:int}/stop", stop_send, methods=["POST"]),
        Route("/sends/progress.json", progress_json, methods=["GET"]),
        Route("/audit", audit, methods=["GET"]),
        Route("/audit.csv", audit_csv, methods=["GET"]),
    ]
