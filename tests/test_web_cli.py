"""`campaignbot users` and `campaignbot web`, run the way an administrator runs them."""

from __future__ import annotations

import re
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from db import users as users_db
from db.store import open_database
from settings import Settings
from tests.web_support import BIN, cli_env, make_settings, run_cli
from web import accounts


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return make_settings(tmp_path)


def test_add_list_change_and_remove(settings: Settings) -> None:
    added = run_cli(
        ["users", "add", "olive", "--role", "organiser", "--chat", "telegram:4242"],
        settings,
        stdin="a long enough password\n",
    )
    assert added.returncode == 0, added.stderr
    assert "Added organiser account 'olive'" in added.stdout
    staff = run_cli(["users", "add", "stan", "--role", "staff"], settings, "another password\n")
    assert staff.returncode == 0, staff.stderr
    listed = run_cli(["users", "list"], settings)
    assert re.search(r"olive\s+│\s+organiser\s+│\s+telegram:4242", listed.stdout), listed.stdout
    assert "stan" in listed.stdout and "password" not in listed.stdout.lower()

    db = open_database(settings.db)
    olive = users_db.get(db, "olive")
    assert olive is not None and olive.password_hash.startswith("$argon2id$")
    assert "a long enough password" not in Path(settings.db).read_bytes().decode("latin-1")
    db.close()
    assert accounts.verify(olive, "a long enough password") is not None

    changed = run_cli(["users", "set-password", "olive"], settings, "a different password\n")
    assert changed.returncode == 0, changed.stderr
    chat = run_cli(["users", "set-chat", "olive", "discord:77"], settings)
    assert chat.returncode == 0 and "discord:77" in chat.stdout
    db = open_database(settings.db)
    olive_now = users_db.get(db, "olive")
    assert olive_now is not None
    assert olive_now.password_hash != olive.password_hash
    assert olive_now.chat == "discord:77"
    assert accounts.verify(olive_now, "a different password") is not None
    audit = [row[0] for row in db.execute("SELECT action FROM audit ORDER BY id").fetchall()]
    assert audit == ["user-add", "user-add", "user-password", "user-chat"]
    db.close()

    removed = run_cli(["users", "remove", "stan"], settings)
    assert removed.returncode == 0
    again = run_cli(["users", "remove", "stan"], settings)
    assert again.returncode == 1 and "no account called 'stan'" in again.stderr


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["users", "add", "olive", "--role", "admin"], "a long enough password\n", "admin"),
        (["users", "add", "bad name", "--role", "staff"], "a long enough password\n", "a name is"),
        (["users", "add", "olive", "--role", "staff"], "short\n", "at least 10 characters"),
        (
            ["users", "add", "olive", "--role", "staff", "--chat", "myspace:1"],
            "a long enough password\n",
            "a chat is platform:id",
        ),
        (["users", "set-password", "nobody"], "a long enough password\n", "no database at"),
    ],
)
def test_bad_requests_change_nothing(
    settings: Settings, args: list[str], stdin: str, message: str
) -> None:
    result = run_cli(args, settings, stdin)
    assert result.returncode != 0
    assert message in result.stderr
    db = open_database(settings.db)
    assert users_db.listed(db) == []
    db.close()


def test_a_duplicate_name_is_refused(settings: Settings) -> None:
    run_cli(["users", "add", "olive", "--role", "staff"], settings, "a long enough password\n")
    again = run_cli(["users", "add", "OLIVE", "--role", "staff"], settings, "another password\n")
    assert again.returncode == 2 and "already an account called 'OLIVE'" in again.stderr


def test_campaignbot_web_serves_until_interrupted(settings: Settings) -> None:
    env = cli_env(settings) | {"CAMPAIGNBOT_LOG_LEVEL": "INFO"}
    process = subprocess.Popen(  # noqa: S603
        [str(BIN), "web", "--host", "127.0.0.1", "--port", "0"],
        env=env,
        stderr=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert process.stderr is not None
        address = None
        deadline = time.monotonic() + 30
        while address is None and time.monotonic() < deadline:
            line = process.stderr.readline()
            found = re.search(r"dashboard at (http://127\.0\.0\.1:\d+)/", line)
            address = found.group(1) if found else None
        assert address, "no address logged"
        assert httpx.get(f"{address}/healthz", timeout=5).json()["ok"] is True
        page = httpx.get(f"{address}/", timeout=5)
        assert page.status_code == 303 and page.headers["location"].startswith("/sign-in")
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=15) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_a_busy_port_is_a_clear_error(settings: Settings) -> None:
    from web.server import listen

    taken = listen("127.0.0.1", 0)
    try:
        port = taken.getsockname()[1]
        result = run_cli(["web", "--port", str(port)], settings)
        assert result.returncode == 2
        assert f"can't listen on 127.0.0.1:{port}" in result.stderr
    finally:
        taken.close()


def test_the_new_commands_have_help_on_every_option() -> None:
    import typer.main

    from cli import app

    root = typer.main.get_command(app)
    users = root.commands["users"]  # type: ignore[attr-defined]
    commands = [("web", root.commands["web"])]  # type: ignore[attr-defined]
    commands += [(f"users {name}", command) for name, command in users.commands.items()]
    assert {name for name, _ in commands} == {
        "web",
        "users add",
        "users list",
        "users remove",
        "users set-password",
        "users set-chat",
    }
    for name, command in commands:
        assert command.help and len(command.help) > 10, name
        for param in command.params:
            assert getattr(param, "help", None), f"{name} {param.name}"
