"""`campaignbot users`: dashboard accounts for staff and organisers.

Passwords are asked for twice, unseen, in a terminal; piped in, the first line
of standard input is the password. Only its argon2 hash is stored. Changes are
audited as `cli:<user>`.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from cli import app, database, fail, out, settings
from cli.schedule_cmd import actor
from cli.tables import terminal_table
from db.states import AccountRole

# The store (sqlite-utils) and the dashboard's accounts (argon2) are imported in the
# commands: `users --help` needs neither.

users_app = typer.Typer(
    help="Dashboard accounts: add, list, remove, set a password or a linked chat.",
    no_args_is_help=True,
)
app.add_typer(users_app, name="users")

NameArgument = Annotated[str, typer.Argument(help="The account's name, used to sign in.")]


def _password() -> str:
    """A new password: prompted twice in a terminal, else the first line of stdin."""
    if not sys.stdin.isatty():
        return _checked(sys.stdin.readline().rstrip("\r\n"))
    first = _checked(str(typer.prompt("Password", hide_input=True)))  # say so before asking again
    if typer.prompt("Password again", hide_input=True) != first:
        fail("the two passwords differ; nothing was changed")
    return first


def _checked(password: str) -> str:
    from web import accounts
    from web.accounts import AccountError

    try:
        return accounts.check_password(password)
    except AccountError as exc:
        fail(str(exc))


@users_app.command("add")
def add(
    name: NameArgument,
    role: Annotated[
        AccountRole,
        typer.Option(
            "--role", help="staff (counts, charts, exports) or organiser (also schedules)."
        ),
    ],
    chat: Annotated[
        str | None,
        typer.Option("--chat", help="Your own chat for test sends, such as telegram:12345."),
    ] = None,
) -> None:
    """Add an account; asks for its password (or reads it from standard input)."""
    from db import audit as audit_db
    from db import users as users_db
    from web import accounts
    from web.accounts import AccountError

    try:
        accounts.check_name(name)
        linked = accounts.check_chat(chat)
    except AccountError as exc:
        fail(str(exc))
    config = settings()
    db = database(config, create=True)
    try:
        if users_db.get(db, name) is not None:
            fail(f"there is already an account called {name!r}")
        password_hash = accounts.hash_password(_password())
        with db.atomic():
            users_db.add(db, name=name, role=role.value, password_hash=password_hash, chat=linked)
            audit_db.record(db, actor(), "user-add", f"user:{name}", role=role.value)
    finally:
        db.close()
    out.print(f"Added {role.value} account {name!r}. Sign in at the dashboard.", markup=False)


@users_app.command("list")
def list_users() -> None:
    """List the accounts with their roles and linked chats (never their passwords)."""
    from db import users as users_db

    config = settings()
    db = database(config)
    try:
        rows = users_db.listed(db)
    finally:
        db.close()
    if not rows:
        out.print("No accounts yet. Add one with `campaignbot users add NAME --role staff`.")
        return
    columns = ("name", "role", "linked chat", "added", "changed")
    table = terminal_table("Dashboard accounts", columns)
    for row in rows:
        table.add_row(row.name, row.role, row.chat or "", row.created_at, row.updated_at)
    out.print(table)


@users_app.command("remove")
def remove(name: NameArgument) -> None:
    """Remove an account; its dashboard sessions end at once."""
    from db import audit as audit_db
    from db import users as users_db

    config = settings()
    db = database(config)
    try:
        with db.atomic():
            removed = users_db.remove(db, name)
            if removed:
                audit_db.record(db, actor(), "user-remove", f"user:{name}")
    finally:
        db.close()
    if not removed:
        fail(f"there is no account called {name!r}", code=1)
    out.print(f"Removed account {name!r}.", markup=False)


@users_app.command("set-password")
def set_password(name: NameArgument) -> None:
    """Set a new password (asked for, or read from standard input); its sessions end at once."""
    from db import audit as audit_db
    from db import users as users_db
    from web import accounts, throttle

    config = settings()
    db = database(config)
    try:
        if users_db.get(db, name) is None:
            fail(f"there is no account called {name!r}", code=1)
        password_hash = accounts.hash_password(_password())
        with db.atomic():
            users_db.set_password(db, name, password_hash)
            throttle.forget_account(db, name)
            audit_db.record(db, actor(), "user-password", f"user:{name}")
    finally:
        db.close()
    out.print(f"New password set for {name!r}; its sessions have ended.", markup=False)


@users_app.command("set-chat")
def set_chat(
    name: NameArgument,
    chat: Annotated[
        str | None,
        typer.Argument(help="A chat such as telegram:12345; leave out to unlink."),
    ] = None,
) -> None:
    """Link the account to its owner's own chat, where test sends go (or unlink it)."""
    from db import audit as audit_db
    from db import users as users_db
    from web import accounts
    from web.accounts import AccountError

    try:
        linked = accounts.check_chat(chat)
    except AccountError as exc:
        fail(str(exc))
    config = settings()
    db = database(config)
    try:
        with db.atomic():
            changed = users_db.set_chat(db, name, linked)
            if changed:
                audit_db.record(db, actor(), "user-chat", f"user:{name}", chat=linked)
    finally:
        db.close()
    if not changed:
        fail(f"there is no account called {name!r}", code=1)
    out.print(
        f"Test sends for {name!r} go to {linked}." if linked else f"Unlinked {name!r}'s chat.",
        markup=False,
    )
