"""Core messages as Discord embeds, content and button components. Pack and supporter
text is escaped (markdown and mentions), and sends allow no mentions at all."""

from __future__ import annotations

import json

import discord
from discord.utils import escape_markdown, escape_mentions

from campaigns.model import AskCard, Message

MAX_CONTENT = 2000
COLOUR = discord.Colour(0x1F6FEB)


def _safe(text: str) -> str:
    return escape_mentions(escape_markdown(text))


def embed_for(card: AskCard, note: str = "") -> discord.Embed:
    stat = card.statistic
    title = f"{card.campaign_title}: {card.title}"
    if card.reminder:
        title = f"Reminder: {title}"
    description = _safe(card.ask)
    if note:
        description += "\n\n" + _safe(note)
    embed = discord.Embed(title=title[:256], description=description[:4096], colour=COLOUR)
    source = f"Source: [{_safe(stat.source)}]({stat.url}), {stat.year}"
    embed.add_field(name=stat.figure[:256], value=f"{_safe(stat.sentence)}\n{source}"[:1024])
    return embed


def content_for(message: Message) -> str | None:
    """The plain text part (when there is no card to carry it)."""
    if message.card is not None or not message.text:
        return None
    text = _safe(message.text)
    return text if len(text) <= MAX_CONTENT else text[: MAX_CONTENT - 1] + "…"


def embeds_for(message: Message) -> list[discord.Embed]:
    if message.card is None:
        return []
    return [embed_for(message.card, message.text)]


def view_for(message: Message) -> discord.ui.View | None:
    """Buttons as a view: link buttons, and action buttons whose custom id is the core's
    button id (a persistent dynamic item answers them, even after a restart)."""
    if not message.buttons:
        return None
    view = discord.ui.View(timeout=None)
    for row_number, row in enumerate(message.buttons):
        for button in row:
            if button.url is not None:
                view.add_item(
                    discord.ui.Button(label=button.label[:80], url=button.url, row=row_number)
                )
            else:
                style = (
                    discord.ButtonStyle.success
                    if button.label == "I did it"
                    else discord.ButtonStyle.secondary
                )
                view.add_item(
                    discord.ui.Button(
                        label=button.label[:80],
                        custom_id=button.action,
                        style=style,
                        row=row_number,
                    )
                )
    return view


def embed_preview(message: Message) -> str:
    """The embed as Discord receives it (JSON), for previews."""
    return json.dumps(
        [embed.to_dict() for embed in embeds_for(message)], indent=2, ensure_ascii=False
    )
