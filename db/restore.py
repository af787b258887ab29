"""Putting a backup back in place of the database: the copy checked before anything
is touched, the current files kept aside (never deleted), the backup copied in
under a temporary name and renamed, so the database's path holds either the old
file or the whole backup, never half of one.

`cli/restore_cmd.py` runs these with the bot's lock held; `campaigns.erasures`
then makes again the erasures the backup doesn't hold.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.request import pathname2url

from db.backup import NAMED, STAMP

ASIDE = "before-restore-"  # before-restore-<UTC time>: the files a restore replaced


class RestoreError(Exception):
    """A backup that can't be restored; the message is one line saying why."""


def taken_at(backup: Path) -> datetime | None:
    """When a backup named as ours (campaignbot-<UTC time>.db) was taken, else None."""
    found = NAMED.fullmatch(backup.name)
    if found is None or found.group(2) != "db":
        return None
    try:
        return datetime.strptime(found.group(1), STAMP).replace(tzinfo=UTC)
    except ValueError:
        return None


def _read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(f"file:{pathname2url(str(path.absolute()))}?mode=ro", uri=True)


def check(backup: Path) -> None:
    """`PRAGMA integrity_check` on the backup, read only; `RestoreError` if it fails,
    or if it isn't one of ours."""
    ours = None
    try:
        connection = _read_only(backup)
        try:
            problems = [row[0] for row in connection.execute("PRAGMA integrity_check")]
            ours = connection.execute(
                "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'supporters'"
            ).fetchone()
        finally:
            connection.close()
    except sqlite3.Error as exc:
        problems = [str(exc) or exc.__class__.__name__]
    if problems != ["ok"]:
        more = f" and {len(problems) - 1} more problems" if len(problems) > 1 else ""
        raise RestoreError(
            f"the backup {backup} failed its integrity check ({problems[0]}{more}): "
            "nothing was changed; restore another backup"
        )
    if ours is None:  # an empty file passes the check: it is an empty database
        raise RestoreError(
            f"{backup} is not a backup of campaignbot's database (it has no supporters "
            "table): nothing was changed"
        )


def housekeeping_mark(backup: Path, task: str) -> str | None:
    """A housekeeping mark as the backup holds it (None: none, or no such table yet)."""
    connection = _read_only(backup)
    try:
        row = connection.execute(
            "SELECT done_at FROM housekeeping WHERE task = ?", [task]
        ).fetchone()
    except sqlite3.OperationalError:  # a backup from before the table existed
        return None
    finally:
        connection.close()
    return str(row[0]) if row else None


def set_aside(db: Path, others: list[Path], moment: datetime) -> Path | None:
    """Move the database's files (with its -wal, -shm and -journal, which belong to
    it and must not meet the restored copy) and `others` into a new
    `before-restore-<time>` folder beside it; the folder, or None if there was
    nothing to move."""
    files = [db.with_name(db.name + tail) for tail in ("", "-wal", "-shm", "-journal")]
    present = [path for path in (*files, *others) if path.exists()]
    if not present:
        return None
    stamp = moment.astimezone(UTC).strftime(STAMP)
    folder = db.parent / f"{ASIDE}{stamp}"
    try:
        for again in range(2, 100):  # a restore within the same second as the last one
            try:
                folder.mkdir(mode=0o700)
                break
            except FileExistsError:
                folder = db.parent / f"{ASIDE}{stamp}-{again}"
        for path in present:
            os.replace(path, folder / path.name)
        _sync_folder(db.parent)
    except OSError as exc:
        raise RestoreError(
            f"can't move the current database aside into {folder}: {_reason(exc)}"
        ) from None
    return folder


def copy_in(source: Path, target: Path) -> None:
    """Copy `source` to `target` readable only by its owner: written under a temporary
    name, fsynced, then renamed into place."""
    try:
        target.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        descriptor, name = tempfile.mkstemp(
            prefix=f".{target.name}.", suffix=".restoring", dir=target.parent
        )
        partial = Path(name)
        try:
            with os.fdopen(descriptor, "wb") as out, source.open("rb") as given:
                shutil.copyfileobj(given, out)
                out.flush()
                os.fsync(out.fileno())
            os.replace(partial, target)
        finally:
            with contextlib.suppress(FileNotFoundError):
                partial.unlink()
        _sync_folder(target.parent)
    except OSError as exc:
        raise RestoreError(f"can't copy {source} to {target}: {_reason(exc)}") from None


def _sync_folder(folder: Path) -> None:
    descriptor = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _reason(exc: OSError) -> str:
    return exc.strerror or exc.__class__.__name__
