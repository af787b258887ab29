"""The fast participation query (sums kept by triggers, distinct supporters from
indexes) against a plain recount from the raw rows, over random histories."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlite_utils import Database

from db import supporters as supporters_db
from db.stats import NO_SOURCE, Counts, Filters, participation
from db.times import to_text
from tests.web_seed import seed_demo

WEEK = "date(p.scheduled_at, 'weekday 0', '-6 days')"


def recount(db: Database, filters: Filters) -> dict[str, Any]:
    """Every count straight from deliveries and actions (slow, obviously right)."""
    prompt = ["p.kind != 'reminder'", "p.state != 'cancelled'"]
    params: list[Any] = []
    for clause, value in (
        ("p.campaign = ?", filters.campaign),
        ("p.scheduled_at >= ?", filters.since),
        ("p.scheduled_at < ?", filters.until),
    ):
        if value:
            prompt.append(clause)
            params.append(value)

    def rows(alias: str) -> tuple[str, list[Any]]:
        clauses, values = list(prompt), list(params)
        if filters.platform:
            clauses.append(f"{alias}.platform = ?")
            values.append(filters.platform)
        if filters.source == NO_SOURCE:
            clauses.append(f"{alias}.source IS NULL")
        elif filters.source:
            clauses.append(f"{alias}.source = ?")
            values.append(filters.source)
        return " AND ".join(clauses), values

    d_where, d_params = rows("d")
    a_where, a_params = rows("a")
    result: dict[str, Any] = {}
    for name, group in (
        ("ask", f"{WEEK} || '/' || p.campaign || '/' || p.ask_id"),
        ("platform", "{row}.platform"),
        ("source", f"COALESCE({{row}}.source, '{NO_SOURCE}')"),
        ("total", "'all'"),
    ):
        found: dict[str, list[int]] = {}
        for key, n in db.execute(
            f"""SELECT {group.replace("{row}", "d")}, count(*) FROM deliveries d
            JOIN prompts p ON p.id = d.prompt_id WHERE d.state = 'sent' AND {d_where}
            GROUP BY 1""",
            d_params,
        ).fetchall():
            found.setdefault(key, [0, 0, 0, 0, 0])[0] = n
        for key, opened, done, skipped, people in db.execute(
            f"""SELECT {group.replace("{row}", "a")}, sum(a.kind = 'opened'),
                sum(a.kind = 'done'), sum(a.kind = 'skipped'),
                count(DISTINCT CASE WHEN a.kind = 'done' THEN a.supporter_key END)
            FROM actions a JOIN prompts p ON p.id = a.prompt_id WHERE {a_where} GROUP BY 1""",
            a_params,
        ).fetchall():
            found.setdefault(key, [0, 0, 0, 0, 0])[1:] = [opened, done, skipped, people]
        result[name] = {key: Counts(*values) for key, values in found.items()}
    return result


def fast(db: Database, filters: Filters) -> dict[str, Any]:
    report = participation(db, filters)
    return {
        "ask": {f"{r.week}/{r.campaign}/{r.ask_id}": r.counts for r in report.by_ask_week},
        "platform": {r.key: r.counts for r in report.by_platform},
        "source": {r.key: r.counts for r in report.by_source},
        "total": {"all": report.total} if report.by_platform else {},
    }


def shake(db: Database, rng: random.Random) -> None:
    """What happens to a history later: erasures, deliveries settling, extra prompts
    in a week that already has one, and a deleted action."""
    for (supporter_id,) in db.execute(
        "SELECT id FROM supporters ORDER BY random() LIMIT 15"
    ).fetchall():
        supporters_db.delete(db, supporter_id)
    db.execute(
        "UPDATE deliveries SET state = 'sent' WHERE id IN "
        "(SELECT id FROM deliveries WHERE state = 'failed' LIMIT 20)"
    )
    db.execute(
        "UPDATE deliveries SET state = 'unknown' WHERE id IN "
        "(SELECT id FROM deliveries WHERE state = 'sent' ORDER BY id DESC LIMIT 10)"
    )
    db.execute("DELETE FROM actions WHERE id IN (SELECT id FROM actions ORDER BY id LIMIT 3)")
    # A manual prompt of the same ask in the same week as a weekly one.
    prompt_id, campaign, ask_id, at = db.execute(
        "SELECT id, campaign, ask_id, scheduled_at FROM prompts WHERE kind = 'weekly'"
        " ORDER BY id DESC LIMIT 1"
    ).fetchone()
    manual = db.execute(
        """INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,
            created_by, created_at) VALUES (?, ?, 'manual', ?, 'UTC', 'sent', 'test', ?)""",
        [campaign, ask_id, at, at],
    ).lastrowid
    for key, platform, source in db.execute(
        "SELECT supporter_key, platform, source FROM deliveries WHERE prompt_id = ?"
        " AND state = 'sent' LIMIT 60",
        [prompt_id],
    ).fetchall():
        db.execute(
            """INSERT INTO deliveries (prompt_id, supporter_key, platform, source, state,
                created_at, updated_at) VALUES (?, ?, ?, ?, 'sent', ?, ?)""",
            [manual, key, platform, source, at, at],
        )
        if rng.random() < 0.5:
            db.execute(
                """INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,
                    created_at) VALUES (?, ?, 'done', ?, ?, 'button', ?)""",
                [manual, key, platform, source, at],
            )


@pytest.mark.parametrize("seed", [1, 2])
def test_fast_counts_equal_a_recount(db: Database, seed: int) -> None:
    now = datetime(2026, 11, 25, 12, tzinfo=UTC)
    with db.atomic():
        seed_demo(db, now, supporters=300, weeks=8, seed=seed)
        shake(db, random.Random(seed))
    weeks_ago = to_text(now - timedelta(weeks=4))
    for filters in (
        Filters(),
        Filters(platform="telegram"),
        Filters(source=NO_SOURCE),
        Filters(source="leaflet", platform="discord"),
        Filters(since=weeks_ago),
        Filters(until=weeks_ago, campaign="one-step-ahead"),
        Filters(campaign="no-such-campaign"),
    ):
        expected = recount(db, filters)
        expected = {
            name: {k: v for k, v in group.items() if v != Counts()}
            for name, group in expected.items()
        }
        assert fast(db, filters) == expected, filters


def test_counts_survive_the_migration_of_an_existing_database(tmp_path: Any) -> None:
    """A database from before migration 0002: its counts are filled in as it migrates."""
    from sqlite_utils.migrations import Migrations

    from campaigns.catalog import Catalog
    from campaigns.packs import BUNDLED_PACKS
    from db import migrations as schema
    from db.store import connect, open_database

    # The packs as today's schema holds them, copied into the old one's tables.
    packs = open_database(tmp_path / "packs.db")
    with packs.atomic():
        Catalog.load(BUNDLED_PACKS).sync(packs)
    packs.close()
    path = tmp_path / "old.db"
    old = connect(path)
    first_only = Migrations("campaignbot")
    first_only(name="0001_initial")(schema.initial)
    first_only.apply(old)
    old.execute("ATTACH DATABASE ? AS packs", [str(tmp_path / "packs.db")])
    with old.atomic():
        for table in ("campaigns", "asks"):
            columns = ", ".join(old[table].columns_dict)
            old.execute(f"INSERT INTO {table} ({columns}) SELECT {columns} FROM packs.{table}")
        seed_demo(old, datetime(2026, 11, 25, tzinfo=UTC), supporters=120, weeks=4)
    old.execute("DETACH DATABASE packs")
    old.close()
    db = open_database(path)
    assert fast(db, Filters())["total"] == recount(db, Filters())["total"]
    db.close()
