"""Dashboard accounts: names, roles, argon2 password hashes, and sign-in throttling.

Used alike by `campaignbot users` and the sign-in page. Failed sign-ins are
counted per account and per client address: after a few in a row, that account
(or that client) must wait before trying again, longer with each new failure,
and while it waits no password is even checked.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlite_utils import Database

from db import users as users_db
from db.times import from_text, to_text
from db.users import FailureRow, UserRow

ROLES = users_db.ROLES
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
CHAT = re.compile(r"(telegram|discord|console):-?[A-Za-z0-9_]{1,64}")
MIN_PASSWORD = 10
MAX_PASSWORD = 1024

ACCOUNT_LIMIT = 5  # failures in a row before an account must wait
CLIENT_LIMIT = 20  # a client may try several accounts (an office behind one address)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
FORGET_AFTER = timedelta(days=1)

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


def check_role(role: str) -> str:
    if role not in ROLES:
        raise AccountError(f"the role is one of {', '.join(ROLES)}")
    return role


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


def scopes(name: str, client: str) -> tuple[str, str]:
    return f"account:{name.lower()}", f"client:{client}"


def wait_seconds(db: Database, name: str, client: str, now: datetime) -> int:
    """How long this account or client must wait before its next try (0: go ahead)."""
    longest = 0
    for row in users_db.failures(db, list(scopes(name, client))):
        if row.blocked_until is not None:
            left = (from_text(row.blocked_until) - now).total_seconds()
            longest = max(longest, int(left + 0.999))
    return longest


def _wait_after(failures: int, limit: int) -> timedelta | None:
    if failures < limit:
        return None
    return min(LONGEST_WAIT, FIRST_WAIT * (1 << min(failures - limit, 16)))


def note_failure(db: Database, name: str, client: str, now: datetime) -> None:
    """Count a failed sign-in against the account and the client."""
    account, address = scopes(name, client)
    found = {row.scope: row for row in users_db.failures(db, [account, address])}
    for scope, limit in ((account, ACCOUNT_LIMIT), (address, CLIENT_LIMIT)):
        previous = found.get(scope)
        stale = previous is None or now - from_text(previous.last_at) > LONGEST_WAIT * 2
        failures = 1 if stale or previous is None else previous.failures + 1
        wait = _wait_after(failures, limit)
        users_db.save_failure(
            db,
            FailureRow(scope, failures, to_text(now), to_text(now + wait) if wait else None),
        )
    users_db.forget_failures_before(db, to_text(now - FORGET_AFTER))


def note_success(db: Database, name: str) -> None:
    """A good sign-in clears the account's failures (not the client's: one good
    account must not buy more guesses at the others)."""
    users_db.clear_failures(db, [scopes(name, "")[0]])
