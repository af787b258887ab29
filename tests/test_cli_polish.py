"""Day one at the terminal, as a volunteer meets it: the console chat's prompt, a
short password, a command run from the wrong folder, tables at 80 columns, the
version, shell completion and counts that agree with their nouns."""

from __future__ import annotations

import contextlib
import os
import pty
import select
import signal
import subprocess
import termios
import time
from pathlib import Path

import pytest

from settings import load_settings
from tests.cli_run import BIN, assert_one_clean_line, base_env


class Terminal:
    """`campaignbot` on a pseudo-terminal, as someone typing at it sees it."""

    def __init__(self, env: dict[str, str], *args: str) -> None:
        # pty.fork makes the terminal the child's controlling one, as a login's is:
        # a password prompt reads from it.
        pid, self.main = pty.fork()
        if pid == 0:  # the child
            os.execve(BIN, [str(BIN), *args], env)  # noqa: S606
        self.pid = pid
        self.seen = ""

    def read_until(self, text: str, limit: float = 30) -> str:
        """Everything shown until `text` appears (or the process ends)."""
        deadline = time.monotonic() + limit
        while text not in self.seen:
            if not self._read(deadline - time.monotonic()):
                break
        assert text in self.seen, self.seen
        return self.seen

    def read_for(self, seconds: float) -> str:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._read(deadline - time.monotonic())
        return self.seen

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.main], [], [], max(wait, 0))
        if not ready:
            return False
        try:
            chunk = os.read(self.main, 4096)
        except OSError:  # the other end closed
            return False
        self.seen += chunk.decode(errors="replace")
        return bool(chunk)

    def wait_for_no_echo(self, limit: float = 30) -> None:
        """Until the program turns echo off (reading a password)."""
        deadline = time.monotonic() + limit
        while termios.tcgetattr(self.main)[3] & termios.ECHO:
            assert time.monotonic() < deadline, self.seen
            self._read(0.05)

    def type(self, text: str) -> None:
        os.write(self.main, text.encode())

    def exit_code(self, limit: float = 30) -> int | None:
        """Wait up to `limit` seconds for the process to end (reading what it shows)."""
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            pid, status = os.waitpid(self.pid, os.WNOHANG)
            if pid:
                self.read_for(0.2)
                return os.waitstatus_to_exitcode(status)
            self._read(0.1)
        return None

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            if os.waitpid(self.pid, os.WNOHANG)[0] == 0:
                os.kill(self.pid, signal.SIGTERM)
                if self.exit_code(20) is None:
                    os.kill(self.pid, signal.SIGKILL)
                    os.waitpid(self.pid, 0)
        os.close(self.main)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return base_env(tmp_path) | {"COLUMNS": "80"}


def test_no_log_line_lands_after_the_console_chats_first_prompt(env: dict[str, str]) -> None:
    terminal = Terminal(env, "run")
    try:
        terminal.read_until("you> ")
        after = terminal.read_for(2.0).split("you> ", 1)[1]
        assert "INFO" not in after, after
        terminal.type("/help\n")
        terminal.read_until("/forget")
    finally:
        terminal.close()


def test_a_short_password_is_refused_before_it_is_asked_again(env: dict[str, str]) -> None:
    terminal = Terminal(env, "users", "add", "sam", "--role", "staff")
    try:
        terminal.read_until("Password:")
        terminal.wait_for_no_echo()  # typed before that, getpass would throw it away
        terminal.type("short\n")
        code = terminal.exit_code()
        shown = terminal.seen
    finally:
        terminal.close()
    assert code not in (None, 0), shown
    assert "at least" in shown and "Password again" not in shown, shown


@pytest.mark.parametrize(
    "args",
    [
        ("stats",),
        ("status",),
        ("users", "list"),
        ("schedule", "list"),
        ("sources", "list"),
        ("send", "cancel", "1"),
    ],
)
def test_read_only_commands_from_another_folder_make_no_database(
    tmp_path: Path, args: tuple[str, ...]
) -> None:
    env = base_env(tmp_path)
    del env["CAMPAIGNBOT_DB"]  # the default: data/campaignbot.db in the current folder
    result = subprocess.run(  # noqa: S603
        [str(BIN), *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode != 0
    assert_one_clean_line(
        result.stderr, str(tmp_path / "data" / "campaignbot.db"), "CAMPAIGNBOT_DB"
    )
    assert not (tmp_path / "data").exists()


def test_a_command_that_writes_says_where_it_starts_a_database(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    result = subprocess.run(  # noqa: S603
        [str(BIN), "sources", "add", "poster"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert f"starting a new database at {tmp_path / 'data' / 'bot.db'}" in result.stderr


def test_version_and_completion(env: dict[str, str]) -> None:
    version = subprocess.run(  # noqa: S603
        [str(BIN), "--version"], env=env, capture_output=True, text=True, timeout=60
    )
    assert version.returncode == 0 and version.stdout.strip() == "campaignbot 0.1.0"
    shown = subprocess.run(  # noqa: S603
        [str(BIN), "--help"], env=env, capture_output=True, text=True, timeout=60
    ).stdout
    assert "--install-completion" in shown and "--show-completion" in shown


def test_tables_fit_80_columns_and_counts_agree_with_their_nouns(env: dict[str, str]) -> None:
    def run(*args: str, stdin: str = "") -> str:
        result = subprocess.run(  # noqa: S603
            [str(BIN), *args], input=stdin, env=env, capture_output=True, text=True, timeout=60
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    run("chat", stdin="/start\n")
    stats = run("stats")
    # the ask's title is there, not squashed away
    assert "Bring the law" in stats and "AI abuse" in stats and "/ai-images" in stats
    assert "1 supporter took part" not in stats and "0 supporters took part" in stats
    dry_run = run("send", "one-step-ahead", "--dry-run")
    assert "console: 1 supporter\n" in dry_run
    listing = run("campaigns", "list") + run("sources", "list") + run("schedule", "list")
    for output in (stats, dry_run, listing):
        too_long = [line for line in output.splitlines() if len(line.rstrip()) > 80]
        assert not too_long, output
    assert "ai-images, pre-screening" in listing


def test_an_empty_line_in_an_env_file_means_unset(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`TELEGRAM_BOT_TOKEN=` left empty in deploy/env.example's copy: no Telegram, not a
    start that stops on a refused empty token."""
    monkeypatch.chdir(tmp_path)
    for name in ("TELEGRAM_BOT_TOKEN", "DISCORD_BOT_TOKEN", "CAMPAIGNBOT_TELEGRAM_WEBHOOK_URL"):
        monkeypatch.setenv(name, "")
    monkeypatch.setenv("CAMPAIGNBOT_PUBLIC_BASE_URL", " ")
    loaded = load_settings()
    assert loaded.telegram_bot_token is None and loaded.discord_bot_token is None
    assert loaded.telegram_webhook_url is None and loaded.public_base_url is None
