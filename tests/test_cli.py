"""The `campaignbot` command, run the way a user runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from campaigns.packs import BUNDLED_PACKS
from cli import app

BIN = Path(sys.executable).parent / "campaignbot"


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603
        [str(BIN), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_"))
    }
    return clean | {"CAMPAIGNBOT_DB": str(tmp_path / "data" / "bot.db"), "COLUMNS": "120"}


def test_piped_chat_then_stats_counts_one_done(env: dict[str, str], tmp_path: Path) -> None:
    chat = run(["chat"], env, "/start readme\n/ask\n/done\n")
    assert chat.returncode == 0, chat.stderr
    assert "20,254" in chat.stdout  # the statistic
    assert "Internet Watch Foundation" in chat.stdout  # its source
    assert "https://www.writetothem.com/" in chat.stdout  # the ask's link
    assert "Thank you! That's counted." in chat.stdout
    stats = run(["stats", "--json"], env)
    assert stats.returncode == 0, stats.stderr
    report = json.loads(stats.stdout)
    assert report["total"]["done"] == 1
    assert report["by_source"][0]["source"] == "readme"
    assert (tmp_path / "data" / "bot.secret").stat().st_mode & 0o777 == 0o600


def test_typed_text_is_not_stored(env: dict[str, str], tmp_path: Path) -> None:
    secret_words = "my-private-words-xyzzy"
    run(["chat"], env, f"/start\n{secret_words}\n/start {secret_words}\n2\n")
    for path in (tmp_path / "data").iterdir():
        assert secret_words.encode() not in path.read_bytes(), path


def test_free_text_is_answered_with_where_to_get_help(env: dict[str, str], tmp_path: Path) -> None:
    words = "someone-is-hurting-a-friend-xyzzy"  # synthetic; stands for a disclosure
    chat = run(["chat"], env | {"CAMPAIGNBOT_LOG_LEVEL": "DEBUG"}, f"/start\n{words}\n")
    assert "I only understand commands" in chat.stdout
    for route in ("Childline", "0800 1111", "999", "https://report.iwf.org.uk/"):
        assert route in chat.stdout
    assert words not in chat.stderr  # not logged
    for path in (tmp_path / "data").iterdir():
        assert words.encode() not in path.read_bytes(), path


def test_numbered_buttons_in_the_console(env: dict[str, str]) -> None:
    chat = run(["chat"], env, "/start\n2\n2\n9\n")
    assert "[2] I did it" in chat.stdout
    assert "» Thank you! That's counted." in chat.stdout
    assert "There's no button with that number." in chat.stdout


def test_a_bad_setting_fails_naming_it(env: dict[str, str]) -> None:
    bad = run(["stats"], env | {"CAMPAIGNBOT_TIMEZONE": "Mars/Olympus"})
    assert bad.returncode == 2
    assert "timezone (CAMPAIGNBOT_TIMEZONE)" in bad.stderr
    bad = run(["stats"], env | {"CAMPAIGNBOT_ORGANISERS": "alice"})
    assert bad.returncode == 2 and "organisers (CAMPAIGNBOT_ORGANISERS)" in bad.stderr


def test_unknown_key_in_the_config_file_fails(env: dict[str, str], tmp_path: Path) -> None:
    config = tmp_path / "campaignbot.toml"
    config.write_text('timezone = "Europe/Paris"\ntelegram_token = "x"\n')
    bad = run(["stats"], env | {"CAMPAIGNBOT_CONFIG": str(config)})
    assert bad.returncode == 2 and "telegram_token: is not a known setting" in bad.stderr


def test_a_broken_pack_folder_stops_the_bot(env: dict[str, str], tmp_path: Path) -> None:
    packs = tmp_path / "packs"
    packs.mkdir()
    text = (BUNDLED_PACKS / "one-step-ahead.toml").read_text()
    (packs / "p.toml").write_text(
        text.replace('period = "1996 to 2018"', 'year = "soon"\nperiod = "1996 to 2018"')
    )
    bad = run(["chat"], env | {"CAMPAIGNBOT_PACKS": str(packs)}, "/start\n")
    assert bad.returncode == 2
    assert "p.toml" in bad.stderr and "ask 'pre-screening' (#2), field statistic.year" in bad.stderr


def test_campaigns_check(tmp_path: Path) -> None:
    runner = CliRunner()
    good = runner.invoke(app, ["campaigns", "check", str(BUNDLED_PACKS / "one-step-ahead.toml")])
    assert good.exit_code == 0 and "ok: one-step-ahead" in good.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[campaign]\nslug = 'x'\n")
    result = runner.invoke(app, ["campaigns", "check", str(broken)])
    assert result.exit_code == 1
    folder = runner.invoke(app, ["campaigns", "check", str(BUNDLED_PACKS)])
    assert folder.exit_code == 0


def test_campaigns_list(env: dict[str, str]) -> None:
    listed = run(["campaigns", "list"], env)
    assert listed.returncode == 0 and "one-step-ahead" in listed.stdout


def test_stats_csv(env: dict[str, str]) -> None:
    run(["chat"], env, "/start website\n/skip\n")
    csv_out = run(["stats", "--csv", "--table", "sources"], env)
    assert csv_out.stdout.splitlines() == [
        "source,delivered,opened,done,skipped,supporters",
        "website,1,0,0,1,0",
    ]


def _commands(group: Any, prefix: str = "") -> list[tuple[str, Any]]:
    """Every command under a group (typer vendors its own click, so no isinstance checks)."""
    found: list[tuple[str, Any]] = []
    for name, command in group.commands.items():
        found.append((prefix + name, command))
        if hasattr(command, "commands"):
            found += _commands(command, f"{prefix}{name} ")
    return found


def test_every_command_has_help_text() -> None:
    commands = _commands(typer.main.get_command(app))
    assert {"run", "chat", "stats", "campaigns", "campaigns check", "campaigns list"} <= {
        name for name, _ in commands
    }
    for name, command in commands:
        assert command.help and len(command.help) > 10, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.name}"
