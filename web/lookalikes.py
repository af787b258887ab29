"""A message as each app shows it, for the dashboard's previews, drawn from what the
adapters themselves send, so a preview can't drift from a real send:

- Telegram: the HTML text `bots.telegram.render.html` makes, drawn by keeping only the
  tags of Telegram's HTML (each mapped to a fixed tag of ours; every piece of text is
  escaped again), and the inline keyboard `keyboard` makes;
- Discord: the embeds and buttons `bots.discord.render.parts` makes, as the JSON
  Discord receives, with the one piece of markdown the adapter writes (the source's
  masked link) and its backslash escapes drawn as Discord draws them;
- the console: `bots.console.render`, printed by rich to a terminal of `CONSOLE_WIDTH`
  columns, its styles as classes (the CSP allows no inline style).

The adapters are imported for their renderers only (pyproject.toml's import contract
allows these three imports and no other from `web` into `bots`).
"""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from markupsafe import Markup, escape
from rich.console import Console
from rich.style import Style

from bots import console as console_render
from bots.discord import render as discord_render
from bots.telegram import render as telegram_render
from campaigns.model import Message

CONSOLE_WIDTH = 72  # most terminals are wider; a preview column holds this many
WEB_LINK = re.compile(r"https?://[^\s\"'<>]+", re.IGNORECASE)
# Telegram's HTML tags, each drawn as a tag of ours (anything else is shown as text).
TELEGRAM_TAGS = {
    "b": "b",
    "strong": "b",
    "i": "i",
    "em": "i",
    "u": "u",
    "ins": "u",
    "s": "s",
    "strike": "s",
    "del": "s",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-spoiler": "spoiler",
}
OURS = {
    "b": (Markup("<b>"), Markup("</b>")),
    "i": (Markup("<i>"), Markup("</i>")),
    "u": (Markup("<u>"), Markup("</u>")),
    "s": (Markup("<s>"), Markup("</s>")),
    "code": (Markup("<code>"), Markup("</code>")),
    "pre": (Markup("<pre>"), Markup("</pre>")),
    "blockquote": (Markup("<blockquote>"), Markup("</blockquote>")),
    "spoiler": (Markup('<span class="tg-spoiler">'), Markup("</span>")),
    "link": (Markup('<span class="tg-link">'), Markup("</span>")),
}
LINK = Markup('<a href="{}" rel="noopener noreferrer" target="_blank">')
DISCORD_STYLES = {1: "primary", 2: "secondary", 3: "success", 4: "danger", 5: "link"}
# A backslash escape (any ASCII punctuation), or a masked link [label](https://...).
DISCORD_MARKDOWN = re.compile(
    r"\\([!-/:-@\[-`{-~])|\[((?:\\.|[^\\\]])+)\]\((https?://[^\s)]+)\)", re.IGNORECASE
)
DISCORD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")  # a title or field name has no links


@dataclass(frozen=True)
class Key:
    """A button under a message: its label, where it goes (a link) and its look."""

    label: str
    url: str | None
    style: str

    @property
    def href(self) -> str | None:
        """The link, if it is one to a web address (the only kind a preview follows)."""
        return _web_link(self.url)


@dataclass(frozen=True)
class TelegramLook:
    sent: str  # the HTML text the adapter sends
    body: Markup
    keyboard: tuple[tuple[Key, ...], ...]


@dataclass(frozen=True)
class Field:
    name: Markup
    value: Markup
    inline: bool


@dataclass(frozen=True)
class Embed:
    title: Markup
    url: str | None
    description: Markup
    fields: tuple[Field, ...]
    footer: str
    colour: str  # "#1f6feb"

    @property
    def href(self) -> str | None:
        return _web_link(self.url)


@dataclass(frozen=True)
class DiscordLook:
    sent: str  # the JSON Discord receives (content, embeds, components, mentions)
    content: Markup | None
    embeds: tuple[Embed, ...]
    rows: tuple[tuple[Key, ...], ...]


@dataclass(frozen=True)
class ConsoleLook:
    text: str  # what the terminal shows
    body: Markup  # the same, with its styles as classes
    width: int


@dataclass(frozen=True)
class Looks:
    telegram: TelegramLook
    discord: DiscordLook
    console: ConsoleLook


def _web_link(url: str | None) -> str | None:
    return url if url is not None and WEB_LINK.fullmatch(url) else None


def looks(message: Message) -> Looks:
    """The message in all three apps."""
    return Looks(telegram(message), discord(message), console(message))


# ---------------------------------------------------------------- Telegram


def telegram(message: Message) -> TelegramLook:
    sent = telegram_render.html(message)
    markup = telegram_render.keyboard(message)
    rows = markup.inline_keyboard if markup is not None else ()
    keyboard = tuple(
        tuple(Key(button.text, button.url, "url" if button.url else "callback") for button in row)
        for row in rows
    )
    return TelegramLook(sent, telegram_html(sent), keyboard)


def telegram_html(text: str) -> Markup:
    """Telegram HTML drawn safely: its tags become fixed tags of ours, a link only to a
    web address; any other tag, and all text, is shown escaped."""
    parser = _TelegramHtml()
    parser.feed(text)
    parser.close()
    return parser.result()


class _TelegramHtml(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._out: list[Markup] = []
        self._open: list[tuple[str, Markup]] = []  # (Telegram's tag, our closing tag)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a":
            href = found.get("href") or ""
            if WEB_LINK.fullmatch(href):
                self._push(tag, (LINK.format(href), Markup("</a>")))
            else:
                self._push(tag, OURS["link"])
        elif tag == "span" and found.get("class") == "tg-spoiler":
            self._push(tag, OURS["spoiler"])
        elif tag in TELEGRAM_TAGS:
            self._push(tag, OURS[TELEGRAM_TAGS[tag]])
        else:
            self._text(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if not any(opened == tag for opened, _ in self._open):
            self._text(f"</{tag}>")
            return
        while self._open:
            opened, closing = self._open.pop()
            self._out.append(closing)
            if opened == tag:
                return

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._text(self.get_starttag_text() or "")

    def handle_data(self, data: str) -> None:
        self._text(data)

    def handle_comment(self, data: str) -> None:
        self._text(f"<!--{data}-->")

    def handle_decl(self, decl: str) -> None:
        self._text(f"<!{decl}>")

    def handle_pi(self, data: str) -> None:
        self._text(f"<?{data}>")

    def unknown_decl(self, data: str) -> None:
        self._text(f"<![{data}]>")

    def result(self) -> Markup:
        closing = [closing for _, closing in reversed(self._open)]
        return Markup("").join(self._out + closing)

    def _push(self, tag: str, pair: tuple[Markup, Markup]) -> None:
        self._out.append(pair[0])
        self._open.append((tag, pair[1]))

    def _text(self, text: str) -> None:
        self._out.append(escape(text))


# ---------------------------------------------------------------- Discord


def discord(message: Message) -> DiscordLook:
    parts = discord_render.parts(message)
    embeds = [embed.to_dict() for embed in parts.get("embeds", [])]
    view = parts.get("view")
    components: list[dict[str, Any]] = view.to_components() if view is not None else []
    payload: dict[str, Any] = {}
    if "content" in parts:
        payload["content"] = parts["content"]
    payload["embeds"] = embeds
    payload["components"] = components
    payload["allowed_mentions"] = parts["allowed_mentions"].to_dict()
    content = parts.get("content")
    return DiscordLook(
        sent=json.dumps(payload, indent=2, ensure_ascii=False),
        content=discord_markdown(content) if content else None,
        embeds=tuple(_embed(embed) for embed in embeds),
        rows=tuple(_buttons(row) for row in components),
    )


def discord_markdown(text: str) -> Markup:
    """Discord markdown as our adapter writes it: backslash escapes and masked links
    drawn; anything else shown as the text it is."""
    out: list[Markup] = []
    position = 0
    for match in DISCORD_MARKDOWN.finditer(text):
        out.append(escape(text[position : match.start()]))
        escaped, label, url = match.groups()
        if escaped is not None:
            out.append(escape(escaped))
        else:
            out.append(LINK.format(url) + discord_markdown(label) + Markup("</a>"))
        position = match.end()
    out.append(escape(text[position:]))
    return Markup("").join(out)


def discord_plain(text: str) -> Markup:
    """An embed title or field name as Discord shows it: backslash escapes drawn as
    the character (the adapter escapes every markdown one), and no masked link, since
    Discord draws none there."""
    return escape(DISCORD_ESCAPE.sub(r"\1", text))


def _embed(embed: dict[str, Any]) -> Embed:
    colour = embed.get("color")
    return Embed(
        title=discord_plain(str(embed.get("title", ""))),
        url=embed.get("url"),
        description=discord_markdown(str(embed.get("description", ""))),
        fields=tuple(
            Field(
                discord_plain(str(field["name"])),
                discord_markdown(str(field["value"])),
                field["inline"],
            )
            for field in embed.get("fields", [])
        ),
        footer=str(embed.get("footer", {}).get("text", "")),
        colour=f"#{colour:06x}" if isinstance(colour, int) else "#1e1f22",
    )


def _buttons(row: dict[str, Any]) -> tuple[Key, ...]:
    return tuple(
        Key(
            str(item.get("label", "")),
            item.get("url"),
            DISCORD_STYLES.get(item.get("style", 2), "secondary"),
        )
        for item in row.get("components", [])
    )


# ---------------------------------------------------------------- console


def console(message: Message, width: int = CONSOLE_WIDTH) -> ConsoleLook:
    terminal = Console(width=width, file=io.StringIO(), highlight=False, color_system=None)
    segments = list(terminal.render(console_render.render(message), terminal.options))
    text = "".join(segment.text for segment in segments)
    body = Markup("").join(_styled(segment.text, segment.style) for segment in segments)
    return ConsoleLook(text, body, width)


def _styled(text: str, style: Style | None) -> Markup:
    classes = []
    if style is not None:
        classes = [name for name in ("bold", "dim", "italic") if getattr(style, name)]
        if style.color is not None and re.fullmatch(r"[a-z_]+", style.color.name):
            classes.append(f"fg-{style.color.name}")
    if not classes or not text:
        return escape(text)
    return Markup('<span class="{}">{}</span>').format(
        " ".join(f"rich-{name}" for name in classes), text
    )
