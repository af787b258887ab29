"""Tracked links: `<public base URL>/l/<token>` counts one "opened", then redirects
to the ask's link.

A token names one delivery and carries an HMAC over that delivery's id and the
ask it was for, with a key of its own derived from the bot's secret. It holds
nothing about the supporter: the delivery id is a row number, and only our
database can say whose delivery it was. A token that is malformed, forged,
tampered with, names an id no delivery can have, or is for a delivery we don't
have gets a 404 and records nothing.

An open is recorded once per supporter and prompt (a reminder's link counts for
the prompt it reminds of), with the platform, source and pseudonymous key of
the delivery. A supporter who has since erased their data is still sent on to
the ask's page, but nothing new is recorded about them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlite_utils import Database

from campaigns.keys import derive_key
from campaigns.model import ActionKind
from db import actions as actions_db
from db import dashboard as dashboard_db
from db.catalog import AskRow
from db.states import ActionVia

LABEL = b"campaignbot/link-token/v1"
_SIGNATURE_BYTES = 12  # 96 bits: 16 URL-safe characters
TOKEN = re.compile(r"([0-9a-z]{1,13})\.([A-Za-z0-9_-]{16})")
MAX_TOKEN = 30
MAX_ID = 2**63 - 1  # SQLite's largest integer: 13 base-36 digits can say more


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if number == 0:
            return text


class LinkTokens:
    """Makes and checks link tokens with one key."""

    def __init__(self, secret: bytes) -> None:
        if len(secret) < 16:
            raise ValueError("the link secret must be at least 16 bytes")
        self._key = derive_key(secret, LABEL)

    def _sign(self, delivery_id: int, campaign: str, ask_id: str) -> str:
        message = f"{delivery_id}:{campaign}:{ask_id}".encode()
        digest = hmac.new(self._key, message, hashlib.sha256).digest()[:_SIGNATURE_BYTES]
        return base64.urlsafe_b64encode(digest).decode()

    def make(self, delivery_id: int, campaign: str, ask_id: str) -> str:
        if not 0 < delivery_id <= MAX_ID:
            raise ValueError("a delivery id is a positive number")
        return f"{_base36(delivery_id)}.{self._sign(delivery_id, campaign, ask_id)}"

    @staticmethod
    def delivery_id(token: str) -> int | None:
        """The delivery a well-formed token names (not yet checked against its ask)."""
        if len(token) > MAX_TOKEN:
            return None
        match = TOKEN.fullmatch(token)
        if match is None:
            return None
        number = int(match.group(1), 36)
        return number if 0 < number <= MAX_ID else None

    def check(self, token: str, delivery_id: int, campaign: str, ask_id: str) -> bool:
        expected = self.make(delivery_id, campaign, ask_id)
        return hmac.compare_digest(token.encode("utf-8", "replace"), expected.encode())


def link_maker(public_base_url: str | None, secret: bytes) -> Callable[[int, AskRow], str] | None:
    """What the delivery engine calls to get an ask's tracked link (None: untracked,
    when there is no public address for the dashboard).

    Pass it as `DeliveryEngine(link_for=...)`.
    """
    base = public_base_url
    if not base:
        return None
    tokens = LinkTokens(secret)

    def link_for(delivery_id: int, ask: AskRow) -> str:
        return f"{base}/l/{tokens.make(delivery_id, ask.campaign, ask.id)}"

    return link_for


@dataclass(frozen=True, slots=True)
class Opened:
    url: str  # where to send the supporter: the ask's link
    counted: bool  # a new "opened" was recorded


def open_link(
    db: Database, tokens: LinkTokens, token: str, *, record: bool = True
) -> Opened | None:
    """Check a token, record the open once, and say where to go; None for a bad token.

    With `record=False` (a HEAD request: a link checker, not a person) it only checks.
    """
    delivery_id = tokens.delivery_id(token)
    if delivery_id is None:
        return None
    target = dashboard_db.link_target(db, delivery_id)
    if target is None or not tokens.check(token, delivery_id, target.campaign, target.ask_id):
        return None
    if target.erased or not record:
        return Opened(target.url, counted=False)
    counted = actions_db.record(
        db,
        prompt_id=target.prompt_id,
        supporter_key=target.supporter_key,
        kind=ActionKind.OPENED.value,
        platform=target.platform,
        source=target.source,
        via=ActionVia.LINK,
    )
    return Opened(target.url, counted)
