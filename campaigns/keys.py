"""Keys for one purpose each, derived from the bot's one secret, and the pseudonyms made
with them.

No two uses of the secret can stand in for each other: button ids, link tokens,
dashboard cookies and group members' pseudonyms each sign with a key of their own,
`HMAC(secret, label)`.
"""

from __future__ import annotations

import hashlib
import hmac

BUTTON_IDS = b"campaignbot/button-id/v1"
MEMBER_PSEUDONYMS = b"campaignbot/member-pseudonym/v1"
MEMBER_PREFIX = "m-"


def derive_key(secret: bytes, label: bytes) -> bytes:
    """A key for one purpose, so no two uses of the bot's secret can stand in for each other."""
    return hmac.new(secret, label, hashlib.sha256).digest()


class Pseudonyms:
    """Stand-ins for platform user ids that only this installation can make.

    A group member who presses a button is recorded under `member(platform, user)`,
    never under their platform id: the database alone does not say who they are.
    """

    def __init__(self, secret: bytes) -> None:
        self._key = derive_key(secret, MEMBER_PSEUDONYMS)

    def member(self, platform: str, user: str) -> str:
        digest = hmac.new(self._key, f"{platform}:{user}".encode(), hashlib.sha256)
        return MEMBER_PREFIX + digest.hexdigest()[:32]


def tag(value: str, length: int = 12) -> str:
    """A short, one-way fingerprint of a value (to bind a button to a supporter)."""
    return hashlib.sha256(value.encode()).hexdigest()[:length]
