"""Start-up failures are one line that names the setting and the fix, and no output ever
holds a token or the secret: `campaignbot` runs as a real subprocess, against the fake
Telegram and Discord servers where a platform is involved.

The tokens here are synthetic, shaped like real ones so that a leak would be seen.
"""

from __future__ import annotations

import asyncio
import io
import logging
import os
import socket
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from cli.logs import MASK, configure_logging
from tests.fakes.discord import FakeDiscord
from tests.fakes.telegram import FakeTelegram

BIN = Path(sys.executable).parent / "campaignbot"
TELEGRAM_TOKEN = "7311094452:AAFq3vXoZ0pLk9sYbWm2Rt6uNc8eHdJ4gA1"
DISCORD_TOKEN = "MTMxMjQ1Njc4OTAxMjM0NTY3OA.Gq7xYz.f4KpQ2rVn8sLm0wTj6bHc3dXe9aZu1yGo5iE"
SECRET = "startup-test-secret-0123456789-abcdef"


def base_env(tmp_path: Path) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CAMPAIGNBOT_", "TELEGRAM_", "DISCORD_"))
    }
    return env | {
        "CAMPAIGNBOT_DB": str(tmp_path / "data" / "bot.db"),
        "CAMPAIGNBOT_WEB_PORT": "0",
        "CAMPAIGNBOT_SECRET_KEY": SECRET,
        "COLUMNS": "300",
    }


async def run(env: dict[str, str], *args: str, limit: float = 60) -> tuple[int, str]:
    """Run `campaignbot` to its end; its exit code and everything it printed."""
    process = await asyncio.create_subprocess_exec(
        str(BIN),
        *args,
        env=env,
        stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        cwd=env.get("CWD"),
    )
    try:
        output, _ = await asyncio.wait_for(process.communicate(), timeout=limit)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    assert process.returncode is not None
    return process.returncode, output.decode()


def assert_one_clean_line(output: str, *names: str) -> None:
    """Exactly one error line, naming each of `names`; no traceback, no secret."""
    errors = [line for line in output.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, output
    for name in names:
        assert name in errors[0], output
    assert "Traceback" not in output, output
    for secret in (TELEGRAM_TOKEN, DISCORD_TOKEN, SECRET, TELEGRAM_TOKEN.split(":")[1]):
        assert secret not in output, output


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_a_rejected_telegram_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    async with FakeTelegram() as telegram:  # it accepts only its own token
        env = base_env(tmp_path) | {
            "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
            "TELEGRAM_API_URL": telegram.base_url,
        }
        code, output = await run(env, "run")
    assert code != 0
    assert_one_clean_line(output, "TELEGRAM_BOT_TOKEN")


async def test_a_typo_in_the_telegram_address_is_one_line_without_the_token(
    tmp_path: Path,
) -> None:
    env = base_env(tmp_path) | {
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "TELEGRAM_API_URL": f"http://127.0.0.1:{closed_port()}/bot",
    }
    code, output = await run(env, "run")
    assert code != 0
    assert_one_clean_line(output, "TELEGRAM_API_URL")


async def test_a_rejected_discord_token_is_one_line_without_the_token(tmp_path: Path) -> None:
    discord = FakeDiscord()  # it accepts only its own token
    await discord.start()
    try:
        env = base_env(tmp_path) | {
            "DISCORD_BOT_TOKEN": DISCORD_TOKEN,
            "DISCORD_API_URL": discord.api_url,
            "DISCORD_GATEWAY_URL": discord.gateway_url,
        }
        code, output = await run(env, "run")
    finally:
        await discord.stop()
    assert code != 0
    assert_one_clean_line(output, "DISCORD_BOT_TOKEN")


async def test_a_database_that_cannot_be_opened_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    env = base_env(tmp_path) | {"CAMPAIGNBOT_DB": str(blocker / "bot.db")}
    for args in (("run",), ("stats",), ("schedule", "list")):
        code, output = await run(env, *args)
        assert code == 2, output
        assert_one_clean_line(output, "CAMPAIGNBOT_DB", str(blocker / "bot.db"))


async def test_a_broken_or_missing_settings_file_is_named(tmp_path: Path) -> None:
    broken = tmp_path / "campaignbot.toml"
    broken.write_text(f'telegram_bot_token = "{TELEGRAM_TOKEN}"\nweb_port = [\n')
    env = base_env(tmp_path) | {"CAMPAIGNBOT_CONFIG": str(broken)}
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, str(broken), "TOML")

    # the same file found in the working directory, with no CAMPAIGNBOT_CONFIG
    env = base_env(tmp_path) | {"CWD": str(tmp_path)}
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "campaignbot.toml", "TOML")

    missing = tmp_path / "elsewhere.toml"
    env = base_env(tmp_path) | {"CAMPAIGNBOT_CONFIG": str(missing)}
    code, output = await run(env, "stats")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_CONFIG", str(missing))


async def test_a_role_name_instead_of_a_role_id_is_refused_at_start(tmp_path: Path) -> None:
    env = base_env(tmp_path) | {
        "CAMPAIGNBOT_DISCORD_ORGANISER_GUILD": "112233445566778899",
        "CAMPAIGNBOT_DISCORD_ORGANISER_ROLE": "Campaign organiser",
    }
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_DISCORD_ORGANISER_ROLE", "role id", "Copy Role ID")
    # a role id without the server it belongs to
    env |= {"CAMPAIGNBOT_DISCORD_ORGANISER_ROLE": "998877665544332211"}
    del env["CAMPAIGNBOT_DISCORD_ORGANISER_GUILD"]
    code, output = await run(env, "run")
    assert code == 2
    assert_one_clean_line(output, "CAMPAIGNBOT_DISCORD_ORGANISER_GUILD")


@pytest.fixture
def masked_logging() -> Iterator[io.StringIO]:
    """The bot's own logging set-up, writing to a buffer; put back afterwards."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level, sys.excepthook, threading.excepthook)
    buffer = io.StringIO()
    real_stderr = sys.stderr
    sys.stderr = buffer
    try:
        configure_logging(
            "DEBUG", [TELEGRAM_TOKEN, DISCORD_TOKEN, SECRET], console=Console(file=buffer)
        )
        yield buffer
    finally:
        sys.stderr = real_stderr
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])
        sys.excepthook, threading.excepthook = saved[2], saved[3]


def test_every_log_line_is_masked_library_loggers_and_tracebacks_included(
    masked_logging: io.StringIO,
) -> None:
    webhook = "https://discord.com/api/v10/webhooks/1100/aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ"
    dm_channel = "https://discord.com/api/v10/channels/1234567890123/messages"
    # discord.py's own 429 warning, word for word, as its logger writes it
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds.",
        "POST",
        webhook,
        1.5,
    )
    logging.getLogger("discord.http").warning(
        "We are being rate limited. %s %s responded with 429. Retrying in %.2f seconds.",
        "POST",
        dm_channel,
        0.5,
    )
    logging.getLogger("telegram.ext").warning(
        "calling https://api.telegram.org/bot%s/getMe", TELEGRAM_TOKEN
    )
    try:
        raise RuntimeError(f"token {DISCORD_TOKEN} and secret {SECRET} in an error")
    except RuntimeError:
        logging.getLogger("campaigns.core").exception("failed")
    logging.getLogger("web").info("opened /l/1a2b.AbCdEfGhIjKlMnOp")
    written = masked_logging.getvalue()
    for leak in (
        TELEGRAM_TOKEN,
        DISCORD_TOKEN,
        SECRET,
        "aW50ZXJhY3Rpb246MTIzNDU2Nzg5MDpzZWNyZXQ",
        "1234567890123",
        "1a2b.AbCdEfGhIjKlMnOp",
    ):
        assert leak not in written, written
    assert written.count(MASK) == 6, written
    assert "RuntimeError" in written and "Traceback" in written  # the traceback is kept, masked
    assert "responded with 429" in written


def test_an_uncaught_exception_is_masked(
    masked_logging: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    try:
        raise ValueError(f"bad {TELEGRAM_TOKEN}")
    except ValueError as exc:
        sys.excepthook(type(exc), exc, exc.__traceback__)
    written = capsys.readouterr().err
    assert "ValueError" in written and TELEGRAM_TOKEN not in written and MASK in written
