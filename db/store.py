"""Opening the SQLite file, and the one writer that keeps it off the event loop.

`open_database` gives a sync sqlite-utils `Database` (the CLI uses it directly).
`Store` is what async code uses: every write job goes to a single writer thread,
which runs whatever jobs are queued in one transaction (each job in its own
savepoint, so one failing job does not undo the others) and then commits once.
Reads run on a small pool of read-only connections.

When the database refuses a write for a reason that passes (a full disk, a lock
held by another process such as a backup or Datasette), the writer rolls the
whole batch back and tries it again, waiting longer each time, for up to
`patience` seconds; then every job in it fails with `StorageError`, logged once
as one line. Nothing in a failed batch happened, so callers may simply try again.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import os
import queue
import sqlite3
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from db import migrations

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MEMORY = ":memory:"


class DatabaseUnavailable(Exception):
    """The database file can't be opened (a bad path, no permission, not a database)."""

    def __init__(self, path: Path | str, reason: str) -> None:
        super().__init__(f"can't open {path}: {reason}")
        self.path = path
        self.reason = reason


class StorageError(Exception):
    """The database refused a write for longer than the store's patience (a full disk,
    locked by another process); nothing of it happened."""


_PASSING_FAULTS = frozenset(
    {sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR}
)


def is_storage_fault(exc: BaseException) -> bool:
    """A refusal that can pass with time (full, locked, busy, I/O), not a bug in a query."""
    if not isinstance(exc, sqlite3.OperationalError):
        return False
    code = getattr(exc, "sqlite_errorcode", None)
    return code is not None and code & 0xFF in _PASSING_FAULTS


class _Retry(Exception):
    """A job hit a storage fault: the whole batch is rolled back and tried again."""

    def __init__(self, fault: sqlite3.OperationalError) -> None:
        super().__init__(str(fault))
        self.fault = fault


def _private_file(path: Path) -> None:
    """Make the database's folder (0700) and file (0600) before SQLite does, so neither is
    ever readable by other users; tighten an existing file that is. SQLite gives the
    -wal and -shm files the database file's permissions.

    A file descriptor is opened only to create the file: closing any descriptor of a
    file drops every POSIX lock this process holds on it, SQLite's included.
    """
    if not path.parent.exists():
        path.parent.mkdir(mode=0o700, parents=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        mode = stat.S_IMODE(path.stat().st_mode)
        if mode & 0o077:
            path.chmod(mode & 0o700)
            log.warning("database file %s was readable by others; now only by its owner", path)
    else:
        os.close(descriptor)


def connect(path: Path | str, *, read_only: bool = False) -> Database:
    """A connection with the pragmas every connection needs (WAL, foreign keys, secure
    delete). Raises `DatabaseUnavailable` with the reason if the file can't be opened."""
    memory = str(path) == MEMORY
    try:
        if not memory and not read_only:
            _private_file(Path(path))
        conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
        db = Database(conn)
        db.execute("PRAGMA foreign_keys = ON")
        db.execute("PRAGMA busy_timeout = 30000")
        # Erased rows are overwritten with zeros, not left in free pages.
        db.execute("PRAGMA secure_delete = ON")
        if not memory:
            db.execute("PRAGMA journal_mode = WAL")
            # With WAL, NORMAL is durable against a crash of this process (SIGKILL
            # included); only power loss can drop the last commits.
            db.execute("PRAGMA synchronous = NORMAL")
    except OSError as exc:
        raise DatabaseUnavailable(path, exc.strerror or exc.__class__.__name__) from None
    except sqlite3.Error as exc:
        raise DatabaseUnavailable(path, str(exc)) from None
    if read_only:
        db.execute("PRAGMA query_only = ON")
    return db


def open_database(path: Path | str) -> Database:
    """Connect and bring the schema up to date."""
    db = connect(path)
    applied = migrations.apply(db)
    if applied:
        log.info("applied migrations: %s", ", ".join(applied))
    return db


def _take_write_lock(db: Database, wait: float) -> None:
    conn = db.conn
    (patience,) = conn.execute("PRAGMA busy_timeout").fetchone()
    conn.execute(f"PRAGMA busy_timeout = {int(wait * 1000)}")
    try:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("ROLLBACK")
    finally:
        conn.execute(f"PRAGMA busy_timeout = {int(patience)}")


def _settle(job: Job, ok: bool, value: Any) -> None:
    """Hand a job's outcome to whoever waits for it. A caller that stopped waiting (its
    task was cancelled, at shutdown say) has cancelled the future: the job still ran
    and committed, and the writer must not die of telling nobody."""
    try:
        if ok:
            job.future.set_result(value)
        else:
            job.future.set_exception(value)
    except concurrent.futures.InvalidStateError:
        pass


class Job:
    __slots__ = ("alone", "args", "fn", "future")

    def __init__(
        self, fn: Callable[..., Any], args: tuple[Any, ...], *, alone: bool = False
    ) -> None:
        self.fn = fn
        self.args = args
        self.alone = alone  # run outside any transaction, after the jobs queued before it
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


_STOP = object()


def _truncate_wal(db: Database) -> bool:
    busy, _, _ = db.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
    return int(busy) == 0


class Store:
    """The async face of the database: one batching writer thread and a read pool."""

    def __init__(
        self,
        path: Path | str,
        *,
        batch_limit: int = 500,
        readers: int = 2,
        patience: float = 10.0,
    ) -> None:
        if str(path) == MEMORY:
            raise ValueError("Store needs a file (readers and the writer share it)")
        self.path = Path(path)
        self.batch_limit = batch_limit
        self.patience = patience
        self._writer_db = open_database(self.path)
        # A lock held elsewhere is waited out by SQLite itself, up to the same patience.
        self._writer_db.execute(f"PRAGMA busy_timeout = {int(patience * 1000)}")
        self._jobs: queue.SimpleQueue[Job | object] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="db-writer", daemon=True)
        self._writer.start()
        self._local = threading.local()
        self._readers = concurrent.futures.ThreadPoolExecutor(readers, thread_name_prefix="db-read")
        self._reader_dbs: list[Database] = []
        self._closed = False

    async def write(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(db, *args, **kwargs)` in the writer thread, in a transaction; return it."""
        job = functools.partial(fn, **kwargs) if kwargs else fn
        return await asyncio.wrap_future(self.submit(job, *args))

    def submit(self, fn: Callable[..., T], *args: Any) -> concurrent.futures.Future[T]:
        """Queue a write job from any thread; the future resolves after its commit."""
        return self._queue(Job(fn, args))

    def _queue(self, job: Job) -> concurrent.futures.Future[Any]:
        if self._closed:
            raise RuntimeError("the store is closed")
        self._jobs.put(job)
        return job.future

    async def checkpoint(self) -> bool:
        """Copy the write-ahead log into the database file and empty it, so erased rows
        linger nowhere (with secure_delete on, their pages are zeroed). False if a
        reader held it back; the next checkpoint finishes the job."""
        return bool(await asyncio.wrap_future(self._queue(Job(_truncate_wal, (), alone=True))))

    def probe_write(self, wait: float) -> concurrent.futures.Future[None]:
        """Can the store write? The writer takes the write lock and lets it go at once
        (`BEGIN IMMEDIATE; ROLLBACK`, waiting at most `wait` seconds for another process
        holding it), on its own between batches, outside any transaction. The future
        fails with the sqlite3 error when it can't; it never resolves if the writer is
        stuck, so wait for it with a timeout."""
        return self._queue(Job(_take_write_lock, (wait,), alone=True))

    async def read(
        self, fn: Callable[Concatenate[Database, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run `fn(db, *args, **kwargs)` on a read-only connection in the read pool."""
        job = functools.partial(fn, **kwargs) if kwargs else fn
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._readers, self._run_read, job, args)

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        db: Database | None = getattr(self._local, "db", None)
        if db is None:
            db = connect(self.path, read_only=True)
            self._local.db = db
            self._reader_dbs.append(db)
        return fn(db, *args)

    def _write_loop(self) -> None:
        db = self._writer_db
        while True:
            first = self._jobs.get()
            if first is _STOP:
                return
            assert isinstance(first, Job)
            if first.alone:
                self._run_alone(db, first)
                continue
            batch: list[Job] = [first]
            after: Job | None = None
            stop_after = False
            while len(batch) < self.batch_limit:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                assert isinstance(item, Job)
                if item.alone:
                    after = item
                    break
                batch.append(item)
            self._run_batch(db, batch)
            if after is not None:
                self._run_alone(db, after)
            if stop_after:
                return

    @staticmethod
    def _run_alone(db: Database, job: Job) -> None:
        try:
            value = job.fn(db, *job.args)
        except Exception as exc:
            _settle(job, False, exc)
        else:
            _settle(job, True, value)

    def _run_batch(self, db: Database, batch: list[Job]) -> None:
        """Run and commit the batch; while the database refuses, roll it all back and try
        again, then fail every job with `StorageError`."""
        deadline = time.monotonic() + self.patience
        delay = 0.05
        while True:
            try:
                outcomes = self._try_batch(db, batch)
            except (_Retry, sqlite3.OperationalError) as exc:
                fault = exc.fault if isinstance(exc, _Retry) else exc
                if not is_storage_fault(fault):
                    log.error("write batch of %d jobs failed to commit: %s", len(batch), fault)
                    for job in batch:
                        _settle(job, False, fault)
                    return
                if time.monotonic() + delay > deadline:
                    log.error(
                        "database refused a write of %d jobs for %gs (%s): they failed",
                        len(batch),
                        self.patience,
                        fault,
                    )
                    error = StorageError(f"the database refused the write: {fault}")
                    for job in batch:
                        _settle(job, False, error)
                    return
                time.sleep(delay)
                delay = min(delay * 2, 1.0)
                continue
            break
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            _settle(job, ok, value)

    @staticmethod
    def _try_batch(db: Database, batch: list[Job]) -> list[tuple[bool, Any]]:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with db.atomic():
                for job in batch:
                    try:
                        with db.atomic():
                            outcomes.append((True, job.fn(db, *job.args)))
                    except sqlite3.OperationalError as exc:
                        if is_storage_fault(exc):
                            raise _Retry(exc) from exc
                        outcomes.append((False, exc))
                    except Exception as exc:  # the job's own error goes back to its caller
                        outcomes.append((False, exc))
        finally:
            if db.conn.in_transaction:  # a fault can leave it open; nothing of it stays
                db.conn.rollback()
        return outcomes

    def close(self) -> None:
        """Finish queued writes, then close every connection."""
        if self._closed:
            return
        self._closed = True
        self._jobs.put(_STOP)
        self._writer.join()
        self._readers.shutdown(wait=True)
        for db in self._reader_dbs:
            db.close()
        self._writer_db.close()
