"""Core messages as Telegram HTML and inline keyboards. Every piece of text is escaped."""

from __future__ import annotations

from html import escape

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from campaigns import wording
from campaigns.model import AskCard, Message

MAX_TEXT = 4096


def _text(value: str) -> str:
    return escape(value, quote=False)


def _attr(value: str) -> str:
    return escape(value, quote=True)


def card_html(card: AskCard) -> str:
    stat = card.statistic
    heading = f"<b>{_text(card.campaign_title)}: {_text(card.title)}</b>"
    if card.reminder:
        heading = f"<i>{wording.reminder_label(card.language)}</i>\n" + heading
    source = f'<a href="{_attr(stat.url)}">{_text(stat.source)}</a>{stat.dated}'
    return (
        f"{heading}\n\n{_text(card.ask)}\n\n"
        f"<b>{_text(stat.figure)}</b> {_text(stat.sentence)}\n"
        f"<i>{wording.source_label(card.language)}: {source}</i>"
    )


def html(message: Message) -> str:
    """The message as Telegram HTML: the card (if any), then the plain text, escaped."""
    parts = []
    if message.card is not None:
        parts.append(card_html(message.card))
    if message.text:
        parts.append(_text(message.text))
    text = "\n\n".join(parts) or "…"
    if len(text) > MAX_TEXT:  # packs are far shorter; never let a send fail on length
        text = _text(message.text[: MAX_TEXT - 200]) + "…"
    return text


def keyboard(message: Message) -> InlineKeyboardMarkup | None:
    if not message.buttons:
        return None
    return InlineKeyboardMarkup(
        [
            [
                InlineKeyboardButton(button.label, url=button.url)
                if button.url
                else InlineKeyboardButton(button.label, callback_data=button.id)
                for button in row
            ]
            for row in message.buttons
        ]
    )
