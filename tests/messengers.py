"""A platform stand-in for engine tests: records sends, and fails on a script.

(The adapters themselves are tested against fake servers over real sockets;
this stands in for a platform, never for our own code.)
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Callable

from campaigns.messenger import DeliveryError, TransientFailure
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
        self.prepare_script: dict[str, list[DeliveryError]] = {}
        self.delay = 0.0
        self.on_send: Callable[[str], None] | None = None
        self.down_until = 0.0  # event-loop time: every send fails before it (an outage)
        self.during_outage = 0  # sends tried while down

    def fail(self, address: str, *errors: DeliveryError) -> None:
        """The next sends to `address` raise these, in order."""
        self.script[address] = list(errors)

    def outage(self, seconds: float) -> None:
        """Every send fails with a 5xx for the next `seconds`."""
        self.down_until = asyncio.get_running_loop().time() + seconds

    async def prepare(self, address: str, kind: ChatKind) -> None:
        errors = self.prepare_script.get(address)
        if errors:
            raise errors.pop(0)

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        self.attempts[address] += 1
        if self.delay:
            await asyncio.sleep(self.delay)
        if self.on_send is not None:
            self.on_send(address)
        if asyncio.get_running_loop().time() < self.down_until:
            self.during_outage += 1
            raise TransientFailure("503 Service Unavailable")
        errors = self.script.get(address)
        if errors:
            raise errors.pop(0)
        self.sent.append((address, message))

    def addresses(self) -> list[str]:
        return [address for address, _ in self.sent]
