"""`campaignbot sources`: the "how they found us" codes organisers declare.

A supporter's source is kept only if it is a declared code (`/start leaflet`,
`t.me/<bot>?start=leaflet`); anything else they send is counted as `other` and
never stored as typed. Packs declare codes too (`sources = [...]` under
`[campaign]`); those are changed in the pack. Every change is audited.
"""

from __future__ import annotations

import re
from typing import Annotated

import typer

from cli import app, fail, out, settings
from cli.schedule_cmd import actor, open_with_packs
from cli.tables import terminal_table

# The packs (pydantic models) and the store (sqlite-utils) are imported in the
# commands: `sources --help` needs neither.

sources_app = typer.Typer(
    help="Declare, list and remove source codes (how supporters found us).",
    no_args_is_help=True,
)
app.add_typer(sources_app, name="sources")

CodeArgument = Annotated[
    str, typer.Argument(help="A code: lowercase letters, digits, - and _ (up to 64).")
]


def _checked(code: str) -> str:
    from campaigns.deeplinks import INVITE_PREFIX
    from campaigns.packs import OTHER_SOURCE, SOURCE_CODE

    if not re.fullmatch(SOURCE_CODE, code):
        fail(
            "a source code is 1 to 64 lowercase letters, digits, hyphens or underscores, "
            "starting with a letter or digit (such as leaflet-2026)"
        )
    if code == OTHER_SOURCE:
        fail(f"{OTHER_SOURCE!r} is kept for codes nobody declared; choose another")
    if code.startswith(INVITE_PREFIX) or code == "invite":
        fail(f"'invite' and codes starting {INVITE_PREFIX!r} are kept for invite links")
    return code


@sources_app.command("add")
def add(code: CodeArgument) -> None:
    """Declare a code, so supporters who bring it are counted under it."""
    from db import audit as audit_db
    from db import sources as sources_db

    code = _checked(code)
    db, _ = open_with_packs(settings(), create=True)
    with db.atomic():
        if not sources_db.declare(db, code, actor()):
            fail(f"{code} is already declared", code=1)
        audit_db.record(db, actor(), "source-added", code)
    out.print(f"declared {code}: /start {code} now counts under it", markup=False)


@sources_app.command("list")
def list_sources(
    every: Annotated[bool, typer.Option("--all", help="Include removed codes.")] = False,
) -> None:
    """The declared codes, who declared them, and how many subscribed supporters have each."""
    from campaigns.packs import OTHER_SOURCE
    from db import sources as sources_db

    db, _ = open_with_packs(settings())
    columns = ("code", "declared by", "since", "supporters", "state")
    table = terminal_table("Source codes", columns, numeric=("supporters",), whole=("since",))
    for row in sources_db.listed(db):
        if row.removed_at and not every:
            continue
        state = f"removed {row.removed_at[:10]}" if row.removed_at else "in use"
        table.add_row(row.code, row.declared_by, row.created_at[:10], str(row.supporters), state)
    out.print(table)
    out.print(f"Any other code a supporter sends is counted as {OTHER_SOURCE!r}.", markup=False)


@sources_app.command("remove")
def remove(code: CodeArgument) -> None:
    """Stop taking a code from new supporters (past counts keep its name)."""
    from campaigns.packs import OTHER_SOURCE
    from db import audit as audit_db
    from db import sources as sources_db

    db, _ = open_with_packs(settings())
    found = sources_db.get(db, code)
    if found is None or found.removed_at is not None:
        fail(f"{code} is not a declared code (campaignbot sources list)", code=1)
    if found.declared_by.startswith("pack:"):
        pack = found.declared_by.removeprefix("pack:")
        fail(f"{code} is declared in the {pack} pack: remove it from the pack's sources", code=1)
    with db.atomic():
        sources_db.remove(db, code)
        audit_db.record(db, actor(), "source-removed", code)
    out.print(f"removed {code}: new supporters who bring it count as {OTHER_SOURCE!r}")
