"""Telegram's HTML parse mode: text with tags in, plain text and MessageEntity list out.

A port of TDLib's ``parse_html`` (the code behind the Bot API's
``parse_mode=HTML``): the same tags, the same attribute rules, the same error
texts with UTF-8 byte offsets ("Unsupported start tag "p" at byte offset 0"),
and entity offsets counted in UTF-16 code units. One deliberate difference:
Telegram keeps a bare ``&`` that starts no entity as text, but its docs say every
``&`` must be written ``&amp;``; the fake refuses it, so our own escaping bugs
show up in tests.

Also here: :func:`utf16_len`, :func:`checked_link` (Telegram's URL check for
links and URL buttons) and :func:`trim` (Telegram strips surrounding whitespace
from message text after parsing).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Entity = dict[str, Any]

_TAGS = frozenset(
    {"a", "b", "strong", "i", "em", "s", "strike", "del", "u", "ins", "tg-spoiler", "tg-emoji"}
    | {"tg-time", "span", "pre", "code", "blockquote"}
)
_SIMPLE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "u": "underline",
    "ins": "underline",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
}
_SPACE = frozenset(b" \t\r\n\0\v")
_NAMED = {b"lt": "<", b"gt": ">", b"amp": "&", b"quot": '"'}


class HtmlError(ValueError):
    """The text is not valid Telegram HTML; the message is Telegram's own wording."""


def utf16_len(text: str) -> int:
    """Length in UTF-16 code units, the unit of Telegram's lengths and offsets."""
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    unix: int
    offset: int  # UTF-16 offset in the output where the tag's content starts
    out_pos: int  # byte position in the output where the tag's content starts


def _decode_entity(data: bytes, pos: int) -> tuple[int, int]:
    """(code point, position after the entity) for ``&...`` at pos, or (0, pos)."""
    n = len(data)
    end = pos + 1
    code = 0
    if end < n and data[end] == ord("#"):
        end += 1
        if end < n and data[end] == ord("x"):
            end += 1
            while end < n and chr(data[end]) in "0123456789abcdefABCDEF":
                code = code * 16 + int(chr(data[end]), 16)
                end += 1
        else:
            while end < n and chr(data[end]).isdigit():
                code = code * 10 + data[end] - ord("0")
                end += 1
        if code == 0 or code >= 0x10FFFF or end - pos >= 10:
            return 0, pos
    else:
        while end < n and chr(data[end]).isascii() and chr(data[end]).isalpha():
            end += 1
        name = _NAMED.get(data[pos + 1 : end])
        if name is None:
            return 0, pos
        code = ord(name)
    if end < n and data[end] == ord(";"):
        end += 1
    return code, end


def _char(code: int) -> bytes:
    return chr(code).encode("utf-8", "surrogatepass")


def parse_html(text: str) -> tuple[str, list[Entity]]:
    """Parse Telegram HTML into (plain text, entities); raise HtmlError like Telegram."""
    data = text.encode("utf-8")
    n = len(data)
    out = bytearray()
    entities: list[Entity] = []
    stack: list[_Open] = []
    utf16 = 0

    def at(k: int) -> int:
        return data[k] if k < n else 0

    def entity_or_fail(pos: int) -> tuple[int, int]:
        code, end = _decode_entity(data, pos)
        if code == 0:
            raise HtmlError(f'Unescaped "&" at byte offset {pos}; write it as &amp;')
        return code, end

    i = 0
    while i < n:
        c = data[i]
        if c == ord("&"):
            code, i = entity_or_fail(i)
            utf16 += 2 if code > 0xFFFF else 1
            out += _char(code)
            continue
        if c != ord("<"):
            if c & 0xC0 != 0x80:
                utf16 += 2 if c >= 0xF0 else 1
            out.append(c)
            i += 1
            continue
        begin = i
        i += 1
        if at(i) != ord("/"):
            while at(i) not in _SPACE and at(i) != ord(">"):
                i += 1
            if i >= n:
                raise HtmlError(f"Unclosed start tag at byte offset {begin}")
            tag = data[begin + 1 : i].decode("utf-8", "replace").lower()
            if tag not in _TAGS:
                raise HtmlError(f'Unsupported start tag "{tag}" at byte offset {begin}')
            argument, unix, i = _attributes(data, i, tag, begin, entity_or_fail)
            if tag == "span" and argument != "spoiler":
                raise HtmlError(f'Tag "span" must have class "tg-spoiler" at byte offset {begin}')
            stack.append(_Open(tag, argument, unix, utf16, len(out)))
            i += 1  # skip '>'
            continue
        if not stack:
            raise HtmlError(f"Unexpected end tag at byte offset {begin}")
        while at(i) not in _SPACE and at(i) != ord(">"):
            i += 1
        end_tag = data[begin + 2 : i].decode("utf-8", "replace").lower()
        while i < n and at(i) in _SPACE:
            i += 1
        if at(i) != ord(">"):
            raise HtmlError(f"Unclosed end tag at byte offset {begin}")
        top = stack.pop()
        if end_tag and end_tag != top.tag:
            raise HtmlError(
                f'Unmatched end tag at byte offset {begin}, expected "</{top.tag}>", '
                f'found "</{end_tag}>"'
            )
        if utf16 > top.offset:
            _close(top, utf16 - top.offset, bytes(out[top.out_pos :]), entities)
        i += 1
    if stack:
        raise HtmlError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        if entity["type"] == "code":
            entity.pop("language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return out.decode("utf-8", "surrogatepass"), entities


def _attributes(
    data: bytes, i: int, tag: str, begin: int, entity: Callable[[int], tuple[int, int]]
) -> tuple[str, int, int]:
    """Read a start tag's attributes; return (argument, unix time, index of '>')."""
    n = len(data)

    def at(k: int) -> int:
        return data[k] if k < n else 0

    argument = ""
    unix = 0
    while at(i) != ord(">"):
        while i < n and at(i) in _SPACE:
            i += 1
        if at(i) == ord(">"):
            break
        name_begin = i
        while at(i) not in _SPACE and at(i) not in b"=>/\"'":
            i += 1
        name = data[name_begin:i].decode("utf-8", "replace")
        if not name:
            raise HtmlError(f'Empty attribute name in the tag "{tag}" at byte offset {begin}')
        while i < n and at(i) in _SPACE:
            i += 1
        if at(i) != ord("="):
            if i >= n:
                raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
            if tag == "blockquote" and name == "expandable":
                argument = "1"
            continue
        i += 1
        while i < n and at(i) in _SPACE:
            i += 1
        if i >= n:
            raise HtmlError(f'Unclosed start tag "{tag}" at byte offset {begin}')
        value = bytearray()
        if at(i) not in b"\"'":
            token_begin = i
            while chr(at(i)).isascii() and (chr(at(i)).isalnum() or at(i) in b".-"):
                i += 1
            value += data[token_begin:i].lower()
            if at(i) not in _SPACE and at(i) != ord(">"):
                raise HtmlError(f"Unexpected end of name token at byte offset {token_begin}")
        else:
            quote = at(i)
            i += 1
            while i < n and at(i) != quote:
                if at(i) == ord("&"):
                    code, i = entity(i)
                    value += _char(code)
                    continue
                value.append(at(i))
                i += 1
            if at(i) == quote:
                i += 1
        if i >= n:
            raise HtmlError(f"Unclosed start tag at byte offset {begin}")
        text = value.decode("utf-8", "replace")
        if tag == "a" and name == "href":
            argument = text
        elif tag == "code" and name == "class" and text.startswith("language-"):
            argument = text[len("language-") :]
        elif tag == "span" and name == "class" and text.startswith("tg-"):
            argument = text[len("tg-") :]
        elif (tag == "tg-emoji" and name == "emoji-id") or (tag == "tg-time" and name == "format"):
            argument = text
        elif tag == "blockquote" and name == "expandable":
            argument = "1"
        elif tag == "tg-time" and name == "unix":
            unix = int(text) if re.fullmatch(r"-?\d{1,10}", text) else 0
    return argument, unix, i


def _close(top: _Open, length: int, inner: bytes, entities: list[Entity]) -> None:
    """Append the entity for a closed tag (TDLib's rules, including pre+code merging)."""
    offset = top.offset
    tag = top.tag
    if tag in _SIMPLE:
        entities.append({"type": _SIMPLE[tag], "offset": offset, "length": length})
    elif tag == "tg-emoji":
        if not re.fullmatch(r"-?\d{1,19}", top.argument) or int(top.argument) == 0:
            raise HtmlError("Invalid custom emoji identifier specified")
        entities.append(
            {
                "type": "custom_emoji",
                "offset": offset,
                "length": length,
                "custom_emoji_id": top.argument,
            }
        )
    elif tag == "tg-time":
        if top.unix > 0:
            entity: Entity = {
                "type": "date_time",
                "offset": offset,
                "length": length,
                "unix_time": top.unix,
            }
            if top.argument:
                entity["date_time_format"] = top.argument
            entities.append(entity)
    elif tag == "a":
        url = checked_link(top.argument or inner.decode("utf-8", "replace"))
        if url is not None:
            entities.append({"type": "text_link", "offset": offset, "length": length, "url": url})
    elif tag == "pre":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "code"
            and (last["offset"], last["length"]) == (offset, length)
            and last.get("language")
        ):
            last["type"] = "pre"
        else:
            entities.append({"type": "pre", "offset": offset, "length": length})
    elif tag == "code":
        last = entities[-1] if entities else None
        if (
            last is not None
            and last["type"] == "pre"
            and (last["offset"], last["length"]) == (offset, length)
            and top.argument
        ):
            last["language"] = top.argument
        else:
            code: Entity = {"type": "code", "offset": offset, "length": length}
            if top.argument:
                code["language"] = top.argument
            entities.append(code)
    else:  # blockquote
        kind = "expandable_blockquote" if top.argument else "blockquote"
        entities.append({"type": kind, "offset": offset, "length": length})


_URL = re.compile(r"(?i)^(?:(https?)://)?([^/?#:@\s]+)(:\d{1,5})?([/?#]\S*)?$")


def checked_link(url: str) -> str | None:
    """Telegram's link check: the normalised URL, or None if Telegram would drop it.

    http(s) links need a host with a dot (a missing scheme means http, as in
    Telegram); ``tg://`` links are kept; everything else is refused.
    """
    url = url.strip()
    if url.lower().startswith("tg://"):
        rest = url[5:]
        return url if re.fullmatch(r"[A-Za-z0-9_-]+([/?]\S*)?", rest) else None
    match = _URL.match(url)
    if match is None or "." not in match.group(2):
        return None
    scheme = (match.group(1) or "http").lower()
    return f"{scheme}://{match.group(2).lower()}{match.group(3) or ''}{match.group(4) or '/'}"


_WHITESPACE = " \t\r\n\v\f\u00a0\u2028\u2029"


def trim(text: str, entities: list[Entity]) -> tuple[str, list[Entity]]:
    """Strip surrounding whitespace as Telegram does, moving and clipping entities."""
    stripped = text.lstrip(_WHITESPACE)
    shift = utf16_len(text) - utf16_len(stripped)
    stripped = stripped.rstrip(_WHITESPACE)
    total = utf16_len(stripped)
    kept: list[Entity] = []
    for entity in entities:
        start = max(entity["offset"] - shift, 0)
        end = min(entity["offset"] - shift + entity["length"], total)
        if end > start:
            kept.append({**entity, "offset": start, "length": end - start})
    return stripped, kept
