"""Sign-in throttling over a real socket (uvicorn on localhost): parallel guesses
can't outrun the count, an attack on an account never locks out a client that
has not failed, X-Forwarded-For is believed from trusted proxies only, and a
burst of sign-ins can't start more than a few password checks at once."""

from __future__ import annotations

import asyncio
import threading
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.web_support import PASSWORDS, LiveServer, csrf_of, make_settings, with_users
from web import throttle


def serve(folder: Path, **more: Any) -> LiveServer:
    settings = with_users(make_settings(folder, **more))
    return LiveServer(settings)


@pytest.fixture
def server(tmp_path: Path) -> Iterator[LiveServer]:
    with serve(tmp_path) as live:
        yield live


def client_for(server: LiveServer, connections: int = 100) -> httpx.AsyncClient:
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    return httpx.AsyncClient(base_url=server.url, limits=limits, timeout=60)


async def token_for(http: httpx.AsyncClient) -> str:
    return csrf_of((await http.get("/sign-in")).text)


async def try_password(
    http: httpx.AsyncClient, token: str, name: str, password: str, forwarded_for: str
) -> int:
    response = await http.post(
        "/sign-in",
        data={"name": name, "password": password, "csrftoken": token},
        headers={"x-forwarded-for": forwarded_for},
    )
    return response.status_code


async def test_parallel_guesses_are_not_all_checked_and_others_still_sign_in(
    server: LiveServer,
) -> None:
    async with client_for(server) as attacker:
        token = await token_for(attacker)
        answers = Counter(
            await asyncio.gather(
                *(
                    try_password(attacker, token, "olive", f"guess-{n}", "203.0.113.7")
                    for n in range(40)
                )
            )
        )
        # 401: the password was checked and was wrong; 429: refused before any check
        assert set(answers) <= {401, 429}, answers
        assert answers[401] <= throttle.PAIR_LIMIT, answers
        right = await try_password(attacker, token, "olive", PASSWORDS["olive"], "203.0.113.7")
        assert right == 429  # that client has failed: it waits, right password or not
    # the account is under attack from elsewhere; this client has not failed, so it's in
    async with client_for(server) as colleague:
        token = await token_for(colleague)
        assert (
            await try_password(colleague, token, "olive", PASSWORDS["olive"], "198.51.100.20")
            == 303
        )


async def test_forwarded_for_is_ignored_from_an_untrusted_peer(tmp_path: Path) -> None:
    # The test connects from 127.0.0.1, which this dashboard doesn't count as its proxy.
    with serve(tmp_path, trusted_proxies=["10.0.0.0/8"]) as server:
        async with client_for(server) as http:
            token = await token_for(http)
            for n in range(throttle.CLIENT_LIMIT):
                status = await try_password(http, token, f"nobody{n}", "guess", f"192.0.2.{n + 1}")
                assert status == 401
            # a new X-Forwarded-For each time made no new client: this one is held back
            assert (
                await try_password(http, token, "olive", PASSWORDS["olive"], "192.0.2.200") == 429
            )


async def test_a_burst_of_sign_ins_checks_few_passwords_at_once(server: LiveServer) -> None:
    async with client_for(server, connections=120) as http:
        token = await token_for(http)
        answers = Counter(
            await asyncio.gather(
                *(
                    try_password(http, token, "olive", "guess", f"198.18.{n // 250}.{n % 250 + 1}")
                    for n in range(120)
                )
            )
        )
        assert set(answers) <= {401, 503}, answers
        assert answers[503] > 0, answers  # the queue is bounded: the rest are told "busy"
        assert answers[401] >= throttle.MAX_CHECKS, answers
        checkers = [t for t in threading.enumerate() if t.name.startswith("argon2")]
        assert 0 < len(checkers) <= throttle.MAX_CHECKS  # 64 MiB each, never more at once
        # a busy answer cost nobody an attempt: the account signs in from a fresh client
        assert await try_password(http, token, "olive", PASSWORDS["olive"], "198.51.100.20") == 303
