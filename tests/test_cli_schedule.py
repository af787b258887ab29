"""Organisers at the terminal: schedule list/add/cancel, send --now and --dry-run, preview,
status. Every action is audited; bad input changes nothing."""

from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from cli import app


@pytest.fixture
def runner(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("CAMPAIGNBOT_DB", str(tmp_path / "bot.db"))
    monkeypatch.setenv("COLUMNS", "200")
    monkeypatch.chdir(tmp_path)
    return CliRunner()


def rows(tmp_path: Path, sql: str) -> list[tuple[object, ...]]:
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        return conn.execute(sql).fetchall()


def future(days: int = 3) -> str:
    return (datetime.now(ZoneInfo("Europe/Paris")) + timedelta(days=days)).strftime(
        "%Y-%m-%d %H:%M"
    )


def test_add_list_and_cancel(runner: CliRunner, tmp_path: Path) -> None:
    at = future()
    added = runner.invoke(
        app,
        [
            "schedule",
            "add",
            "one-step-ahead",
            "--ask",
            "encrypted-messaging",
            "--at",
            at,
            "--tz",
            "Europe/Paris",
            "--platform",
            "telegram",
            "--source",
            "leaflet",
        ],
    )
    assert added.exit_code == 0, added.output
    assert "Scheduled prompt 1" in added.output
    stored = rows(tmp_path, "SELECT ask_id, timezone, platform, source, state FROM prompts")
    assert stored == [("encrypted-messaging", "Europe/Paris", "telegram", "leaflet", "scheduled")]
    utc = rows(tmp_path, "SELECT scheduled_at FROM prompts")[0][0]
    local = datetime.strptime(at, "%Y-%m-%d %H:%M").replace(tzinfo=ZoneInfo("Europe/Paris"))
    assert utc == local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%dT%H:%M:%SZ")
    listed = runner.invoke(app, ["schedule", "list"])
    assert "encrypted-messaging" in listed.output and "telegram, leaflet" in listed.output
    assert runner.invoke(app, ["schedule", "cancel", "1"]).exit_code == 0
    assert runner.invoke(app, ["schedule", "cancel", "1"]).exit_code == 1  # not scheduled now
    assert "encrypted-messaging" not in runner.invoke(app, ["schedule", "list"]).output
    assert "cancelled" in runner.invoke(app, ["schedule", "list", "--all"]).output
    audit = [row[0] for row in rows(tmp_path, "SELECT action FROM audit ORDER BY id")]
    assert audit == ["schedule", "cancel", "cancel"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--at", "2020-01-01 10:00"], "at: that time has passed"),
        (["--at", "tomorrow"], "at: give the time as YYYY-MM-DD HH:MM"),
        (["--at", "2031-01-01 10:00", "--tz", "Mars/Base"], "timezone: 'Mars/Base' is not"),
        (["--at", "2031-01-01 10:00", "--ask", "no-such-ask"], "ask: unknown ask 'no-such-ask'"),
        (["--at", "2031-01-01 10:00", "--platform", "myspace"], "platform: platform must be"),
        (["--at", "9999-12-31 23:59", "--tz", "Etc/GMT+12"], "at: give a time before the year"),
    ],
)
def test_bad_input_is_named_and_schedules_nothing(
    runner: CliRunner, tmp_path: Path, args: list[str], message: str
) -> None:
    result = runner.invoke(app, ["schedule", "add", "one-step-ahead", *args])
    assert result.exit_code == 2
    assert message in result.output
    assert rows(tmp_path, "SELECT count(*) FROM prompts") == [(0,)]


def test_unknown_campaign(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["send", "no-such-campaign", "--now"])
    assert result.exit_code == 2 and "unknown campaign 'no-such-campaign'" in result.output


def test_send_now_queues_a_prompt_for_the_running_bot(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(app, ["send", "one-step-ahead", "--now", "--ask", "ai-images"])
    assert result.exit_code == 0 and "Queued prompt 1" in result.output
    assert rows(tmp_path, "SELECT kind, state, ask_id FROM prompts") == [
        ("manual", "scheduled", "ai-images")
    ]
    assert runner.invoke(app, ["send", "one-step-ahead"]).exit_code == 2  # neither flag


def test_dry_run_lists_who_would_get_what_and_sends_nothing(
    runner: CliRunner, tmp_path: Path
) -> None:
    chat = runner.invoke(app, ["chat"], input="/start readme\n/topics ai\n")
    assert chat.exit_code == 0, chat.output
    runner.invoke(app, ["chat"], input="")  # nothing
    result = runner.invoke(app, ["send", "one-step-ahead", "--dry-run", "--ask", "ai-images"])
    assert result.exit_code == 0, result.output
    assert "console: 1 supporters" in result.output and "Nothing was sent." in result.output
    other = runner.invoke(app, ["send", "one-step-ahead", "--dry-run", "--ask", "age-verification"])
    assert "total: 0" in other.output  # the supporter chose only "ai"
    assert rows(tmp_path, "SELECT count(*) FROM prompts WHERE kind = 'manual'") == [(0,)]
    assert rows(tmp_path, "SELECT count(*) FROM audit WHERE action = 'dry-run'") == [(2,)]


def test_preview_renders_every_platform(runner: CliRunner) -> None:
    result = runner.invoke(app, ["preview", "one-step-ahead", "--ask", "mandatory-reporting"])
    assert result.exit_code == 0, result.output
    assert "<b>390,000+</b>" in result.output  # Telegram HTML
    assert '"name": "390,000+"' in result.output  # Discord embed field
    assert "Open the reporting page | I did it | Not this week" in result.output


def test_status_with_nothing_running(runner: CliRunner) -> None:
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0 and "No send is running." in result.output
