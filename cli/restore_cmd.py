"""`campaignbot restore BACKUP`: put a backup back, and erase again everyone erased
since it was taken.

Everything that can refuse is checked before a file is touched: no bot running on
the database (and its lock held throughout, so none starts meanwhile), the
backup's integrity, its secret, and that the erasure ledger was written with that
secret. Then the current files go aside (never deleted), the backup and its
secret are copied in, and the erasures the backup doesn't hold are replayed, in
one transaction with the audit entry that records the restore.
"""

from __future__ import annotations

import getpass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from cli import app, fail, out, settings

if TYPE_CHECKING:
    from sqlite_utils import Database

    from campaigns.erasures import Replayed
    from settings import Settings

# A backup named by the second it was taken: erasures from the minute before it are
# replayed too, in case the database was only marked by older ones (replaying an
# erasure the backup already holds changes nothing).
MARGIN = timedelta(minutes=1)


@app.command()
def restore(
    backup: Annotated[
        Path,
        typer.Argument(
            help="The backup to restore: a campaignbot-<UTC time>.db file made by "
            "`campaignbot backup` (its .secret beside it).",
            metavar="BACKUP",
            show_default=False,
        ),
    ],
) -> None:
    """Put a backup back in place of the database; erasures made since are made again.

    Refused while the bot runs. The backup is checked (PRAGMA integrity_check), the
    current database and secret are moved into a before-restore-<time> folder beside
    it, and everyone erased after the backup was taken (by /forget or retention, as
    the erasure ledger says) is erased again."""
    from cli.lock import BotRunning, hold, running_pid

    config = settings()
    db = config.db.absolute()
    if not backup.is_file():
        fail(f"no backup at {backup}: give the campaignbot-<time>.db file to restore")
    pid = running_pid(db)
    if pid is not None:
        who = f"process {pid}" if pid else "another process"
        fail(
            f"a bot is running on {db} ({who}): stop it first (systemctl stop campaignbot), "
            "then restore"
        )
    try:
        with hold(db):
            _restore(config, db, backup)
    except BotRunning as exc:
        fail(str(exc))


def _restore(config: Settings, db: Path, backup: Path) -> None:
    from campaigns.erasures import Ledger, LedgerError, LedgerMismatch, replay_database, unheld
    from db import audit as audit_db
    from db.backup import latest_ledger, secret_path
    from db.erasures import MARK
    from db.restore import RestoreError, check, copy_in, housekeeping_mark, set_aside, taken_at
    from db.times import to_text

    try:
        check(backup)
    except RestoreError as exc:
        fail(str(exc), code=1)
    secret, secret_file = _secret(config, backup)
    ledger = Ledger.beside(db, secret)
    had_ledger = ledger.path.is_file()
    # A new machine has no ledger yet: the newest copy among the backups stands in.
    found = None if had_ledger else latest_ledger(backup.parent)
    given = Ledger(found, secret) if found is not None else ledger
    moment = taken_at(backup)
    since = to_text(moment - MARGIN) if moment is not None else None
    try:
        given.check(unheld(given.entries(), housekeeping_mark(backup, MARK), since))
    except (LedgerMismatch, LedgerError) as exc:
        fail(f"{exc}; nothing was changed", code=1)

    replaced = [secret_path(db)] if secret_file is not None else []
    try:
        aside = set_aside(db, replaced, datetime.now(UTC))
        copy_in(backup, db)
        if secret_file is not None:
            copy_in(secret_file, secret_path(db))
        if found is not None:
            copy_in(found, ledger.path)  # later erasures go on from it
    except RestoreError as exc:
        fail(str(exc), code=1)

    def record(database: Database, replayed: Replayed) -> None:
        audit_db.record(
            database,
            f"cli:{getpass.getuser()}",
            "restore",
            backup.name,
            erasures_reapplied=replayed.erased,
            set_aside=str(aside) if aside else None,
        )

    try:
        replayed = replay_database(db, ledger, since, then=record)
    except (LedgerMismatch, LedgerError) as exc:  # the ledger changed since the check
        fail(f"{exc}; the backup is in place, start the bot to re-apply them", code=1)
    assert replayed is not None
    say(f"restored {backup} to {db} (integrity check ok)")
    if aside is not None:
        say(f"the files it replaced are in {aside}")
    if found is not None:
        say(f"there was no erasure ledger at {ledger.path}: took the backups' newest, {found}")
    elif not had_ledger:
        say(
            f"note: there was no erasure ledger at {ledger.path}, so no erasure was "
            "re-applied; on a new server, put your newest copy of it there and run this again"
        )
        return
    say(
        f"re-applied {replayed.erased} erasures made after the backup was taken "
        f"({replayed.entries} entries in {ledger.path} it did not hold)"
    )


def _secret(config: Settings, backup: Path) -> tuple[bytes, Path | None]:
    """The secret the restored database goes with, and the file to copy in with it
    (None: it comes from the secret_key setting)."""
    beside = backup.with_suffix(".secret")
    if config.secret_key is not None:
        value = config.secret_key.get_secret_value().encode()
        if beside.is_file() and beside.read_text().strip().encode() != value:
            fail(
                f"the backup's secret {beside} is not the secret_key setting "
                "(CAMPAIGNBOT_SECRET_KEY): restore with the secret the backup was made with; "
                "nothing was changed"
            )
        return value, None
    if not beside.is_file():
        fail(
            f"no secret file beside the backup ({beside}): the restored database needs "
            "the secret it was made with; nothing was changed"
        )
    return beside.read_text().strip().encode(), beside


def say(line: str) -> None:
    """One line of output, paths as they are (no markup, no wrapping)."""
    out.print(line, markup=False, soft_wrap=True)
