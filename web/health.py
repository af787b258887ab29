"""/healthz: is every part this process runs up? For a supervisor, a container's
HEALTHCHECK or an uptime monitor.

The parts are the database (can the store's writer take the write lock?), the
scheduler (running, and when it next runs a job) and each chat adapter that reports
its health (`campaigns.messenger.Watched`: connected, when the platform last answered
a request with success, when updates last came). The dashboard run on its own
(`campaignbot web`) has no scheduler or adapters: only the database then.

200 when every part is up, 503 when any is down; the JSON body names each part. It
is open to anyone, so it says nothing that identifies anyone or anything: no token,
no id, no address, no count of supporters; only up or down, times and a few words.
It stays cheap: the write check runs at most once a second, however often it is asked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import sqlite3
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.schedulers.base import STATE_RUNNING
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from campaigns.messenger import AdapterHealth, Messenger, Watched
from db.store import Store

WRITE_LOCK_WAIT = 1.0  # seconds the check waits for another connection's write lock
WRITER_WAIT = 2.0  # seconds it waits for the writer to get to it (behind a batch)
FRESH_FOR = 1.0  # seconds a write check's answer is reused

Part = dict[str, Any]


class JobScheduler(Protocol):
    """What /healthz reads of APScheduler's scheduler (`CampaignScheduler.scheduler`)."""

    @property
    def state(self) -> int: ...

    def get_jobs(self) -> list[Any]: ...


class Health:
    """The health of the parts given (None: a part this process doesn't run)."""

    def __init__(
        self,
        store: Store,
        *,
        messengers: Mapping[str, Messenger] | None = None,
        scheduler: JobScheduler | None = None,
    ) -> None:
        self.store = store
        self.messengers = messengers or {}
        self.scheduler = scheduler
        self._checking: asyncio.Future[None] | None = None
        self._job: concurrent.futures.Future[None] | None = None  # on the writer's queue
        self._checked: tuple[float, Part] | None = None

    async def endpoint(self, request: Request) -> Response:
        ok, body = await self.report()
        return JSONResponse(body, status_code=200 if ok else 503)

    async def report(self) -> tuple[bool, dict[str, Any]]:
        """Whether every part is up, and each part's state."""
        parts: dict[str, Any] = {"database": await self.database()}
        checked = [parts["database"]]
        if self.scheduler is not None:
            parts["scheduler"] = scheduler_part(self.scheduler)
            checked.append(parts["scheduler"])
        adapters = self.adapters()
        if adapters:
            parts["adapters"] = adapters
            checked.extend(adapters.values())
        ok = all(part["up"] for part in checked)
        return ok, {"ok": ok, **parts}

    def adapters(self) -> dict[str, Part]:
        return {
            name: adapter_part(messenger.health())
            for name, messenger in sorted(self.messengers.items())
            if isinstance(messenger, Watched)
        }

    async def database(self) -> Part:
        """Writable: the store's writer takes the write lock (BEGIN IMMEDIATE) and lets
        it go, within a short wait. One check at a time, its answer kept a second."""
        now = time.monotonic()
        if self._checked is not None and now - self._checked[0] < FRESH_FOR:
            return self._checked[1]
        if self._checking is None or self._checking.done():
            self._checking = asyncio.ensure_future(self._check())
        # Shielded: a client that goes away must not cancel the check under the writer.
        await asyncio.shield(self._checking)
        assert self._checked is not None
        return self._checked[1]

    async def _check(self) -> None:
        part: Part = {"up": True}
        try:
            # A check the writer hasn't got to yet (it is busy, or stuck) is waited for
            # again rather than queued twice.
            if self._job is None or self._job.done():
                self._job = self.store.probe_write(WRITE_LOCK_WAIT)
            waiting = asyncio.shield(asyncio.wrap_future(self._job))
            await asyncio.wait_for(waiting, WRITER_WAIT)
        except TimeoutError:
            part = {"up": False, "note": f"the writer did not get to it in {WRITER_WAIT:g}s"}
        except sqlite3.Error as exc:
            name = getattr(exc, "sqlite_errorname", None) or type(exc).__name__
            part = {"up": False, "note": f"can't take the write lock ({name})"}
        except Exception as exc:  # the store is closed (shutting down), or a bug
            part = {"up": False, "note": f"the write check failed ({type(exc).__name__})"}
        self._checked = (time.monotonic(), part)


def scheduler_part(scheduler: JobScheduler) -> Part:
    """Running (not paused or shut down), and the next time any job runs."""
    times = [job.next_run_time for job in scheduler.get_jobs() if job.next_run_time is not None]
    up = scheduler.state == STATE_RUNNING
    part: Part = {"up": up, "next_run": _text(min(times, default=None))}
    if not part["up"]:
        part["note"] = "not running"
    return part


def adapter_part(health: AdapterHealth) -> Part:
    """An adapter's health as JSON: ages in seconds beside the times, for a glance."""
    part: Part = {
        "up": health.connected,
        "last_ok": _text(health.last_ok),
        "last_ok_age": _age(health.last_ok),
        "last_event": _text(health.last_event),
        "last_event_age": _age(health.last_event),
    }
    if health.latency is not None:
        part["latency"] = round(health.latency, 3)
    if health.note:
        part["note"] = health.note
    return part


def _text(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _age(moment: datetime | None) -> float | None:
    if moment is None:
        return None
    return round(max(0.0, (datetime.now(UTC) - moment).total_seconds()), 1)
