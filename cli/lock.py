"""One running bot per database: `campaignbot run` holds an exclusive lock on a file
beside the database (`<db>.lock`) for as long as it runs.

Two bots on one database would poll Telegram with one token (`Conflict` every few
seconds) or send every ask at twice the pace. The lock is `flock` on its own file:
the kernel drops it when the process ends, however it ends, so a crash never leaves
a stale lock. The file holds the pid for people, and for `running_pid`.

The lock is never taken on the database file itself: closing any descriptor of
that file would drop SQLite's own POSIX locks (see `db.store._private_file`).
Other commands never take it; they may ask `running_pid` whether a bot runs.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import time
from collections.abc import Iterator
from pathlib import Path

from db.store import MEMORY, DatabaseUnavailable

# `running_pid` holds a shared lock for an instant; a bot starting at that moment
# tries again for this long before it concludes another bot runs.
CONTENDED_SECONDS = 1.0


class BotRunning(Exception):
    """Another process runs a bot on this database."""

    def __init__(self, db: Path, pid: int | None) -> None:
        who = f"process {pid}" if pid else "another process"
        super().__init__(
            f"db (CAMPAIGNBOT_DB): a bot is already running on {db} ({who}); "
            "stop it first, or give this one another database"
        )
        self.db = db
        self.pid = pid


def lock_path(db: Path) -> Path:
    return db.with_name(db.name + ".lock")


def _open(path: Path, flags: int) -> int:
    try:
        return os.open(path, flags, 0o600)
    except OSError as exc:
        raise DatabaseUnavailable(path, exc.strerror or exc.__class__.__name__) from None


def _pid_in(descriptor: int) -> int | None:
    text = os.pread(descriptor, 32, 0).decode(errors="replace").strip()
    return int(text) if text.isdigit() else None


@contextlib.contextmanager
def hold(db: Path) -> Iterator[None]:
    """Hold the bot's lock on `db` while the block runs; `BotRunning` if another has it."""
    if str(db) == MEMORY:
        yield
        return
    path = lock_path(db)
    if not path.parent.exists():
        try:
            path.parent.mkdir(mode=0o700, parents=True)
        except OSError as exc:
            raise DatabaseUnavailable(db, exc.strerror or exc.__class__.__name__) from None
    descriptor = _open(path, os.O_RDWR | os.O_CREAT)
    try:
        deadline = time.monotonic() + CONTENDED_SECONDS
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise BotRunning(db, _pid_in(descriptor)) from None
                time.sleep(0.05)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(descriptor)  # releases the lock


def running_pid(db: Path) -> int | None:
    """The pid of the bot running on `db` (0 if it can't be read), or None if none runs."""
    if str(db) == MEMORY:
        return None
    try:
        descriptor = os.open(lock_path(db), os.O_RDONLY)
    except OSError:
        return None  # never locked here, or not readable: no bot of ours
    try:
        try:
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _pid_in(descriptor) or 0
        fcntl.flock(descriptor, fcntl.LOCK_UN)
        return None
    finally:
        os.close(descriptor)
