"""Shared set-up for the benchmarks: a seeded temp database and a core over it."""

from __future__ import annotations

import os
import platform
import resource
import secrets
import statistics
from pathlib import Path

from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.dialogue import Context
from campaigns.packs import BUNDLED_PACKS
from campaigns.prompting import Request, send_now
from db.store import Store, open_database
from db.times import now_text

SECRET = b"benchmark-secret-0123456789abcdef"


def seed(path: Path, platform_name: str, first: int, count: int) -> None:
    """`count` active supporters with addresses first, first+1, ... (bulk SQL)."""
    catalog = Catalog.load(BUNDLED_PACKS)
    db = open_database(path)
    now = now_text()
    with db.atomic():
        catalog.sync(db)
        db.conn.executemany(
            "INSERT INTO supporters (key, platform, address, kind, status, source, created_at,"
            " updated_at) VALUES (?, ?, ?, 'private', 'active', 'bench', ?, ?)",
            (
                (secrets.token_hex(12), platform_name, str(first + n), now, now)
                for n in range(count)
            ),
        )
        # each on every campaign, so every send reaches them all
        db.execute(
            "INSERT OR IGNORE INTO subscriptions (supporter_id, campaign, created_at)"
            " SELECT s.id, c.slug, s.created_at FROM supporters s, campaigns c"
        )
    db.close()


def new_prompt(path: Path, ask_id: str) -> int:
    catalog = Catalog.load(BUNDLED_PACKS)
    db = open_database(path)
    with db.atomic():
        prompt = send_now(db, catalog, Request("one-step-ahead", ask_id), "bench")
    db.close()
    return prompt.id


def core_over(path: Path) -> Core:
    catalog = Catalog.load(BUNDLED_PACKS)
    store = Store(path)
    return Core(store, Context.from_secret(catalog, SECRET))


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def describe_machine() -> str:
    return (
        f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )


def summary(latencies: list[float]) -> str:
    ms = [value * 1000 for value in latencies]
    return (
        f"p50 {statistics.median(ms):.1f} ms, p99 {percentile(ms, 0.99):.1f} ms, "
        f"max {max(ms):.1f} ms"
    )
