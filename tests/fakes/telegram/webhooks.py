"""Webhooks in the fake: what setWebhook accepts, and the delivery of updates by POST.

:func:`checked_webhook` refuses what Telegram's own server refuses, in its words
(``telegram-bot-api``'s ``Client::do_set_webhook`` and ``WebhookActor``): an unparsable
URL, a bad ``secret_token``, plain http, a port other than 80, 88, 443 or 8443, an
address that is reserved (loopback, private) or doesn't resolve. A test serving its
webhook on localhost tells the fake to accept http, any port and loopback, as a Bot
API server started with ``--local`` does (``FakeTelegram(allow_http_webhooks=True)``),
or puts the fake behind a stand-in for the https proxy (``webhook_via``).

:class:`WebhookDelivery` then POSTs each update, as JSON with the
``X-Telegram-Bot-Api-Secret-Token`` header, one at a time and in order. An update counts
as delivered on a 2xx; anything else (another status, no connection, no answer in
time) is recorded as Telegram records it (``last_error_date``, ``last_error_message``)
and the same update is tried again after a growing wait. Deliveries pause during an
outage, and stop when the webhook is deleted (what is left is there for getUpdates).
The fake connects to loopback addresses only: it never reaches out to the internet.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import ipaddress
import json
import re
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

import aiohttp

from .errors import ApiError, Json, bad_request

if TYPE_CHECKING:
    from .server import FakeTelegram

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
WEBHOOK_ACTIVE = (
    "can't use getUpdates method while webhook is active; use deleteWebhook to delete the "
    "webhook first"
)
PORTS = (80, 88, 443, 8443)
MAX_CONNECTIONS = 100
_TOKEN = re.compile(r"[A-Za-z0-9_-]*")
_LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class Webhook:
    """A webhook as setWebhook left it, with the last delivery error (getWebhookInfo)."""

    url: str
    secret_token: str | None = None
    max_connections: int = 40
    ip_address: str | None = None
    has_custom_certificate: bool = False
    last_error_date: int | None = None
    last_error_message: str | None = None

    def info(self, pending: int, allowed_updates: list[str]) -> dict[str, Json]:
        """The WebhookInfo object."""
        info: dict[str, Json] = {
            "url": self.url,
            "has_custom_certificate": self.has_custom_certificate,
            "pending_update_count": pending,
            "max_connections": self.max_connections,
        }
        if self.ip_address:
            info["ip_address"] = self.ip_address
        if self.last_error_date is not None:
            info["last_error_date"] = self.last_error_date
            info["last_error_message"] = self.last_error_message
        if allowed_updates:
            info["allowed_updates"] = list(allowed_updates)
        return info


@dataclass
class WebhookPost:
    """One POST of an update to the webhook, and how it ended."""

    update_id: int
    url: str  # where it went (after ``webhook_via``)
    at: float  # time.monotonic()
    status: int = 0  # the endpoint's answer; 0 if none came
    error: str | None = None  # as getWebhookInfo reports it; None if delivered


def checked_webhook(p: dict[str, Json], *, allow_http: bool) -> Webhook:
    """The webhook a setWebhook call with a non-empty url asks for, or Telegram's 400."""
    raw = str(p["url"])
    url = raw if "://" in raw else f"https://{raw}"  # Telegram assumes https
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme.lower() == "https" else 80)
    except ValueError:
        raise bad_request("invalid webhook URL specified") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise bad_request("invalid webhook URL specified")
    secret = p.get("secret_token")
    if secret is not None and len(secret) > 256:
        raise bad_request("secret token is too long")
    if secret is not None and not _TOKEN.fullmatch(secret):
        raise bad_request("secret token contains unallowed characters")
    if not allow_http:
        if parts.scheme.lower() != "https":
            raise bad_webhook("An HTTPS URL must be provided for webhook")
        if port not in PORTS:
            raise bad_webhook("Webhook can be set up only on ports 80, 88, 443 or 8443")
        _check_host(parts.hostname)
    return Webhook(
        url=raw,
        secret_token=secret or None,
        max_connections=min(max(int(p.get("max_connections", 40)), 1), MAX_CONNECTIONS),
        ip_address=p.get("ip_address") or _literal(parts.hostname),
        has_custom_certificate="certificate" in p,
    )


def bad_webhook(reason: str) -> ApiError:
    """A 400 for a webhook Telegram's server could not set up."""
    return bad_request(f"bad webhook: {reason}")


def _check_host(host: str) -> None:
    """Telegram resolves the host and refuses reserved addresses. The fake resolves
    nothing: it knows loopback, IP literals, and that .invalid names never resolve."""
    if host == "localhost":
        host = "127.0.0.1"
    if host.endswith((".invalid", ".localhost")) or host == "invalid":
        raise bad_webhook("Failed to resolve host: Name or service not known")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return  # a name: taken as resolving to a public address
    if address.version == 6:
        raise bad_webhook("IPv6-only addresses are not allowed")
    if not address.is_global:
        raise bad_webhook(f"IP address {address} is reserved")


def _literal(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        return None


class WebhookDelivery:
    """Posts the fake's updates to its webhook, one at a time, in order (see the module)."""

    def __init__(self, fake: FakeTelegram) -> None:
        self.fake = fake
        self.posts: list[WebhookPost] = []  # every try, oldest first
        self.via: dict[str, str] = {}  # public URL prefix -> where to post instead
        self.retry = (0.05, 1.0)  # first wait after a failure, and the cap (doubling)
        self.timeout = 10.0  # seconds the endpoint has to answer
        self._wake = asyncio.Event()  # an update, or a change of webhook or outage
        self._reset = asyncio.Event()  # the webhook changed: try at once
        self._task: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    def start(self) -> None:
        self._session = aiohttp.ClientSession()
        self._task = asyncio.create_task(self._run(), name="fake-telegram-webhook")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self._session is not None:
            await self._session.close()
            self._session = None

    def wake(self) -> None:
        """Something to deliver may have come (an update, the end of an outage)."""
        self._wake.set()

    def reset(self) -> None:
        """The webhook was set or deleted: stop waiting out the last failure."""
        self._reset.set()
        self._wake.set()

    async def _run(self) -> None:
        wait = self.retry[0]
        while True:
            update = self._next()
            if update is None:
                self._wake.clear()
                if self._next() is None:
                    await self._wake.wait()
                continue
            self._reset.clear()
            webhook = self.fake.webhook
            assert webhook is not None
            post = await self._post(webhook, update)
            if post.error is None:
                self.fake.updates = [
                    u for u in self.fake.updates if u["update_id"] != update["update_id"]
                ]
                wait = self.retry[0]
                self.fake._notify()
                continue
            if self.fake.webhook is webhook:
                webhook.last_error_date = int(time.time())
                webhook.last_error_message = post.error
            self.fake._notify()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._reset.wait(), wait)
            wait = min(wait * 2, self.retry[1])

    def _next(self) -> dict[str, Json] | None:
        fake = self.fake
        if fake.webhook is None or fake.in_outage or fake._closing.is_set():
            return None
        batch = fake._deliverable(1)
        return batch[0] if batch else None

    def _target(self, url: str) -> str:
        for public, local in self.via.items():
            if url.startswith(public):
                return local + url[len(public) :]
        return url

    async def _post(self, webhook: Webhook, update: dict[str, Json]) -> WebhookPost:
        target = self._target(webhook.url)
        post = WebhookPost(int(update["update_id"]), target, time.monotonic())
        self.posts.append(post)
        host = urlsplit(target).hostname or ""
        if host not in _LOOPBACK:
            post.error = "Failed to resolve host: the fake posts to loopback only (webhook_via)"
            return post
        headers = {"Content-Type": "application/json"}
        if webhook.secret_token:
            headers[SECRET_HEADER] = webhook.secret_token
        body = json.dumps(copy.deepcopy(update), ensure_ascii=False).encode()
        assert self._session is not None
        try:
            timeout = aiohttp.ClientTimeout(total=self.timeout)
            async with self._session.post(
                target, data=body, headers=headers, timeout=timeout, allow_redirects=False
            ) as response:
                post.status = response.status
                await response.read()
                if not 200 <= response.status < 300:
                    post.error = (
                        f"Wrong response from the webhook: {response.status} {response.reason}"
                    )
        except aiohttp.ClientConnectorError:
            post.error = "Connection refused"
        except TimeoutError:
            post.error = "Read timeout expired"
        except aiohttp.ClientError:
            post.error = "Webhook connection closed"
        return post
