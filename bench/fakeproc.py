"""A fake platform server in its own process, so the bot under test has the machine's
other core to itself and the fake's work is not counted against it.

The parent sends commands down a pipe; the child runs them on the fake's event loop.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

Command = tuple[str, tuple[Any, ...]]


def _clear(*lists: list[Any]) -> None:
    for items in lists:
        items.clear()


def _telegram_child(conn: Connection, options: dict[str, Any]) -> None:
    import gc

    from tests.fakes.telegram import FakeTelegram

    # The fake keeps every request it saw; its collector's pauses would be counted as
    # the bot's latency. It is a short-lived process: no cyclic collection.
    gc.disable()

    async def main() -> None:
        fake = FakeTelegram(**options)
        await fake.start()
        conn.send(("ready", {"base_url": fake.base_url, "token": fake.token}))
        presses: dict[str, float] = {}
        loop = asyncio.get_running_loop()

        async def press_all(targets: list[tuple[int, int, str]], rate: float) -> None:
            started = time.monotonic()
            for n, (chat, message_id, data) in enumerate(targets):
                due = started + n / rate
                delay = due - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                presses[fake.user_presses(chat, chat, message_id, data)] = time.monotonic()

        handlers: dict[str, Callable[..., Any]] = {
            "chats": lambda ids: [fake.private_chat(i) for i in ids] and len(ids),
            "asks": lambda mark, label: [
                (chat, m["message_id"], b["callback_data"])
                for chat in sorted(c for c in fake.chats if c > 0)
                for m in fake.sent_to(chat)
                if mark in m.get("text", "")
                for row in m.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
                if b.get("text") == label
            ],
            "sent": lambda mark: sum(
                1
                for c in fake.requests
                if c.method == "sendMessage"
                and c.status == 200
                and mark in str(c.params.get("text"))
            ),
            "stats": lambda: {
                "requests": len(fake.requests),
                "rejected": len(fake.rejected),
                "too_many_requests": fake.too_many_requests,
                "early_retries": fake.limiter.early_retries,
                "internal_errors": len(fake.internal_errors),
                "paid": fake.limiter.paid,
            },
            "latency": lambda value: setattr(fake, "latency", value),
            "limits": lambda value: setattr(fake.limiter, "enabled", value),
            "clear": lambda: _clear(fake.requests, fake.rejected),
            "reasons": lambda: sorted({f"{c.method}: {c.description}" for c in fake.rejected}),
            "answer_latencies": lambda: [
                c.at - presses[c.params["callback_query_id"]]
                for c in fake.requests
                if c.method == "answerCallbackQuery"
                and c.params.get("callback_query_id") in presses
            ],
            "send_log": lambda: [
                (c.at, c.status) for c in fake.requests if c.method == "sendMessage"
            ],
            "message_times": lambda mark: [
                c.at
                for c in fake.requests
                if c.method == "sendMessage"
                and c.status == 200
                and mark in str(c.params.get("text"))
            ],
        }
        while True:
            name, args = await loop.run_in_executor(None, conn.recv)
            if name == "stop":
                break
            if name == "press_all":
                await press_all(*args)
                conn.send(None)
                continue
            conn.send(handlers[name](*args))
        await fake.stop()
        conn.send(None)

    asyncio.run(main())


def _discord_child(conn: Connection, options: dict[str, Any]) -> None:
    import gc

    from tests.fakes.discord import FakeDiscord

    gc.disable()  # see _telegram_child

    async def main() -> None:
        fake = FakeDiscord(**options)
        await fake.start()
        conn.send(
            (
                "ready",
                {"api_url": fake.api_url, "gateway_url": fake.gateway_url, "token": fake.token},
            )
        )
        loop = asyncio.get_running_loop()
        records: list[Any] = []

        async def press_all(targets: list[tuple[int, str, int]], rate: float) -> None:
            started = time.monotonic()
            pending = []
            for n, (message_id, custom_id, user_id) in enumerate(targets):
                delay = started + n / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                pending.append(
                    asyncio.create_task(fake.press_button(message_id, custom_id, user_id=user_id))
                )
            records.extend(await asyncio.gather(*pending))

        def latencies() -> list[float]:
            answered = {
                c.path.split("/")[-3]: c.at for c in fake.requests if c.path.endswith("/callback")
            }
            return [answered[str(r.id)] - r.created_at for r in records if str(r.id) in answered]

        def asks(label: str) -> list[tuple[int, str, int]]:
            found = []
            for user_id in sorted(fake.world.users):
                for message in fake.dms_to(user_id):
                    for row in message.get("components", []):
                        for item in row.get("components", []):
                            if item.get("label") == label:
                                found.append((int(message["id"]), item["custom_id"], user_id))
            return found

        handlers: dict[str, Callable[..., Any]] = {
            "users": lambda ids: [fake.add_user(i, f"u{i}") for i in ids] and len(ids),
            "asks": asks,
            "latencies": latencies,
            "stats": lambda: {
                "requests": len(fake.requests),
                "rejected": len(fake.rejected),
                "too_many_requests": fake.rate_limited_count,
                "internal_errors": len(fake.internal_errors),
            },
            "request_times": lambda: [
                c.at
                for c in fake.requests
                if c.method in ("POST", "PATCH") and "/interactions/" not in c.path
            ],
            "clear": lambda: _clear(fake.requests, fake.rejected),
            "reasons": lambda: sorted({f"{c.method} {c.route}: {c.reason}" for c in fake.rejected}),
        }
        while True:
            name, args = await loop.run_in_executor(None, conn.recv)
            if name == "stop":
                break
            if name == "press_all":
                await press_all(*args)
                conn.send(None)
                continue
            conn.send(handlers[name](*args))
        await fake.stop()
        conn.send(None)

    asyncio.run(main())


class FakeProcess:
    """A fake Telegram (or, with `platform="discord"`, Discord) server in a child process."""

    def __init__(self, platform: str = "telegram", **options: Any) -> None:
        context = multiprocessing.get_context("spawn")
        self._conn, child = context.Pipe()
        target = _discord_child if platform == "discord" else _telegram_child
        self._process = context.Process(target=target, args=(child, options), daemon=True)
        self._process.start()
        status, info = self._conn.recv()
        assert status == "ready"
        self.info: dict[str, str] = info
        self.base_url: str = info.get("base_url", "")
        self.token: str = info["token"]

    @property
    def pid(self) -> int | None:
        """The child's process id (to read the fake's own CPU time)."""
        return self._process.pid

    def call(self, name: str, *args: Any) -> Any:
        self._conn.send((name, args))
        return self._conn.recv()

    async def acall(self, name: str, *args: Any) -> Any:
        return await asyncio.get_running_loop().run_in_executor(None, self.call, name, *args)

    def close(self) -> None:
        self.call("stop")
        self._process.join(timeout=10)
