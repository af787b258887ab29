"""Erasures that stay erased: the ledger of who was erased (`db.erasures` keeps the
file), and replaying it on a database that doesn't hold them yet.

A restored backup is the database as it was when the backup was taken: anyone
erased since (by `/forget`, or by the retention run) is back in it. Replaying the
ledger entries the database doesn't hold erases them again, exactly as `/forget`
does (`supporters.erase`). `campaignbot restore` replays after copying a backup in;
every start (`runner.open_core`) replays too, for a copy put back by hand.

What a line holds is only what finds the row again in an older copy, and only with
the bot's secret: keyed hashes (`HMAC(derive_key(secret, LEDGER_KEY), ...)`) of
the row's random key and of its platform and address, never the platform id
itself. A row is matched by its key, which no other row ever has: replaying an
entry twice, or one from before the backup, erases nothing the person didn't ask
to erase. Platform and address match too, but only a row made before the
erasure (never a later return under the same chat).

A ledger made with another secret can't find anyone: replaying is refused
(`LedgerMismatch`, one line) rather than silently doing nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sqlite_utils import Database

from campaigns import supporters
from campaigns.keys import derive_key
from db import erasures as erasures_db
from db import supporters as supporters_db
from db.erasures import Entry, LedgerError, ledger_path
from db.store import open_database
from db.times import now_text

log = logging.getLogger(__name__)

LEDGER_KEY = b"campaignbot/erasure-ledger/v1"

__all__ = [
    "Ledger",
    "LedgerError",
    "LedgerMismatch",
    "Replayed",
    "ledger_path",
    "replay",
    "replay_database",
    "unheld",
]


class LedgerMismatch(Exception):
    """Entries to replay were made with another secret; the message is one line."""


@dataclass(frozen=True, slots=True)
class Replayed:
    """What a replay did."""

    entries: int  # ledger entries the database did not hold
    erased: int  # supporter rows erased again because of them


class Ledger:
    """The erasure ledger beside one database, hashing with one secret."""

    def __init__(self, path: Path, secret: bytes) -> None:
        self.path = path
        self._key = derive_key(secret, LEDGER_KEY)
        self.fingerprint = self._hash("fingerprint")[:16]

    @classmethod
    def beside(cls, db: Path, secret: bytes) -> Ledger:
        return cls(ledger_path(db), secret)

    def _hash(self, value: str) -> str:
        return hmac.new(self._key, value.encode(), hashlib.sha256).hexdigest()[:32]

    def row_hash(self, key: str) -> str:
        return self._hash(f"row:{key}")

    def chat_hash(self, platform: str, address: str) -> str:
        return self._hash(f"chat:{platform}:{address}")

    def record(self, platform: str, address: str, key: str) -> str:
        """Write the line for one erased row (before its erasure commits); its id."""
        entry = Entry(
            at=now_text(),
            id=secrets.token_hex(8),
            row=self.row_hash(key),
            chat=self.chat_hash(platform, address),
            secret=self.fingerprint,
        )
        try:
            erasures_db.append(self.path, entry)
        except OSError as exc:
            reason = exc.strerror or exc.__class__.__name__
            log.error(
                "can't write the erasure ledger %s (%s): the erasure was not made",
                self.path,
                reason,
            )
            raise
        return entry.id

    def watch(self, db: Database) -> None:
        """Record every erasure made on this connection (the store's writer). The file is
        made now, empty, so it is there to copy off the server with the backups."""
        erasures_db.create(self.path)
        erasures_db.watch(db, self.record)

    def entries(self) -> list[Entry]:
        return erasures_db.read(self.path)

    def check(self, pending: list[Entry]) -> None:
        """Refuse entries this secret can't match."""
        foreign = sum(1 for entry in pending if entry.secret != self.fingerprint)
        if foreign:
            raise LedgerMismatch(
                f"the erasure ledger {self.path} was written with another secret than this "
                f"database's ({foreign} of its entries to re-apply): use the secret that goes "
                "with it (the .secret file beside the backup, or the same secret_key)"
            )


def unheld(entries: list[Entry], mark: str | None, since: str | None = None) -> list[Entry]:
    """The entries a database with this mark doesn't hold: those after its mark; with
    no mark (or one this ledger doesn't have), those from `since` on, or all."""
    ids = [entry.id for entry in entries]
    if mark is not None and mark in ids:
        return entries[len(ids) - ids[::-1].index(mark) :]
    return [entry for entry in entries if since is None or entry.at >= since]


def replay(db: Database, ledger: Ledger, since: str | None = None) -> Replayed:
    """Erase again, as `/forget` does, everyone in the ledger this database doesn't
    hold as erased; then mark it as holding the whole ledger. Inside the caller's
    transaction. Raises `LedgerMismatch` (nothing done) or `LedgerError`."""
    entries = ledger.entries()
    pending = unheld(entries, erasures_db.mark(db), since)
    ledger.check(pending)
    erased = _erase(db, ledger, pending)
    if entries:
        erasures_db.set_mark(db, entries[-1].id)
    return Replayed(entries=len(pending), erased=erased)


def _erase(db: Database, ledger: Ledger, pending: list[Entry]) -> int:
    if not pending:
        return 0
    by_row: dict[str, int] = {}
    by_chat: dict[str, tuple[int, str]] = {}
    rows = db.execute("SELECT id, key, platform, address, created_at FROM supporters")
    for supporter_id, key, platform, address, created_at in rows.fetchall():
        by_row[ledger.row_hash(key)] = supporter_id
        by_chat[ledger.chat_hash(platform, address)] = (supporter_id, created_at)
    doomed: set[int] = set()
    for entry in pending:
        if entry.row in by_row:
            doomed.add(by_row[entry.row])
        same_chat = by_chat.get(entry.chat)
        if same_chat is not None and same_chat[1] < entry.at:  # never a later return
            doomed.add(same_chat[0])
    erased = 0
    for supporter_id in sorted(doomed):
        found = supporters_db.get_by_id(db, supporter_id)
        if found is not None:
            supporters.erase(db, found)
            erased += 1
    return erased


def replay_database(
    path: Path,
    ledger: Ledger,
    since: str | None = None,
    then: Callable[[Database, Replayed], None] | None = None,
) -> Replayed | None:
    """`replay` on the database file at `path` in one transaction, with `then` (an audit
    entry, say) in it too; None when there is no database there. The write lock is
    taken first, so a bot writing meanwhile is waited for, never raced. What was
    erased is checkpointed out of the write-ahead log."""
    if not path.is_file():
        return None
    db = open_database(path)
    try:
        db.execute("BEGIN IMMEDIATE")
        try:
            replayed = replay(db, ledger, since)
            if then is not None:
                then(db, replayed)
        except BaseException:
            db.conn.rollback()
            raise
        db.conn.commit()
        if replayed.erased:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # erased rows linger nowhere
    finally:
        db.close()
    return replayed
