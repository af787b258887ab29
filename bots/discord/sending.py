"""What a failed Discord request means for a delivery: each failure becomes one of the
delivery engine's `DeliveryError`s, so nothing raw reaches the engine.

Two requests, two readings. Opening a DM channel (POST /users/@me/channels) shows the
recipient nothing and returns the same channel however often it is asked, so any
failure that waiting might mend is a `TransientFailure`, even a timeout. Posting the
message is different: once the request has left, a timeout or a dropped connection
may hide a message that arrived, so it is an `OutcomeUnknown` and never resent.
"""

from __future__ import annotations

import aiohttp
import discord

from campaigns.messenger import (
    DeliveryError,
    OutcomeUnknown,
    RateLimited,
    RecipientGone,
    Refused,
    TransientFailure,
)

# Can't DM this user, unknown user, unknown channel, missing access.
GONE_CODES = {50007, 10013, 10003, 50001}


def _gone(exc: discord.HTTPException) -> bool:
    return exc.status in (403, 404) or exc.code in GONE_CODES


def _rate_limited(exc: Exception) -> RateLimited | None:
    if isinstance(exc, discord.RateLimited):
        return RateLimited(exc.retry_after)
    if isinstance(exc, discord.HTTPException) and exc.status == 429:
        return RateLimited(1.0)  # a 429 discord.py did not wait out itself (no Via)
    return None


def dm_trouble(exc: Exception) -> DeliveryError | None:
    """Opening a DM channel failed: gone, rate limited, or worth another try
    (None: not a failure of the request; let it propagate)."""
    limited = _rate_limited(exc)
    if limited is not None:
        return limited
    if isinstance(exc, discord.HTTPException):
        if _gone(exc):
            return RecipientGone(f"{exc.code}: {exc.text}")
        return TransientFailure(f"opening the DM: {exc.status} {exc.code}: {exc.text}")
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return TransientFailure(f"opening the DM: {exc.__class__.__name__}")
    return None


def send_trouble(exc: Exception) -> DeliveryError | None:
    """Posting a message failed: how the delivery ends, or whether to retry it
    (None: not a failure of the request; let it propagate)."""
    limited = _rate_limited(exc)
    if limited is not None:
        return limited
    if isinstance(exc, discord.DiscordServerError):
        return TransientFailure(f"{exc.status}: {exc.text}")
    if isinstance(exc, discord.HTTPException):
        if _gone(exc):
            return RecipientGone(f"{exc.code}: {exc.text}")
        return Refused(f"{exc.status} {exc.code}: {exc.text}")
    if isinstance(exc, aiohttp.ClientConnectorError):
        return TransientFailure("could not connect")  # the request never left
    if isinstance(exc, aiohttp.ClientError | OSError | TimeoutError):
        return OutcomeUnknown(exc.__class__.__name__)  # it may have arrived
    return None
