"""The console adapter: a supporter chat in the terminal, with buttons as numbered choices.

It reads standard input line by line, so it works typed or piped, and stops at
the end of input. Typing a number presses that button of the latest message.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TextIO

from rich.console import Console, Group
from rich.panel import Panel
from rich.text import Text

from campaigns import wording
from campaigns.commands import parse, plain_word
from campaigns.core import Core
from campaigns.invites import StartLinks
from campaigns.messenger import AdapterHealth, RecipientGone
from campaigns.model import Button, ChatKind, Message, Origin
from campaigns.pacing import Pacer

PLATFORM = "console"
ADDRESS = "local"


def render(message: Message) -> Group:
    """A message as the terminal shows it, its buttons numbered in order. The chat prints
    this, and the dashboard's preview draws the same, so the two can't differ."""
    parts: list[Text | Panel] = []
    if message.card is not None:
        card = message.card
        stat = card.statistic
        body = Text()
        if card.reminder:
            body.append(f"{wording.reminder_label(card.language)}\n", style="bold yellow")
        body.append(card.ask + "\n\n")
        body.append(stat.figure, style="bold")
        body.append(f" {stat.sentence}\n")
        source = wording.source_label(card.language)
        body.append(f"{source}: {stat.source}{stat.dated} ({stat.url})", style="dim")
        title = Text(f"{card.campaign_title}: {card.title}", style="bold")
        parts.append(Panel(body, title=title, title_align="left", expand=False))
    if message.text:
        parts.append(Text(message.text))
    if message.attachment is not None:
        parts.append(Text(f"--- {message.attachment.filename} ---", style="dim"))
        parts.append(Text(message.attachment.content.decode("utf-8", "replace")))
    for number, button in enumerate(message.all_buttons(), start=1):
        link = f" → {button.url}" if button.url else ""
        parts.append(Text(f"  [{number}] {button.label}{link}", style="cyan"))
    return Group(*parts)


class ConsoleChat:
    """One supporter's chat with the bot, in a terminal."""

    platform = PLATFORM
    pacer: Pacer | None = None

    def __init__(
        self,
        core: Core,
        *,
        stdin: TextIO | None = None,
        console: Console | None = None,
        address: str = ADDRESS,
    ) -> None:
        self.core = core
        self.stdin = stdin or sys.stdin
        self.console = console or Console(highlight=False)
        self.origin = Origin(PLATFORM, address)
        self._choices: list[Button] = []
        # No links in a terminal: an invite says what to type (`/start i_<code>`).
        core.set_start_links(PLATFORM, StartLinks())

    def health(self) -> AdapterHealth:
        """The terminal is always there while the bot runs."""
        return AdapterHealth(connected=True)

    @property
    def interactive(self) -> bool:
        return self.stdin.isatty()

    async def run(self) -> None:
        """Read lines until the end of input, answering each."""
        lines: asyncio.Queue[str | None] = asyncio.Queue()
        loop = asyncio.get_running_loop()

        def read() -> None:  # a daemon thread, so a blocked read never holds up exit
            for line in self.stdin:
                loop.call_soon_threadsafe(lines.put_nowait, line)
            loop.call_soon_threadsafe(lines.put_nowait, None)

        threading.Thread(target=read, name="console-stdin", daemon=True).start()
        if self.interactive:
            self.console.print(Text(wording.CONSOLE_BANNER, style="dim"))
        while True:
            if self.interactive:
                self.console.print(Text("you> ", style="bold"), end="")
            line = await lines.get()
            if line is None:
                return
            await self.handle_line(line.strip())

    async def handle_line(self, line: str) -> None:
        """Answer one line: a command, a button number, or anything else (not kept)."""
        if not line:
            return
        if line.isdigit():
            await self._press(int(line))
            return
        command = parse(line) or plain_word(line)  # STOP, UNSUBSCRIBE, START alone
        if command is None:  # free text: answered with where to get help, never kept
            self.show(Message(text=wording.FREE_TEXT))
            return
        for message in await self.core.command(self.origin, command.name, command.args):
            self.show(message)

    async def _press(self, number: int) -> None:
        if not 1 <= number <= len(self._choices):
            self.show(Message(text=wording.NO_SUCH_BUTTON))
            return
        button = self._choices[number - 1]
        if button.url is not None:
            self.console.print(Text(wording.open_in_browser(button.url)))
            return
        assert button.id is not None
        result = await self.core.press(self.origin, button.id)
        self.console.print(Text(f"» {result.answer}", style="italic"))
        if result.edit is not None:
            self.show(result.edit)
        for message in result.replies:
            self.show(message)

    def show(self, message: Message) -> None:
        """Print a message; its buttons become the numbered choices."""
        if message.buttons:
            self._choices = message.all_buttons()
        self.console.print(render(message))
        self.console.print()

    async def prepare(self, address: str, kind: ChatKind) -> None:
        """Nothing to get ready in a terminal."""

    async def send(self, address: str, kind: ChatKind, message: Message) -> None:
        """The engine's messenger: the weekly ask arriving in this chat."""
        if address != self.origin.chat:
            raise RecipientGone("only this terminal's supporter can be reached")
        self.show(message)
