"""Running `campaignbot` as a user does, for tests of what it prints: a clean
environment, the whole output, and the check that a failure is one clean line.

The tokens here are synthetic, shaped like real ones so that a leak would be seen.
"""

from __future__ import annotations

import asyncio
import os
import socket
import sys
from pathlib import Path

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
