"""The public impact counter under load: /impact.json and /impact beside /healthz.

    .venv/bin/python -m bench.impact               # bench.web's database (seeded once)
    .venv/bin/python -m bench.impact --seconds 20  # longer runs

The counter is counted at most once a minute and served from memory, so a burst of
visitors should cost what /healthz costs (which also answers from memory, its write
check kept a second). The server is `campaignbot web` in its own process, over a copy
of bench.web's database (100,000 supporters, 2.6 million deliveries, a million
actions; the copy keeps its migrations off the shared seed). This process is the
load, an aiohttp client:

- open loop: a fixed 2,000 requests a second for `--seconds`, each timed from when it
  was due (so a slow server can't hide behind a slow client), by 64 workers over
  keep-alive connections;
- closed loop: as fast as 16 connections go, one request at a time each.

Each target in turn, /healthz first: the ratio to /healthz in the same run is the
figure to compare across machines, with the CPU time each request costs the server
process and this one (from /proc and getrusage), which a busy machine changes less
than it changes rates. Then /impact.json's open loop once more, timed so that the
server's once-a-minute count falls a third of the way in (when the last count was
is the JSON's `counted_at`). Before the load, the count itself is timed in-process
(`campaigns.impact.impact`, what the server runs once a minute).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp

from bench.web import OUT, machine, percentile, run_server, seeded
from campaigns.catalog import Catalog
from campaigns.impact import impact
from campaigns.packs import BUNDLED_PACKS
from db.store import open_database
from db.times import utcnow
from web.impact import FRESH_FOR

TARGETS = ("/healthz", "/impact.json", "/impact", "/impact.svg")
RATE = 2000.0  # requests a second the issue asks for
P99_MS = 20.0


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


@dataclass
class Load:
    target: str
    mode: str
    requests: int
    seconds: float
    rate: float
    p50_ms: float
    p99_ms: float
    max_ms: float
    errors: int
    server_cpu_us: float = 0.0  # the server process's CPU time per request
    client_cpu_us: float = 0.0  # this process's


def cpu_seconds(pid: int | None = None) -> float:
    """User and system CPU time of a process (this one by default), in seconds."""
    if pid is None:
        usage = resource.getrusage(resource.RUSAGE_SELF)
        return usage.ru_utime + usage.ru_stime
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def summarise(target: str, mode: str, latencies: list[float], seconds: float, errors: int) -> Load:
    ms = [value * 1000 for value in latencies]
    return Load(
        target=target,
        mode=mode,
        requests=len(ms),
        seconds=round(seconds, 2),
        rate=round(len(ms) / seconds, 1),
        p50_ms=round(statistics.median(ms), 2),
        p99_ms=round(percentile(ms, 0.99), 2),
        max_ms=round(max(ms), 2),
        errors=errors,
    )


async def get(session: aiohttp.ClientSession, url: str) -> int:
    async with session.get(url) as response:
        await response.read()
        return response.status


async def open_loop(base: str, path: str, rate: float, seconds: float) -> Load:
    """`rate` requests a second, each timed from when it was due: 64 workers take the
    next due time in turn, so a request that can't leave on time (every worker busy)
    counts its wait."""
    latencies: list[float] = []
    errors = 0
    url = base + path
    total = int(rate * seconds)
    following = iter(range(total))
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        started = time.perf_counter()

        async def worker() -> None:
            nonlocal errors
            for n in following:
                due = started + n / rate
                wait = due - time.perf_counter()
                if wait > 0:
                    await asyncio.sleep(wait)
                try:
                    status = await get(session, url)
                except aiohttp.ClientError:
                    status = 0
                latencies.append(time.perf_counter() - due)
                errors += status != 200

        await asyncio.gather(*(worker() for _ in range(64)))
        elapsed = time.perf_counter() - started
    return summarise(path, f"open loop, {rate:,.0f}/s", latencies, elapsed, errors)


async def closed_loop(base: str, path: str, connections: int, seconds: float) -> Load:
    """As fast as `connections` keep-alive connections go, one request at a time each."""
    latencies: list[float] = []
    errors = 0
    url = base + path
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        until = time.perf_counter() + seconds

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < until:
                started = time.perf_counter()
                status = await get(session, url)
                latencies.append(time.perf_counter() - started)
                errors += status != 200

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    return summarise(path, f"closed loop, {connections} connections", latencies, elapsed, errors)


def count_time(path: Path, rounds: int = 5) -> tuple[float, dict[str, object]]:
    """The median time of one count, as the server takes it once a minute; and the count."""
    catalog = Catalog.load(BUNDLED_PACKS)
    db = open_database(path)
    try:
        found = impact(db, catalog, utcnow())
        times = []
        for _ in range(rounds):
            started = time.perf_counter()
            found = impact(db, catalog, utcnow())
            times.append((time.perf_counter() - started) * 1000)
    finally:
        db.close()
    return statistics.median(times), {"everyone": asdict(found.everyone)}


async def counted_at(base: str) -> datetime:
    """When the server last counted, as its JSON says."""
    async with aiohttp.ClientSession() as session, session.get(base + "/impact.json") as got:
        return datetime.fromisoformat((await got.json())["counted_at"].replace("Z", "+00:00"))


async def load_tests(path: Path, seconds: float) -> list[Load]:
    server, port = run_server(path)
    base = f"http://127.0.0.1:{port}"
    results = []

    async def measured(run: Awaitable[Load]) -> None:
        server_cpu, client_cpu = cpu_seconds(server.pid), cpu_seconds()
        load = await run
        load.server_cpu_us = round((cpu_seconds(server.pid) - server_cpu) / load.requests * 1e6)
        load.client_cpu_us = round((cpu_seconds() - client_cpu) / load.requests * 1e6)
        results.append(load)
        log(f"  {load}")

    try:
        for target in TARGETS:  # warm up: connections, the first count, the drawn answers
            await closed_loop(base, target, 8, 1.0)
        for target in TARGETS:
            await measured(open_loop(base, target, RATE, seconds))
            await measured(closed_loop(base, target, 16, seconds))
        # Once more, timed so that the server counts again a third of the way in.
        before = await counted_at(base)
        due = before + timedelta(seconds=FRESH_FOR - seconds / 3)
        await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
        await measured(open_loop(base, "/impact.json", RATE, seconds))
        results[-1].mode += ", across a recount"
        assert await counted_at(base) > before, "the server did not count again"
    finally:
        server.terminate()
        server.wait(15)
    return results


def verdict(loads: list[Load]) -> dict[str, object]:
    """Per target: the open loop's rate and p99 against the target, and the flat-out
    rate as a share of /healthz's in the same run."""
    flat = {load.target: load.rate for load in loads if load.mode.startswith("closed")}
    found: dict[str, object] = {}
    for load in loads:
        if load.mode.startswith("open"):
            found[load.target + (" (across a recount)" if "recount" in load.mode else "")] = {
                "rate": load.rate,
                "p99_ms": load.p99_ms,
                "ok": load.rate >= RATE * 0.99 and load.p99_ms < P99_MS and not load.errors,
                "flat_out_vs_healthz": round(flat[load.target] / flat["/healthz"], 2),
            }
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", action="store_true", help="seed bench.web's database again")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    counts = seeded(OUT / "web.db", args.fresh)
    with tempfile.TemporaryDirectory(prefix="campaignbot-impact-") as folder:
        path = Path(folder) / "impact.db"
        log(f"copying the database to {path}")
        shutil.copyfile(OUT / "web.db", path)
        if (OUT / "web.db-wal").exists():  # what bench.web's last run left unmerged
            shutil.copyfile(OUT / "web.db-wal", Path(f"{path}-wal"))
        log("one count, in-process")
        count_ms, figures = count_time(path)
        log(f"  {count_ms:.0f} ms: {figures}")
        log("load")
        loads = asyncio.run(load_tests(path, args.seconds))
    report = {
        "machine": machine(),
        "data": counts,
        "count_ms": round(count_ms, 1),
        "figures": figures,
        "load": [asdict(load) for load in loads],
        "verdict": verdict(loads),
    }
    (OUT / "impact.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
