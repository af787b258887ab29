"""The erasure ledger's file and its hook into SQLite: one line per erased supporter
row, in a file beside the database, written before the erasure commits.

Why a file outside the database: a backup is the database as it was, so restoring
one brings back everyone erased since. The ledger survives the swap, and
`campaigns.erasures` replays from it what the restored copy doesn't hold.

Why a trigger: every way a supporter row is erased (`/forget`, its button, the
retention run) ends in one `DELETE FROM supporters`. `watch` installs, on the
writer's connection only, a TEMP trigger (never stored in the database file) that
calls back into Python for each deleted row while the DELETE runs, inside the
write transaction. The callback appends the line and fsyncs it, then returns the
line's id, which the trigger stores as the database's mark (`MARK` in
`housekeeping`: the last entry this database holds). So the order is: ledger line
on disk, then the commit. A crash between the two leaves a line for an erasure
that never committed: harmless, since replaying it erases the same row the person
asked to erase (and nothing else, see `campaigns.erasures`). A line that can't be
written fails the DELETE, so nothing is erased without its line.

Each line is JSON holding no platform id and nothing a supporter typed: the time,
a random id, keyed hashes of the row's key and of its platform and address, and
a fingerprint of the key that made them.
"""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlite_utils import Database

from db import housekeeping as housekeeping_db

MARK = "erasure-ledger"  # housekeeping: the id of the last ledger entry this database holds
_FUNCTION = "campaignbot_erased"
_TRIGGER = "campaignbot_erasure_ledger"


class LedgerError(Exception):
    """The ledger can't be read or written; the message is one line saying why."""


@dataclass(frozen=True, slots=True)
class Entry:
    """One erased supporter row."""

    at: str  # UTC text, to the second
    id: str  # random: which entry a database's mark names
    row: str  # keyed hash of the row's key (`supporters.key`)
    chat: str  # keyed hash of the row's platform and address
    secret: str  # fingerprint of the key that made the hashes


def ledger_path(db: Path) -> Path:
    """`campaignbot.erasures` beside `campaignbot.db`: like the `.secret`, not named
    `campaignbot.db*`, so moving the old database's files aside leaves it in place."""
    return db.with_suffix(".erasures")


def create(path: Path) -> None:
    """The ledger, empty if it isn't there yet, readable only by its owner."""
    os.close(os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600))


def append(path: Path, entry: Entry) -> None:
    """Add one line and fsync it (and the folder, when the file is new). Raises
    `OSError` when it can't, a short write (a full disk) included.

    A line cut short before (a crash or a full disk while it was written: its
    erasure never committed) is cut off first, so the new line starts a line of its
    own and the ledger never holds a damaged line in the middle."""
    line = (json.dumps(asdict(entry), separators=(",", ":")) + "\n").encode()
    new = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        size = os.fstat(descriptor).st_size
        if size and os.pread(descriptor, 1, size - 1) != b"\n":
            whole = os.pread(descriptor, size, 0)
            os.ftruncate(descriptor, whole.rfind(b"\n") + 1)
        written = os.write(descriptor, line)
        if written != len(line):
            raise OSError(errno.ENOSPC, f"wrote {written} of {len(line)} bytes")
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
    if new:
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def read(path: Path) -> list[Entry]:
    """Every entry, oldest first; none if there is no ledger. A last line cut short
    (a crash while it was written) is left out: its erasure never committed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return []
    except (OSError, UnicodeDecodeError) as exc:
        raise LedgerError(f"can't read the erasure ledger {path}: {_reason(exc)}") from None
    lines = text.split("\n")
    complete, torn = lines[:-1], lines[-1]
    del torn  # no newline yet: not a whole entry
    entries = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        try:
            entries.append(Entry(**json.loads(line)))
        except (ValueError, TypeError):
            raise LedgerError(
                f"the erasure ledger {path} is damaged at line {number}: it is not one of ours"
            ) from None
    return entries


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OSError):
        return exc.strerror or exc.__class__.__name__
    return exc.__class__.__name__


def watch(db: Database, on_erased: Callable[[str, str, str], str]) -> None:
    """From now on, on this connection, each supporter row deleted first calls
    `on_erased(platform, address, key)`, which writes the ledger line and returns
    its id; the id becomes the database's mark in the same transaction. If
    `on_erased` raises, the DELETE fails and nothing is erased."""
    db.conn.create_function(_FUNCTION, 3, on_erased)
    db.execute(f"DROP TRIGGER IF EXISTS temp.{_TRIGGER}")
    db.execute(
        f"""
        CREATE TEMP TRIGGER {_TRIGGER} BEFORE DELETE ON main.supporters
        BEGIN
            INSERT OR REPLACE INTO housekeeping (task, done_at)
            VALUES ('{MARK}', {_FUNCTION}(old.platform, old.address, old.key));
        END
        """
    )


def mark(db: Database) -> str | None:
    """The id of the last ledger entry this database holds (None: none yet)."""
    return housekeeping_db.done_at(db, MARK)


def set_mark(db: Database, entry_id: str) -> None:
    housekeeping_db.mark(db, MARK, entry_id)
