"""REST handlers for application commands, interaction callbacks and interaction webhooks.

* One initial response per interaction, within 3 seconds of dispatch: later →
  404 10062 "Unknown interaction"; a second one → 400 40060. The callback type
  must suit the interaction (6/7 only for components and modals, 8 only for
  autocomplete).
* Followups (POST /webhooks/{application_id}/{token}) and @original edits work
  once the interaction is acknowledged, for 15 minutes (then 401 50027).
* Bulk command overwrites are checked for what Discord refuses beyond the
  schema: lower-case names, descriptions on slash commands, unique names,
  required options first.
"""

from __future__ import annotations

import re
from typing import Any

from . import limits
from .api import Api, Ctx, Result, bad_field, route
from .errors import (
    ALREADY_ACKNOWLEDGED,
    INVALID_WEBHOOK_TOKEN,
    MISSING_ACCESS,
    UNKNOWN_COMMAND,
    UNKNOWN_INTERACTION,
    UNKNOWN_MESSAGE,
    UNKNOWN_WEBHOOK,
    FieldError,
    Json,
    api_error,
    invalid_form_body,
)
from .state import (
    APPLICATION_COMMAND,
    CALLBACKS_FOR,
    RESPOND_WITHIN,
    TOKEN_LIFETIME,
    InteractionRecord,
    StoredMessage,
    apply_edit,
    finish_loading,
)

_NAME = re.compile(r"^[-_'\w]{1,32}$")
CHAT_INPUT, USER_COMMAND, MESSAGE_COMMAND = 1, 2, 3
_PER_TYPE_MAX = {CHAT_INPUT: 100, USER_COMMAND: 15, MESSAGE_COMMAND: 15}
_SUBCOMMAND, _GROUP = 1, 2
_RESPONSE_FLAGS = (
    limits.EPHEMERAL
    | limits.SUPPRESS_EMBEDS
    | limits.SUPPRESS_NOTIFICATIONS
    | limits.IS_COMPONENTS_V2
)


# --- application commands ---------------------------------------------------
def command_errors(commands: list[Json]) -> list[FieldError]:
    errors: list[FieldError] = []
    seen: set[tuple[int, str]] = set()
    for i, command in enumerate(commands):
        kind = command.get("type") or CHAT_INPUT
        name = command["name"]
        if (kind, name) in seen:
            message = "Application command names must be unique"
            errors.append(FieldError((i, "name"), "APPLICATION_COMMANDS_DUPLICATE_NAME", message))
        seen.add((kind, name))
        if kind == CHAT_INPUT:
            errors += [e.under(i) for e in _chat_input_errors(command)]
    for kind, most in _PER_TYPE_MAX.items():
        if sum(1 for c in commands if (c.get("type") or CHAT_INPUT) == kind) > most:
            errors.append(
                FieldError(
                    (), "APPLICATION_COMMAND_TOO_MANY", f"Must be {most} or fewer of type {kind}."
                )
            )
    return errors


def _chat_input_errors(node: Json) -> list[FieldError]:
    """Names lower-case, descriptions 1-100, required options before optional ones."""
    errors: list[FieldError] = []
    name = node.get("name") or ""
    if not _NAME.match(name) or name != name.lower():
        errors.append(
            FieldError(("name",), "APPLICATION_COMMAND_INVALID_NAME", "Command name is invalid")
        )
    if not node.get("description"):
        errors.append(FieldError(("description",), "BASE_TYPE_REQUIRED", "This field is required"))
    options: list[Json] = node.get("options") or []
    seen_optional = False
    for j, option in enumerate(options):
        errors += [e.under("options", j) for e in _chat_input_errors(option)]
        if option.get("required"):
            if seen_optional:
                message = "Required options must be placed before non-required options"
                errors.append(
                    FieldError(
                        ("options", j), "APPLICATION_COMMAND_OPTIONS_REQUIRED_INVALID", message
                    )
                )
        elif option.get("type") not in (_SUBCOMMAND, _GROUP):
            seen_optional = True
    return errors


def _stored_command(api: Api, body: Json, existing: list[Json], guild_id: int | None) -> Json:
    kind = body.get("type") or CHAT_INPUT
    prior = next((c for c in existing if c["name"] == body["name"] and c["type"] == kind), None)
    permissions = body.get("default_member_permissions")
    command: Json = {
        "id": prior["id"] if prior else str(api.world.snowflake()),
        "application_id": str(api.world.application_id),
        "version": str(api.world.snowflake()),
        "type": kind,
        "name": body["name"],
        "name_localizations": body.get("name_localizations"),
        "description": body.get("description") or "",
        "description_localizations": body.get("description_localizations"),
        "default_member_permissions": None if permissions is None else str(permissions),
        "dm_permission": body.get("dm_permission", True) is not False,
        "contexts": body.get("contexts"),
        "integration_types": body.get("integration_types") or [0],
        "nsfw": bool(body.get("nsfw")),
    }
    if kind == CHAT_INPUT:
        command["options"] = body.get("options") or []
    if guild_id is not None:
        command["guild_id"] = str(guild_id)
    return command


def _check_application(api: Api, ctx: Ctx) -> None:
    if ctx.id("application_id") != api.world.application_id:
        raise api_error(MISSING_ACCESS)


def _command_list(api: Api, ctx: Ctx) -> tuple[list[Json], int | None]:
    _check_application(api, ctx)
    if "guild_id" not in ctx.params:
        return api.world.global_commands, None
    guild_id = ctx.id("guild_id")
    if guild_id not in api.world.guilds:
        raise api_error(MISSING_ACCESS)
    return api.world.guild_commands.setdefault(guild_id, []), guild_id


@route("GET", "/applications/{application_id}/commands")
@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands")
async def list_commands(api: Api, ctx: Ctx) -> Result:
    commands, _ = _command_list(api, ctx)
    return 200, commands


@route("PUT", "/applications/{application_id}/commands")
@route("PUT", "/applications/{application_id}/guilds/{guild_id}/commands")
async def overwrite_commands(api: Api, ctx: Ctx) -> Result:
    commands, guild_id = _command_list(api, ctx)
    body: list[Json] = ctx.body or []
    errors = command_errors(body)
    if errors:
        raise invalid_form_body(errors)
    stored = [_stored_command(api, c, commands, guild_id) for c in body]
    commands[:] = stored
    api.changed()
    return 200, stored


@route("POST", "/applications/{application_id}/commands")
@route("POST", "/applications/{application_id}/guilds/{guild_id}/commands")
async def upsert_command(api: Api, ctx: Ctx) -> Result:
    commands, guild_id = _command_list(api, ctx)
    body = ctx.json
    others = [
        c
        for c in commands
        if (c["name"], c["type"]) != (body["name"], body.get("type") or CHAT_INPUT)
    ]
    errors = command_errors([*others, body])
    if errors:
        raise invalid_form_body(errors)
    command = _stored_command(api, body, commands, guild_id)
    commands[:] = [*others, command]
    api.changed()
    return 201, command


def _find_command(commands: list[Json], command_id: int) -> Json:
    for command in commands:
        if int(command["id"]) == command_id:
            return command
    raise api_error(UNKNOWN_COMMAND)


@route("GET", "/applications/{application_id}/commands/{command_id}")
@route("GET", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def get_command(api: Api, ctx: Ctx) -> Result:
    commands, _ = _command_list(api, ctx)
    return 200, _find_command(commands, ctx.id("command_id"))


@route("DELETE", "/applications/{application_id}/commands/{command_id}")
@route("DELETE", "/applications/{application_id}/guilds/{guild_id}/commands/{command_id}")
async def delete_command(api: Api, ctx: Ctx) -> Result:
    commands, _ = _command_list(api, ctx)
    commands.remove(_find_command(commands, ctx.id("command_id")))
    api.changed()
    return 204, None


# --- interaction callbacks ----------------------------------------------------
def _interaction_message(
    api: Api, record: InteractionRecord, body: Json, ctx: Ctx, *, flags: int, original: bool
) -> StoredMessage:
    world = api.world
    user = world.users[record.user_id]
    metadata: Json = {
        "id": str(record.id),
        "type": record.type,
        "user": user.payload(),
        "authorizing_integration_owners": record.payload["authorizing_integration_owners"],
    }
    if record.type == APPLICATION_COMMAND:
        metadata |= {"name": record.data["name"], "command_type": record.data.get("type", 1)}
    elif record.message_id is not None:
        metadata["interacted_message_id"] = str(record.message_id)
    extra: Json = {
        "type": 20 if record.type == APPLICATION_COMMAND and original else 0,
        "webhook_id": str(world.application_id),
        "application_id": str(world.application_id),
        "interaction_metadata": metadata,
    }
    stored = world.new_message(
        world.channels[record.channel_id],
        body,
        author=world.bot,
        uploads=ctx.uploads,
        flags=flags,
        extra=extra,
        visible_to=record.user_id if flags & limits.EPHEMERAL else None,
        interaction_id=record.id,
    )
    record.message_ids.append(int(stored.data["id"]))
    return stored


@route("POST", "/interactions/{interaction_id}/{interaction_token}/callback")
async def create_interaction_response(api: Api, ctx: Ctx) -> Result:
    world = api.world
    record = world.interactions.get(ctx.id("interaction_id"))
    if record is None or record.token != ctx.params["interaction_token"]:
        raise api_error(UNKNOWN_INTERACTION)
    if record.acknowledged:
        raise api_error(ALREADY_ACKNOWLEDGED)
    if world.now() - record.created_at > RESPOND_WITHIN:
        raise api_error(UNKNOWN_INTERACTION)
    body = ctx.json
    kind: int = body["type"]
    allowed = CALLBACKS_FOR.get(record.type, frozenset())
    if kind not in allowed:
        raise bad_field(
            ("type",), "BASE_TYPE_CHOICES", f"Value must be one of {set(sorted(allowed))}."
        )
    data: Json = body.get("data") or {}
    flags = (data.get("flags") or 0) & _RESPONSE_FLAGS
    stored: StoredMessage | None = None
    if kind == 4:
        api.check_message(data, uploads=ctx.uploads, prefix=("data",))
        stored = _interaction_message(api, record, data, ctx, flags=flags, original=True)
    elif kind == 5:
        loading = {"content": ""}
        stored = _interaction_message(
            api, record, loading, ctx, flags=flags | limits.LOADING, original=True
        )
    elif kind in (6, 7):
        stored = world.messages.get(record.message_id or 0)
        if kind == 7 and stored is not None:
            result = {
                **stored.data,
                **{k: v for k, v in data.items() if k in ("content", "embeds", "components")},
            }
            api.check_message(data, uploads=ctx.uploads, prefix=("data",), result=result)
            apply_edit(stored.data, data, ctx.uploads, world.snowflake)
    record.callback_type = kind
    record.original_message_id = int(stored.data["id"]) if stored is not None else None
    record.responses.append(
        {"kind": "callback", "type": kind, "data": data, "message_id": record.original_message_id}
    )
    if stored is not None and kind in (4, 5):
        await api.publish(stored)
    elif stored is not None and kind == 7:
        await api.publish(stored, "MESSAGE_UPDATE")
    api.changed()
    if not ctx.query.get("with_response"):
        return 204, None
    response: Json = {
        "interaction": {
            "id": str(record.id),
            "type": record.type,
            "response_message_loading": kind == 5,
            "response_message_ephemeral": bool(flags & limits.EPHEMERAL),
        }
    }
    if stored is not None:
        response["interaction"]["response_message_id"] = stored.data["id"]
        response["resource"] = {"type": kind, "message": stored.data}
    return 200, response


# --- interaction webhooks (followups, @original) ----------------------------
def _record_for_token(api: Api, ctx: Ctx) -> InteractionRecord:
    if ctx.id("webhook_id") != api.world.application_id:
        raise api_error(UNKNOWN_WEBHOOK)
    record = api.world.by_token.get(ctx.params["webhook_token"])
    if record is None or not record.acknowledged:
        raise api_error(UNKNOWN_WEBHOOK)
    if api.world.now() - record.created_at > TOKEN_LIFETIME:
        raise api_error(INVALID_WEBHOOK_TOKEN)
    return record


def _target(api: Api, record: InteractionRecord, ctx: Ctx) -> StoredMessage:
    raw = ctx.params.get("message_id", "@original")
    message_id = record.original_message_id if raw == "@original" else int(raw)
    if raw != "@original" and message_id not in record.message_ids:
        raise api_error(UNKNOWN_MESSAGE)
    stored = api.world.messages.get(message_id or 0)
    if stored is None or stored.deleted:
        raise api_error(UNKNOWN_MESSAGE)
    return stored


@route("POST", "/webhooks/{webhook_id}/{webhook_token}")
async def create_followup(api: Api, ctx: Ctx) -> Result:
    record = _record_for_token(api, ctx)
    body = ctx.json
    api.check_message(body, uploads=ctx.uploads)
    flags = (body.get("flags") or 0) & _RESPONSE_FLAGS
    stored = _interaction_message(api, record, body, ctx, flags=flags, original=False)
    record.responses.append(
        {"kind": "followup", "data": body, "message_id": int(stored.data["id"])}
    )
    await api.publish(stored)
    return (200, stored.data) if ctx.query.get("wait") else (204, None)


@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("GET", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def get_webhook_message(api: Api, ctx: Ctx) -> Result:
    record = _record_for_token(api, ctx)
    return 200, _target(api, record, ctx).data


@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("PATCH", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def edit_webhook_message(api: Api, ctx: Ctx) -> Result:
    record = _record_for_token(api, ctx)
    stored = _target(api, record, ctx)
    body = ctx.json
    result: dict[str, Any] = {
        **stored.data,
        **{k: v for k, v in body.items() if k in ("content", "embeds", "components")},
    }
    api.check_message(body, uploads=ctx.uploads, result=result)
    apply_edit(stored.data, body, ctx.uploads, api.world.snowflake)
    finish_loading(stored.data)
    target = ctx.params.get("message_id", "@original")
    record.responses.append(
        {"kind": "edit", "target": target, "data": body, "message_id": int(stored.data["id"])}
    )
    await api.publish(stored, "MESSAGE_UPDATE")
    return 200, stored.data


@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/@original")
@route("DELETE", "/webhooks/{webhook_id}/{webhook_token}/messages/{message_id}")
async def delete_webhook_message(api: Api, ctx: Ctx) -> Result:
    record = _record_for_token(api, ctx)
    stored = _target(api, record, ctx)
    stored.deleted = True
    record.responses.append({"kind": "delete", "message_id": int(stored.data["id"])})
    await api.publish(stored, "MESSAGE_DELETE")
    return 204, None
