"""Telegram's webhook: updates posted to the dashboard's server instead of polled.

With `telegram_webhook_url` set, the adapter asks Telegram (setWebhook) to POST each
update to that address, and the route here, served beside the dashboard on its one port
(behind the https proxy), hands each one to PTB the way PTB's custom-webhook example does
(`Update.de_json`, then the application's update queue) and answers at once; the
handlers then run as they do for polled updates.

Anyone can reach the address, so a request counts only if it carries, in the
`X-Telegram-Bot-Api-Secret-Token` header, the secret that setWebhook gave Telegram. That
secret is derived from the bot's own secret (the same after a restart, and never the bot
token), and the address holds no token either. Nothing of a request's body is logged.
"""

from __future__ import annotations

import hmac
import json
import logging
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from starlette.requests import ClientDisconnect, Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route
from telegram import Bot, Update
from telegram.ext import Application

from campaigns.keys import derive_key

log = logging.getLogger(__name__)

WEBHOOK_KEY = b"campaignbot/telegram-webhook/v1"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"  # noqa: S105 - a header name
# An update is a few kB (a 4096-character message with its entities stays far below this).
MAX_BODY = 1024 * 1024
SETTING = "telegram_webhook_url (CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL)"
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
_SAFE_PATH = re.compile(r"(/[A-Za-z0-9_.~-]+)+")


def secret_token(secret: bytes) -> str:
    """This installation's webhook secret: 64 hex characters (Telegram takes 1-256 of
    A-Z, a-z, 0-9, _ and -), derived from the bot's secret so a restart keeps it."""
    return derive_key(secret, WEBHOOK_KEY).hex()


@dataclass(frozen=True)
class Webhook:
    """Where Telegram posts updates, and the secret it sends with each."""

    url: str
    secret_token: str = field(repr=False)

    @classmethod
    def derived(cls, url: str, secret: bytes) -> Webhook:
        return cls(url, secret_token(secret))

    @property
    def path(self) -> str:
        return urlsplit(self.url).path

    @property
    def shown(self) -> str:
        """The address for a log line: scheme, host, port and path (no user:password, no query)."""
        parts = urlsplit(self.url)
        return f"{parts.scheme}://{parts.netloc.rpartition('@')[2]}{parts.path}"

    def problem(self, token: str) -> str | None:
        """Why the address can't serve updates, as one line naming the setting; None if it can."""
        secret_part = token.partition(":")[2]
        if token in self.url or (len(secret_part) >= 8 and secret_part in self.url):
            return (
                f"{SETTING} holds the bot token: use an address without it, such as "
                "https://bot.example.org/telegram/updates (Telegram proves each request with "
                "a secret header instead)"
            )
        try:
            parts = urlsplit(self.url)
            parts.port  # noqa: B018 - raises ValueError for a port out of range
        except ValueError:
            return f"{SETTING} is not a valid address"
        if not parts.hostname:
            return f"{SETTING} has no host name"
        if parts.path in ("", "/"):
            return (
                f"{SETTING} needs a path of its own, such as https://{parts.hostname}"
                "/telegram/updates: the dashboard's pages are served at /"
            )
        if not _SAFE_PATH.fullmatch(parts.path):
            return f"{SETTING}: its path may hold only letters, digits and / _ . ~ -"
        return None


def route(webhook: Webhook, application: Application[Any, Any, Any, Any, Any, Any]) -> Route:
    """The route Telegram posts updates to. It takes every usual method, so that nothing
    meant for it falls through to the dashboard's pages, and refuses all but POST."""
    expected = webhook.secret_token.encode()

    async def receive(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER)
        if given is None or not hmac.compare_digest(given.encode("latin-1"), expected):
            log.info(
                "telegram: refused a webhook request %s",
                "without the secret header" if given is None else "with a wrong secret header",
            )
            return PlainTextResponse("Forbidden", status_code=403)
        if request.method != "POST":
            return PlainTextResponse("Method Not Allowed", 405, headers={"Allow": "POST"})
        if not application.running:
            # Starting or stopping: Telegram keeps the update and posts it again later.
            return PlainTextResponse("Not ready", status_code=503)
        try:
            body = await _body(request)
        except ClientDisconnect:
            return Response(status_code=400)
        if body is None:
            log.info("telegram: refused a webhook request over %d bytes", MAX_BODY)
            return PlainTextResponse("Too large", status_code=413)
        update = _update(body, application.bot)
        if update is None:
            log.info("telegram: refused a webhook request that is not an update")
            return PlainTextResponse("Not an update", status_code=400)
        await application.update_queue.put(update)
        return Response(status_code=200)

    return Route(webhook.path, receive, methods=METHODS, name="telegram-webhook")


async def _body(request: Request) -> bytes | None:
    """The body, or None if it is larger than MAX_BODY (read no further than that)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            return None
    return bytes(body)


def _update(body: bytes, bot: Bot) -> Update | None:
    """The update in a body, or None if the body is not one (never logged: it holds what
    a supporter typed)."""
    try:
        data = json.loads(body)
    except ValueError:  # not JSON, or not UTF-8
        return None
    if not isinstance(data, dict) or not isinstance(data.get("update_id"), int):
        return None
    try:
        return Update.de_json(data, bot)
    except (AttributeError, KeyError, TypeError, ValueError):  # JSON, but not shaped like one
        return None
