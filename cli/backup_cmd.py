"""`campaignbot backup`: a checked copy of the database and its secret, while the bot runs.

It takes no lock of `run`'s (`cli/lock.py`) and opens the database only to read
it, so it works beside a running bot; see `db/backup.py` for what it holds there.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.filesize import decimal

from cli import app, fail, out, settings
from db.backup import BackupError, make_backup, secret_path


@app.command()
def backup(
    folder: Annotated[
        Path | None,
        typer.Argument(
            help="Folder for the backup (made if missing); default: the backup_dir setting.",
            metavar="DIR",
            show_default=False,
        ),
    ] = None,
    keep: Annotated[
        int | None,
        typer.Option(
            help="Keep the N newest backups in the folder and delete older ones "
            "(only files named campaignbot-<time>.db/.secret); default: keep all.",
            metavar="N",
        ),
    ] = None,
) -> None:
    """Back up the database and its secret, checked, named by UTC time.

    The copy is consistent even while the bot runs, and checked with PRAGMA
    integrity_check."""
    config = settings()
    folder = folder or config.backup_dir
    if folder is None:
        fail(
            "backup needs a folder: campaignbot backup DIR, or set backup_dir "
            "(CAMPAIGNBOT_BACKUP_DIR)"
        )
    if keep is not None and keep < 1:
        fail(f"--keep takes how many backups to keep, 1 or more, not {keep}")
    if not config.db.is_file():  # never made here: a backup of nothing is no backup
        fail(
            f"no database at {config.db.absolute()}: run this where the bot runs, or set "
            "CAMPAIGNBOT_DB (db in campaignbot.toml) to its database"
        )
    try:
        made = make_backup(config.db, folder, keep=keep)
    except BackupError as exc:
        fail(str(exc), code=1)
    say(f"backed up {config.db} to {made.path} ({decimal(made.size)}, integrity check ok)")
    if made.secret is not None:
        say(
            f"and its secret file to {made.secret} (restore it beside the database: "
            "it signs buttons and links)"
        )
    elif config.secret_key is not None:
        say(
            "the secret comes from the secret_key setting (CAMPAIGNBOT_SECRET_KEY): "
            "keep a copy of it with your backups"
        )
    else:
        say(f"no secret file at {secret_path(config.db)} to back up")
    if made.ledger is not None:
        say(
            f"and the erasure ledger to {made.ledger} (a restore on a new machine takes "
            "the newest one, so /forget stays done)"
        )
    if made.removed:
        say(f"kept the {keep} newest; removed {', '.join(path.name for path in made.removed)}")


def say(line: str) -> None:
    """One line of output, paths as they are (no markup, no wrapping)."""
    out.print(line, markup=False, soft_wrap=True)
