"""The store: migrations on an empty and an existing file, Datasette, and the batching writer."""

from __future__ import annotations

import asyncio
import contextlib
import re
import sqlite3
import threading
from enum import StrEnum
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns.catalog import Catalog
from db import migrations
from db.rows import RowMismatch, fetch_all, fetch_one
from db.states import (
    AccountRole,
    ActionKind,
    ActionVia,
    ChatKind,
    DeliveryState,
    PromptKind,
    PromptState,
    SupporterStatus,
)
from db.store import Store, connect, open_database
from db.supporters import SupporterRow

TABLES = {
    "campaigns",
    "asks",
    "supporters",
    "supporter_topics",
    "prompts",
    "deliveries",
    "actions",
    "audit",
}


def test_migrations_on_an_empty_database(db_path: Path) -> None:
    db = open_database(db_path)
    assert set(db.table_names()) >= TABLES
    applied = [m.name for m in migrations.migrations.applied(db)]
    assert applied == [m.name for m in migrations.migrations._migrations]
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    db.close()


def test_migrations_on_an_existing_database_keep_its_data(db_path: Path, catalog: Catalog) -> None:
    every = [m.name for m in migrations.migrations._migrations]
    db = connect(db_path)
    # an older database: everything but the newest migration
    migrations.migrations.apply(db, stop_before=every[-1] if len(every) > 1 else None)
    with db.atomic():
        db.execute(
            "INSERT INTO supporters (key, platform, address, kind, status, created_at, updated_at)"
            " VALUES ('k', 'console', 'x', 'private', 'active', 'now', 'now')"
        )
    db.close()
    for _ in range(2):  # the second open applies nothing
        db = open_database(db_path)
        assert [m.name for m in migrations.migrations.applied(db)] == every
        assert db.execute("SELECT address FROM supporters").fetchall() == [("x",)]
        with db.atomic():
            catalog.sync(db)
        assert db.execute("SELECT count(*) FROM asks").fetchone()[0] == 5
        db.close()


def test_foreign_keys_are_enforced(db: Database) -> None:
    with pytest.raises(sqlite3.IntegrityError):
        db.execute(
            "INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,"
            " created_by, created_at) VALUES ('nope', 'x', 'weekly', 't', 'UTC', 'scheduled',"
            " 'me', 't')"
        )


async def test_file_opens_cleanly_in_datasette(db_path: Path, catalog: Catalog) -> None:
    from datasette.app import Datasette

    db = open_database(db_path)
    with db.atomic():
        catalog.sync(db)
    db.close()
    datasette = Datasette([str(db_path)], settings={"num_sql_threads": 1})
    await datasette.invoke_startup()
    response = await datasette.client.get("/campaignbot.json")
    assert response.status_code == 200
    for table in TABLES:
        page = await datasette.client.get(f"/campaignbot/{table}.json")
        assert page.status_code == 200, table
    asks = (await datasette.client.get("/campaignbot/asks.json?_shape=array")).json()
    assert {row["id"] for row in asks} >= {"ai-images", "mandatory-reporting"}


def _insert(db: Database, address: str) -> int:
    cursor = db.execute(
        "INSERT INTO supporters (key, platform, address, kind, status, created_at, updated_at)"
        " VALUES (?, 'console', ?, 'private', 'active', 'now', 'now')",
        [address, address],
    )
    return int(cursor.lastrowid or 0)


def _fail(db: Database) -> None:
    _insert(db, "rolled-back")
    raise ValueError("this job fails")


async def test_writer_batches_and_isolates_a_failing_job(db_path: Path) -> None:
    store = Store(db_path)
    try:
        jobs = [store.write(_insert, f"s{n}") for n in range(200)]
        failing = store.write(_fail)
        results = await asyncio.gather(*jobs, failing, return_exceptions=True)
        assert isinstance(results[-1], ValueError)
        assert sorted(r for r in results[:-1] if isinstance(r, int)) == list(range(1, 201))

        def addresses(db: Database) -> list[str]:
            return [row[0] for row in db.execute("SELECT address FROM supporters").fetchall()]

        found = await store.read(addresses)
        assert len(found) == 200 and "rolled-back" not in found
    finally:
        store.close()
    # committed: a new connection sees every row
    db = connect(db_path)
    assert db.execute("SELECT count(*) FROM supporters").fetchone()[0] == 200


async def test_readers_cannot_write(db_path: Path) -> None:
    store = Store(db_path)
    try:
        with pytest.raises(sqlite3.OperationalError):
            await store.read(_insert, "nope")
    finally:
        store.close()


@pytest.mark.parametrize(
    ("table", "column", "vocabulary"),
    [
        ("supporters", "kind", ChatKind),
        ("supporters", "status", SupporterStatus),
        ("prompts", "kind", PromptKind),
        ("prompts", "state", PromptState),
        ("deliveries", "state", DeliveryState),
        ("actions", "kind", ActionKind),
        ("actions", "via", ActionVia),
        ("users", "role", AccountRole),
    ],
)
def test_the_vocabulary_is_what_the_schema_allows(
    db: Database, table: str, column: str, vocabulary: type[StrEnum]
) -> None:
    """Every state the code names is one the CHECK constraint takes, and none is missing."""
    sql = db.execute(
        "SELECT sql FROM sqlite_master WHERE type = 'table' AND name = ?", [table]
    ).fetchone()[0]
    check = re.search(rf"CHECK \({column} IN\s*\(([^)]*)\)\)", sql)
    assert check is not None, f"no CHECK on {table}.{column}"
    assert set(re.findall(r"'([^']*)'", check.group(1))) == {state.value for state in vocabulary}


def test_rows_are_read_by_column_name(db: Database) -> None:
    supporter_id = _insert(db, "ada")
    columns = list(SupporterRow.__slots__)
    straight = fetch_all(SupporterRow, db.execute(f"SELECT {', '.join(columns)} FROM supporters"))
    backwards = fetch_all(
        SupporterRow, db.execute(f"SELECT {', '.join(reversed(columns))} FROM supporters")
    )
    assert straight == backwards and straight[0].id == supporter_id
    assert straight[0].status is SupporterStatus.ACTIVE and straight[0].kind is ChatKind.PRIVATE
    missing = ", ".join(columns[:-1])
    with pytest.raises(RowMismatch, match="missing: updated_at"):
        fetch_one(SupporterRow, db.execute(f"SELECT {missing} FROM supporters"))
    with pytest.raises(RowMismatch, match="extra: 1"):
        fetch_one(SupporterRow, db.execute(f"SELECT {', '.join(columns)}, 1 FROM supporters"))
    with pytest.raises(RowMismatch, match="doubled: id"):
        fetch_one(SupporterRow, db.execute(f"SELECT {', '.join(columns)}, id FROM supporters"))


async def test_a_caller_that_stops_waiting_leaves_the_writer_working(db_path: Path) -> None:
    """At shutdown the engine cancels tasks waiting on a write: the write still happens,
    and the writer thread goes on serving (it used to die, and every later write hung)."""
    store = Store(db_path)
    try:
        release = threading.Event()
        store.submit(lambda db: release.wait(10))  # the writer is busy with this
        waiting = asyncio.create_task(store.write(lambda db: db.execute("CREATE TABLE kept (x)")))
        await asyncio.sleep(0.05)
        waiting.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await waiting
        release.set()
        written = await asyncio.wait_for(
            store.write(lambda db: db.execute("SELECT count(*) FROM kept").fetchone()[0]), 10
        )
        assert written == 0  # the table was made: the cancelled caller's job ran
    finally:
        store.close()
