"""Nothing is kept for ever: records older than the retention period are erased or made
anonymous, and every count stays exactly as it was."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

from sqlite_utils import Database

from campaigns import retention
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine
from db import invites as invites_db
from db import supporters as supporters_db
from db.stats import Counts, Filters, Participation, participation
from db.store import Store
from scheduler import CampaignScheduler

NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
OLD = "2024-06-10T09:00:00Z"  # 30 months before NOW
OLD_LATER = "2024-08-20T09:00:00Z"  # another old month
RECENT = "2026-10-01T09:00:00Z"


def test_the_cutoff_is_a_whole_calendar_month() -> None:
    assert retention.cutoff(NOW, 24) == datetime(2024, 12, 1, tzinfo=UTC)
    assert retention.cutoff(datetime(2026, 1, 31, 23, 0, tzinfo=UTC), 1) == datetime(
        2025, 12, 1, tzinfo=UTC
    )


def without_uniques(report: Participation) -> list[tuple[str, Counts]]:
    rows = [(f"{r.week}:{r.ask_id}", r.counts) for r in report.by_ask_week]
    rows += [(r.key, r.counts) for r in (*report.by_platform, *report.by_source)]
    rows.append(("total", report.total))
    return [(key, dataclasses.replace(counts, supporters=0)) for key, counts in rows]


def seed(store: Store) -> dict[str, str]:
    """An active supporter with old and recent history, one who left long ago, one who
    left lately, an old group-member record, and old and recent audit entries."""

    def run(db: object) -> dict[str, str]:
        from sqlite_utils import Database

        assert isinstance(db, Database)
        keys: dict[str, str] = {}
        for name, status, updated in (
            ("active", "active", OLD),
            ("left-long-ago", "stopped", OLD),
            ("left-lately", "gone", RECENT),
            ("member", "member", OLD),
        ):
            row = supporters_db.insert(
                db,
                platform="telegram",
                address=f"addr-{name}",
                kind="private",
                status=status,
                source="leaflet",
                consent_version="t",
            )
            db.execute("UPDATE supporters SET updated_at = ? WHERE id = ?", [updated, row.id])
            keys[name] = row.key
        for n, at in enumerate((OLD, OLD, OLD_LATER, RECENT)):
            db.execute(
                "INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,"
                " created_by, created_at) VALUES ('one-step-ahead', 'ai-images', 'manual', ?,"
                " 'UTC', 'sent', 't', ?)",
                [at, at],
            )
            prompt = n + 1
            for name in ("active", "left-long-ago", "left-lately"):
                supporter = supporters_db.get(db, "telegram", f"addr-{name}")
                assert supporter is not None
                db.execute(
                    "INSERT INTO deliveries (prompt_id, supporter_id, supporter_key, platform,"
                    " source, state, created_at, updated_at, sent_at)"
                    " VALUES (?, ?, ?, 'telegram', 'leaflet', 'sent', ?, ?, ?)",
                    [prompt, supporter.id, supporter.key, at, at, at],
                )
            for name, kind in (("active", "done"), ("member", "skipped"), ("active", "opened")):
                db.execute(
                    "INSERT INTO actions (prompt_id, supporter_key, kind, platform, source, via,"
                    " created_at) VALUES (?, ?, ?, 'telegram', 'leaflet', 'button', ?)",
                    [prompt, keys[name], kind, at],
                )
        for at in (OLD, RECENT):
            db.execute(
                "INSERT INTO audit (at, actor, action) VALUES (?, 'cli:someone', 'status')", [at]
            )
        return keys

    return store.submit(run).result()


async def test_old_records_go_and_the_counts_stay_exact(core: Core) -> None:
    keys = seed(core.store)
    before = await core.store.read(participation)
    since_cutoff = Filters(since="2024-12-01T00:00:00Z")
    recent_before = await core.store.read(participation, since_cutoff)
    purged = await retention.purge(core.store, 24, NOW)
    assert (purged.supporters, purged.members, purged.audit) == (1, 1, 1)
    after = await core.store.read(participation)
    # every count is exact; only unique supporters before the cutoff count a person
    # once per month (nothing links her months together any more)
    assert without_uniques(after) == without_uniques(before)
    assert await core.store.read(participation, since_cutoff) == recent_before

    def look(db: object) -> dict[str, object]:
        from sqlite_utils import Database

        assert isinstance(db, Database)
        linked = "supporter_key IN (SELECT key FROM supporters)"
        return {
            "supporters": {r[0] for r in db.execute("SELECT address FROM supporters")},
            "old linked": db.execute(
                f"SELECT (SELECT count(*) FROM deliveries WHERE created_at < '2024-12' AND "
                f"({linked} OR supporter_id IS NOT NULL)) + (SELECT count(*) FROM actions "
                f"WHERE created_at < '2024-12' AND {linked})"
            ).fetchone()[0],
            "recent linked": db.execute(
                f"SELECT count(*) FROM deliveries WHERE created_at > '2026' AND {linked}"
            ).fetchone()[0],
            "active old keys": db.execute(
                "SELECT substr(created_at, 1, 7), count(DISTINCT supporter_key) FROM actions"
                " WHERE created_at < '2024-12' AND kind IN ('done', 'opened')"
                " GROUP BY 1 ORDER BY 1"
            ).fetchall(),
            "audit": db.execute("SELECT at FROM audit").fetchall(),
        }

    found = await core.store.read(look)
    assert found["supporters"] == {"addr-active", "addr-left-lately"}
    assert found["old linked"] == 0
    assert found["recent linked"] == 2  # the active and the lately-gone supporter's
    # one fresh key per person and month: the old months each still count her once
    assert found["active old keys"] == [("2024-06", 1), ("2024-08", 1)]
    assert found["audit"] == [(RECENT,)]
    assert keys["active"] not in str(found)

    again = await retention.purge(core.store, 24, NOW)
    assert not again.anything
    assert await core.store.read(participation) == after


async def test_the_daily_run_is_scheduled(core: Core) -> None:
    engine = DeliveryEngine(core.store, core.ctx, {})
    scheduler = CampaignScheduler(core.store, core.ctx.catalog, engine, retention_months=18)
    await scheduler.start()
    try:
        job = scheduler.scheduler.get_job("retention")
        assert job is not None and job.trigger.interval.total_seconds() == 24 * 3600
        await scheduler.retain()
        marked = await core.store.read(
            lambda db: db.execute(
                "SELECT task FROM housekeeping WHERE task = 'retention'"
            ).fetchone()
        )
        assert marked is not None
    finally:
        scheduler.shutdown()
        await engine.stop()


def test_old_referrals_leave_the_inviters_count_and_stay_in_the_totals(db: Database) -> None:
    """Someone who joined through an invite long ago stops counting for the inviter (the
    link to them goes, month by month), but stays in the staff totals; a recent one and
    one on the first day of the cutoff month stay the inviter's."""
    inviter = supporters_db.insert(
        db,
        platform="telegram",
        address="addr-inviter",
        kind="private",
        status="active",
        source=None,
        consent_version="t",
    )
    for day in ("2024-06-01", "2024-06-30", "2024-11-30", "2024-12-01", "2026-01-15"):
        invites_db.record_referral(db, inviter.key, "one-step-ahead", "telegram")
        db.execute("UPDATE referrals SET joined_on = ? WHERE id = last_insert_rowid()", [day])
    assert invites_db.joined_through(db, inviter.key) == 5
    assert retention.anonymise_old_records(db, "", "2024-12-01T00:00:00Z") == 3
    assert invites_db.joined_through(db, inviter.key) == 2  # 2024-12-01 and 2026
    months = db.execute(
        "SELECT substr(joined_on, 1, 7), count(DISTINCT inviter_key) FROM referrals"
        " WHERE joined_on < '2024-12' GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert months == [("2024-06", 1), ("2024-11", 1)]  # one fresh key per month
    assert db.execute("SELECT count(*) FROM referrals").fetchone()[0] == 5
    assert retention.anonymise_old_records(db, "", "2024-12-01T00:00:00Z") == 0
