"""The command line starts quickly because it imports a command's module only when
that command is used (`cli/commands.py`). Checked here: the table `campaignbot --help`
lists from is the commands' own names and help; the help it draws, lazily, is the
one the commands would draw; help, --version and completing a command's name import
no command module, nor pydantic or sqlite-utils; completion works from a real shell.

How long it takes is measured by bench/footprint.py, not here.
"""

from __future__ import annotations

import inspect
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main

from cli import app
from cli.commands import COMMANDS
from tests.cli_run import BIN

# The libraries a command module brings; help and --version need none of them.
HEAVY = ("pydantic", "pydantic_settings", "sqlite_utils", "argon2", "settings", "runner")

# Run the command line as its script does, in a fresh interpreter; optionally import
# every command module first (as if nothing were lazy). Report the modules loaded.
PROBE = """
import importlib, json, sys
from cli.commands import COMMANDS
if sys.argv[1] == "loaded":
    for listed in COMMANDS.values():
        importlib.import_module(listed.module)
sys.argv = ["campaignbot", *sys.argv[2:]]
from cli import main
try:
    main()
except SystemExit:
    pass
print(json.dumps(sorted(sys.modules)), file=sys.stderr)
"""


def probe(
    *args: str, loaded: bool = False, env: dict[str, str] | None = None
) -> tuple[str, set[str]]:
    """What `campaignbot ARGS` prints, and which modules it imported."""
    result = subprocess.run(  # noqa: S603
        [sys.executable, "-c", PROBE, "loaded" if loaded else "lazy", *args],
        env={**os.environ, "COLUMNS": "100", **(env or {})},
        capture_output=True,
        text=True,
        timeout=60,
    )
    *_, modules = result.stderr.splitlines()
    return result.stdout, set(json.loads(modules))


def all_commands() -> dict[str, Any]:
    root: Any = typer.main.get_command(app)
    return dict(root.commands)  # every module imported


def first_paragraph(help_text: str) -> str:
    """What typer's listing shows of a command's help."""
    return inspect.cleandoc(help_text).split("\n\n")[0].strip()


def test_the_table_names_every_command_with_its_own_first_line() -> None:
    commands = all_commands()
    assert set(COMMANDS) == set(commands)
    for name, command in commands.items():
        assert command.short_help is None, name  # the listing would show it instead
        assert not command.hidden and not command.deprecated, name
        assert not getattr(command, "rich_help_panel", None), name  # the one panel
        assert COMMANDS[name].line == first_paragraph(command.help), name


def test_the_table_names_each_commands_module() -> None:
    for name, command in all_commands().items():
        if hasattr(command, "commands"):  # a group: where its commands are
            command = next(iter(command.commands.values()))
        assert command.callback.__module__ == COMMANDS[name].module, name


def test_commands_come_before_groups_as_typer_lists_them() -> None:
    commands = all_commands()
    groups = [hasattr(commands[name], "commands") for name in COMMANDS]
    assert groups == sorted(groups)


@pytest.mark.parametrize("colour", [{}, {"FORCE_COLOR": "1"}])
def test_the_help_drawn_from_the_table_is_the_help_of_the_commands(
    colour: dict[str, str],
) -> None:
    lazy, _ = probe("--help", env=colour)
    loaded, _ = probe("--help", loaded=True, env=colour)
    assert lazy == loaded
    for name in COMMANDS:
        assert name in lazy


@pytest.mark.parametrize(
    "args",
    [
        ["--help"],
        [],  # help too
        ["--version"],
        *[[name, "--help"] for name in COMMANDS if name != "stats"],
        ["users", "list", "--help"],
        ["send", "cancel", "--help"],
    ],
    ids=" ".join,
)
def test_help_imports_no_command_it_does_not_show(args: list[str]) -> None:
    _, modules = probe(*args)
    heavy = {module for module in modules if module.split(".")[0] in HEAVY}
    assert not heavy, sorted(heavy)
    wanted = {COMMANDS[args[0]].module} if args and args[0] in COMMANDS else set()
    others = {m for m in modules if m.startswith("cli.") and m.endswith("_cmd")} - wanted
    # users' and sources' modules take `actor` from the schedule commands' module
    assert others <= {"cli.schedule_cmd"}, sorted(others)
    if not wanted:
        assert not others


def test_stats_help_needs_no_pydantic() -> None:
    # Its --table option's choices come from campaigns.reports, whose db.stats
    # imports sqlite-utils; pydantic (settings, packs) stays out.
    _, modules = probe("stats", "--help")
    assert not {module for module in modules if module.startswith("pydantic")}


def test_completing_a_command_name_imports_no_command() -> None:
    env = {"_CAMPAIGNBOT_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "campaignbot "}
    lazy, modules = probe(env=env)
    loaded, _ = probe(loaded=True, env=env)
    assert lazy == loaded  # the names, and their help from the table
    assert '"users":"Dashboard accounts' in lazy
    assert not {m for m in modules if m.endswith("_cmd") or m.split(".")[0] in HEAVY}


def test_completion_from_a_real_shell(tmp_path: Path) -> None:
    bash = shutil.which("bash")
    assert bash is not None
    # what bash does on TAB: set COMP_WORDS and COMP_CWORD, call the function
    script = """
        eval "$(campaignbot --show-completion)"
        tab() {
            COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
            _campaignbot_completion campaignbot
            echo "${COMPREPLY[*]}"
        }
        tab campaignbot us
        tab campaignbot users ""
        tab campaignbot sen
        campaignbot --install-completion
    """
    env = {**os.environ, "PATH": f"{BIN.parent}:{os.environ['PATH']}", "HOME": str(tmp_path)}
    result = subprocess.run(  # noqa: S603
        [bash, "--norc", "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    users, subcommands, send, installed, *_ = result.stdout.splitlines()
    assert users == "users"
    assert subcommands.split() == ["add", "list", "remove", "set-password", "set-chat"]
    assert send == "send"
    assert "bash completion installed" in installed
    assert (
        "_CAMPAIGNBOT_COMPLETE" in (tmp_path / ".bash_completions" / "campaignbot.sh").read_text()
    )
