"""The delivery engine: a prompt's deliveries go out once each, at the platform's pace.

A prompt's deliveries are created in one transaction (a journey step's are added
as supporters reach it: `campaigns.journeys`). Then, per platform, a
producer pages through the pending ones that are due and a pool of workers sends
them: each worker waits for the platform's pace, claims the delivery (pending →
sending, committed before the request leaves), sends, and queues the result;
results are committed in batches every 50 ms. With a pace, the pool grows to what
its rate needs (rate × the time a send takes, with room to spare: 1,000 a second
50 ms away needs about 80 workers, not the 32 to start with). A delivery that is
sent or unknown
is never sent again, so a crash leaves as 'unknown' only the requests that were
out and the results of the last few milliseconds.

A delivery is 'sending' only while its request is out. When nothing was sent (a
5xx, a refused connection, a 429), it goes back to 'pending' with a time before
which it is not tried again, committed before anyone waits; it is 'failed' only
after several such tries while the platform otherwise works. When every request
to a platform fails (an outage), the platform's sends pause: one probe at a time,
further and further apart, until one goes through; tries during an outage don't
count, so an outage makes nothing 'failed'. A platform whose adapter is not
online (still connecting) sends nothing meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import random
import sqlite3
from collections import Counter
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from typing import Any, TypeVar

from sqlite_utils import Database

from campaigns import ask_languages, impact, journeys, languages, variants, versions
from campaigns.catalog import Catalog
from campaigns.compose import ask_message
from campaigns.dialogue import Context
from campaigns.messenger import (
    DeliveryError,
    LinkMaker,
    Messenger,
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    TransientFailure,
)
from campaigns.model import Message
from campaigns.pacing import until
from campaigns.packs import Campaign
from db import deliveries as deliveries_db
from db import prompts as prompts_db
from db.catalog import AskRow
from db.deliveries import Recipient
from db.prompts import PromptRow
from db.states import JOURNEY_KINDS, DeliveryState, PromptKind, PromptState
from db.store import StorageError, Store
from db.times import from_text, now_text, to_text, utcnow

log = logging.getLogger(__name__)

T = TypeVar("T")

OUTAGE_AFTER = 5  # deliveries failing in a row, none succeeding between: an outage
RESCAN = 0.2  # seconds: the shortest wait between looks for deliveries to try again
WORKER_HEADROOM = 1.5  # workers for a pace: busy ones, and half as many waiting for a slot


@dataclass(frozen=True, slots=True)
class Prepared:
    prompt: PromptRow
    ask: AskRow
    created: int
    to_send: int  # pending, including those created before a restart
    unknown_after_crash: int  # made unknown by this start
    unknown_total: int  # unknown in all, as the database holds them
    last_week: int | None = None  # how many did the campaign's previous ask, when shown


def prepare(
    db: Database, prompt_id: int, platforms: list[str], catalog: Catalog | None = None
) -> Prepared | None:
    """Start a prompt (if it is due and nobody else has) and create its deliveries.

    Deliveries left 'sending' by a crash become 'unknown': they may have arrived.
    With the `catalog`, a weekly ask whose pack shows the count reads it here, once.
    """
    prompt = prompts_db.get(db, prompt_id)
    if prompt is None or prompt.state not in (PromptState.SCHEDULED, PromptState.SENDING):
        return None
    if prompt.state == PromptState.SCHEDULED and not prompts_db.start_sending(db, prompt_id):
        return None
    # Started before a publish: still the version it began with (`prompts.ask_version`).
    ask = versions.ask_for_prompt(db, prompt)
    if ask is None:
        prompts_db.set_state(db, prompt_id, PromptState.CANCELLED)
        return None
    now = now_text()
    if prompt.kind in JOURNEY_KINDS:  # its deliveries are added as supporters reach the step
        created = 0
    elif prompt.kind == PromptKind.REMINDER and prompt.parent_id:
        created = deliveries_db.create_for_reminder(db, prompt.id, prompt.parent_id, platforms, now)
    else:
        params = deliveries_db.audience_params(
            now=now,
            campaign=prompt.campaign,
            platforms=platforms,
            platform=prompt.platform,
            source=prompt.source,
            topic=ask.topic,
        )
        created = deliveries_db.create_for_prompt(db, prompt.id, params)
    variants.assign(db, prompt, ask)  # a wording experiment: each one's wording, recorded
    unknown = deliveries_db.sending_to_unknown(db, prompt.id)
    deliveries_db.orphans_to_gone(db, prompt.id)
    refreshed = prompts_db.get(db, prompt_id)
    assert refreshed is not None
    counts = deliveries_db.state_counts(db, prompt.id)
    return Prepared(
        refreshed,
        ask,
        created,
        counts.get(DeliveryState.PENDING, 0),
        unknown,
        counts.get(DeliveryState.UNKNOWN, 0),
        impact.last_week(db, catalog, refreshed) if catalog is not None else None,
    )


def finish_if_done(db: Database, prompt_id: int) -> bool:
    """sending → sent once no delivery is pending or in flight."""
    counts = deliveries_db.state_counts(db, prompt_id)
    if counts.get(DeliveryState.PENDING, 0) or counts.get(DeliveryState.SENDING, 0):
        return False
    prompt = prompts_db.get(db, prompt_id)
    if prompt is None or prompt.state != PromptState.SENDING:
        return False  # cancelled meanwhile: it stays so
    prompts_db.set_state(db, prompt_id, PromptState.SENT)
    return True


@dataclass(frozen=True)
class Tuning:
    """How hard the engine pushes; the defaults suit Telegram and Discord."""

    # Workers sending at once: at least `workers`; with a pace, as many as its rate
    # times the time a send takes needs (1,000 a second at 50 ms: about 80), up to
    # `max_workers`: no more than an adapter's connections (Telegram's: 256), or a
    # claimed delivery would wait for one.
    workers: int = 32
    max_workers: int = 256
    page: int = 500
    # A delivery failing alone (the rest go through) is given up after about a minute.
    max_attempts: int = 6  # counted tries before a delivery is 'failed'
    backoff_base: float = 2.0  # a delivery's wait after its first failed try (doubling)
    backoff_cap: float = 60.0
    # During an outage one request a second probes the platform: a probe costs one
    # request, and a longer wait would idle the send after the platform is back.
    probe_first: float = 0.5
    probe_cap: float = 1.0
    flush_every: float = 0.05  # finished results are committed at least this often
    flush_size: int = 200
    storage_retry: float = 1.0  # wait before writing again when the database refused


@dataclass
class PlatformState:
    """What the engine knows of one platform just now. Every change wakes the waiters."""

    name: str
    online: bool = True
    paused_until: float = 0.0  # a 429's pause (event-loop time)
    failing: set[int] = field(default_factory=set)  # deliveries failed since the last answer
    down_since: float | None = None  # an outage, since (event-loop time)
    probe_at: float = 0.0
    probe_delay: float = 0.0
    probing: bool = False
    changed: asyncio.Event = field(default_factory=asyncio.Event)
    counts: Counter[str] = field(default_factory=Counter)  # see DeliveryEngine.counts
    send_time: float = 0.0  # seconds from claim to answer, recent sends weighted most

    def notify(self) -> None:
        changed, self.changed = self.changed, asyncio.Event()
        changed.set()

    def took(self, seconds: float) -> None:
        """A send went through in `seconds`, from its claim to the platform's answer."""
        self.send_time += (seconds - self.send_time) * (0.1 if self.send_time else 1.0)

    def workers_for(self, rate: float, tuning: Tuning) -> int:
        """Workers enough to keep a pace of `rate` a second: each is busy for about
        `send_time` per delivery, and half as many again wait for their slots."""
        wanted = math.ceil(rate * self.send_time * WORKER_HEADROOM) + 2
        return max(tuning.workers, min(tuning.max_workers, wanted))


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
        self.platforms = {name: PlatformState(name) for name in self.messengers}
        self._running: dict[int, asyncio.Task[None]] = {}
        self._composed: dict[int, Message] = {}
        self._stopping = False

    @property
    def running(self) -> list[int]:
        return sorted(self._running)

    def counts(self) -> dict[str, dict[str, int]]:
        """What the engine did since it started, per platform, as plain numbers (read by
        the dashboard's /metrics): deliveries that ended 'sent', 'gone', 'failed' or
        'unknown'; 'retried', those put back to be tried again (nothing was sent); and
        of those, 'rate_limited', the platform's 429s."""
        return {name: dict(state.counts) for name, state in self.platforms.items()}

    def set_online(self, platform: str, online: bool) -> None:
        """An adapter came online, or went away: a platform that is not online keeps its
        deliveries pending and sends nothing."""
        state = self.platforms[platform]
        state.online = online
        state.notify()

    def start(self, prompt_id: int) -> asyncio.Task[None]:
        """Send a prompt in the background (once, however often it is asked)."""
        task = self._running.get(prompt_id)
        if task is None or task.done():
            task = asyncio.create_task(self.send_prompt(prompt_id), name=f"prompt-{prompt_id}")
            self._running[prompt_id] = task
            task.add_done_callback(lambda _: self._running.pop(prompt_id, None))
        return task

    def restart(self, prompt_id: int) -> None:
        """Send a prompt that got new deliveries (a journey step): at once or, if a send
        of it is under way (which may have looked for the last time already), again as
        soon as that ends."""
        task = self._running.get(prompt_id)
        if task is None or task.done():
            self.start(prompt_id)
        elif not self._stopping:
            task.add_done_callback(lambda _: None if self._stopping else self.start(prompt_id))

    async def send_prompt(self, prompt_id: int) -> None:
        """Create the prompt's deliveries and send them all."""
        if self._stopping:
            return
        prepared = await self._write(prepare, prompt_id, sorted(self.messengers), self.ctx.catalog)
        if prepared is None:
            return
        crash = ""
        if prepared.unknown_after_crash:
            crash = (
                f"; {prepared.unknown_after_crash} in flight when the process stopped are "
                f"now unknown ({prepared.unknown_total} unknown in all)"
            )
        log.info(
            "sending prompt %d (%s/%s): %d new deliveries, %d to send%s",
            prompt_id,
            prepared.prompt.campaign,
            prepared.ask.id,
            prepared.created,
            prepared.to_send,
            crash,
        )
        await asyncio.gather(
            *(self._drain(prepared, platform) for platform in sorted(self.messengers))
        )
        self._composed.pop(prompt_id, None)
        # Also when stopping: a send whose last result was recorded just before the stop
        # is finished (with anything left to send, it stays 'sending' and is resumed).
        with contextlib.suppress(StorageError):
            if await self._write(finish_if_done, prompt_id):
                log.info("prompt %d sent", prompt_id)

    def _message(
        self,
        prepared: Prepared,
        delivery_id: int,
        variant: str | None = None,
        language: str | None = None,
    ) -> Message:
        """The ask as this delivery sends it (the same for all, unless links are tracked
        or the delivery carries a wording under test: `campaigns.variants`, or goes to a
        supporter in another language: `campaigns.ask_languages`)."""
        if languages.foreign(language):
            with languages.speaking(language):
                localised = replace(prepared, ask=ask_languages.localise(prepared.ask))
                return self._compose(localised, delivery_id, variant)
        if variant is not None:
            return self._compose(prepared, delivery_id, variant)
        if self.link_for is None:
            cached = self._composed.get(prepared.prompt.id)
            if cached is None:
                cached = self._compose(prepared, delivery_id)
                self._composed[prepared.prompt.id] = cached
            return cached
        return self._compose(prepared, delivery_id)

    def _compose(self, prepared: Prepared, delivery_id: int, variant: str | None = None) -> Message:
        prompt, ask = prepared.prompt, prepared.ask
        reminder = prompt.kind == PromptKind.REMINDER
        return ask_message(
            self.ctx.ids,
            ask,
            prompt,
            link_url=self.link_for(delivery_id, ask) if self.link_for else None,
            reminder=reminder,
            note=(ask.reminder or "") if reminder else "",
            last_week=prepared.last_week,
            variant=variant,
            campaign=self._campaign(ask.campaign),
        )

    def _campaign(self, slug: str) -> Campaign | None:
        """The ask's campaign as the running catalog has it (its name in other languages)."""
        pack = self.ctx.catalog.packs.get(slug)
        return pack.campaign if pack is not None else None

    async def _step_message(
        self, prepared: Prepared, delivery_id: int, language: str | None = None
    ) -> Message | None:
        """A journey step's message: composed once for all, or, for a step that carries
        each supporter's own invite link or goes in another language, for this delivery
        (the code may be made now)."""
        prompt, ask = prepared.prompt, prepared.ask
        if languages.foreign(language):
            step = languages.spoken(language, journeys.step_message)
            run = self._write if journeys.personal(prompt, ask) else self._read
            return await run(step, self.ctx, prompt, ask, delivery_id)
        if journeys.personal(prompt, ask):
            return await self._write(journeys.step_message, self.ctx, prompt, ask, delivery_id)
        cached = self._composed.get(prompt.id)
        if cached is None:
            found = await self._read(journeys.step_message, self.ctx, prompt, ask, delivery_id)
            if found is None:
                return None
            cached = self._composed[prompt.id] = found
        return cached

    # --- one platform's share of a send ---------------------------------------------

    async def _drain(self, prepared: Prepared, platform: str) -> None:
        """Send every pending delivery of the prompt on one platform, retries included,
        until none is left (sent, given up, or cancelled).

        The first pass pages through every pending delivery, picking up those put back
        to be tried again between pages; after it, only those are looked for, when the
        first of them is due, and at most every `RESCAN` seconds (a rescan after every
        send cost enough CPU to bunch the requests up and draw 429s)."""
        prompt_id = prepared.prompt.id
        queue: asyncio.Queue[Recipient | None] = asyncio.Queue(maxsize=self.tuning.workers * 2)
        queued: set[int] = set()  # in the queue, with a worker, or in `again`
        again: list[Recipient] = []  # the database refused their claim: queue them again
        idle = asyncio.Event()  # nothing queued or with a worker
        results: list[tuple[int, DeliveryState, str | None]] = []
        flushed = asyncio.Event()
        state = self.platforms[platform]
        pacer = self.messengers[platform].pacer
        added: list[asyncio.Task[None]] = []  # workers beyond `tuning.workers`
        closing = False  # the producer is done: no more workers

        def grow() -> None:
            """More workers, if the pace needs them (see `PlatformState.workers_for`)."""
            if pacer is None or closing:
                return
            wanted = state.workers_for(pacer.rate, self.tuning) - self.tuning.workers
            while len(added) < wanted:
                added.append(asyncio.create_task(work()))

        async def one_pass(retries_only: bool) -> None:
            after = 0
            while not self._stopping:
                if not retries_only and after:
                    await one_pass(retries_only=True)  # those due again, between pages
                batch = await self._read(
                    deliveries_db.pending_batch,
                    prompt_id,
                    platform,
                    after,
                    self.tuning.page,
                    now_text(),
                    retries_only=retries_only,
                )
                if not batch:
                    break
                after = batch[-1].delivery_id
                for recipient in batch:
                    if recipient.delivery_id not in queued:
                        queued.add(recipient.delivery_id)
                        idle.clear()
                        await queue.put(recipient)

        async def produce() -> None:
            nonlocal closing
            retries_only = False
            try:
                while not self._stopping:
                    await one_pass(retries_only)
                    retries_only = True
                    while again:
                        await queue.put(again.pop(0))
                    # Looked at before reading: a worker may put one back meanwhile.
                    was_idle = not queued
                    waiting = await self._read(deliveries_db.waiting, prompt_id, platform)
                    if was_idle and not waiting.count:
                        break
                    pause = 1.0
                    if waiting.first_due is not None:
                        due_in = (from_text(waiting.first_due) - utcnow()).total_seconds()
                        pause = min(pause, max(due_in, RESCAN))
                    if was_idle:
                        pause = max(pause, RESCAN)  # nothing will set `idle`: don't spin
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(idle.wait(), pause)
                    if idle.is_set():
                        await asyncio.sleep(0.01)  # let a put-back commit settle
            finally:
                closing = True
                for _ in range(self.tuning.workers + len(added)):
                    await queue.put(None)

        async def work() -> None:
            while (recipient := await queue.get()) is not None:
                try:
                    if self._stopping:
                        continue
                    outcome = await self._deliver(prepared, platform, recipient)
                    if outcome is not None:
                        results.append((recipient.delivery_id, *outcome))
                        grow()
                        if len(results) >= self.tuning.flush_size:
                            await flush()
                except _ClaimRefused:
                    again.append(recipient)
                    continue  # still ours: stays in `queued`
                except Exception:
                    log.exception("unexpected error sending delivery %d", recipient.delivery_id)
                queued.discard(recipient.delivery_id)
                if not queued:
                    idle.set()

        async def flush() -> None:
            while results:
                batch = results[:]
                results.clear()
                try:
                    await self.store.write(deliveries_db.record_results, batch)
                except StorageError as exc:
                    results[:0] = batch  # kept, in order, for the next try
                    log.error(
                        "can't record %d delivery results yet (%s); trying again",
                        len(batch),
                        exc,
                    )
                    if self._stopping:
                        return
                    await asyncio.sleep(self.tuning.storage_retry)

        async def flush_often() -> None:
            while not flushed.is_set():
                await asyncio.sleep(self.tuning.flush_every)
                await flush()

        flusher = asyncio.create_task(flush_often())
        grow()  # as the last send on this platform found the pace needs
        try:
            await asyncio.gather(produce(), *(work() for _ in range(self.tuning.workers)))
        except asyncio.CancelledError:
            for task in added:
                task.cancel()
            raise
        finally:
            await asyncio.gather(*added, return_exceptions=True)  # each got its None
            flushed.set()
            await flusher
            await flush()

    # --- one delivery ---------------------------------------------------------------

    async def _gate(self, state: PlatformState) -> bool:
        """Wait until the platform may be sent to: online, past a 429's pause, and not
        in an outage, unless this caller is the one probe. True if it is the probe."""
        loop = asyncio.get_running_loop()
        while not self._stopping:
            now = loop.time()
            wait: float | None = None
            if not state.online:
                wait = None
            elif state.paused_until > now:
                wait = state.paused_until - now
            elif state.down_since is None:
                return False
            elif not state.probing and now >= state.probe_at:
                state.probing = True
                return True
            elif not state.probing:
                wait = state.probe_at - now
            changed = state.changed
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), wait)
        return False

    async def _deliver(
        self, prepared: Prepared, platform: str, recipient: Recipient
    ) -> tuple[DeliveryState, str | None] | None:
        """Get ready, claim, send at the slot; say how it ended (None: no result to
        record, because it was recorded already, will be tried again, or isn't ours)."""
        state = self.platforms[platform]
        while True:
            probe = await self._gate(state)
            try:
                if self._stopping:
                    return None
                outcome = await self._try(prepared, state, recipient, probe)
                if outcome is not None:
                    state.counts[outcome[0].value] += 1
                return outcome
            except _HeldBack:
                continue  # the platform paused while it waited for its slot: wait again
            finally:
                if probe:
                    state.probing = False
                    state.notify()

    async def _try(
        self, prepared: Prepared, state: PlatformState, recipient: Recipient, probe: bool
    ) -> tuple[DeliveryState, str | None] | None:
        step: Message | None = None
        if prepared.prompt.kind in JOURNEY_KINDS:
            step = await self._step_message(prepared, recipient.delivery_id, recipient.language)
            if step is None:  # the pack no longer has this step: nothing to send
                claimed = await self._claim(recipient)
                return (DeliveryState.CANCELLED, "no longer in the pack") if claimed else None
        messenger = self.messengers[state.name]
        kind = recipient.kind
        try:
            await messenger.prepare(recipient.address, kind)
        except RecipientGone as exc:
            self._answered(state)
            return (DeliveryState.GONE, str(exc)[:200]) if await self._claim(recipient) else None
        except Refused as exc:
            self._answered(state)
            return (DeliveryState.FAILED, str(exc)[:200]) if await self._claim(recipient) else None
        except DeliveryError as exc:  # nothing the recipient can see has happened
            await self._not_sent(state, recipient, exc)
            return None
        pacer = messenger.pacer
        if pacer is not None:
            await until(pacer.reserve())
            if not probe and self._held_back(state):
                # A 429 or an outage came while this one waited for its slot: sending
                # now would only draw another (slots were taken up to a second ahead).
                raise _HeldBack
        claimed_at = asyncio.get_running_loop().time()
        if not await self._claim(recipient):
            return None  # cancelled or erased meanwhile, or someone else has it
        if pacer is not None:
            # After the claim, right before the request: a claim held up by the database
            # must not leave together with the next ones (at 1,000 a second, admitting
            # first let 1,043 leave within a second). Nothing may be awaited between the
            # admission and the send: the pace counts the request from the event loop's
            # next turn, when aiohttp writes it, or from when its answer shows it left
            # (see campaigns.pacing).
            ticket = await pacer.admit()
            if not probe and self._held_back(state):
                # A 429 came back while this one was being claimed: it waits too (back to
                # 'pending' until the pause ends, the try not counted), or it would reach
                # the platform after the bot knew to wait.
                await self._put_back(state, recipient)
                return None
        message = step or self._message(
            prepared, recipient.delivery_id, recipient.variant, recipient.language
        )
        request = messenger.send(recipient.address, kind, message)
        try:
            await (request if pacer is None else pacer.sent(ticket, request))
        except RecipientGone as exc:
            self._answered(state)
            return (DeliveryState.GONE, str(exc)[:200])
        except OutcomeUnknown as exc:
            return (DeliveryState.UNKNOWN, str(exc)[:200])
        except Refused as exc:
            self._answered(state)
            log.error("delivery %d refused: %s", recipient.delivery_id, str(exc)[:200])
            return (DeliveryState.FAILED, str(exc)[:200])
        except (RateLimited, TransientFailure) as exc:
            await self._not_sent(state, recipient, exc)
            return None
        self._answered(state)
        state.took(asyncio.get_running_loop().time() - claimed_at)
        return (DeliveryState.SENT, None)

    async def _put_back(self, state: PlatformState, recipient: Recipient) -> None:
        """A claimed delivery that must not go now: pending again until the pause ends
        (committed before anyone waits), its try not counted."""
        loop_wait = max(0.0, state.paused_until - asyncio.get_running_loop().time())
        await self._write(
            deliveries_db.retry_later,
            recipient.delivery_id,
            not_before=to_text(utcnow() + timedelta(seconds=loop_wait)),
            error="held back: the platform asked to wait",
            counted=False,
            max_attempts=self.tuning.max_attempts,
        )
        state.counts["retried"] += 1

    def _held_back(self, state: PlatformState) -> bool:
        loop_time = asyncio.get_running_loop().time()
        return not state.online or state.paused_until > loop_time or state.down_since is not None

    async def _claim(self, recipient: Recipient) -> bool:
        """pending → sending, committed. False if it isn't ours to send; `_ClaimRefused`
        if the database refused the write (it stays pending and is queued again)."""
        try:
            return await self.store.write(deliveries_db.claim, recipient.delivery_id)
        except StorageError as exc:
            log.error("can't claim delivery %d (%s); trying it later", recipient.delivery_id, exc)
            await asyncio.sleep(self.tuning.storage_retry)
            raise _ClaimRefused from exc

    async def _not_sent(self, state: PlatformState, recipient: Recipient, exc: Exception) -> None:
        """Nothing was sent: back to pending until a later time (committed before anyone
        waits), or 'failed' after too many counted tries."""
        loop = asyncio.get_running_loop()
        delay = 0.0
        counted = True
        if isinstance(exc, RateLimited):
            state.paused_until = max(state.paused_until, loop.time() + exc.retry_after)
            state.notify()
            state.counts["rate_limited"] += 1
            delay, counted = exc.retry_after, False
        else:
            self._failed(state, recipient.delivery_id, exc)
            counted = state.down_since is None
            if counted:
                tries = recipient.attempts + 1
                delay = min(self.tuning.backoff_cap, self.tuning.backoff_base * 2 ** (tries - 1))
                delay *= random.uniform(0.5, 1.0)
        not_before = to_text(utcnow() + timedelta(seconds=delay))
        ended = await self._write(
            deliveries_db.retry_later,
            recipient.delivery_id,
            not_before=not_before,
            error=str(exc) or exc.__class__.__name__,
            counted=counted,
            max_attempts=self.tuning.max_attempts,
        )
        if ended is not None:
            state.counts["failed" if ended == DeliveryState.FAILED else "retried"] += 1
        if ended == DeliveryState.FAILED:
            log.error(
                "%s delivery %d failed after %d tries: %s",
                state.name,
                recipient.delivery_id,
                self.tuning.max_attempts,
                str(exc)[:200],
            )

    def _answered(self, state: PlatformState) -> None:
        """The platform answered (whatever it said): not an outage."""
        state.failing.clear()
        if state.down_since is not None:
            took = asyncio.get_running_loop().time() - state.down_since
            log.warning("%s: answering again after %.0fs; sends resume", state.name, took)
            state.down_since = None
            state.notify()

    def _failed(self, state: PlatformState, delivery_id: int, exc: Exception) -> None:
        """A request failed without an answer worth the name. Several deliveries failing
        with none going through between is an outage, which pauses the platform's sends,
        probing further and further apart. (One delivery failing again and again is not.)"""
        state.failing.add(delivery_id)
        now = asyncio.get_running_loop().time()
        if state.down_since is None:
            if len(state.failing) < OUTAGE_AFTER:
                return
            state.down_since = now
            state.probe_delay = self.tuning.probe_first
            log.warning(
                "%s: %d deliveries in a row failed (last: %s); sends pause and resume when it "
                "answers again, nothing is given up meanwhile",
                state.name,
                len(state.failing),
                str(exc)[:200],
            )
        else:
            state.probe_delay = min(self.tuning.probe_cap, state.probe_delay * 2)
        state.probe_at = now + state.probe_delay
        state.notify()

    # --- the database, waiting out its faults ----------------------------------------

    async def _write(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A write that must happen: when the database refuses (full, locked), try again
        until it takes or the engine stops (then the error goes up)."""
        while True:
            try:
                return await self.store.write(fn, *args, **kwargs)
            except StorageError as exc:
                if self._stopping:
                    raise
                log.error("database write refused (%s); trying again", exc)
                await asyncio.sleep(self.tuning.storage_retry)

    async def _read(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        while True:
            try:
                return await self.store.read(fn, *args, **kwargs)
            except sqlite3.OperationalError as exc:
                if self._stopping:
                    raise
                log.error("database read refused (%s); trying again", exc)
                await asyncio.sleep(self.tuning.storage_retry)

    # --- start and stop -------------------------------------------------------------

    async def resume(self) -> None:
        """At start-up: carry on with every send a crash or a stop interrupted."""
        for prompt in await self.store.read(prompts_db.sending):
            self.start(prompt.id)

    async def stop(self, grace: float = 4.0) -> None:
        """Stop taking deliveries; wait a little for those in flight."""
        self._stopping = True
        for state in self.platforms.values():
            state.notify()
        tasks = list(self._running.values())
        if tasks:
            _, pending = await asyncio.wait(tasks, timeout=grace)
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)


class _HeldBack(Exception):
    """The platform paused while a delivery waited for its slot: back to the gate."""


class _ClaimRefused(Exception):
    """The database refused a claim: the delivery is still pending, and still ours."""


def cancel_send(db: Database, prompt_id: int) -> int | None:
    """An organiser stops a running send: the prompt is 'cancelled' and its pending
    deliveries too (how many is returned); requests in flight finish. None if the
    prompt is not sending. The running engine finds nothing more to send by itself.

    A journey step (a next step, a welcome message, a poll) is one prompt for as long
    as the pack has the step: stopping it cancels what is waiting now and leaves the
    step 'sent', so supporters who reach it later still get it. (Take the step out of
    the pack to end it.)"""
    cursor = db.execute(
        "UPDATE prompts SET state = CASE WHEN kind IN ('next', 'welcome', 'poll')"
        " THEN 'sent' ELSE 'cancelled' END, finished_at = ?"
        " WHERE id = ? AND state = 'sending'",
        [now_text(), prompt_id],
    )
    if cursor.rowcount != 1:
        return None
    return deliveries_db.cancel_pending(db, prompt_id)


def grace_passed(prompt: PromptRow, grace_hours: float, now: str) -> bool:
    """Is a due prompt too late to send?"""
    late = from_text(now) - from_text(prompt.scheduled_at)
    return late > timedelta(hours=grace_hours)
