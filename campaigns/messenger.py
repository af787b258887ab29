"""The contract between the campaign core and the chat adapters.

An adapter is a `Messenger` for the delivery engine (get ready to send to an
address, then send with exactly one request at the platform's pace) and an
`Adapter` for the runner (come online, retrying what may pass; go offline). Every
way a send can end that is not "sent" is one of the `DeliveryError`s below, and the
engine decides from them alone what happens next. An adapter may also be `Watched`:
it reports its `AdapterHealth` for /healthz and /metrics. Adapters import this
module, never the engine.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from campaigns.model import ChatKind, Message
from campaigns.pacing import Pacer
from db.catalog import AskRow


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
    delivery the engine takes a slot, claims the delivery at the slot and then calls
    `send`, so `send` must make exactly one request and take no slot itself. Anything
    else a send needs (opening a DM channel) belongs in `prepare`, which takes slots
    of its own and is called before the claim.
    """

    platform: str
    pacer: Pacer | None

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Whatever must happen before the one request of `send` (nothing the recipient
        can see); may raise any of the `DeliveryError`s."""
        ...

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """Send, or raise one of the `DeliveryError`s."""
        ...


LinkMaker = Callable[[int, AskRow], str]


class Adapter(Messenger, Protocol):
    """A chat platform's adapter as the runner sees it: a messenger that comes online
    (retrying network errors, 5xx and timeouts itself, for as long as it takes;
    raising `StartupFailure` only for a definite refusal) and goes offline (safe after
    a failed or cancelled `online`)."""

    async def online(self) -> None: ...

    async def offline(self) -> None: ...


@dataclass(frozen=True, slots=True)
class AdapterHealth:
    """How an adapter is doing, for /healthz and /metrics: facts about the connection
    only, never a token, an id or an address.

    `connected` is the adapter's own verdict (online, and its platform answering, give
    or take a short blip); `last_ok` is when the platform last answered a request with
    success, `last_event` when updates last came (Telegram's last poll, Discord's last
    gateway message); `latency` is Discord's heartbeat round trip; `note` says in a few
    words why it is not connected."""

    connected: bool
    last_ok: datetime | None = None
    last_event: datetime | None = None
    latency: float | None = None
    note: str = ""


@runtime_checkable
class Watched(Protocol):
    """An adapter that reports its health (optional: one that doesn't is not watched)."""

    def health(self) -> AdapterHealth: ...


@runtime_checkable
class PaidSends(Protocol):
    """A messenger whose `send` may be paid for (Telegram's paid broadcasts, when the
    charity turns them on: `paid_broadcast`). `send_free` sends one message unpaid, as
    `send` otherwise would: what a one-off outside the engine uses."""

    paid_broadcast: bool

    async def send_free(self, address: str, kind: ChatKind, message: Message) -> None: ...


async def send_one(messenger: Messenger, address: str, kind: ChatKind, message: Message) -> None:
    """One message outside the engine (a test send), taking the platform's shared pace
    like every other message to a chat: get ready, wait for a slot, send (never paid)."""
    await messenger.prepare(address, kind)
    if messenger.pacer is not None:
        await messenger.pacer.wait()
    if isinstance(messenger, PaidSends):
        await messenger.send_free(address, kind, message)
        return
    await messenger.send(address, kind, message)
