"""Dashboard speed: pages, a year's CSV and the tracked-link redirect, at scale.

    .venv/bin/python -m bench.web            # seeds bench/out/web.db once, then measures
    .venv/bin/python -m bench.web --fresh    # seeds again

The database gets 100,000 supporters, a year of weekly prompts with their
deliveries (about 2.5 million) and exactly 1,000,000 actions, by bulk SQL
through the real schema (so the counting triggers and indexes do their work).

- Pages: server time, measured in-process over ASGI (the whole middleware
  stack, templates and charts; no network), warm: after two requests.
- CSV: a year's per-ask-and-week CSV, until the last byte.
- Redirect: `campaignbot web` in its own process; this process is the load
  generator (raw HTTP/1.1 keep-alive on asyncio). First a fixed 1,000 requests
  a second for 10 s (open loop: latency counts from when a request was due, so
  a slow server can't hide behind a slow client), then as fast as 16
  connections go. `/healthz` (a database read) is the baseline in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx

from campaigns.catalog import Catalog
from campaigns.links import LinkTokens
from campaigns.packs import BUNDLED_PACKS
from db import users as users_db
from db.store import open_database
from runner import open_core
from settings import Settings
from web import accounts
from web.app import create_app
from web.server import listen

OUT = Path(__file__).parent / "out"
SECRET = "benchmark-secret-for-the-dashboard-0123456789"
SUPPORTERS = 100_000
ACTIONS = 1_000_000
WEEKS = 52
SEED_VERSION = "2"  # 2: one answer (done or skipped) per delivery
PASSWORD = "benchmark password"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- seeding


def seed(path: Path) -> dict[str, int]:
    """The benchmark database, by bulk SQL through the real schema."""
    for old in path.parent.glob(path.name + "*"):
        old.unlink()
    db = open_database(path)
    Catalog.load(BUNDLED_PACKS).sync(db)
    conn = db.conn
    conn.execute("PRAGMA synchronous = OFF")
    first = datetime.now(UTC).replace(hour=18, minute=30, second=0, microsecond=0)
    first -= timedelta(days=(first.weekday() - 1) % 7 + 7 * (WEEKS - 1))
    started = time.perf_counter()
    with conn:
        # Supporters join steadily from two months before the first prompt.
        conn.execute(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < :count),
            joined(i, at) AS (
                SELECT i, strftime('%Y-%m-%dT%H:%M:%SZ', :start, (i * :step) || ' seconds')
                FROM n)
            INSERT INTO supporters (id, key, platform, address, kind, status, source,
                consent_version, consented_at, created_at, updated_at)
            SELECT i, lower(hex(randomblob(12))),
                CASE WHEN i % 10 < 6 THEN 'telegram' WHEN i % 10 < 9 THEN 'discord'
                     ELSE 'console' END,
                'bench-' || i,
                CASE WHEN i % 97 = 0 THEN 'group' ELSE 'private' END,
                CASE i % 20 WHEN 1 THEN 'paused' WHEN 2 THEN 'stopped' WHEN 3 THEN 'gone'
                     ELSE 'active' END,
                CASE (i * 7) % 13 WHEN 0 THEN NULL WHEN 1 THEN NULL WHEN 2 THEN 'readme'
                    WHEN 3 THEN 'leaflet' WHEN 4 THEN 'newsletter' WHEN 5 THEN 'instagram'
                    WHEN 6 THEN 'school-talk' WHEN 7 THEN 'podcast' WHEN 8 THEN 'partner'
                    WHEN 9 THEN 'event' WHEN 10 THEN 'press' WHEN 11 THEN 'friend'
                    ELSE 'web' END,
                '2026-11', at, at, at
            FROM joined
            """,
            {
                "count": SUPPORTERS,
                "start": (first - timedelta(days=60)).strftime("%Y-%m-%d %H:%M:%S"),
                "step": (WEEKS * 7 + 40) * 86400 // SUPPORTERS,
            },
        )
        asks = [row[0] for row in conn.execute("SELECT id FROM asks ORDER BY position")]
        for week in range(WEEKS):
            at = (first + timedelta(weeks=week)).strftime("%Y-%m-%dT%H:%M:%SZ")
            conn.execute(
                """INSERT INTO prompts (id, campaign, ask_id, kind, scheduled_at, timezone, state,
                    created_by, created_at, started_at, finished_at)
                VALUES (?, 'one-step-ahead', ?, 'weekly', ?, 'Europe/London', 'sent', 'schedule',
                    ?, ?, ?)""",
                [week + 1, asks[week % len(asks)], at, at, at, at],
            )
    log(f"  supporters and prompts: {time.perf_counter() - started:.1f}s")
    with conn:
        conn.execute(
            """INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform, source,
                state, attempts, created_at, updated_at, sent_at)
            SELECT p.id, s.id, s.key, s.platform, s.source,
                CASE WHEN (s.id * 31 + p.id) % 100 < 97 THEN 'sent'
                     WHEN (s.id * 31 + p.id) % 100 < 99 THEN 'gone' ELSE 'failed' END,
                1, p.scheduled_at, p.scheduled_at, p.scheduled_at
            FROM prompts p JOIN supporters s ON s.created_at <= p.scheduled_at
                AND s.id % 7 != 0
            ORDER BY p.id, s.id"""
        )
    log(f"  deliveries: {time.perf_counter() - started:.1f}s")
    # Each sent delivery gets each kind of action with a fixed chance (a hash of
    # its id), and then exactly ACTIONS of them are kept.
    with conn:
        conn.execute(
            """INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,
                created_at)
            SELECT prompt_id, supporter_key, kind, platform, source, via, sent_at FROM (
                SELECT d.id, d.prompt_id, d.supporter_key, 'opened' AS kind, d.platform,
                    d.source, 'link' AS via, d.sent_at
                FROM deliveries d WHERE d.state = 'sent' AND (d.id * 2654435761) % 1000 < 180
                UNION ALL
                SELECT d.id, d.prompt_id, d.supporter_key, 'done', d.platform, d.source,
                    'button', d.sent_at
                FROM deliveries d WHERE d.state = 'sent'
                    AND ((d.id * 2654435761) % 1000 < 150 OR (d.id * 40503) % 1000 < 60)
                UNION ALL
                SELECT d.id, d.prompt_id, d.supporter_key, 'skipped', d.platform, d.source,
                    'button', d.sent_at
                FROM deliveries d WHERE d.state = 'sent'
                    AND (d.id * 2654435761) % 1000 BETWEEN 600 AND 680
                    AND (d.id * 40503) % 1000 >= 60  -- one answer per delivery: not also done
            ) ORDER BY id, kind LIMIT ?""",
            [ACTIONS],
        )
    log(f"  actions: {time.perf_counter() - started:.1f}s")
    counts = {
        table: int(conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
        for table in ("supporters", "prompts", "deliveries", "actions")
    }
    assert counts["actions"] == ACTIONS, counts
    with conn:
        users_db.add(
            db,
            name="bench",
            role="organiser",
            password_hash=accounts.hash_password(PASSWORD),
            chat=None,
        )
    conn.execute("ANALYZE")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    (path.parent / "web.seeded").write_text(json.dumps({"version": SEED_VERSION, **counts}))
    log(f"  seeded in {time.perf_counter() - started:.1f}s: {counts}")
    return counts


def seeded(path: Path, fresh: bool) -> dict[str, int]:
    marker = path.parent / "web.seeded"
    if not fresh and path.exists() and marker.exists():
        found = json.loads(marker.read_text())
        if found.pop("version", None) == SEED_VERSION:
            log(f"using the seeded database {path} ({found})")
            return {key: int(value) for key, value in found.items()}
    log(f"seeding {path} (takes a minute)")
    return seed(path)


# ---------------------------------------------------------------- pages and CSV


def settings_for(path: Path, port: int = 0) -> Settings:
    return Settings(
        db=path,
        secret_key=SECRET,
        public_base_url=f"http://127.0.0.1:{port}" if port else None,
    )


@dataclass
class Timing:
    name: str
    path: str
    median_ms: float
    p95_ms: float
    first_ms: float
    budget_ms: float

    @property
    def ok(self) -> bool:
        return self.median_ms < self.budget_ms and self.p95_ms < self.budget_ms


async def time_pages(path: Path, rounds: int) -> list[Timing]:
    settings = settings_for(path)
    core = open_core(settings)
    app = create_app(core, settings)
    year_ago = (datetime.now(UTC) - timedelta(days=365)).date().isoformat()
    pages = [
        ("overview", "/", 300.0),
        ("per ask and week", "/participation", 300.0),
        ("per ask and week, filtered", "/participation?platform=telegram&source=leaflet", 300.0),
        ("per source", "/sources", 300.0),
        ("a year's per-week CSV", f"/participation/asks.csv?since={year_ago}", 1000.0),
    ]
    results = []
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            form = await client.get("/sign-in")
            token = re.search(r'name="csrftoken" value="([^"]+)"', form.text)
            assert token is not None
            signed = await client.post(
                "/sign-in",
                data={"name": "bench", "password": PASSWORD, "csrftoken": token.group(1)},
            )
            assert signed.status_code == 303, signed.text
            for name, url, budget in pages:
                times = []
                for _ in range(rounds + 2):
                    started = time.perf_counter()
                    response = await client.get(url)
                    body = response.content  # to the last byte
                    times.append((time.perf_counter() - started) * 1000)
                    assert response.status_code == 200 and body, (url, response.status_code)
                warm = times[2:]
                results.append(
                    Timing(
                        name,
                        url,
                        statistics.median(warm),
                        percentile(warm, 0.95),
                        times[0],
                        budget,
                    )
                )
                log(f"  {name}: median {results[-1].median_ms:.0f} ms")
    finally:
        core.close()
    return results


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def query_time(path: Path) -> float:
    from db.stats import participation

    db = open_database(path)
    participation(db)
    started = time.perf_counter()
    for _ in range(5):
        participation(db)
    db.close()
    return (time.perf_counter() - started) / 5 * 1000


# ---------------------------------------------------------------- the redirect under load


def link_paths(path: Path, count: int) -> list[str]:
    """Tracked links of `count` sent deliveries that have not been opened yet."""
    tokens = LinkTokens(SECRET.encode())
    conn = sqlite3.connect(path)
    rows = conn.execute(
        """SELECT d.id, p.campaign, p.ask_id FROM deliveries d JOIN prompts p ON p.id = d.prompt_id
        WHERE d.state = 'sent' AND NOT EXISTS (SELECT 1 FROM actions a
            WHERE a.supporter_key = d.supporter_key AND a.prompt_id = d.prompt_id
            AND a.kind = 'opened')
        ORDER BY d.id DESC LIMIT ?""",
        [count],
    ).fetchall()
    conn.close()
    return [f"/l/{tokens.make(i, campaign, ask)}" for i, campaign, ask in rows]


class Connection:
    """One keep-alive HTTP/1.1 connection that sends GETs and reads whole responses."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    @classmethod
    async def open(cls, port: int) -> Connection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        return cls(reader, writer)

    async def get(self, path: str) -> int:
        self.writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
        head = await self.reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        found = re.search(rb"content-length: *(\d+)", head, re.IGNORECASE)
        if found:
            await self.reader.readexactly(int(found.group(1)))
        return status

    def close(self) -> None:
        self.writer.close()


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


async def open_loop(
    port: int, paths: Callable[[], str], rate: float, seconds: float, target: str
) -> Load:
    """`rate` requests a second, each timed from when it was due."""
    pool: asyncio.Queue[Connection] = asyncio.Queue()
    for _ in range(64):
        pool.put_nowait(await Connection.open(port))
    latencies: list[float] = []
    errors = 0

    async def one(due: float, path: str) -> None:
        nonlocal errors
        connection = await pool.get()
        try:
            status = await connection.get(path)
        finally:
            pool.put_nowait(connection)
        latencies.append(time.perf_counter() - due)
        errors += status not in (200, 302)

    total = int(rate * seconds)
    tasks = []
    started = time.perf_counter()
    for n in range(total):
        due = started + n / rate
        wait = due - time.perf_counter()
        if wait > 0:
            await asyncio.sleep(wait)
        tasks.append(asyncio.create_task(one(due, paths())))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - started
    while not pool.empty():
        pool.get_nowait().close()
    return summarise(target, f"open loop, {rate:.0f}/s", latencies, elapsed, errors)


async def closed_loop(
    port: int, paths: Callable[[], str], connections: int, seconds: float, target: str
) -> Load:
    """As fast as `connections` keep-alive connections go, one request at a time each."""
    latencies: list[float] = []
    errors = 0
    until = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal errors
        connection = await Connection.open(port)
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                status = await connection.get(paths())
                latencies.append(time.perf_counter() - started)
                errors += status not in (200, 302)
        finally:
            connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(connections)))
    elapsed = time.perf_counter() - started
    return summarise(target, f"closed loop, {connections} connections", latencies, elapsed, errors)


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


def cycle(items: list[str]) -> Callable[[], str]:
    iterator: Iterator[str] = iter(items)

    def following() -> str:
        nonlocal iterator
        try:
            return next(iterator)
        except StopIteration:
            iterator = iter(items)
            return next(iterator)

    return following


def run_server(path: Path) -> tuple[subprocess.Popen[str], int]:
    """`campaignbot web` on a free port, in its own process."""
    probe = listen("127.0.0.1", 0)
    port = probe.getsockname()[1]
    probe.close()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith("CAMPAIGNBOT_")},
        "CAMPAIGNBOT_DB": str(path),
        "CAMPAIGNBOT_SECRET_KEY": SECRET,
        "CAMPAIGNBOT_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        "CAMPAIGNBOT_LOG_LEVEL": "WARNING",
    }
    server = subprocess.Popen(  # noqa: S603
        [str(Path(sys.executable).parent / "campaignbot"), "web", "--port", str(port)],
        env=env,
        text=True,
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).status_code == 200:
                return server, port
        except httpx.TransportError:
            time.sleep(0.1)
    server.kill()
    raise RuntimeError("campaignbot web did not start")


async def load_tests(path: Path, seconds: float) -> list[Load]:
    links = link_paths(path, 120_000)
    log(f"  {len(links):,} unopened deliveries to open")
    fresh = iter(links)

    def next_link() -> str:
        return next(fresh)

    server, port = run_server(path)
    results = []
    try:
        # warm up: connections, caches, the writer
        await closed_loop(port, cycle(["/healthz"]), 8, 1.0, "warm-up")
        await closed_loop(port, cycle(links[-500:]), 8, 1.0, "warm-up")
        for target, paths in (("/healthz", cycle(["/healthz"])), ("/l/<token>", next_link)):
            results.append(await open_loop(port, paths, 1000, seconds, target))
            log(f"  {results[-1]}")
            results.append(await closed_loop(port, paths, 16, seconds, target))
            log(f"  {results[-1]}")
        again = cycle(links[:2000])  # links opened already: checked, not counted again
        results.append(await closed_loop(port, again, 16, seconds, "/l/<token>, repeat opens"))
        log(f"  {results[-1]}")
    finally:
        server.terminate()
        server.wait(15)
    return results


# ---------------------------------------------------------------- report


def machine() -> dict[str, str]:
    cpu = "unknown"
    with open("/proc/cpuinfo") as info:
        for line in info:
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    memory = "unknown"
    with open("/proc/meminfo") as info:
        for line in info:
            if line.startswith("MemTotal"):
                memory = f"{int(line.split()[1]) / 1024 / 1024:.0f} GiB"
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "memory": memory,
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "system": f"{platform.system()} {platform.release()}",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fresh", action="store_true", help="seed the database again")
    parser.add_argument("--rounds", type=int, default=20, help="timed requests per page")
    parser.add_argument("--seconds", type=float, default=10.0, help="length of each load run")
    args = parser.parse_args()
    OUT.mkdir(exist_ok=True)
    path = OUT / "web.db"
    counts = seeded(path, args.fresh)
    log("the participation query")
    query_ms = query_time(path)
    log(f"  {query_ms:.0f} ms")
    log("pages (server time, warm)")
    pages = asyncio.run(time_pages(path, args.rounds))
    log("the link redirect under load")
    loads = asyncio.run(load_tests(path, args.seconds))
    report = {
        "machine": machine(),
        "data": counts,
        "participation_query_ms": round(query_ms, 1),
        "pages": [{**asdict(t), "ok": t.ok} for t in pages],
        "redirect": [asdict(load) for load in loads],
    }
    (OUT / "web.json").write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
