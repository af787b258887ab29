"""FakeTelegram: a strict Bot API server on 127.0.0.1 for the real python-telegram-bot.

Point PTB at it with ``base_url=fake.base_url`` and ``base_file_url=fake.base_file_url``.
Every request is recorded (:attr:`FakeTelegram.requests`); refused ones also go to
:attr:`FakeTelegram.rejected` with Telegram's error text, so a test can assert that
nothing was refused. Requests are decoded from a query string, a urlencoded or
multipart form, or a JSON body, validated against the spec (:mod:`.spec`,
:mod:`.rules`), then answered by :mod:`.api` or, for ``getUpdates``, by real long
polling here; while a webhook is set, updates are POSTed to it instead
(:mod:`.webhooks`) and ``getUpdates`` is refused with 409, as on Telegram. Tests can
inject faults (429s, 5xx, hangs, whole-API outages, unimplemented methods, random
faults: :mod:`.faults`) and turn on Telegram's flood limits (:mod:`.limits`).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import json
import re
import time
import traceback
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from aiohttp import web

from . import arrival
from .api import BotApi
from .errors import (
    GATEWAY_ERRORS,
    ApiError,
    Json,
    bad_request,
    conflict,
    gateway_page,
    not_found,
    server_error,
    too_many_requests,
    unauthorized,
)
from .faults import (
    DROP_AFTER,
    HTTP_500,
    HTTP_502,
    OUTAGE,
    UNIMPLEMENTED,
    Dropped,
    Outage,
    QueuedFault,
    RandomFaults,
)
from .limits import RateLimiter
from .rules import RULES
from .spec import Spec, Upload, load_spec
from .webhooks import WEBHOOK_ACTIVE, WebhookDelivery, WebhookPost

T = TypeVar("T")
LONG_POLL_MAX = 50
TOKEN_SHAPE = re.compile(r"\d+:[A-Za-z0-9_-]+")  # the bot's id, a colon, then its secret
CONFLICT = "terminated by other getUpdates request; make sure that only one bot instance is running"
_JSON = "application/json"


@dataclass
class Call:
    """One request the fake received and how it answered.

    ``at`` and ``answered_at`` are ``time.monotonic()`` (one clock for every process on
    the machine, so a benchmark can compare them with the moment it killed the bot).
    A call ``dropped`` got no answer: its connection was closed, after the call took
    effect (``status`` 200: a message was delivered) or without it (``status`` 0).
    """

    method: str
    params: dict[str, Json]
    at: float  # when it arrived
    reached: float = 0.0  # when it counts against the flood limits: by the limiter's clock
    files: dict[str, Upload] = field(default_factory=dict)
    status: int = 0  # 0 while still being answered (or dropped before taking effect)
    description: str | None = None  # the error text, for refused calls
    result: Json = None
    answered_at: float | None = None  # None while in flight
    dropped: bool = False


class _ClientGone(Exception):
    """The client of a held request has disconnected."""


class FakeTelegram(BotApi):
    """A strict fake of api.telegram.org for one bot (``token``, ``@bot_username``).

    Lifecycle: ``start()`` / ``stop()`` or ``async with``; then ``base_url`` and
    ``base_file_url`` for PTB. ``latency`` delays every answer; ``limits`` turns on
    flood control.

    Script the world (:class:`.world.World`): ``private_chat``, ``group_chat``,
    ``user_sends``, ``user_sends_link``, ``user_sends_media``, ``user_forwards_story``,
    ``user_sends_paid_media``, ``user_sends_content``, ``user_edits``, ``user_presses``,
    ``user_blocks_bot`` / ``user_unblocks_bot``, ``user_deactivated``,
    ``bot_removed_from_group``, ``group_migrates_to_supergroup``, ``delete_chat``.
    What a user sends or edits is checked against the spec (``Mismatch`` if it could
    not exist). A token the fake doesn't know is refused as Telegram refuses it: 401
    if it is shaped like a token, 404 if not.

    Webhooks: ``setWebhook`` is checked as Telegram checks it (https, ports 80, 88, 443
    and 8443, no reserved addresses); ``allow_http_webhooks=True`` accepts http, any
    port and loopback, for a test serving its endpoint on localhost, and
    ``webhook_via(public, local)`` stands in for the https proxy in front of it. While
    a webhook is set each update is POSTed to it, in order, tried again with a growing
    wait (``webhook_retry``) until a 2xx; ``webhook_posts`` records every try and
    ``webhook`` the state getWebhookInfo reports (``last_error_message``...).

    Read what the bot did: ``requests`` / ``rejected`` / ``calls(method)``,
    ``sent_to(chat_id)``, ``deleted``, ``callback_answers``, ``commands`` /
    ``commands_for(scope)``, ``file_bytes`` / ``uploaded_json``, ``downloads``,
    ``too_many_requests`` and ``limiter.early_retries``; ``await wait_for(predicate)``.
    What arrived and what is still out (for benchmarks): ``arrivals(containing)`` counts
    the bot's messages per chat (delivered ones, including those whose connection was
    dropped after delivery; never refused ones), ``in_flight(method)`` /
    ``in_flight_at(moment, method)`` list calls received but not yet answered, and
    ``fault_counts`` counts the faults shown, by kind.

    Inject faults: ``fail_next``, ``fail_with_5xx``, ``hang_next`` (the next calls of a
    method); ``outage(seconds, status=500)`` / ``end_outage()`` (every request answered
    with that 5xx, or with ``status=0`` connections refused and open ones closed
    unanswered; a held long poll ends with it); ``unimplemented(method, status=404)`` /
    ``restore_method(method)`` (answered as a third-party emulator answers a method it
    lacks, before any validation); ``random_faults(rate_500=, rate_502=,
    rate_drop_after=, seed=)`` on ``sendMessage`` (``random_faults()`` turns them off).
    A fault answers before any state changes, except a drop *after* delivery.
    """

    def __init__(
        self,
        token: str = "123456:TEST-token",  # noqa: S107 - a fake token for a fake server
        *,
        bot_username: str = "campaign_test_bot",
        latency: float = 0.0,
        limits: bool = False,
        allow_http_webhooks: bool = False,
    ) -> None:
        super().__init__(token, bot_username, RateLimiter(enabled=limits))
        self.allow_http_webhooks = allow_http_webhooks
        self.webhooks = WebhookDelivery(self)
        self.spec: Spec = load_spec()
        self.latency = latency
        self.requests: list[Call] = []
        self.rejected: list[Call] = []
        self.too_many_requests = 0  # 429 answers sent, injected or from limits
        self.downloads: list[str] = []  # file paths fetched from base_file_url
        self.internal_errors: list[str] = []  # bugs in the fake itself
        self.fault_counts: Counter[str] = Counter()  # faults shown, by kind (see .faults)
        self._faults: dict[str, deque[QueuedFault]] = {}
        self._outage: Outage | None = None
        self._outage_timer: asyncio.TimerHandle | None = None
        self._outage_began = asyncio.Event()  # wakes a held long poll
        self._unimplemented: dict[str, int] = {}
        self._random: RandomFaults | None = None
        self._runner: web.AppRunner | None = None
        self._site: web.TCPSite | None = None
        self._site_lock = asyncio.Lock()
        self._site_tasks: set[asyncio.Task[None]] = set()
        self._port = 0
        self._changed = asyncio.Event()  # any change: wakes wait_for()
        self._new_update = asyncio.Event()  # a queued update: wakes the long poll
        self._closing = asyncio.Event()
        self._poller: asyncio.Future[str] | None = None  # its result: why it ends in a 409

    # --- lifecycle --------------------------------------------------------------------

    async def start(self) -> None:
        """Listen on 127.0.0.1 on a free port."""
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_route("GET", "/file/bot{token}/{path:.+}", self._download)
        self._runner = web.AppRunner(app, shutdown_timeout=1.0, access_log=None)
        await self._runner.setup()
        arrival.watch_connections(self._runner.server)
        self._site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await self._site.start()
        self._port = int(self._runner.addresses[0][1])
        self.webhooks.start()

    async def stop(self) -> None:
        """Stop listening; raise if the fake itself failed while answering."""
        self._closing.set()
        if self._outage_timer is not None:
            self._outage_timer.cancel()
        await self.settled()
        await self.webhooks.stop()
        if self._poller is not None and not self._poller.done():
            self._poller.cancel()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self.internal_errors:
            raise RuntimeError("the fake Telegram failed:\n" + "\n".join(self.internal_errors))

    async def __aenter__(self) -> FakeTelegram:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def base_url(self) -> str:
        """What PTB takes as base_url (it appends the token)."""
        return f"http://127.0.0.1:{self._port}/bot"

    @property
    def base_file_url(self) -> str:
        """What PTB takes as base_file_url."""
        return f"http://127.0.0.1:{self._port}/file/bot"

    # --- reading ----------------------------------------------------------------------

    def calls(self, method: str) -> list[Call]:
        """The recorded calls of one method (any spelling), oldest first."""
        name = self.spec.method_name(method) or method
        return [c for c in self.requests if c.method == name]

    def arrivals(self, containing: str = "") -> Counter[int]:
        """How many of the bot's messages each chat holds (with ``containing`` in their
        text or caption): what actually arrived, whatever the bot was answered."""
        found: Counter[int] = Counter()
        for (chat, _), message in self.messages.items():
            if message["from"]["id"] != self.bot_id:
                continue
            if containing in str(message.get("text", message.get("caption", ""))):
                found[chat] += 1
        return found

    def in_flight(self, method: str | None = None) -> list[Call]:
        """Calls received and not yet answered (of one method, if given), oldest first."""
        return self.in_flight_at(time.monotonic(), method)

    def in_flight_at(self, moment: float, method: str | None = None) -> list[Call]:
        """Calls that had arrived by ``moment`` (``time.monotonic()``) and were not yet
        answered then: what a client killed at that moment had out."""
        name = self.spec.method_name(method) or method if method else None
        return [
            c
            for c in self.requests
            if c.at <= moment
            and (c.answered_at is None or c.answered_at > moment)
            and (name is None or c.method == name)
        ]

    async def wait_for(self, predicate: Callable[[], T], timeout: float = 5.0) -> T:  # noqa: ASYNC109
        """Wait until ``predicate()`` is truthy (re-checked on every change); return it."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            remaining = deadline - loop.time()
            if remaining <= 0:
                recent = [(c.method, c.status, c.description) for c in self.requests[-5:]]
                raise TimeoutError(f"condition not met within {timeout}s; last calls: {recent}")
            self._changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._changed.wait(), min(remaining, 0.05))

    # --- webhooks ---------------------------------------------------------------------

    @property
    def webhook_posts(self) -> list[WebhookPost]:
        """Every POST of an update to the webhook, oldest first, with how it ended."""
        return self.webhooks.posts

    @property
    def webhook_retry(self) -> tuple[float, float]:
        """The wait after a failed POST, and its cap (it doubles on each failure)."""
        return self.webhooks.retry

    @webhook_retry.setter
    def webhook_retry(self, waits: tuple[float, float]) -> None:
        self.webhooks.retry = waits

    def webhook_via(self, public: str, local: str) -> None:
        """Stand in for the https proxy in front of the bot: updates for a webhook URL
        starting with ``public`` are POSTed to ``local`` plus the rest of the URL."""
        self.webhooks.via[public] = local
        self.webhooks.reset()

    # --- faults -----------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        *,
        status: int = 429,
        retry_after: int = 1,
        description: str | None = None,
        times: int = 1,
    ) -> None:
        """Answer the next ``times`` valid calls of ``method`` with an error.

        429 carries ``retry_after`` (and holds the method for that long, see
        :mod:`.limits`); 5xx get the gateway's texts (502 and 504 as nginx's HTML
        page, as Telegram's gateway sends them); other statuses take
        ``description`` (give Telegram's wording) or get a generic one.
        """
        if status == 429:
            error = too_many_requests(retry_after)
        elif status >= 500:
            error = server_error(status)
        else:
            error = ApiError(status, description or f"Bad Request: injected failure {status}")
        for _ in range(times):
            self._queue_fault(method, QueuedFault(error=error))

    def fail_with_5xx(self, method: str, times: int = 1, status: int = 500) -> None:
        """Answer the next ``times`` valid calls of ``method`` with a server error."""
        self.fail_next(method, status=status, times=times)

    def hang_next(
        self, method: str, seconds: float, *, times: int = 1, takes_effect: bool = True
    ) -> None:
        """Hold the next ``times`` valid calls of ``method`` for ``seconds`` (to time clients out).

        With ``takes_effect`` the call is then carried out as usual, as a real request
        that timed out on the client may still have been delivered; without it the
        call is dropped and answered 502.
        """
        for _ in range(times):
            self._queue_fault(method, QueuedFault(hang=seconds, takes_effect=takes_effect))

    def _queue_fault(self, method: str, fault: QueuedFault) -> None:
        self._faults.setdefault(self._method_name(method), deque()).append(fault)

    def _method_name(self, method: str) -> str:
        name = self.spec.method_name(method)
        if name is None:
            raise ValueError(f"{method!r} is not a Bot API method")
        return name

    def outage(self, seconds: float | None = None, *, status: int = 500) -> None:
        """The whole Bot API down for ``seconds`` (None: until ``end_outage()``).

        Every request is answered with ``status`` (500 and 503 as JSON, 502 and 504 as
        nginx's page), before its token or method is even looked at. ``status=0``: no
        answer at all: the port stops listening (connections refused) and requests on
        connections already open are dropped unanswered.
        """
        if status != 0 and not 500 <= status < 600:
            raise ValueError("an outage answers with a 5xx, or 0 for no connection")
        self.end_outage()
        loop = asyncio.get_running_loop()
        until = None if seconds is None else time.monotonic() + seconds
        self._outage = Outage(status, until)
        if seconds is not None:
            self._outage_timer = loop.call_later(seconds, self.end_outage)
        if status == 0:
            self._listen(False)
        self._outage_began.set()
        self._notify()

    def end_outage(self) -> None:
        """The Bot API answers again (after ``status=0``, once :meth:`settled`)."""
        if self._outage_timer is not None:
            self._outage_timer.cancel()
            self._outage_timer = None
        if self._outage is not None and self._outage.status == 0:
            self._listen(True)
        self._outage = None
        self._outage_began.clear()
        self.webhooks.wake()
        self._notify()

    @property
    def in_outage(self) -> bool:
        return self._outage is not None

    async def settled(self) -> None:
        """Wait until the port listens, or not, as the outage says."""
        while self._site_tasks:
            await asyncio.gather(*self._site_tasks)

    def _listen(self, on: bool) -> None:
        task = asyncio.ensure_future(self._set_listening(on))
        self._site_tasks.add(task)
        task.add_done_callback(self._site_tasks.discard)

    async def _set_listening(self, on: bool) -> None:
        async with self._site_lock:
            if self._runner is None or self._closing.is_set():
                return
            if on and self._site is None:
                self._site = web.TCPSite(self._runner, "127.0.0.1", self._port)
                await self._site.start()
            elif not on and self._site is not None:
                site, self._site = self._site, None
                await site.stop()

    def unimplemented(self, method: str, *, status: int = 404) -> None:
        """Answer ``method`` as a Bot API server that lacks it: 404 "Not Found" (what
        api.telegram.org answers for a method it doesn't know), or another status (a
        5xx, as some emulators answer), until :meth:`restore_method`."""
        self._unimplemented[self._method_name(method)] = status

    def restore_method(self, method: str) -> None:
        """Undo :meth:`unimplemented`."""
        self._unimplemented.pop(self._method_name(method), None)

    def random_faults(
        self,
        *,
        rate_500: float = 0.0,
        rate_502: float = 0.0,
        rate_drop_after: float = 0.0,
        seed: int | None = None,
        methods: tuple[str, ...] = ("sendMessage",),
    ) -> None:
        """Faults at random on ``methods``: a 500, nginx's 502 page (neither sends
        anything), or the call carried out and its connection then closed without an
        answer. Reproducible with ``seed``; all rates 0 turns them off."""
        rates = (rate_500, rate_502, rate_drop_after)
        names = frozenset(self._method_name(m) for m in methods)
        self._random = (
            RandomFaults(rate_500, rate_502, rate_drop_after, names, seed) if any(rates) else None
        )

    # --- HTTP -------------------------------------------------------------------------

    def _notify(self) -> None:
        self._changed.set()

    def _check_message(self, message: dict[str, Json]) -> None:
        self.spec.check_object("Message", message)

    def _push(self, kind: str, payload: dict[str, Json]) -> dict[str, Json]:
        update = super()._push(kind, payload)
        self._new_update.set()
        self.webhooks.wake()
        return update

    def _webhook_changed(self) -> None:
        self.webhooks.reset()
        if self.webhook is not None and self._poller is not None and not self._poller.done():
            self._poller.set_result(WEBHOOK_ACTIVE)  # the held long poll ends with a 409

    async def _pause(self, seconds: float) -> None:
        """Sleep, but wake up when the fake is stopping."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    async def _handle(self, request: web.Request) -> web.Response:
        # When it reached the fake: the kernel's time where known (see .arrival), not
        # when this busy loop got round to it; counted from there plus the latency.
        arrival.watch(request.transport)
        at = arrival.arrived(request.transport) or time.monotonic()
        call = Call(request.match_info["method"], {}, at)
        monotonic = self.limiter.clock is time.monotonic
        arrived = call.at if monotonic else self.limiter.clock()
        reached = call.reached = arrived + self.latency  # see .limits: counted from here
        self.requests.append(call)
        try:
            if self.latency:
                await self._pause(reached - self.limiter.clock() if monotonic else self.latency)
            self._check_outage()
            token = request.match_info["token"]
            if token != self.token:
                raise unauthorized() if TOKEN_SHAPE.fullmatch(token) else not_found()
            method = self.spec.method_name(call.method)
            if method is None:
                raise not_found()
            call.method = method
            self._check_implemented(method)
            raw, call.files = await _read(request)
            call.params = dict(raw)
            call.params = self.spec.parse_params(method, raw, call.files, RULES)
            await self._inject(method)
            fault = self._random_fault(method)
            if method == "getUpdates":
                result = await self._get_updates(call.params, request)
            else:
                result = self.dispatch(method, call.params, reached=reached, arrived=arrived)
            self.spec.check_result(method, result)
            call.status, call.result = 200, result
            if fault == DROP_AFTER:
                self.fault_counts[DROP_AFTER] += 1
                raise Dropped(delivered=True)
            body: dict[str, Json] = {"ok": True, "result": result}
        except Dropped as drop:
            call.dropped = True
            if drop.delivered:
                call.description = "dropped after it took effect: no answer sent"
            else:
                call.status, call.description = 0, "connection dropped: no answer sent"
                self.rejected.append(call)
            if request.transport is not None:
                request.transport.close()
            return web.Response()  # never written: the connection is closed
        except _ClientGone:
            # A long poll the client had abandoned, ended by its next getUpdates:
            # Telegram answers 409 into the void; nobody was refused anything.
            call.status, call.description = 499, "client closed the connection"
            return web.Response(status=499)
        except ConnectionResetError:
            # The client went away while its request was still being read (a killed
            # process): nothing was carried out, and nobody is left to answer.
            call.status, call.description = 499, "client gone before its request was read"
            return web.Response(status=499)
        except ApiError as err:
            call.status, call.description = err.status, err.description
            self.rejected.append(call)
            if err.status == 429:
                self.too_many_requests += 1
            if err.status in GATEWAY_ERRORS:
                return web.Response(
                    status=err.status, text=gateway_page(err.status), content_type="text/html"
                )
            body = err.body()
        except asyncio.CancelledError:
            call.status, call.description = 499, "cancelled"
            raise
        except Exception:
            self.internal_errors.append(f"{call.method}: {traceback.format_exc()}")
            call.status, call.description = 500, "fake Telegram bug"
            body = server_error().body()
        finally:
            call.answered_at = time.monotonic()
            self._notify()
        return web.json_response(body, status=call.status, dumps=_dumps)

    def _check_outage(self) -> None:
        outage = self._outage
        if outage is None:
            return
        self.fault_counts[OUTAGE] += 1
        if outage.status == 0:
            raise Dropped(delivered=False)
        raise server_error(outage.status)

    def _check_implemented(self, method: str) -> None:
        status = self._unimplemented.get(method)
        if status is None:
            return
        self.fault_counts[UNIMPLEMENTED] += 1
        if status == 404:
            raise not_found()
        if status >= 500:
            raise server_error(status)
        raise ApiError(status, "Not Implemented")

    def _random_fault(self, method: str) -> str | None:
        """Draw the call's random fault; a 5xx is answered at once, before any effect."""
        if self._random is None or method not in self._random.methods:
            return None
        fault = self._random.draw()
        if fault in (HTTP_500, HTTP_502):
            self.fault_counts[fault] += 1
            raise server_error(int(fault))
        return fault

    async def _inject(self, method: str) -> None:
        queue = self._faults.get(method)
        if not queue:
            return
        fault = queue.popleft()
        if fault.error is not None:
            if fault.error.status == 429 and fault.error.parameters:
                self.limiter.hold(("method", method.lower()), fault.error.parameters["retry_after"])
            raise fault.error
        await self._pause(fault.hang)
        if not fault.takes_effect:
            raise server_error(502)

    async def _download(self, request: web.Request) -> web.StreamResponse:
        path = request.match_info["path"]
        self.downloads.append(path)
        self._notify()
        stored = next((f for f in self.files.values() if f.path == path), None)
        if request.match_info["token"] != self.token or stored is None:
            return web.json_response(not_found().body(), status=404)
        return web.Response(body=stored.data)

    # --- long polling -----------------------------------------------------------------

    async def _get_updates(self, p: dict[str, Json], request: web.Request) -> list[dict[str, Json]]:
        offset = int(p.get("offset", 0))
        limit = min(max(int(p.get("limit", 100)), 1), 100)
        timeout = min(max(int(p.get("timeout", 0)), 0), LONG_POLL_MAX)
        if self.webhook is not None:
            raise conflict(WEBHOOK_ACTIVE)
        if "allowed_updates" in p:
            self.allowed_updates = list(p["allowed_updates"])
        if self._poller is not None and not self._poller.done():
            self._poller.set_result(CONFLICT)  # the held request ends with 409, as on Telegram
        loop = asyncio.get_running_loop()
        mine: asyncio.Future[str] = loop.create_future()
        self._poller = mine
        self._confirm(offset)
        deadline = loop.time() + timeout
        try:
            while True:
                self._check_outage()  # an outage that began while this poll was held
                batch = self._deliverable(limit)
                remaining = deadline - loop.time()
                if batch or remaining <= 0 or self._closing.is_set():
                    return copy.deepcopy(batch)
                self._new_update.clear()
                arrived = asyncio.ensure_future(self._new_update.wait())
                outage = asyncio.ensure_future(self._outage_began.wait())
                waiters: set[asyncio.Future[Any]] = {arrived, outage, mine}
                await asyncio.wait(waiters, timeout=remaining, return_when="FIRST_COMPLETED")
                arrived.cancel()
                outage.cancel()
                if self._closing.is_set():
                    return []
                if mine.done():
                    if request.transport is None or request.transport.is_closing():
                        raise _ClientGone
                    raise conflict(mine.result())
        finally:
            if self._poller is mine:
                self._poller = None

    def _confirm(self, offset: int) -> None:
        if offset > 0:
            self.updates = [u for u in self.updates if u["update_id"] >= offset]
        elif offset < 0:
            self.updates = self.updates[offset:]

    def _deliverable(self, limit: int) -> list[dict[str, Json]]:
        self.updates = [u for u in self.updates if self._allowed(self._update_kind(u))]
        return self.updates[:limit]


async def _read(request: web.Request) -> tuple[dict[str, Json], dict[str, Upload]]:
    """Parameters and uploaded files from the query string and the body."""
    params: dict[str, Json] = dict(request.query)
    files: dict[str, Upload] = {}
    if request.method == "GET" or not request.body_exists:
        return params, files
    if request.content_type == _JSON:
        try:
            body = await request.json()
        except ValueError:
            raise bad_request("can't parse JSON body") from None
        if not isinstance(body, dict):
            raise bad_request("JSON body must be an object")
        params.update(body)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, value in (await request.post()).items():
            if isinstance(value, web.FileField):
                content_type = value.content_type or "application/octet-stream"
                files[name] = Upload(value.filename, content_type, value.file.read())
            else:
                params[name] = value
    else:
        raise bad_request(f"unsupported Content-Type {request.content_type}")
    return params, files


def _dumps(value: Json) -> str:
    return json.dumps(value, ensure_ascii=False)
