"""Core messages as Discord embeds, content and button components. Pack and supporter
text is escaped (markdown and mentions), and sends allow no mentions at all."""

from __future__ import annotations

import io
import json
from typing import Any

import discord
from discord.utils import escape_markdown, escape_mentions

from campaigns import wording
from campaigns.model import AskCard, Attachment, Message

MAX_CONTENT = 2000
COLOUR = discord.Colour(0x1F6FEB)
NO_MENTIONS = discord.AllowedMentions.none()


def _safe(text: str) -> str:
    return escape_mentions(escape_markdown(text))


def _fit(text: str, limit: int) -> str:
    """Escaped text cut to one of Discord's limits, never leaving half an escape (a
    lone backslash) at the end."""
    cut = text[:limit]
    return cut[:-1] if (len(cut) - len(cut.rstrip("\\"))) % 2 else cut


def embed_for(card: AskCard, note: str = "") -> discord.Embed:
    stat = card.statistic
    # Discord draws markdown in an embed's title and field names too: organiser text
    # there is escaped as the description is, so it shows as written.
    title = f"{card.campaign_title}: {card.title}"
    if card.reminder:
        title = f"{wording.reminder_label(card.language)}: {title}"
    description = _safe(card.ask)
    if note:
        description += "\n\n" + _safe(note)
    embed = discord.Embed(
        title=_fit(_safe(title), 256), description=description[:4096], colour=COLOUR
    )
    label = wording.source_label(card.language)
    source = f"{label}: [{_safe(stat.source)}]({stat.url}){stat.dated}"
    embed.add_field(
        name=_fit(_safe(stat.figure), 256),
        value=f"{_safe(stat.sentence)}\n{source}"[:1024],
        inline=False,
    )
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


class QuietView(discord.ui.View):
    """Buttons whose presses the `CoreButton` dynamic item answers (also after a restart),
    so discord.py need not keep a view in memory for every message sent."""

    def is_dispatchable(self) -> bool:
        return False


def view_for(message: Message) -> discord.ui.View | None:
    """Link and action buttons, at most five to a row and five rows."""
    buttons = message.all_buttons()
    if not buttons:
        return None
    view = QuietView(timeout=None)
    for row_number, row in enumerate(message.buttons[:5]):
        for button in row[:5]:
            item: discord.ui.Button[QuietView]
            if button.url is not None:
                item = discord.ui.Button(label=button.label[:80], url=button.url, row=row_number)
            else:
                style = (
                    discord.ButtonStyle.success
                    if button.label in wording.done_labels()
                    else discord.ButtonStyle.secondary
                )
                item = discord.ui.Button(
                    label=button.label[:80], custom_id=button.id, style=style, row=row_number
                )
            view.add_item(item)
    return view


def _file(attachment: Attachment | None) -> discord.File | None:
    if attachment is None:
        return None
    return discord.File(io.BytesIO(attachment.content), filename=attachment.filename)


def parts(message: Message) -> dict[str, Any]:
    """Keyword arguments for a discord.py send or response."""
    result: dict[str, Any] = {"allowed_mentions": NO_MENTIONS}
    content = content_for(message)
    if content:
        result["content"] = content
    embeds = embeds_for(message)
    if embeds:
        result["embeds"] = embeds
    view = view_for(message)
    if view is not None:
        result["view"] = view
    file = _file(message.attachment)
    if file is not None:
        result["file"] = file
    return result


def embed_preview(message: Message) -> str:
    """The embed as Discord receives it (JSON), for previews."""
    return json.dumps(
        [embed.to_dict() for embed in embeds_for(message)], indent=2, ensure_ascii=False
    )
