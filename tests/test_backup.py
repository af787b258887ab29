"""Backups: a consistent copy of the live database (and its secret) while the bot
writes, restored the way the README says and read back with the same counts; `cp`
of a live WAL database, which loses the latest write; rotation that touches only our
own files; a damaged copy refused in one line; `campaignbot backup`, beside a running
bot too; and the daily job in `run`."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import sqlite3
import stat
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database
from typer.testing import CliRunner

from campaigns.catalog import Catalog
from campaigns.core import Core
from campaigns.delivery import DeliveryEngine, Tuning
from campaigns.model import Message, Origin
from campaigns.packs import BUNDLED_PACKS
from cli import app
from cli.lock import running_pid
from db.backup import (
    BackupError,
    backup_name,
    latest_backup,
    make_backup,
    secret_path,
)
from db.states import DeliveryState
from db.store import Store, open_database
from db.times import utcnow
from scheduler import BACKUP_AFTER_START, CampaignScheduler, first_backup_at
from settings import load_or_create_secret
from tests.cli_run import RunningBot, assert_one_clean_line, base_env, run
from tests.conftest import SECRET
from tests.messengers import RecordingMessenger
from tests.seeding import add_supporters, manual_prompt

SUPPORTERS = 400
FINAL = {DeliveryState.SENT, DeliveryState.GONE, DeliveryState.FAILED, DeliveryState.UNKNOWN}


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def delivery_states(db: Database, prompt_id: int) -> dict[int, str]:
    rows = db.execute("SELECT id, state FROM deliveries WHERE prompt_id = ?", [prompt_id])
    return dict(rows.fetchall())


def done_button(message: Message) -> str:
    found = next(b.id for b in message.all_buttons() if b.label == "I did it")
    assert found is not None
    return found


def restore(backup: Path, secret: Path | None, db: Path) -> None:
    """What the README tells people: the .db and .secret copied back (cp -p) to the
    database's path, with no -wal or -shm left beside it."""
    db.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(backup, db)
    if secret is not None:
        shutil.copy2(secret, secret_path(db))
    for stale in (db.with_name(db.name + "-wal"), db.with_name(db.name + "-shm")):
        stale.unlink(missing_ok=True)


def stats_json(runner: CliRunner, db: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, object]:
    monkeypatch.setenv("CAMPAIGNBOT_DB", str(db))
    result = runner.invoke(app, ["stats", "--json"])
    assert result.exit_code == 0, result.output
    report: dict[str, object] = json.loads(result.stdout)
    return report


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for name in list(os.environ):
        if name.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


async def test_a_backup_taken_during_a_send_restores_with_what_was_committed(
    core: Core, tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    live = core.store.path
    # the secret kept beside the database, as `run` keeps it (the core signs with it)
    descriptor = os.open(secret_path(live), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(descriptor, "w") as handle:
        handle.write(SECRET.decode() + "\n")
    await core.store.write(add_supporters, SUPPORTERS)
    prompt_id = await core.store.write(manual_prompt)
    messenger = RecordingMessenger(max_rate=80)  # 400 asks take 5 s: the backup falls inside
    engine = DeliveryEngine(
        core.store, core.ctx, {"telegram": messenger}, tuning=Tuning(workers=4, page=20)
    )
    core.attach(engine)
    some_sent = asyncio.Event()
    messenger.on_send = lambda _: some_sent.set() if len(messenger.sent) >= 40 else None
    task = engine.start(prompt_id)
    await asyncio.wait_for(some_sent.wait(), 60)
    for address, message in messenger.sent[:5]:  # five supporters did it
        assert (await core.press(Origin("telegram", address), done_button(message))).counted

    before = await core.store.read(delivery_states, prompt_id)
    made = await asyncio.to_thread(make_backup, live, tmp_path / "backups")
    at_end = await core.store.read(delivery_states, prompt_id)
    assert not task.done()  # the send went on around the backup
    await asyncio.wait_for(task, 120)

    restored = tmp_path / "restored" / "campaignbot.db"
    assert made.secret is not None
    restore(made.path, made.secret, restored)
    assert mode(restored) == 0o600 and mode(secret_path(restored)) == 0o600
    copy = open_database(restored)
    try:
        in_copy = delivery_states(copy, prompt_id)
    finally:
        copy.close()
    # every delivery (made in one transaction before any send) is there, and each one
    # that had ended before the backup started ended the same way in the copy
    assert in_copy.keys() == before.keys() and len(in_copy) == SUPPORTERS
    for delivery_id, state in before.items():
        if state in FINAL:
            assert in_copy[delivery_id] == state, delivery_id
    sent = {
        name: sum(s == "sent" for s in states.values())
        for name, states in (("before", before), ("copy", in_copy), ("at end", at_end))
    }
    assert sent["before"] <= sent["copy"] <= sent["at end"] < SUPPORTERS, sent

    # `campaignbot stats` on the restored copy counts what the copy holds, consistently
    report = stats_json(runner, restored, monkeypatch)
    total = report["total"]
    assert isinstance(total, dict)
    assert (total["delivered"], total["done"]) == (sent["copy"], 5)

    # the restored secret is the one the buttons were signed with: a supporter who got
    # the ask before the backup can still press "I did it" on the restored bot
    address, message = messenger.sent[20]  # of the 40 sent before the backup began
    again = Core.open(restored, BUNDLED_PACKS, load_or_create_secret(secret_path(restored)))
    try:
        assert (await again.press(Origin("telegram", address), done_button(message))).counted
    finally:
        again.close()

    # once the send is over, a backup restores to exactly the live counts
    quiet = await asyncio.to_thread(
        make_backup, live, tmp_path / "backups", now=utcnow() + timedelta(seconds=5)
    )
    restore(quiet.path, quiet.secret, tmp_path / "quiet" / "campaignbot.db")
    assert stats_json(runner, tmp_path / "quiet" / "campaignbot.db", monkeypatch) == stats_json(
        runner, live, monkeypatch
    )


async def test_cp_of_a_live_database_loses_the_latest_write_and_a_backup_keeps_it(
    tmp_path: Path,
) -> None:
    """Why there is a backup command: the latest writes live in the write-ahead log
    until a checkpoint, and a copy of the database file alone misses them."""
    live = tmp_path / "live.db"
    store = Store(live)
    try:
        assert await store.checkpoint()  # the schema is in the file; the log is empty
        await store.write(add_supporters, 1)  # the latest write: in the log only
        shutil.copyfile(live, tmp_path / "cp.db")  # what `cp live.db cp.db` does
        made = await asyncio.to_thread(make_backup, live, tmp_path / "backups")
    finally:
        store.close()

    def supporters(path: Path) -> int:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            return int(conn.execute("SELECT count(*) FROM supporters").fetchone()[0])
        finally:
            conn.close()

    assert supporters(tmp_path / "cp.db") == 0  # lost
    assert supporters(made.path) == 1  # kept


def small_database(path: Path) -> Path:
    open_database(path).close()
    secret_path(path).write_text("a-secret-for-the-test\n")
    secret_path(path).chmod(0o600)
    return path


def test_rotation_keeps_the_newest_and_touches_nothing_else(tmp_path: Path) -> None:
    db = small_database(tmp_path / "bot.db")
    folder = tmp_path / "backups"
    folder.mkdir()
    others = [
        "notes.txt",
        "campaignbot-old.db",
        "other-20261201T000000Z.db",
        "campaignbot-20261201T000000Z.db.bak",
        "Campaignbot-20261201T000000Z.db",
        "campaignbot-20261301T000000Z.db",  # no month 13: not a name we give
    ]
    for name in others:
        (folder / name).write_text(name)
    (folder / "campaignbot-20261101T000000Z.db").mkdir()  # a folder, not a backup
    orphan = folder / "campaignbot-20261120T000000Z.secret"  # a backup cut short, long ago
    orphan.write_text("old")
    stale = folder / ".campaignbot-20261120T000000Z.db.abc123.partial"
    stale.write_text("cut short two days ago")
    two_days_ago = time.time() - 2 * 86400
    os.utime(stale, (two_days_ago, two_days_ago))
    fresh = folder / ".campaignbot-20261207T181500Z.db.xyz789.partial"
    fresh.write_text("another backup being written now")

    times = [datetime(2026, 12, day, 18, 15, tzinfo=UTC) for day in range(1, 6)]
    removed: list[Path] = []
    for moment in times:
        removed += make_backup(db, folder, keep=3, now=moment).removed

    kept = [backup_name(moment, kind) for moment in times[2:] for kind in ("db", "secret")]
    expected = sorted([*kept, *others, "campaignbot-20261101T000000Z.db", fresh.name])
    assert sorted(path.name for path in folder.iterdir()) == expected
    assert sorted(path.name for path in removed) == sorted(
        [backup_name(moment, kind) for moment in times[:2] for kind in ("db", "secret")]
        + [orphan.name, stale.name]
    )
    for name in others:
        assert (folder / name).read_text() == name
    assert latest_backup(folder) == (folder / backup_name(times[-1]), times[-1])
    assert mode(folder / backup_name(times[-1], "secret")) == 0o600
    assert mode(folder / backup_name(times[-1])) == 0o600


def test_latest_backup_without_one(tmp_path: Path) -> None:
    assert latest_backup(tmp_path / "missing") is None
    (tmp_path / ".campaignbot-20261207T181500Z.db.abc.partial").write_text("half")
    assert latest_backup(tmp_path) is None  # a half-written backup is not a backup


def damaged_database(path: Path) -> Path:
    """A database whose index disagrees with its table: it opens, `cp` and the backup
    API copy it faithfully, and `PRAGMA integrity_check` finds the fault."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x TEXT)")
    conn.execute("CREATE INDEX t_x ON t (x)")
    conn.executemany("INSERT INTO t VALUES (?)", [(f"row-{n:06d}",) for n in range(50)])
    conn.commit()
    page_size = conn.execute("PRAGMA page_size").fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 't_x'").fetchone()[0]
    conn.close()
    data = bytearray(path.read_bytes())
    start = (root - 1) * page_size
    at = data.index(b"row-000007", start, start + page_size)
    data[at : at + 10] = b"row-999999"
    path.write_bytes(data)
    return path


def test_a_copy_that_fails_its_integrity_check_is_refused_and_deleted(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = damaged_database(tmp_path / "damaged.db")
    folder = tmp_path / "backups"
    with pytest.raises(BackupError) as refused:
        make_backup(db, folder)
    message = str(refused.value)
    assert "integrity check" in message and "row 8 missing from index t_x" in message
    assert "\n" not in message
    assert list(folder.iterdir()) == []  # no copy, no partial file, no secret
    assert latest_backup(folder) is None

    monkeypatch.setenv("CAMPAIGNBOT_DB", str(db))
    result = runner.invoke(app, ["backup", str(folder)])
    assert result.exit_code == 1
    assert_one_clean_line(result.output, "integrity check", str(db))
    assert list(folder.iterdir()) == []


def test_the_backup_command(
    tmp_path: Path, runner: CliRunner, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "data" / "bot.db"
    monkeypatch.setenv("CAMPAIGNBOT_DB", str(db))
    # no folder given and none set: one line that says how
    result = runner.invoke(app, ["backup"])
    assert result.exit_code == 2
    assert_one_clean_line(result.output, "campaignbot backup DIR", "CAMPAIGNBOT_BACKUP_DIR")
    # no database there: one line, and none is made
    result = runner.invoke(app, ["backup", "backups"])
    assert result.exit_code == 2
    assert_one_clean_line(result.output, str(db), "CAMPAIGNBOT_DB")
    assert not db.exists() and not (tmp_path / "backups").exists()

    small_database(db)
    result = runner.invoke(app, ["backup", "backups"])
    assert result.exit_code == 0, result.output
    [made] = (tmp_path / "backups").glob("campaignbot-*.db")
    assert f"to {Path('backups') / made.name} (" in result.stdout
    assert "kB, integrity check ok" in result.stdout
    assert made.with_suffix(".secret").read_text() == "a-secret-for-the-test\n"
    assert "a-secret-for-the-test" not in result.output
    assert mode(tmp_path / "backups") == 0o700 and mode(made.with_suffix(".secret")) == 0o600

    # the folder from the setting, and --keep
    setting = tmp_path / "nightly"
    monkeypatch.setenv("CAMPAIGNBOT_BACKUP_DIR", str(setting))
    for day in (1, 2, 3):
        make_backup(db, setting, now=datetime(2026, 12, day, tzinfo=UTC))
    result = runner.invoke(app, ["backup", "--keep", "2"])
    assert result.exit_code == 0, result.output
    assert "kept the 2 newest; removed campaignbot-20261201T000000Z.db" in result.stdout
    assert len(list(setting.glob("campaignbot-*.db"))) == 2
    result = runner.invoke(app, ["backup", "--keep", "0"])
    assert result.exit_code == 2
    assert_one_clean_line(result.output, "--keep")
    # an unwritable place: one line
    (tmp_path / "a-file").write_text("")
    result = runner.invoke(app, ["backup", str(tmp_path / "a-file" / "backups")])
    assert result.exit_code == 1
    assert_one_clean_line(result.output, "a-file", "Not a directory")


@pytest.mark.timeout(120)
async def test_backup_while_run_holds_the_database(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {"CAMPAIGNBOT_BACKUP_DIR": str(tmp_path / "nightly")}
    db = Path(env["CAMPAIGNBOT_DB"])
    async with RunningBot(env, tmp_path / "bot.log") as bot:
        # the daily job is there, first shortly after start (no backup yet)
        await bot.wait_for_output(f"back up the database to {tmp_path / 'nightly'}: next at")
        await bot.dashboard()
        code, output = await run(env, "backup", str(tmp_path / "now"))
        assert code == 0, output
        assert "the secret comes from the secret_key setting" in output
        assert running_pid(db) == bot.pid and bot.running
        assert await bot.healthz() == 200
        assert await bot.stop() == 0
    [made] = (tmp_path / "now").glob("campaignbot-*.db")
    restored = tmp_path / "restored" / "bot.db"
    restore(made, None, restored)
    code, output = await run(env | {"CAMPAIGNBOT_DB": str(restored)}, "campaigns", "list")
    assert code == 0 and "one-step-ahead" in output, output  # the packs `run` synced


async def wait_for(predicate: Callable[[], bool], within: float = 30) -> None:
    deadline = time.monotonic() + within
    while not predicate():
        assert time.monotonic() < deadline, "waited in vain"
        await asyncio.sleep(0.02)


def test_first_backup_at() -> None:
    now = datetime(2026, 12, 7, 12, tzinfo=UTC)
    assert first_backup_at(None, now) == now + BACKUP_AFTER_START
    assert first_backup_at(now - timedelta(days=3), now) == now + BACKUP_AFTER_START
    assert first_backup_at(now - timedelta(hours=3), now) == now + timedelta(hours=21)


async def run_daily_job(core: Core, catalog: Catalog, folder: Path) -> CampaignScheduler:
    """A scheduler with the daily backup, its next run brought forward to now."""
    engine = DeliveryEngine(core.store, core.ctx, {"telegram": RecordingMessenger()})
    scheduler = CampaignScheduler(core.store, catalog, engine, backup_dir=folder, backup_keep=2)
    await scheduler.start()
    job = scheduler.scheduler.get_job("backup")
    assert job is not None
    assert abs(job.next_run_time - (utcnow() + BACKUP_AFTER_START)) < timedelta(seconds=30)
    job.modify(next_run_time=utcnow())
    return scheduler


def next_backup_in(scheduler: CampaignScheduler) -> timedelta:
    job = scheduler.scheduler.get_job("backup")
    assert job is not None
    return job.next_run_time - utcnow()  # type: ignore[no-any-return]


async def test_the_daily_job_makes_a_backup(core: Core, catalog: Catalog, tmp_path: Path) -> None:
    folder = tmp_path / "nightly"
    scheduler = await run_daily_job(core, catalog, folder)
    try:
        await wait_for(lambda: latest_backup(folder) is not None)
        await wait_for(lambda: next_backup_in(scheduler) > timedelta(hours=23))
    finally:
        scheduler.shutdown()
    found = latest_backup(folder)
    assert found is not None
    copy = open_database(found[0])
    assert copy.execute("SELECT count(*) FROM campaigns").fetchone()[0] >= 1
    copy.close()


async def test_a_failing_backup_is_one_error_line_and_tried_again_the_next_day(
    core: Core, catalog: Catalog, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "a-file").write_text("")
    folder = tmp_path / "a-file" / "nightly"  # can't be made: a file is in the way
    caplog.set_level(logging.INFO)
    scheduler = await run_daily_job(core, catalog, folder)
    try:
        await wait_for(lambda: any(r.levelno >= logging.ERROR for r in caplog.records))
        await wait_for(lambda: next_backup_in(scheduler) > timedelta(hours=23))
        assert scheduler.scheduler.running
    finally:
        scheduler.shutdown()
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1, caplog.text
    [error] = errors
    assert error.name == "scheduler" and error.exc_info is None
    assert str(folder) in error.getMessage() and "Not a directory" in error.getMessage()
    assert "Traceback" not in caplog.text
