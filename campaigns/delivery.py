"""The delivery engine: a prompt's deliveries go out once each, at the platform's pace.

A prompt's deliveries are created in one transaction. Then, per platform, a
producer pages through the pending ones and a pool of workers sends them: each
worker waits for the platform's pace, claims the delivery (pending → sending,
committed before the request leaves), sends, and queues the result; results are
written in batches. A delivery that is sent or unknown is never sent again, so
a crash at any moment leaves, at worst, the few that were in flight as 'unknown'.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from sqlite_utils import Database

from campaigns.compose import ask_message
from campaigns.dialogue import Context
from campaigns.model import ChatKind, Message
from campaigns.pacing import Pacer, until
from db import catalog as catalog_db
from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db.catalog import AskRow
from db.deliveries import Recipient
from db.prompts import PromptRow
from db.store import Store
from db.times import from_text, now_text, to_text, utcnow

log = logging.getLogger(__name__)

CLAIM_LEAD = 0.05  # seconds before its slot that a delivery is claimed


class DeliveryError(Exception):
    """Base of what a messenger reports about one send."""


class RecipientGone(DeliveryError):
    """The recipient blocked us, left, or no longer exists: never send to them again."""


class RateLimited(DeliveryError):
    """The platform asked us to wait; nothing was sent."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"retry after {retry_after}s")
        self.retry_after = retry_after


class TransientFailure(DeliveryError):
    """It failed before or without sending (a 5xx, a refused connection): safe to retry."""


class OutcomeUnknown(DeliveryError):
    """The request may have arrived (a timeout after it left): never resend."""


class Refused(DeliveryError):
    """The platform refused this message (a bad request): retrying would not help."""


class StartupFailure(Exception):
    """An adapter can't come online. The message is one line that names the setting to
    check and how to fix it, and never holds a token."""


class Messenger(Protocol):
    """What an adapter offers the engine: get ready to send to an address, and send.

    `pacer` is the platform's pace, shared with the adapter's own requests. For each
    delivery the engine takes a slot, claims the delivery just before the slot and
    calls `send` at the slot, so `send` must make exactly one request and take no
    slot itself. Anything else a send needs (opening a DM channel) belongs in
    `prepare`, which takes slots of its own and is called before the claim.
    """

    platform: str
    pacer: Pacer | None

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Whatever must happen before the one request of `send`; may raise
        `RecipientGone`. Nothing the recipient can see."""
        ...

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """Send, or raise one of the `DeliveryError`s."""
        ...


LinkMaker = Callable[[int, AskRow], str]


@dataclass(frozen=True, slots=True)
class Progress:
    """How far a prompt's send has got."""

    prompt_id: int
    campaign: str
    ask_id: str
    state: str
    sent: int
    gone: int
    failed: int
    unknown: int
    left: int  # pending or in flight
    rate: float  # deliveries finished a second, over the last 10 seconds
    eta_seconds: float | None

    @property
    def total(self) -> int:
        return self.sent + self.gone + self.failed + self.unknown + self.left


def progress(db: Database, prompt: PromptRow) -> Progress:
    counts = deliveries_db.state_counts(db, prompt.id)
    recent = deliveries_db.finished_since(db, prompt.id, to_text(utcnow() - timedelta(seconds=10)))
    rate = recent / 10.0
    left = counts.get("pending", 0) + counts.get("sending", 0)
    return Progress(
        prompt_id=prompt.id,
        campaign=prompt.campaign,
        ask_id=prompt.ask_id,
        state=prompt.state,
        sent=counts.get("sent", 0),
        gone=counts.get("gone", 0),
        failed=counts.get("failed", 0),
        unknown=counts.get("unknown", 0),
        left=left,
        rate=rate,
        eta_seconds=left / rate if rate > 0 and left else None,
    )


def running_progress(db: Database) -> list[Progress]:
    """Progress of every send under way (also readable from another process)."""
    return [progress(db, prompt) for prompt in prompts_db.sending(db)]


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: PromptRow
    ask: AskRow
    created: int
    unknown_after_crash: int


def prepare(db: Database, prompt_id: int, platforms: list[str]) -> Prepared | None:
    """Start a prompt (if it is due and nobody else has) and create its deliveries.

    Deliveries left 'sending' by a crash become 'unknown': they may have arrived.
    """
    prompt = prompts_db.get(db, prompt_id)
    if prompt is None or prompt.state not in ("scheduled", "sending"):
        return None
    if prompt.state == "scheduled" and not prompts_db.start_sending(db, prompt_id):
        return None
    ask = catalog_db.get_ask(db, prompt.campaign, prompt.ask_id)
    if ask is None:
        prompts_db.set_state(db, prompt_id, "cancelled")
        return None
    now = now_text()
    if prompt.kind == "reminder" and prompt.parent_id:
        created = deliveries_db.create_for_reminder(db, prompt.id, prompt.parent_id, platforms, now)
    else:
        params = deliveries_db.audience_params(
            now=now,
            platforms=platforms,
            platform=prompt.platform,
            source=prompt.source,
            topic=ask.topic,
        )
        created = deliveries_db.create_for_prompt(db, prompt.id, params)
    unknown = deliveries_db.sending_to_unknown(db, prompt.id)
    deliveries_db.orphans_to_gone(db, prompt.id)
    refreshed = prompts_db.get(db, prompt_id)
    assert refreshed is not None
    return Prepared(refreshed, ask, created, unknown)


def finish_if_done(db: Database, prompt_id: int) -> bool:
    """sending → sent once no delivery is pending or in flight."""
    counts = deliveries_db.state_counts(db, prompt_id)
    if counts.get("pending", 0) or counts.get("sending", 0):
        return False
    prompts_db.set_state(db, prompt_id, "sent")
    return True


@dataclass(frozen=True)
class Tuning:
    """How hard the engine pushes; the defaults suit Telegram and Discord."""

    workers: int = 32
    page: int = 500
    max_attempts: int = 5
    backoff_base: float = 0.5
    backoff_cap: float = 30.0
    flush_every: float = 0.05
    flush_size: int = 200


class DeliveryEngine:
    """Sends prompts through the adapters' messengers."""

    def __init__(
        self,
        store: Store,
        ctx: Context,
        messengers: Mapping[str, Messenger],
        *,
        tuning: Tuning | None = None,
        link_for: LinkMaker | None = None,
    ) -> None:
        self.store = store
        self.ctx = ctx
        self.messengers = dict(messengers)
        self.tuning = tuning or Tuning()
        self.link_for = link_for
        self._paused_until: dict[str, float] = {}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._composed: dict[int, Message] = {}
        self._stopping = False

    @property
    def running(self) -> list[int]:
        return sorted(self._running)

    def start(self, prompt_id: int) -> asyncio.Task[None]:
        """Send a prompt in the background (once, however often it is asked)."""
        task = self._running.get(prompt_id)
        if task is None or task.done():
            task = asyncio.create_task(self.send_prompt(prompt_id), name=f"prompt-{prompt_id}")
            self._running[prompt_id] = task
            task.add_done_callback(lambda _: self._running.pop(prompt_id, None))
        return task

    async def send_prompt(self, prompt_id: int) -> None:
        """Create the prompt's deliveries and send them all."""
        if self._stopping:
            return
        prepared = await self.store.write(prepare, prompt_id, sorted(self.messengers))
        if prepared is None:
            return
        log.info(
            "sending prompt %d (%s/%s): %d new deliveries%s",
            prompt_id,
            prepared.prompt.campaign,
            prepared.ask.id,
            prepared.created,
            f", {prepared.unknown_after_crash} in flight at a crash are unknown"
            if prepared.unknown_after_crash
            else "",
        )
        await asyncio.gather(
            *(self._drain(prepared, platform) for platform in sorted(self.messengers))
        )
        self._composed.pop(prompt_id, None)
        if not self._stopping and await self.store.write(finish_if_done, prompt_id):
            log.info("prompt %d sent", prompt_id)

    def _message(self, prepared: Prepared, delivery_id: int) -> Message:
        """The ask as this delivery sends it (the same for all, unless links are tracked)."""
        if self.link_for is None:
            cached = self._composed.get(prepared.prompt.id)
            if cached is None:
                cached = self._compose(prepared, delivery_id)
                self._composed[prepared.prompt.id] = cached
            return cached
        return self._compose(prepared, delivery_id)

    def _compose(self, prepared: Prepared, delivery_id: int) -> Message:
        prompt, ask = prepared.prompt, prepared.ask
        reminder = prompt.kind == "reminder"
        return ask_message(
            self.ctx.ids,
            ask,
            prompt,
            link_url=self.link_for(delivery_id, ask) if self.link_for else None,
            reminder=reminder,
            note=(ask.reminder or "") if reminder else "",
        )

    async def _drain(self, prepared: Prepared, platform: str) -> None:
        queue: asyncio.Queue[Recipient | None] = asyncio.Queue(maxsize=self.tuning.workers * 2)
        results: list[tuple[int, str, str | None]] = []
        flushed = asyncio.Event()

        async def produce() -> None:
            after = 0
            while not self._stopping:
                batch = await self.store.read(
                    deliveries_db.pending_batch,
                    prepared.prompt.id,
                    platform,
                    after,
                    self.tuning.page,
                )
                if not batch:
                    break
                for recipient in batch:
                    await queue.put(recipient)
                after = batch[-1].delivery_id
            for _ in range(self.tuning.workers):
                await queue.put(None)

        async def work() -> None:
            while (recipient := await queue.get()) is not None:
                if self._stopping:
                    continue
                outcome = await self._deliver(prepared, platform, recipient)
                if outcome is not None:
                    results.append((recipient.delivery_id, *outcome))
                    if len(results) >= self.tuning.flush_size:
                        await flush()

        async def flush() -> None:
            if results:
                batch = results[:]
                results.clear()
                await self.store.write(deliveries_db.record_results, batch)

        async def flush_often() -> None:
            while not flushed.is_set():
                await asyncio.sleep(self.tuning.flush_every)
                await flush()

        flusher = asyncio.create_task(flush_often())
        try:
            await asyncio.gather(produce(), *(work() for _ in range(self.tuning.workers)))
        finally:
            flushed.set()
            await flusher
            await flush()

    async def _slot(self, platform: str) -> float | None:
        """Wait out a platform's 429 pause, then take a slot of its pace (None: no pace)."""
        pause = self._paused_until.get(platform, 0.0) - time.monotonic()
        if pause > 0:
            await asyncio.sleep(pause)
        pacer = self.messengers[platform].pacer
        return pacer.reserve() if pacer is not None else None

    async def _deliver(
        self, prepared: Prepared, platform: str, recipient: Recipient
    ) -> tuple[str, str | None] | None:
        """Claim, send at the slot (retrying what is safe to retry), say how it ended."""
        messenger = self.messengers[platform]
        kind = ChatKind(recipient.kind)
        not_ready: DeliveryError | None = None
        try:
            await messenger.prepare(recipient.address, kind)
        except DeliveryError as exc:
            not_ready = exc
        slot = await self._slot(platform)
        if slot is not None:
            await until(slot - CLAIM_LEAD)  # claim just before the slot: few in limbo
        if not await self.store.write(deliveries_db.claim, recipient.delivery_id):
            return None  # erased meanwhile, or someone else has it
        if not_ready is not None:
            return _ended_before_sending(not_ready)
        message = self._message(prepared, recipient.delivery_id)
        pacer = messenger.pacer
        attempt = 0
        while True:
            attempt += 1
            if slot is not None and pacer is not None:
                await until(slot)
                await pacer.admit()
            try:
                await messenger.send(recipient.address, kind, message)
                return ("sent", None)
            except RecipientGone as exc:
                return ("gone", str(exc)[:200])
            except OutcomeUnknown as exc:
                return ("unknown", str(exc)[:200])
            except Refused as exc:
                log.error("delivery %d refused: %s", recipient.delivery_id, str(exc)[:200])
                return ("failed", str(exc)[:200])
            except RateLimited as exc:
                self._paused_until[platform] = time.monotonic() + exc.retry_after
                if attempt >= self.tuning.max_attempts * 2:
                    return ("failed", "rate limited too often")
                slot = await self._slot(platform)
            except TransientFailure as exc:
                if attempt >= self.tuning.max_attempts or self._stopping:
                    return ("failed", str(exc)[:200])
                delay = min(self.tuning.backoff_cap, self.tuning.backoff_base * 2 ** (attempt - 1))
                await asyncio.sleep(delay * random.uniform(0.5, 1.0))
                slot = await self._slot(platform)
            except Exception:
                log.exception("unexpected error sending delivery %d", recipient.delivery_id)
                return ("failed", "unexpected error")

    async def resume(self) -> None:
        """At start-up: carry on with every send a crash or a stop interrupted."""
        for prompt in await self.store.read(prompts_db.sending):
            self.start(prompt.id)

    async def stop(self, grace: float = 4.0) -> None:
        """Stop taking deliveries; wait a little for those in flight."""
        self._stopping = True
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


def _ended_before_sending(error: DeliveryError) -> tuple[str, str | None]:
    """How a delivery ends when getting ready to send failed (nothing was sent)."""
    state = "gone" if isinstance(error, RecipientGone) else "failed"
    return (state, str(error)[:200])


def grace_passed(prompt: PromptRow, grace_hours: float, now: str) -> bool:
    """Is a due prompt too late to send?"""
    late = from_text(now) - from_text(prompt.scheduled_at)
    return late > timedelta(hours=grace_hours)
