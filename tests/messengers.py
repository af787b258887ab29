"""A platform stand-in for engine tests: records sends, and fails on a script.

(The adapters themselves are tested against fake servers over real sockets;
this stands in for a platform, never for our own code.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from campaigns.delivery import DeliveryError
from campaigns.model import ChatKind, Message
from campaigns.pacing import Pacer


class RecordingMessenger:
    """Sends nowhere; remembers who got what; raises what the script says."""

    def __init__(self, platform: str = "telegram", max_rate: float | None = None) -> None:
        self.platform = platform
        self.pacer = Pacer(max_rate) if max_rate else None
        self.sent: list[tuple[str, Message]] = []
        self.attempts: Counter[str] = Counter()
        self.script: dict[str, list[DeliveryError]] = {}
        self.delay = 0.0
        self.on_send: Callable[[str], None] | None = None

    def fail(self, address: str, *errors: DeliveryError) -> None:
        """The next sends to `address` raise these, in order."""
        self.script[address] = list(errors)

    async def prepare(self, address: str, kind: ChatKind) -> None:
        pass

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        self.attempts[address] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.on_send is not None:
            self.on_send(address)
        errors = self.script.get(address)
        if errors:
            raise errors.pop(0)
        self.sent.append((address, message))

    def addresses(self) -> list[str]:
        return [address for address, _ in self.sent]
