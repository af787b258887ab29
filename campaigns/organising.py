"""Organiser commands in chat, the same on every platform: preview, send now, stop a
send, status, stats.

The core (`Core.command`, `Core.press`) brings them here, only for a person the
adapter vouches is an organiser, and only in a private chat or a reply that only
they see; every use is audited. A send, and stopping one, ask for confirmation
first: the confirm button carries a short random token that stands for the
request for ten minutes, and only the person who asked can press it.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass, replace

from sqlite_utils import Database

from campaigns import prompting
from campaigns.buttons import ButtonIds, Verb
from campaigns.delivery import DeliveryEngine
from campaigns.dialogue import Context
from campaigns.messenger import PaidSends
from campaigns.model import Button, Message, PressResult
from campaigns.progress import Progress, running_progress
from campaigns.wording import counted
from db import audit as audit_db
from db import prompts as prompts_db
from db import stats as stats_db
from db.prompts import PromptRow
from db.states import PromptState
from db.store import Store

COMMANDS: tuple[tuple[str, str], ...] = (
    ("preview", "Organisers: see the next ask as supporters will"),
    ("sendnow", "Organisers: send an ask now (asks to confirm)"),
    ("stopsend", "Organisers: stop a running send (asks to confirm)"),
    ("status", "Organisers: progress of the current send"),
    ("stats", "Organisers: participation in short"),
)
NAMES = frozenset(name for name, _ in COMMANDS)
VERBS = frozenset({Verb.SEND, Verb.CANCEL})  # the confirmation buttons' verbs
NOT_AVAILABLE = "That command is not available."
CONFIRM_SECONDS = 600


@dataclass(frozen=True, slots=True)
class PendingSend:
    actor: str
    request: prompting.Request
    expires: float


@dataclass(frozen=True, slots=True)
class PendingStop:
    actor: str
    prompt_id: int
    expires: float


STOPSEND_USAGE = "Use /stopsend <prompt id>, such as /stopsend 12 (/status lists running sends)"


def describe(progress: Progress) -> str:
    eta = f", about {progress.eta_seconds:.0f}s left" if progress.eta_seconds else ""
    cancelled = f", {progress.cancelled} cancelled" if progress.cancelled else ""
    return (
        f"Prompt {progress.prompt_id} ({progress.campaign}/{progress.ask_id}): "
        f"{progress.sent} sent, {progress.gone} gone, {progress.failed} failed, "
        f"{progress.unknown} unknown{cancelled}, {progress.left} left, "
        f"{progress.rate:.1f}/s{eta}"
    )


def stopped_text(stopped: prompting.Stopped) -> str:
    """What stopping a prompt did, in one sentence for every front end."""
    if not stopped.running:
        return f"Cancelled prompt {stopped.prompt_id} before it started: nothing was sent."
    cancelled = counted(stopped.cancelled, "delivery", "deliveries")
    verb = "is" if stopped.cancelled == 1 else "are"
    return (
        f"Stopped prompt {stopped.prompt_id}: {cancelled} not yet sent {verb} cancelled; "
        "any already on their way finish."
    )


def _stats_text(db: Database) -> str:
    report = stats_db.participation(db)
    total = report.total
    lines = [
        f"All time: {total.delivered} delivered, {total.done} done, {total.skipped} skipped, "
        f"{counted(total.supporters, 'supporter')} took part."
    ]
    for row in report.by_ask_week[-3:]:
        c = row.counts
        lines.append(f"Week of {row.week}, {row.ask_id}: {c.delivered} delivered, {c.done} done")
    lines += [f"{row.key}: {row.counts.done} done" for row in report.by_platform]
    return "\n".join(lines)


class OrganiserDesk:
    """The organiser commands, for any adapter."""

    def __init__(self, store: Store, ctx: Context, engine: DeliveryEngine | None = None) -> None:
        self.store = store
        self.ctx = ctx
        self.engine = engine  # None: sends are queued for whichever bot runs the engine
        self._pending: dict[str, PendingSend | PendingStop] = {}

    @property
    def ids(self) -> ButtonIds:
        return self.ctx.ids

    @property
    def paid_broadcast(self) -> bool:
        """Whether the engine's sends to Telegram are paid broadcasts (so cost Stars).
        Asked of the adapter that sends them, so what /sendnow says can't differ from
        what the send does."""
        messenger = self.engine.messengers.get("telegram") if self.engine else None
        return isinstance(messenger, PaidSends) and messenger.paid_broadcast

    async def _audit(self, actor: str, action: str, target: str | None = None) -> None:
        await self.store.write(audit_db.record, actor, action, target)

    async def preview(self, actor: str, args: tuple[str, ...]) -> list[Message]:
        # An empty argument is one left out (Discord's optional options)
        campaign = (args[0] if args else "") or self.ctx.catalog.default
        ask_id = (args[1] if len(args) > 1 else "") or None
        try:
            ask, message = await self.store.write(
                prompting.preview, self.ctx, campaign, ask_id, actor
            )
        except prompting.ScheduleError as exc:
            return [Message(text=exc.message)]
        note = Message(text=f"Preview of {campaign}/{ask.id}, exactly as supporters will see it:")
        return [note, message]

    async def request_send(self, actor: str, args: tuple[str, ...]) -> list[Message]:
        if not args:
            return [Message(text="Use /sendnow <campaign> [ask], such as /sendnow one-step-ahead")]
        request = prompting.Request(campaign=args[0], ask_id=args[1] if len(args) > 1 else None)

        paid = self.paid_broadcast

        def check(db: Database) -> tuple[str, int, prompting.PaidCost | None]:
            ask = prompting.resolve_ask(db, self.ctx.catalog, request.campaign, request.ask_id)
            audit_db.record(db, actor, "send-now-requested", request.campaign, ask=ask.id)
            cost = prompting.send_cost(db, self.ctx.catalog, request) if paid else None
            return ask.id, prompting.audience_size(db, request, ask), cost

        try:
            ask_id, audience, cost = await self.store.write(check)
        except prompting.ScheduleError as exc:
            return [Message(text=exc.message)]
        text = (
            f"Send {request.campaign}/{ask_id} now to its {counted(audience, 'subscriber')} "
            "(those active whose topics include it)? This can't be undone."
        )
        if cost is not None:  # as `send --dry-run` and the dashboard's preview say it
            text += f"\nCost: {cost.line()}"
        pending = PendingSend(actor, prompting.Request(request.campaign, ask_id), 0.0)
        return [self._ask_to_confirm(pending, text, "Send it now")]

    def _ask_to_confirm(self, pending: PendingSend | PendingStop, text: str, yes: str) -> Message:
        """The question with its two buttons; the token stands for `pending` a while."""
        token = secrets.token_urlsafe(12)
        now = time.monotonic()
        self._pending = {k: v for k, v in self._pending.items() if v.expires > now}
        self._pending[token] = replace(pending, expires=now + CONFIRM_SECONDS)
        ids = self.ids
        buttons = (
            (
                Button(yes, id=ids.make(Verb.SEND, token)),
                Button("Cancel", id=ids.make(Verb.CANCEL, token)),
            ),
        )
        return Message(text=text, buttons=buttons)

    async def request_stop(self, actor: str, args: tuple[str, ...]) -> list[Message]:
        """/stopsend <prompt id>: ask to confirm stopping a running (or scheduled) prompt."""
        if len(args) != 1 or not args[0].isdigit() or len(args[0]) > 18:
            return [Message(text=STOPSEND_USAGE)]
        prompt_id = int(args[0])

        def check(db: Database) -> PromptRow | None:
            audit_db.record(db, actor, "stop-send-requested", f"prompt:{prompt_id}")
            return prompts_db.get(db, prompt_id)

        prompt = await self.store.write(check)
        if prompt is None or prompt.state not in (PromptState.SCHEDULED, PromptState.SENDING):
            state = f"it is {prompt.state}" if prompt else "there is no such prompt"
            return [Message(text=f"Prompt {prompt_id} can't be stopped: {state}.")]
        what = f"prompt {prompt.id} ({prompt.campaign}/{prompt.ask_id})"
        if prompt.state is PromptState.SENDING:
            text = (
                f"Stop {what} now? Supporters it has not reached yet won't get it; "
                "this can't be undone."
            )
        else:
            text = f"Cancel {what} before it starts? Nobody will get it."
        return [self._ask_to_confirm(PendingStop(actor, prompt.id, 0.0), text, "Stop it")]

    async def confirm(self, actor: str, verb: Verb, token: str) -> PressResult:
        pending = self._pending.pop(token, None)
        if pending is None or pending.expires < time.monotonic() or pending.actor != actor:
            return PressResult(answer="That request has expired. Send the command again.")
        if isinstance(pending, PendingStop):
            return await self._confirm_stop(actor, verb, pending)
        if verb is Verb.CANCEL:
            await self._audit(actor, "send-now-cancelled", pending.request.campaign)
            return PressResult(
                answer="Cancelled.", edit=Message(text="Cancelled: nothing was sent.")
            )
        prompt = await self.store.write(
            prompting.send_now, self.ctx.catalog, pending.request, actor
        )
        if self.engine is not None:
            self.engine.start(prompt.id)
        text = (
            f"Sending prompt {prompt.id} ({prompt.campaign}/{prompt.ask_id}). "
            "/status shows progress."
        )
        return PressResult(answer="Sending.", counted=True, edit=Message(text=text))

    async def _confirm_stop(self, actor: str, verb: Verb, pending: PendingStop) -> PressResult:
        target = f"prompt:{pending.prompt_id}"
        if verb is Verb.CANCEL:
            await self._audit(actor, "stop-send-kept", target)
            return PressResult(
                answer="Kept.", edit=Message(text=f"Kept: prompt {pending.prompt_id} carries on.")
            )
        stopped = await self.store.write(prompting.stop, pending.prompt_id, actor)
        if stopped is None:
            text = f"Prompt {pending.prompt_id} had already finished or been stopped."
            return PressResult(answer="Nothing to stop.", edit=Message(text=text))
        return PressResult(
            answer="Stopped.", counted=True, edit=Message(text=stopped_text(stopped))
        )

    async def status(self, actor: str) -> list[Message]:
        await self._audit(actor, "status")
        running = await self.store.read(running_progress)
        if not running:
            return [Message(text="No send is running.")]
        return [Message(text="\n".join(describe(progress) for progress in running))]

    async def stats(self, actor: str) -> list[Message]:
        await self._audit(actor, "stats")
        return [Message(text=await self.store.read(_stats_text))]

    async def command(self, actor: str, name: str, args: tuple[str, ...]) -> list[Message]:
        """Run one organiser command (the caller has checked the organiser list)."""
        if name == "preview":
            return await self.preview(actor, args)
        if name == "sendnow":
            return await self.request_send(actor, args)
        if name == "stopsend":
            return await self.request_stop(actor, args)
        if name == "status":
            return await self.status(actor)
        return await self.stats(actor)
