"""`campaignbot web`, the dashboard run on its own, follows campaign changes within
seconds as `campaignbot run` does (issue 15, part 5): a campaign imported by another
process shows up in its pages without a restart.

A real `campaignbot web` process and a real `campaignbot campaigns import`; the test
waits on what the dashboard serves, never on a pause alone.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx

from tests.cli_run import BIN, run
from tests.test_catalog_reload import NEW, NEW_PACK
from tests.web_support import cli_env, make_settings, sign_in, with_users

MAIN = "one-step-ahead"


def read(log: Path) -> str:
    return log.read_text(errors="replace")


@asynccontextmanager
async def dashboard_alone(env: dict[str, str], log: Path) -> AsyncIterator[str]:
    """`campaignbot web` in the background; its address once it listens."""
    with log.open("wb") as out:
        process = await asyncio.create_subprocess_exec(
            str(BIN), "web", env=env, stdin=asyncio.subprocess.DEVNULL, stdout=out, stderr=out
        )
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while not (found := re.search(r"dashboard at (http://[^/\s]+)/", read(log))):
            assert process.returncode is None, read(log)
            assert loop.time() < deadline, read(log)
            await asyncio.sleep(0.05)
        yield found.group(1)
    finally:
        if process.returncode is None:
            process.terminate()
            await asyncio.wait_for(process.wait(), timeout=10)
    assert process.returncode == 0, read(log)  # the job stops with the dashboard


def offered(html: str) -> set[str]:
    """The campaigns the schedule form offers: those the dashboard's catalog runs."""
    form = html.split('<select id="campaign"', 1)[1].split("</select>", 1)[0]
    return set(re.findall(r'<option value="([^"]+)"', form))


async def test_the_dashboard_alone_follows_a_campaign_imported_elsewhere(tmp_path: Path) -> None:
    settings = with_users(make_settings(tmp_path))
    env = cli_env(settings) | {"CAMPAIGNBOT_WEB_PORT": "0"}
    pack = tmp_path / "bare.toml"
    pack.write_text(NEW_PACK)
    log = tmp_path / "web.log"

    async with dashboard_alone(env, log) as url, httpx.AsyncClient(base_url=url) as http:
        await sign_in(http, "olive")
        assert offered((await http.get("/prompts/new")).text) == {MAIN}

        code, output = await run(env, "campaigns", "import", str(pack))
        assert code == 0, output

        # the dashboard's own look at the store (every 2 s) swaps the new campaign in
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 15
        while offered((await http.get("/prompts/new")).text) != {MAIN, NEW}:
            assert loop.time() < deadline, read(log)
            await asyncio.sleep(0.1)
        assert "campaigns: now running version" in read(log)
    assert "Traceback" not in read(log)
