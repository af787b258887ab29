"""Dashboard accounts: names, roles, linked chats and argon2 password hashes.

Used alike by `campaignbot users` and the sign-in page (whose throttling is
`web.throttle`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from campaigns.model import CHAT
from db.users import UserRow

NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

_hasher = PasswordHasher()


class AccountError(ValueError):
    """A request about an account that can't be met; the message says why."""


def check_name(name: str) -> str:
    if not NAME.fullmatch(name):
        raise AccountError(
            "a name is 1 to 64 letters, digits, dots, hyphens or underscores, "
            "starting with a letter or digit"
        )
    return name


def check_chat(chat: str | None) -> str | None:
    if chat is None or chat == "":
        return None
    if not CHAT.fullmatch(chat):
        raise AccountError("a chat is platform:id, such as telegram:12345 or discord:678")
    return chat


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AccountError(f"a password needs at least {MIN_PASSWORD} characters")
    if len(password) > MAX_PASSWORD:
        raise AccountError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str) -> str:
    return _hasher.hash(check_password(password))


@cache
def _stand_in_hash() -> str:
    """Checked against when there is no such account, so the answer takes as long."""
    return _hasher.hash("no such account, but take the same time")


@dataclass(frozen=True, slots=True)
class Verified:
    user: UserRow
    new_hash: str | None  # a stronger hash of the same password, to store


def verify(user: UserRow | None, password: str) -> Verified | None:
    """The account if the password is its own. Slow on purpose: run it off the event loop."""
    if len(password) > MAX_PASSWORD:
        return None
    try:
        _hasher.verify(user.password_hash if user else _stand_in_hash(), password)
    except (VerificationError, InvalidHashError):
        return None
    if user is None:
        return None
    needs = _hasher.check_needs_rehash(user.password_hash)
    return Verified(user, _hasher.hash(password) if needs else None)
