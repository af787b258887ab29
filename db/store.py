"""Opening the SQLite file, and the one writer that keeps it off the event loop.

`open_database` gives a sync sqlite-utils `Database` (the CLI uses it directly).
`Store` is what async code uses: every write job goes to a single writer thread,
which runs whatever jobs are queued in one transaction (each job in its own
savepoint, so one failing job does not undo the others) and then commits once.
Reads run on a small pool of read-only connections.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import functools
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any, Concatenate, ParamSpec, TypeVar

from sqlite_utils import Database

from db import migrations

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")

MEMORY = ":memory:"


def connect(path: Path | str, *, read_only: bool = False) -> Database:
    """A connection with the pragmas every connection needs (WAL, foreign keys)."""
    if str(path) != MEMORY:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(str(path), timeout=30, check_same_thread=False)
    db = Database(conn)
    db.execute("PRAGMA foreign_keys = ON")
    db.execute("PRAGMA busy_timeout = 30000")
    if str(path) != MEMORY:
        db.execute("PRAGMA journal_mode = WAL")
        # With WAL, NORMAL is durable against a crash of this process (SIGKILL
        # included); only power loss can drop the last commits.
        db.execute("PRAGMA synchronous = NORMAL")
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


class Job:
    __slots__ = ("args", "fn", "future")

    def __init__(self, fn: Callable[..., Any], args: tuple[Any, ...]) -> None:
        self.fn = fn
        self.args = args
        self.future: concurrent.futures.Future[Any] = concurrent.futures.Future()


_STOP = object()


class Store:
    """The async face of the database: one batching writer thread and a read pool."""

    def __init__(self, path: Path | str, *, batch_limit: int = 500, readers: int = 2) -> None:
        if str(path) == MEMORY:
            raise ValueError("Store needs a file (readers and the writer share it)")
        self.path = Path(path)
        self.batch_limit = batch_limit
        self._writer_db = open_database(self.path)
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
        if self._closed:
            raise RuntimeError("the store is closed")
        job = Job(fn, args)
        self._jobs.put(job)
        return job.future

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
            batch: list[Job] = [first]  # type: ignore[list-item]
            stop_after = False
            while len(batch) < self.batch_limit:
                try:
                    item = self._jobs.get_nowait()
                except queue.Empty:
                    break
                if item is _STOP:
                    stop_after = True
                    break
                batch.append(item)  # type: ignore[arg-type]
            self._run_batch(db, batch)
            if stop_after:
                return

    @staticmethod
    def _run_batch(db: Database, batch: list[Job]) -> None:
        outcomes: list[tuple[bool, Any]] = []
        try:
            with db.atomic():
                for job in batch:
                    try:
                        with db.atomic():
                            outcomes.append((True, job.fn(db, *job.args)))
                    except Exception as exc:  # the job's own error goes back to its caller
                        outcomes.append((False, exc))
        except Exception as exc:  # the commit itself failed: nothing in the batch happened
            log.exception("write batch of %d jobs failed to commit", len(batch))
            for job in batch:
                job.future.set_exception(exc)
            return
        for job, (ok, value) in zip(batch, outcomes, strict=True):
            if ok:
                job.future.set_result(value)
            else:
                job.future.set_exception(value)

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
