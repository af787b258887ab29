"""Sign-in throttling, and a cap on how many passwords are checked at once.

Failed sign-ins are counted twice: for one account from one client
(`pair:<name>|<client>`) and for one client whatever the account
(`client:<client>`). After a few failures in a row that pair, or that client,
must wait before its next try, longer with each new failure. Nothing counts per
account alone: failures from elsewhere never stop a client that has not failed
from signing in with the right password, so nobody can lock staff out.

Each attempt is reserved in the store's writer *before* its password is
checked, as a failure; a good password then takes it back. The writer runs one
job at a time, so parallel guesses can't all slip in before the first failure is
counted. The waits are not told to the client.

Argon2 takes 64 MiB for each check, so checks run on a small pool of their own
(`MAX_CHECKS` at once, process-wide) and at most `MAX_PENDING` may be queued or
running per dashboard; beyond that a sign-in gets "busy, try again" at once.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
from datetime import datetime, timedelta

from sqlite_utils import Database

from db import users as users_db
from db.times import from_text, to_text
from db.users import FailureRow, UserRow
from web import accounts

PAIR_LIMIT = 5  # failures in a row of one account from one client before it waits
CLIENT_LIMIT = 20  # a client may try several accounts (an office behind one address)
FIRST_WAIT = timedelta(seconds=30)
LONGEST_WAIT = timedelta(minutes=15)
FRESH_AFTER = LONGEST_WAIT * 2  # a count this quiet starts again from zero
FORGET_AFTER = timedelta(days=1)

MAX_CHECKS = 2
MAX_PENDING = 32

_checks = concurrent.futures.ThreadPoolExecutor(MAX_CHECKS, thread_name_prefix="argon2")


def scopes(name: str, client: str) -> tuple[str, str]:
    """What is counted for this attempt: the account from this client, and the client."""
    return f"pair:{name.lower()}|{client}", f"client:{client}"


def _limits(name: str, client: str) -> list[tuple[str, int]]:
    pair, address = scopes(name, client)
    return [(pair, PAIR_LIMIT), (address, CLIENT_LIMIT)]


def _wait_after(failures: int, limit: int) -> timedelta | None:
    if failures < limit:
        return None
    return min(LONGEST_WAIT, FIRST_WAIT * (1 << min(failures - limit, 16)))


def reserve(db: Database, name: str, client: str, now: datetime) -> bool:
    """Count this attempt as a failure now, before its password is checked.

    False (and nothing counted) while the pair or the client must wait. Run it in
    the store's writer: one job at a time makes the check and the count one step.
    """
    limits = _limits(name, client)
    found = {row.scope: row for row in users_db.failures(db, [scope for scope, _ in limits])}
    for row in found.values():
        if row.blocked_until is not None and from_text(row.blocked_until) > now:
            return False
    for scope, limit in limits:
        previous = found.get(scope)
        fresh = previous is None or now - from_text(previous.last_at) > FRESH_AFTER
        failures = 1 if fresh or previous is None else previous.failures + 1
        wait = _wait_after(failures, limit)
        users_db.save_failure(
            db, FailureRow(scope, failures, to_text(now), to_text(now + wait) if wait else None)
        )
    users_db.forget_failures_before(db, to_text(now - FORGET_AFTER))
    return True


def _take_back(db: Database, scope: str, limit: int) -> None:
    rows = users_db.failures(db, [scope])
    if not rows:
        return
    row = rows[0]
    if row.failures <= 1:
        users_db.clear_failures(db, [scope])
        return
    failures = row.failures - 1
    blocked = row.blocked_until if failures >= limit else None
    users_db.save_failure(db, FailureRow(scope, failures, row.last_at, blocked))


def succeeded(db: Database, name: str, client: str) -> None:
    """The right password: the pair starts afresh, and the client gets its attempt back
    (not its earlier failures: one good account must not buy guesses at the others)."""
    (pair, _), (address, client_limit) = _limits(name, client)
    users_db.clear_failures(db, [pair])
    _take_back(db, address, client_limit)


def not_checked(db: Database, name: str, client: str) -> None:
    """The password was never checked (the dashboard was busy): the attempt is given back."""
    for scope, limit in _limits(name, client):
        _take_back(db, scope, limit)


def forget_account(db: Database, name: str) -> None:
    """A new password: the account's counts start again, from every client."""
    users_db.clear_failures_starting(db, scopes(name, "")[0])


class Busy(Exception):
    """Too many password checks are queued; try again shortly."""


class PasswordChecks:
    """Checks passwords off the event loop, a few at a time, with a bounded queue."""

    def __init__(self, max_pending: int = MAX_PENDING) -> None:
        self.max_pending = max_pending
        self.pending = 0

    async def verify(self, user: UserRow | None, password: str) -> accounts.Verified | None:
        """`accounts.verify` on the checking pool; raises Busy when the queue is full."""
        if self.pending >= self.max_pending:
            raise Busy
        self.pending += 1
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(_checks, accounts.verify, user, password)
        # Counted until the check itself ends, even if this request is cancelled first.
        future.add_done_callback(self._done)
        return await asyncio.shield(future)

    def _done(self, _: object) -> None:
        self.pending -= 1
