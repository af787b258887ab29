"""Running `campaignbot` as a user does, for tests of what it prints: a clean
environment, the whole output, and the check that a failure is one clean line;
and `campaignbot run` in the background (`RunningBot`) for tests of a running bot.

The tokens here are synthetic, shaped like real ones so that a leak would be seen.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import sys
from pathlib import Path

import httpx

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


def telegram_env(fake: FakeTelegram, token: str | None = None) -> dict[str, str]:
    """Settings that point the bot at a fake Bot API (with its own token, or `token`)."""
    return {"TELEGRAM_BOT_TOKEN": token or fake.token, "TELEGRAM_API_URL": fake.base_url}


def discord_env(fake: FakeDiscord, token: str | None = None) -> dict[str, str]:
    """Settings that point the bot at a fake Discord (its own token, or `token`)."""
    return {
        "DISCORD_BOT_TOKEN": token or fake.token,
        "DISCORD_API_URL": fake.api_url,
        "DISCORD_GATEWAY_URL": fake.gateway_url,
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


class RunningBot:
    """`campaignbot run` as a background process, its output in a file the test reads."""

    def __init__(self, env: dict[str, str], log: Path) -> None:
        self.env = env
        self.log = log
        self.process: asyncio.subprocess.Process | None = None

    async def __aenter__(self) -> RunningBot:
        with self.log.open("wb") as out:
            self.process = await asyncio.create_subprocess_exec(
                str(BIN),
                "run",
                env=self.env,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        return self

    async def __aexit__(self, *_: object) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.kill()
            await self.process.wait()

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.returncode is None

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    async def wait_for_output(self, text: str, within: float = 30) -> str:
        """Wait until the output holds `text` (fails if the process ends first)."""
        deadline = asyncio.get_running_loop().time() + within
        while text not in self.output():
            assert self.process is not None
            if self.process.returncode is not None:
                raise AssertionError(f"run ended ({self.process.returncode}):\n{self.output()}")
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError(f"no {text!r} in:\n{self.output()}")
            await asyncio.sleep(0.05)
        return self.output()

    async def dashboard(self, within: float = 30) -> str:
        """The dashboard's address, once it listens."""
        await self.wait_for_output("dashboard at http://", within)
        found = re.search(r"dashboard at (http://[^/\s]+)/", self.output())
        assert found, self.output()
        return found.group(1)

    async def healthz(self) -> int:
        """The status code of the dashboard's /healthz."""
        base = await self.dashboard()
        async with httpx.AsyncClient(base_url=base, timeout=10) as http:
            return (await http.get("/healthz")).status_code

    async def exit_code(self, within: float = 30) -> int:
        assert self.process is not None
        return await asyncio.wait_for(self.process.wait(), within)

    async def stop(self, within: float = 15) -> int:
        """SIGTERM; the exit code, which must come in `within` seconds."""
        assert self.process is not None
        if self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
        return await self.exit_code(within)
