"""/metrics: the bot's numbers in Prometheus's text format (prometheus-client).

Served only to clients on this machine (loopback) or at one of `trusted_proxies`
(the address the app sees, after believing a trusted proxy's X-Forwarded-For): the
counts say how big and how busy the campaign is, which is not for everyone. A
Prometheus on the same host, or on a network named in `trusted_proxies`, scrapes
the dashboard's port directly; through the public https proxy it is refused (403).

What it shows, all of it counts and times, nothing that identifies anyone:

- `campaignbot_deliveries{platform,state}`: deliveries in the database, from one
  grouped query, kept for `FRESH_FOR` seconds so that scrapes never load SQLite;
- `campaignbot_sends_total{platform,outcome}`: deliveries the engine finished since
  start, by how they ended (sent, gone, failed, unknown); the send rate is
  `rate(campaignbot_sends_total{outcome="sent"}[5m])`;
- `campaignbot_send_retries_total{platform}`: deliveries put back to be tried again
  (nothing was sent), and `campaignbot_rate_limited_total{platform}` those of them
  the platform answered with a 429;
- `campaignbot_presses_total{platform}`: button presses since start;
- `campaignbot_adapter_up{platform}`: 1 while the adapter is connected (as /healthz);
- `campaignbot_backup_age_seconds`: since the latest backup in `backup_dir` (+Inf
  while there is none; absent when no backup folder is set);
- the process's own (`process_*`: memory, CPU, open files).

The engine and the core keep their counters as plain numbers (they import nothing
of Prometheus); the collector here reads them at each scrape. Each app has a
registry of its own, never the library's global one.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import math
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, datetime
from typing import Protocol

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    ProcessCollector,
    generate_latest,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.types import Scope

from campaigns.core import Core
from campaigns.messenger import Messenger, Watched
from campaigns.progress import delivery_totals
from db.store import Store

log = logging.getLogger(__name__)

FRESH_FOR = 5.0  # seconds the database's counts are reused between scrapes
OUTCOMES = ("sent", "gone", "failed", "unknown")  # how the engine's sends end
REFUSED = "Metrics are served only to this machine and to trusted_proxies."

Network = ipaddress.IPv4Network | ipaddress.IPv6Network
LastBackup = Callable[[], datetime | None]


class SendCounts(Protocol):
    """The delivery engine as /metrics reads it (`DeliveryEngine.counts`)."""

    def counts(self) -> Mapping[str, Mapping[str, int]]: ...


class Metrics:
    """The /metrics endpoint and the collector behind it."""

    def __init__(
        self,
        core: Core,
        trusted_proxies: Iterable[str],
        *,
        messengers: Mapping[str, Messenger] | None = None,
        engine: SendCounts | None = None,
        last_backup: LastBackup | None = None,
        fresh_for: float = FRESH_FOR,
    ) -> None:
        self.core = core
        self.messengers = messengers or {}
        self.engine = engine
        self.last_backup = last_backup
        self.fresh_for = fresh_for
        self.trusted = [ipaddress.ip_network(item, strict=False) for item in trusted_proxies]
        self.registry = CollectorRegistry()
        self.registry.register(self)
        ProcessCollector(registry=self.registry)
        self._deliveries: dict[tuple[str, str], int] = {}
        self._backup: datetime | None = None
        self._taken = -math.inf
        self._refreshing: asyncio.Future[None] | None = None

    async def endpoint(self, request: Request) -> Response:
        if not local_or_trusted(request.scope, self.trusted):
            return PlainTextResponse(REFUSED, status_code=403)
        await self.refresh()
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)

    async def refresh(self) -> None:
        """Read the database's counts (and the backup folder) again if they are older
        than `fresh_for` seconds; one read at a time, however many scrapes ask."""
        if time.monotonic() - self._taken < self.fresh_for:
            return
        if self._refreshing is None or self._refreshing.done():
            self._refreshing = asyncio.ensure_future(self._read(self.core.store))
        await asyncio.shield(self._refreshing)

    async def _read(self, store: Store) -> None:
        try:
            self._deliveries = await store.read(delivery_totals)
        except sqlite3.Error as exc:  # the last counts stay; the next scrape tries again
            log.warning("metrics: can't read the delivery counts (%s)", type(exc).__name__)
        if self.last_backup is not None:
            self._backup = await asyncio.to_thread(self.last_backup)
        self._taken = time.monotonic()

    def collect(self) -> Iterator[Metric]:
        """Called by prometheus-client at each scrape, after `refresh`."""
        deliveries = GaugeMetricFamily(
            "campaignbot_deliveries",
            "Deliveries in the database, by platform and state.",
            labels=["platform", "state"],
        )
        for (platform, state), n in sorted(self._deliveries.items()):
            deliveries.add_metric([platform, state], n)
        yield deliveries
        yield from self._engine_counts()
        presses = CounterMetricFamily(
            "campaignbot_presses", "Button presses since start.", labels=["platform"]
        )
        for platform in sorted(set(self.messengers) | set(self.core.presses)):
            presses.add_metric([platform], self.core.presses[platform])
        yield presses
        up = GaugeMetricFamily(
            "campaignbot_adapter_up", "1 while the chat adapter is connected.", labels=["platform"]
        )
        for platform, messenger in sorted(self.messengers.items()):
            if isinstance(messenger, Watched):
                up.add_metric([platform], 1.0 if messenger.health().connected else 0.0)
        yield up
        if self.last_backup is not None:
            age = math.inf
            if self._backup is not None:
                age = max(0.0, (datetime.now(UTC) - self._backup).total_seconds())
            yield GaugeMetricFamily(
                "campaignbot_backup_age_seconds",
                "Seconds since the latest backup in backup_dir (+Inf: none yet).",
                value=age,
            )

    def _engine_counts(self) -> Iterator[Metric]:
        sends = CounterMetricFamily(
            "campaignbot_sends",
            "Deliveries the engine finished since start, by how they ended.",
            labels=["platform", "outcome"],
        )
        retries = CounterMetricFamily(
            "campaignbot_send_retries",
            "Deliveries put back to be tried again since start (nothing was sent).",
            labels=["platform"],
        )
        limited = CounterMetricFamily(
            "campaignbot_rate_limited",
            "Sends the platform answered with a 429 since start.",
            labels=["platform"],
        )
        counts = self.engine.counts() if self.engine is not None else {}
        for platform, count in sorted(counts.items()):
            for outcome in OUTCOMES:
                sends.add_metric([platform, outcome], count.get(outcome, 0))
            retries.add_metric([platform], count.get("retried", 0))
            limited.add_metric([platform], count.get("rate_limited", 0))
        yield from (sends, retries, limited)


def local_or_trusted(scope: Scope, trusted: Iterable[Network]) -> bool:
    """Is the client (as the app sees it: see `web.security.client_address`) on this
    machine, or at one of the trusted proxies' addresses?"""
    client = scope.get("client")
    try:
        address = ipaddress.ip_address(str(client[0]) if client else "")
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return address.is_loopback or any(address in network for network in trusted)
