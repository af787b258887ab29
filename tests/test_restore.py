"""Erasures that stay erased across a restore: the erasure ledger beside the database,
`campaignbot restore` (through the real command line), a backup copied back by hand
and then `open_core` or `campaignbot run`; replays that change nothing the second
time; refusals (a running bot, a damaged backup, another secret) that leave every
file as it was; the ledger's privacy; and a failure on either side of the commit."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlite_utils import Database

from campaigns import supporters, wording
from campaigns.core import Core
from campaigns.erasures import Ledger, replay_database
from campaigns.keys import Pseudonyms
from campaigns.model import Message, Origin
from campaigns.retention import purge
from db import erasures as erasures_db
from db import supporters as supporters_db
from db.backup import make_backup, secret_path
from db.erasures import ledger_path
from db.store import open_database
from db.times import to_text
from runner import open_core
from settings import Settings, SettingsError, load_settings
from tests.cli_run import RunningBot, assert_one_clean_line, base_env, run
from tests.web_support import opened_core

ALICE = Origin("telegram", "7461230099")  # forgets after the backup
BOB = Origin("telegram", "7461230188")  # stays
CAROL = Origin("discord", "481516234200000042")  # forgets before the backup, and returns


@pytest.fixture
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A clean environment: the secret kept in a file beside the database, as by default."""
    for name in list(os.environ):
        if name.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_")):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return tmp_path


def config(folder: Path) -> Settings:
    return load_settings(db=folder / "data" / "campaignbot.db")


def cli_env(folder: Path) -> dict[str, str]:
    env = base_env(folder) | {"CAMPAIGNBOT_DB": str(folder / "data" / "campaignbot.db")}
    del env["CAMPAIGNBOT_SECRET_KEY"]
    return env


@pytest.fixture
def settings(folder: Path) -> Settings:
    return config(folder)


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    with opened_core(settings) as opened:
        yield opened


def present(db_path: Path, origin: Origin) -> bool:
    db = open_database(db_path)
    try:
        return supporters_db.get(db, origin.platform, origin.chat) is not None
    finally:
        db.close()


def fingerprints(folder: Path) -> dict[str, str]:
    """Every file under `folder` and a hash of its bytes."""
    return {
        str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(folder.rglob("*"))
        if path.is_file() and not path.name.endswith(".lock")
    }


async def erase(core: Core, origin: Origin) -> list[Message]:
    return await core.command(origin, "forget", ("yes",))


async def backed_up_then_alice_forgets(core: Core, settings: Settings) -> Path:
    """Alice and Bob subscribe; a backup; then Alice uses /forget. The backup's path."""
    await core.command(ALICE, "start")
    await core.command(BOB, "start")
    backup = make_backup(settings.db, settings.db.parent.parent / "backups").path
    replies = await erase(core, ALICE)
    assert replies[0].text == wording.FORGOTTEN
    assert not present(settings.db, ALICE)
    return backup


def copy_back_by_hand(backup: Path, db: Path) -> None:
    """The guide's manual steps: move the database's files aside, copy the backup in."""
    aside = db.parent / "before-restore"
    aside.mkdir()
    for path in db.parent.glob(db.name + "*"):
        shutil.move(path, aside / path.name)
    shutil.move(secret_path(db), aside / secret_path(db).name)
    shutil.copy2(backup, db)
    shutil.copy2(backup.with_suffix(".secret"), secret_path(db))


# --- the defect: a restored backup brought back people who had used /forget ---------


async def test_a_backup_copied_back_by_hand_forgets_again_at_start(
    core: Core, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    copy_back_by_hand(backup, settings.db)
    with caplog.at_level(logging.WARNING, logger="runner"):
        again = open_core(config(settings.db.parent.parent))
    try:
        assert not present(settings.db, ALICE)
        assert present(settings.db, BOB)
        said = [r.getMessage() for r in caplog.records if "erasure ledger" in r.getMessage()]
        assert said == [
            "erasure ledger: this database lacked 1 of its erasures (a backup put back, "
            "or a crash before a commit); 1 supporters erased again"
        ]
    finally:
        again.close()


async def test_campaignbot_restore_keeps_the_forgotten_forgotten(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 0, output
    assert "re-applied 1 erasures made after the backup was taken" in output
    assert not present(settings.db, ALICE)
    assert present(settings.db, BOB)
    # the old files are kept aside, the backup's secret is in place, and it is audited
    asides = list(settings.db.parent.glob("before-restore-*"))
    assert len(asides) == 1 and (asides[0] / "campaignbot.db").is_file()
    assert (asides[0] / "campaignbot.secret").is_file()
    assert secret_path(settings.db).read_bytes() == backup.with_suffix(".secret").read_bytes()
    db = open_database(settings.db)
    try:
        actions = db.execute("SELECT action, target, detail FROM audit").fetchall()
    finally:
        db.close()
    action, target, detail = actions[-1]
    assert (action, target) == ("restore", backup.name)
    assert json.loads(detail)["erasures_reapplied"] == 1
    # the bot starts on it with nothing left to replay, and Bob still gets answers
    reopened = open_core(config(folder))
    try:
        assert await reopened.command(BOB, "mydata")
    finally:
        reopened.close()
    assert not present(settings.db, ALICE)


async def test_campaignbot_run_after_a_copy_by_hand_says_so_in_one_line(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    copy_back_by_hand(backup, settings.db)
    async with RunningBot(cli_env(folder), folder / "run.log") as bot:
        await bot.dashboard()
        assert await bot.stop() == 0
    lines = [line for line in bot.output().splitlines() if "erasure ledger" in line]
    assert len(lines) == 1, bot.output()
    assert "1 supporters erased again" in lines[0]
    assert not present(settings.db, ALICE)
    assert present(settings.db, BOB)


# --- replays change nothing the second time ------------------------------------------


async def test_erasures_before_the_backup_never_touch_a_supporter_who_came_back(
    core: Core, settings: Settings, folder: Path
) -> None:
    await core.command(CAROL, "start")
    await erase(core, CAROL)
    await core.command(CAROL, "start")  # she comes back, the same second perhaps
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 0, output
    assert "re-applied 1 erasures" in output
    assert present(settings.db, CAROL) and present(settings.db, BOB)
    # the same backup restored again: the same outcome
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 0, output
    assert "re-applied 1 erasures" in output
    assert present(settings.db, CAROL) and not present(settings.db, ALICE)
    # the whole ledger replayed on this database, mark or none: nothing more is erased
    ledger = Ledger.beside(settings.db, secret_path(settings.db).read_bytes().strip())
    db = open_database(settings.db)
    try:
        db.execute("DELETE FROM housekeeping WHERE task = ?", [erasures_db.MARK])
        db.conn.commit()
    finally:
        db.close()
    replayed = replay_database(settings.db, ledger)
    assert replayed is not None and replayed.entries == 2 and replayed.erased == 0
    again = replay_database(settings.db, ledger)
    assert again is not None and (again.entries, again.erased) == (0, 0)
    assert present(settings.db, CAROL) and present(settings.db, BOB)


# --- refusals: nothing changes --------------------------------------------------------


async def test_restore_while_the_bot_runs_is_refused_in_one_line(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    env = cli_env(folder)
    async with RunningBot(env, folder / "run.log") as bot:
        await bot.dashboard()
        before = sorted(settings.db.parent.iterdir())
        code, output = await run(env, "restore", str(backup))
        assert code == 2
        assert_one_clean_line(output, "a bot is running", f"process {bot.pid}", "stop it first")
        assert sorted(settings.db.parent.iterdir()) == before
        assert bot.running
        assert await bot.stop() == 0
    assert not present(settings.db, ALICE)


async def test_a_damaged_backup_is_refused_and_nothing_changes(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    size = backup.stat().st_size
    with backup.open("r+b") as damaged:  # a page of the tables overwritten
        damaged.seek(size // 2)
        damaged.write(b"\xff" * 4096)
    data = settings.db.parent
    before = fingerprints(data)
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 1
    assert_one_clean_line(output, str(backup), "integrity check", "nothing was changed")
    assert fingerprints(data) == before
    assert not present(settings.db, ALICE) and present(settings.db, BOB)


async def test_an_empty_file_is_no_backup_and_is_refused(
    core: Core, settings: Settings, folder: Path
) -> None:
    await core.command(BOB, "start")
    core.close()
    empty = folder / "campaignbot-20261207T031500Z.db"
    empty.touch()  # passes an integrity check: an empty database
    shutil.copy2(secret_path(settings.db), empty.with_suffix(".secret"))
    before = fingerprints(settings.db.parent)
    code, output = await run(cli_env(folder), "restore", str(empty))
    assert code == 1
    assert_one_clean_line(output, "not a backup of campaignbot", "nothing was changed")
    assert fingerprints(settings.db.parent) == before


async def test_a_ledger_written_with_another_secret_is_refused(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    backup.with_suffix(".secret").write_text("another-secret-entirely-0123456789\n")
    before = fingerprints(settings.db.parent)
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 1
    assert_one_clean_line(output, "another secret", "nothing was changed")
    assert "another-secret-entirely" not in output
    assert fingerprints(settings.db.parent) == before
    # a copy by hand with that secret: the bot refuses to start, in one line
    copy_back_by_hand(backup, settings.db)
    with pytest.raises(SettingsError, match="another secret"):
        open_core(config(folder))
    assert present(settings.db, ALICE)  # untouched: no bot ran on it


# --- the ledger's privacy --------------------------------------------------------------


async def test_the_ledger_holds_no_platform_id_and_only_its_owner_reads_it(
    core: Core, settings: Settings
) -> None:
    await core.command(ALICE, "start", ("leaflet",))
    await core.command(CAROL, "start")
    await erase(core, ALICE)
    await erase(core, CAROL)
    ledger = ledger_path(settings.db)
    raw = ledger.read_text()
    for chat in (ALICE.chat, CAROL.chat, "leaflet", "telegram", "discord"):
        assert chat not in raw
    lines = [json.loads(line) for line in raw.splitlines()]
    assert len(lines) == 2
    assert all(set(line) == {"at", "id", "row", "chat", "secret"} for line in lines)
    assert stat.S_IMODE(ledger.stat().st_mode) == 0o600
    assert ledger.name == "campaignbot.erasures"  # not moved aside by `mv campaignbot.db*`


# --- a failure on either side of the commit ---------------------------------------------


async def test_no_erasure_is_made_when_its_ledger_line_cannot_be_written(
    core: Core, settings: Settings, caplog: pytest.LogCaptureFixture
) -> None:
    await core.command(ALICE, "start")
    ledger = ledger_path(settings.db)
    assert ledger.read_text() == ""  # made at start, so it is there to copy off
    ledger.unlink()
    ledger.mkdir()  # the line can't be appended: the erasure must not happen either
    with caplog.at_level(logging.ERROR):
        replies = await erase(core, ALICE)
    assert replies[0].text == wording.SORRY
    assert present(settings.db, ALICE)
    assert any("can't write the erasure ledger" in r.getMessage() for r in caplog.records)
    ledger.rmdir()
    assert (await erase(core, ALICE))[0].text == wording.FORGOTTEN
    assert not present(settings.db, ALICE)
    assert len(ledger.read_text().splitlines()) == 1


async def test_a_line_cut_short_before_is_cut_off_and_the_ledger_stays_readable(
    core: Core, settings: Settings
) -> None:
    """A crash (or a full disk) mid-line leaves a torn tail; the next erasure's line
    must not be glued onto it, or every later start would find the ledger damaged."""
    await core.command(ALICE, "start")
    await core.command(CAROL, "start")
    await erase(core, ALICE)
    ledger = ledger_path(settings.db)
    whole = ledger.read_bytes()
    with ledger.open("ab") as handle:
        handle.write(whole[: len(whole) // 2])  # half of a line, no newline
    await erase(core, CAROL)
    entries = erasures_db.read(ledger)
    assert len(entries) == 2 and ledger.read_bytes().startswith(whole)
    assert not present(settings.db, ALICE) and not present(settings.db, CAROL)


async def test_a_crash_after_the_ledger_line_and_before_the_commit_is_finished_at_start(
    core: Core, settings: Settings, folder: Path
) -> None:
    await core.command(ALICE, "start")
    await core.command(BOB, "start")
    core.close()
    # The line is written inside the erasure's transaction; the process dies before
    # the commit (its connection goes without one: SQLite rolls the erasure back).
    ledger = Ledger.beside(settings.db, secret_path(settings.db).read_bytes().strip())
    dying = open_database(settings.db)
    ledger.watch(dying)
    dying.execute("BEGIN")
    assert supporters.forget(dying, Pseudonyms(b"unused"), ALICE)
    dying.conn.close()
    assert present(settings.db, ALICE)
    assert len(ledger.entries()) == 1
    # she pressed "Yes, erase": the next start finishes it
    again = open_core(config(folder))
    again.close()
    assert not present(settings.db, ALICE)
    assert present(settings.db, BOB)


# --- retention erasures are in the ledger too --------------------------------------------


async def test_a_retention_erasure_stays_erased_after_a_restore(
    core: Core, settings: Settings, folder: Path
) -> None:
    await core.command(ALICE, "start")
    await core.command(ALICE, "stop")
    await core.command(BOB, "start")
    long_ago = to_text(datetime(2020, 1, 1, tzinfo=UTC))

    def left_long_ago(db: Database) -> None:
        db.execute("UPDATE supporters SET updated_at = ? WHERE address = ?", [long_ago, ALICE.chat])

    await core.store.write(left_long_ago)
    backup = make_backup(settings.db, folder / "backups").path
    purged = await purge(core.store, 24)
    assert purged.supporters == 1
    core.close()
    assert len(ledger_path(settings.db).read_text().splitlines()) == 1
    code, output = await run(cli_env(folder), "restore", str(backup))
    assert code == 0, output
    assert "re-applied 1 erasures" in output
    assert not present(settings.db, ALICE) and present(settings.db, BOB)


async def test_on_a_new_server_the_ledger_copied_back_makes_the_restore_forget(
    core: Core, settings: Settings, folder: Path
) -> None:
    backup = await backed_up_then_alice_forgets(core, settings)
    core.close()
    server = folder / "new-server"
    env = cli_env(folder) | {"CAMPAIGNBOT_DB": str(server / "campaignbot.db")}
    code, output = await run(env, "restore", str(backup))
    assert code == 0, output
    # the backup's own copy of the ledger stands in: as old as the backup, it can't
    # know of Alice's /forget after it
    assert "there was no erasure ledger at" in output and "took the backups' newest" in output
    assert present(server / "campaignbot.db", ALICE)
    shutil.copy2(ledger_path(settings.db), ledger_path(server / "campaignbot.db"))
    code, output = await run(env, "restore", str(backup))
    assert code == 0, output
    assert "re-applied 1 erasures" in output
    assert not present(server / "campaignbot.db", ALICE)
    assert present(server / "campaignbot.db", BOB)


async def test_on_a_new_server_a_newer_backups_ledger_keeps_the_forgotten_forgotten(
    core: Core, settings: Settings, folder: Path
) -> None:
    """Backups carry the ledger: restoring an older backup on a new machine takes the
    newest backup's copy, which knows of Alice's /forget after the older one."""
    older = await backed_up_then_alice_forgets(core, settings)
    newer = make_backup(settings.db, older.parent, now=datetime.now(UTC) + timedelta(minutes=5))
    assert newer.ledger is not None and stat.S_IMODE(newer.ledger.stat().st_mode) == 0o600
    assert len(erasures_db.read(newer.ledger)) == 1
    core.close()
    server = folder / "new-server"
    env = cli_env(folder) | {"CAMPAIGNBOT_DB": str(server / "campaignbot.db")}
    code, output = await run(env, "restore", str(older))
    assert code == 0, output
    assert f"took the backups' newest, {newer.ledger}" in output
    assert "re-applied 1 erasures" in output
    assert not present(server / "campaignbot.db", ALICE)
    assert present(server / "campaignbot.db", BOB)
    assert ledger_path(server / "campaignbot.db").read_bytes() == newer.ledger.read_bytes()
