"""Organisers at the terminal: schedule list/add/cancel, send --now and --dry-run, preview,
status. Every action is audited; bad input changes nothing."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from typer.testing import CliRunner

from campaigns.prompting import parse_local_time
from cli import app
from db.store import open_database
from db.times import to_text


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
    assert "console: 1 supporter\n" in result.output and "Nothing was sent." in result.output
    other = runner.invoke(app, ["send", "one-step-ahead", "--dry-run", "--ask", "age-verification"])
    assert "total: 0" in other.output  # the supporter chose only "ai"
    assert rows(tmp_path, "SELECT count(*) FROM prompts WHERE kind = 'manual'") == [(0,)]
    assert rows(tmp_path, "SELECT count(*) FROM audit WHERE action = 'dry-run'") == [(2,)]


def test_preview_renders_every_platform(runner: CliRunner) -> None:
    result = runner.invoke(app, ["preview", "one-step-ahead", "--ask", "mandatory-reporting"])
    assert result.exit_code == 0, result.output
    assert "<b>Most of Europe, Canada and Australia</b>" in result.output  # Telegram HTML
    assert '"name": "Most of Europe, Canada and Australia"' in result.output  # Discord embed
    assert "Write to your MP | I did it | Not this week" in result.output


def test_status_with_nothing_running(runner: CliRunner, tmp_path: Path) -> None:
    open_database(tmp_path / "bot.db").close()  # a bot's database, with no send in it
    result = runner.invoke(app, ["status"])
    assert result.exit_code == 0 and "No send is running." in result.output


def test_local_times_use_the_offset_of_their_own_date() -> None:
    """A time on the other side of a daylight-saving change from today converts with
    that date's offset, not today's: whichever season the test runs in, one of these
    dates is in the other."""
    year = datetime.now(UTC).year + 1
    cases = [
        ("Europe/London", f"{year}-07-05 09:00", f"{year}-07-05T08:00:00Z"),  # BST, +1
        ("Europe/London", f"{year}-12-06 09:00", f"{year}-12-06T09:00:00Z"),  # GMT, +0
        ("America/New_York", f"{year}-07-05 09:00", f"{year}-07-05T13:00:00Z"),  # EDT, -4
        ("America/New_York", f"{year}-12-06 09:00", f"{year}-12-06T14:00:00Z"),  # EST, -5
        ("Australia/Sydney", f"{year}-07-05 09:00", f"{year}-07-04T23:00:00Z"),  # AEST, +10
        ("Australia/Sydney", f"{year}-12-06 09:00", f"{year}-12-05T22:00:00Z"),  # AEDT, +11
    ]
    for zone, at, utc in cases:
        assert to_text(parse_local_time(at, zone)) == utc, (zone, at)


def test_schedule_add_stores_utc_with_the_dates_own_offset(
    runner: CliRunner, tmp_path: Path
) -> None:
    year = datetime.now(UTC).year + 1
    for at in (f"{year}-07-05 09:00", f"{year}-12-06 09:00"):
        added = runner.invoke(
            app, ["schedule", "add", "one-step-ahead", "--at", at, "--tz", "Europe/London"]
        )
        assert added.exit_code == 0, added.output
    stored = [row[0] for row in rows(tmp_path, "SELECT scheduled_at FROM prompts ORDER BY id")]
    assert stored == [f"{year}-07-05T08:00:00Z", f"{year}-12-06T09:00:00Z"]


def test_a_source_is_kept_as_its_lowercase_code(runner: CliRunner, tmp_path: Path) -> None:
    """Deep links carry a code in any case (`/start Leaflet`); it is stored lower-cased,
    so an audience named `--source Leaflet` finds the supporters counted as `leaflet`."""
    added = runner.invoke(
        app, ["schedule", "add", "one-step-ahead", "--at", future(), "--source", "Leaflet"]
    )
    assert added.exit_code == 0, added.output
    sent = runner.invoke(app, ["send", "one-step-ahead", "--now", "--source", "LEAFLET"])
    assert sent.exit_code == 0, sent.output
    assert rows(tmp_path, "SELECT source FROM prompts ORDER BY id") == [("leaflet",), ("leaflet",)]
    bad = runner.invoke(app, ["send", "one-step-ahead", "--now", "--source", "leaf let"])
    assert bad.exit_code == 2 and "source:" in bad.output
    assert len(rows(tmp_path, "SELECT id FROM prompts")) == 2


def test_status_shows_the_databases_counts(runner: CliRunner, tmp_path: Path) -> None:
    """Unknown and cancelled as the database holds them, not as a log line counted them."""
    assert runner.invoke(app, ["send", "one-step-ahead", "--dry-run"]).exit_code == 0
    with sqlite3.connect(tmp_path / "bot.db") as conn:
        conn.execute(
            "INSERT INTO prompts (campaign, ask_id, kind, scheduled_at, timezone, state,"
            " created_by, created_at) VALUES ('one-step-ahead', 'ai-images', 'manual',"
            " '2026-01-01T00:00:00Z', 'UTC', 'sending', 'test', '2026-01-01T00:00:00Z')"
        )
        states = ["sent"] * 4 + ["unknown"] * 3 + ["cancelled"] * 2 + ["pending"]
        for n, state in enumerate(states):
            conn.execute(
                "INSERT INTO deliveries (prompt_id, supporter_key, platform, state, created_at,"
                " updated_at) VALUES (1, ?, 'telegram', ?, '2026-01-01T00:00:00Z',"
                " '2026-01-01T00:00:00Z')",
                [f"k{n}", state],
            )
    shown = runner.invoke(app, ["status", "--no-watch"])
    assert shown.exit_code == 0, shown.output
    assert "4 sent, 0 gone, 0 failed, 3 unknown, 2 cancelled, 1 left" in shown.output
