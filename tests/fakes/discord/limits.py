"""Discord's documented message limits, including those the OpenAPI schema leaves out.

https://discord.com/developers/docs/resources/message#create-message and
https://discord.com/developers/docs/components/reference. The schema alone allows
4000-character content (a Nitro user's limit) and 40 top-level components
(the components-v2 layout); a bot posting a classic message gets 2000 characters
and at most 5 action rows. Checks here run after schema validation, so types are
already right.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .errors import FieldError, Json, PathPart

CONTENT_MAX = 2000
EMBEDS_MAX = 10
EMBED_TITLE_MAX = 256
EMBED_DESCRIPTION_MAX = 4096
EMBED_FIELDS_MAX = 25
EMBED_FIELD_NAME_MAX = 256
EMBED_FIELD_VALUE_MAX = 1024
EMBED_FOOTER_MAX = 2048
EMBED_AUTHOR_MAX = 256
EMBED_TOTAL_MAX = 6000
ACTION_ROWS_MAX = 5
ROW_WIDTH = 5
CUSTOM_ID_MAX = 100
BUTTON_LABEL_MAX = 80
COMPONENTS_V2_TOTAL_MAX = 40
FILES_MAX = 10
UPLOAD_MAX_BYTES = 10 * 1024 * 1024

SUPPRESS_EMBEDS = 1 << 2
EPHEMERAL = 1 << 6
LOADING = 1 << 7
SUPPRESS_NOTIFICATIONS = 1 << 12
IS_COMPONENTS_V2 = 1 << 15

ACTION_ROW, BUTTON, TEXT_INPUT = 1, 2, 4
SELECTS = frozenset({3, 5, 6, 7, 8})
LINK_STYLE, PREMIUM_STYLE = 5, 6
URL_SCHEMES = ("http://", "https://", "discord://")


def _too_long(path: tuple[PathPart, ...], limit: int) -> FieldError:
    return FieldError(path, "BASE_TYPE_MAX_LENGTH", f"Must be {limit} or fewer in length.")


def _required(path: tuple[PathPart, ...]) -> FieldError:
    return FieldError(path, "BASE_TYPE_REQUIRED", "This field is required")


def message_errors(body: Json) -> list[FieldError]:
    """Limit violations in a message body (create, edit, interaction reply, followup)."""
    errors: list[FieldError] = []
    flags = body.get("flags") or 0
    content = body.get("content")
    if isinstance(content, str) and len(content) > CONTENT_MAX:
        errors.append(_too_long(("content",), CONTENT_MAX))
    errors += embed_errors(body.get("embeds") or [])
    components = body.get("components") or []
    if flags & IS_COMPONENTS_V2:
        for field in ("content", "embeds"):
            if body.get(field):
                message = "Cannot be used with the IS_COMPONENTS_V2 flag."
                errors.append(
                    FieldError(
                        (field,), "MESSAGE_CANNOT_USE_LEGACY_FIELDS_WITH_COMPONENTS_V2", message
                    )
                )
        errors += components_v2_errors(components)
    else:
        errors += action_row_errors(components)
    return errors


def embed_errors(embeds: list[Json]) -> list[FieldError]:
    errors: list[FieldError] = []
    if len(embeds) > EMBEDS_MAX:
        return [_too_long(("embeds",), EMBEDS_MAX)]
    total = 0
    for i, embed in enumerate(embeds):
        at: tuple[PathPart, ...] = ("embeds", i)
        for key, limit in (("title", EMBED_TITLE_MAX), ("description", EMBED_DESCRIPTION_MAX)):
            text = embed.get(key) or ""
            total += len(text)
            if len(text) > limit:
                errors.append(_too_long((*at, key), limit))
        fields = embed.get("fields") or []
        if len(fields) > EMBED_FIELDS_MAX:
            errors.append(_too_long((*at, "fields"), EMBED_FIELDS_MAX))
        for j, field in enumerate(fields):
            for key, limit in (("name", EMBED_FIELD_NAME_MAX), ("value", EMBED_FIELD_VALUE_MAX)):
                text = field.get(key) or ""
                total += len(text)
                if not text.strip():
                    errors.append(_required((*at, "fields", j, key)))
                elif len(text) > limit:
                    errors.append(_too_long((*at, "fields", j, key), limit))
        for key, sub, limit in (
            ("footer", "text", EMBED_FOOTER_MAX),
            ("author", "name", EMBED_AUTHOR_MAX),
        ):
            part = embed.get(key)
            if part is None:
                continue
            text = part.get(sub) or ""
            total += len(text)
            if not text:
                errors.append(_required((*at, key, sub)))
            elif len(text) > limit:
                errors.append(_too_long((*at, key, sub), limit))
    if total > EMBED_TOTAL_MAX:
        message = f"Embed size exceeds maximum size of {EMBED_TOTAL_MAX}"
        errors.append(FieldError(("embeds",), "MAX_EMBED_SIZE_EXCEEDED", message))
    return errors


def action_row_errors(components: list[Json]) -> list[FieldError]:
    """A classic message: up to 5 action rows of up to 5 buttons, or one select each."""
    errors: list[FieldError] = []
    if len(components) > ACTION_ROWS_MAX:
        return [_too_long(("components",), ACTION_ROWS_MAX)]
    for i, row in enumerate(components):
        at: tuple[PathPart, ...] = ("components", i)
        if row.get("type") != ACTION_ROW:
            message = (
                "Value must be one of {1} (top-level components need the IS_COMPONENTS_V2 flag)."
            )
            errors.append(FieldError((*at, "type"), "BASE_TYPE_CHOICES", message))
            continue
        errors += _row_errors(row, at)
    errors += _duplicate_custom_ids(components)
    return errors


def components_v2_errors(components: list[Json]) -> list[FieldError]:
    errors: list[FieldError] = []
    total = sum(1 for _ in _walk(components, ("components",)))
    if total > COMPONENTS_V2_TOTAL_MAX:
        errors.append(_too_long(("components",), COMPONENTS_V2_TOTAL_MAX))
    for component, at in _walk(components, ("components",)):
        if component.get("type") == ACTION_ROW:
            errors += _row_errors(component, at)
    errors += _duplicate_custom_ids(components)
    return errors


def _row_errors(row: Json, at: tuple[PathPart, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    children: list[Json] = row.get("components") or []
    if not children:
        errors.append(
            FieldError((*at, "components"), "BASE_TYPE_MIN_LENGTH", "Must be 1 or more in length.")
        )
    width = sum(ROW_WIDTH if c.get("type") in SELECTS else 1 for c in children)
    if width > ROW_WIDTH:
        message = "The specified component exceeds the maximum width"
        errors.append(FieldError((*at, "components"), "COMPONENT_LAYOUT_WIDTH_EXCEEDED", message))
    for k, child in enumerate(children):
        where = (*at, "components", k)
        if child.get("type") == BUTTON:
            errors += button_errors(child, where)
        elif child.get("type") == 3:
            errors += _string_select_errors(child, where)
    return errors


def button_errors(button: Json, at: tuple[PathPart, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    style = button.get("style")
    custom_id, url = button.get("custom_id"), button.get("url")
    label = button.get("label")
    if label is not None and len(label) > BUTTON_LABEL_MAX:
        errors.append(_too_long((*at, "label"), BUTTON_LABEL_MAX))
    if style == PREMIUM_STYLE:
        if not button.get("sku_id"):
            errors.append(_required((*at, "sku_id")))
        for key in ("custom_id", "url", "label", "emoji"):
            if button.get(key) is not None:
                errors.append(_not_allowed(at, key, "premium"))
        return errors
    if style == LINK_STYLE:
        if not url:
            errors.append(_required((*at, "url")))
        elif not url.startswith(URL_SCHEMES):
            message = "Scheme must be one of ('http', 'https', 'discord')."
            errors.append(FieldError((*at, "url"), "URL_TYPE_INVALID_SCHEME", message))
        if custom_id is not None:
            errors.append(_not_allowed(at, "custom_id", "link"))
    else:
        if not custom_id:
            errors.append(_required((*at, "custom_id")))
        elif len(custom_id) > CUSTOM_ID_MAX:
            errors.append(_too_long((*at, "custom_id"), CUSTOM_ID_MAX))
        if url is not None:
            errors.append(_not_allowed(at, "url", "non-link"))
    if not label and not button.get("emoji"):
        message = "A button needs a label or an emoji."
        errors.append(
            FieldError((*at, "label"), "BUTTON_COMPONENT_LABEL_OR_EMOJI_REQUIRED", message)
        )
    return errors


def _not_allowed(at: tuple[PathPart, ...], key: str, kind: str) -> FieldError:
    code = f"BUTTON_COMPONENT_{key.upper()}_NOT_ALLOWED"
    return FieldError((*at, key), code, f"A {kind} button cannot have a {key}.")


def _string_select_errors(select: Json, at: tuple[PathPart, ...]) -> list[FieldError]:
    errors: list[FieldError] = []
    options: list[Json] = select.get("options") or []
    values = [o.get("value") for o in options]
    if len(set(values)) != len(values):
        message = "Select menu option values must be unique."
        errors.append(
            FieldError((*at, "options"), "SELECT_COMPONENT_OPTION_VALUE_DUPLICATED", message)
        )
    low = select.get("min_values")
    high = select.get("max_values")
    low = 1 if low is None else low
    high = 1 if high is None else high
    if low > high:
        message = "min_values must be less than or equal to max_values."
        errors.append(
            FieldError((*at, "min_values"), "SELECT_COMPONENT_MIN_VALUES_TOO_LARGE", message)
        )
    if high > len(options):
        message = f"Must be less than or equal to the number of options ({len(options)})."
        errors.append(
            FieldError((*at, "max_values"), "SELECT_COMPONENT_MAX_VALUES_TOO_LARGE", message)
        )
    return errors


def _duplicate_custom_ids(components: list[Json]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[str] = set()
    for component, at in _walk(components, ("components",)):
        custom_id = component.get("custom_id")
        if custom_id is None:
            continue
        if custom_id in seen:
            message = "Component custom id cannot be duplicated"
            errors.append(FieldError((*at, "custom_id"), "COMPONENT_CUSTOM_ID_DUPLICATED", message))
        seen.add(custom_id)
    return errors


def _walk(
    components: list[Any], at: tuple[PathPart, ...]
) -> Iterator[tuple[Json, tuple[PathPart, ...]]]:
    """Every component, nested ones too (rows, containers, sections' accessories)."""
    for i, component in enumerate(components):
        if not isinstance(component, dict):
            continue
        where = (*at, i)
        yield component, where
        yield from _walk(component.get("components") or [], (*where, "components"))
        accessory = component.get("accessory")
        if isinstance(accessory, dict):
            yield accessory, (*where, "accessory")


def custom_ids(components: list[Json]) -> dict[str, Json]:
    """The interactive components of a stored message, by custom_id."""
    return {c["custom_id"]: c for c, _ in _walk(components, ()) if c.get("custom_id")}


def is_empty(body: Json, *, files: int = 0) -> bool:
    """Discord's 50006: nothing to show (whitespace-only content counts as nothing)."""
    content = body.get("content")
    has_content = isinstance(content, str) and bool(content.strip())
    has_other = any(
        body.get(k) for k in ("embeds", "components", "sticker_ids", "poll", "attachments")
    )
    return not (has_content or has_other or files)
