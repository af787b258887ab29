"""Discord's OpenAPI spec as a router and a validator.

Every REST call the fake accepts must be an operation in Discord's own OpenAPI 3.1
document (path template + method). Path and query parameters are coerced and
checked against their schemas, and JSON bodies (or a multipart body's
``payload_json``) are validated against the operation's ``requestBody`` schema with
its ``$ref``s resolved into ``components``. The spec mostly leaves
``additionalProperties`` open, so unknown fields pass, as they do on Discord.

Validation failures become Discord's ``50035 Invalid Form Body`` error tree with
Discord's error codes (``BASE_TYPE_MAX_LENGTH``, ``BASE_TYPE_REQUIRED``, ...).
"""

from __future__ import annotations

import copy
import functools
import json
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import unquote

from jsonschema import Draft202012Validator  # type: ignore[import-untyped]

from .errors import FieldError, Json, invalid_form_body, method_not_allowed, not_found

API_PREFIX = "/api/v10"
_METHODS = ("get", "put", "post", "patch", "delete")


def spec_path() -> Path:
    """Where Discord's OpenAPI document is: $DISCORD_OPENAPI_SPEC, else tests/specs/."""
    env = os.environ.get("DISCORD_OPENAPI_SPEC")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "specs" / "discord-openapi.json")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"Discord OpenAPI spec not found; tried {candidates}")


@dataclass(frozen=True)
class Operation:
    """One method on one path template of the spec."""

    method: str
    template: str
    operation_id: str
    segments: tuple[str, ...]
    path_params: Mapping[str, Json]
    query_params: Mapping[str, Json]
    bodies: Mapping[str, Json]  # content type -> schema
    body_required: bool
    anonymous: bool  # the spec's security list allows calling it without a token

    def match(self, parts: list[str]) -> dict[str, str] | None:
        if len(parts) != len(self.segments):
            return None
        params: dict[str, str] = {}
        for segment, part in zip(self.segments, parts, strict=True):
            if segment.startswith("{") and segment.endswith("}"):
                if not part:
                    return None
                params[segment[1:-1]] = part
            elif segment != part:
                return None
        return params

    @property
    def specificity(self) -> tuple[bool, ...]:
        """Literal segments win over parameters (``/messages/@original`` over ``/{message_id}``)."""
        return tuple(not s.startswith("{") for s in self.segments)


class Spec:
    """Routing and request validation from Discord's OpenAPI document."""

    def __init__(self, document: Json) -> None:
        self.document = document
        self.components: Json = copy.deepcopy(document["components"])
        # Discord takes a snowflake as a decimal string or as a JSON integer (discord.py
        # sends integers, e.g. recipient_id); the spec only describes the string form.
        snowflake = self.components["schemas"]["SnowflakeType"]
        snowflake["type"] = ["string", "integer"]
        snowflake["minimum"] = 0
        self.operations: list[Operation] = list(self._operations())
        self._by_key = {(op.method, op.template): op for op in self.operations}
        self._validators: dict[int, tuple[Json, Any]] = {}
        self._verdicts: dict[tuple[int, str], list[FieldError]] = {}

    @classmethod
    @functools.cache
    def load(cls, path: str | None = None) -> Spec:
        with open(path or spec_path(), encoding="utf-8") as handle:
            return cls(json.load(handle))

    def _operations(self) -> Iterator[Operation]:
        for template, item in self.document["paths"].items():
            shared = item.get("parameters", [])
            for method in _METHODS:
                if method not in item:
                    continue
                op = item[method]
                params = [*shared, *op.get("parameters", [])]
                body = op.get("requestBody") or {}
                security = op.get("security", [{"BotToken": []}])
                yield Operation(
                    method=method.upper(),
                    template=template,
                    operation_id=op.get("operationId", ""),
                    segments=tuple(template.strip("/").split("/")),
                    path_params={p["name"]: p["schema"] for p in params if p["in"] == "path"},
                    query_params={p["name"]: p["schema"] for p in params if p["in"] == "query"},
                    bodies={ct: c["schema"] for ct, c in body.get("content", {}).items()},
                    body_required=bool(body.get("required")),
                    anonymous=any(not requirement for requirement in security),
                )

    def operation(self, method: str, template: str) -> Operation | None:
        return self._by_key.get((method.upper(), template))

    def route(self, method: str, raw_path: str) -> tuple[Operation, dict[str, str]]:
        """Find the operation for a request path under /api/v10: 404 or 405 if none."""
        if not raw_path.startswith(API_PREFIX + "/"):
            raise not_found()
        parts = [unquote(p) for p in raw_path[len(API_PREFIX) + 1 :].rstrip("/").split("/")]
        matches = [(op, p) for op in self.operations if (p := op.match(parts)) is not None]
        if not matches:
            raise not_found()
        with_method = [(op, p) for op, p in matches if op.method == method.upper()]
        if not with_method:
            raise method_not_allowed()
        op, params = max(with_method, key=lambda m: m[0].specificity)
        self._check_params(params, op.path_params)
        return op, params

    def _check_params(self, values: Mapping[str, str], schemas: Mapping[str, Json]) -> None:
        errors = [
            error
            for name, value in values.items()
            if name in schemas
            for error in self.errors(value, schemas[name], prefix=(name,))
        ]
        if errors:
            raise invalid_form_body(errors)

    def query(self, op: Operation, query: Mapping[str, str]) -> dict[str, Any]:
        """Coerce and check the declared query parameters; undeclared ones are ignored."""
        parsed: dict[str, Any] = {}
        errors: list[FieldError] = []
        for name, schema in op.query_params.items():
            if name not in query:
                continue
            raw = query[name]
            kind = self.resolve(schema).get("type")
            if kind == "boolean":
                lowered = raw.lower()
                if lowered not in ("true", "false", "1", "0"):
                    message = f'Value "{raw}" is not a valid boolean.'
                    errors.append(FieldError((name,), "BOOLEAN_TYPE_COERCE", message))
                    continue
                parsed[name] = lowered in ("true", "1")
            elif kind == "integer":
                try:
                    parsed[name] = int(raw)
                except ValueError:
                    errors.append(
                        FieldError((name,), "NUMBER_TYPE_COERCE", f'Value "{raw}" is not int.')
                    )
                    continue
            else:
                parsed[name] = raw
            errors += self.errors(parsed[name], schema, prefix=(name,))
        if errors:
            raise invalid_form_body(errors)
        return parsed

    def body_schema(self, op: Operation, content_type: str) -> Json | None:
        """The JSON schema for a body (multipart ``payload_json`` uses the JSON one)."""
        return op.bodies.get("application/json") or op.bodies.get(content_type)

    def validate(self, instance: Any, schema: Json) -> None:
        errors = self.errors(instance, schema)
        if errors:
            raise invalid_form_body(errors)

    def errors(
        self, instance: Any, schema: Json, prefix: tuple[str | int, ...] = ()
    ) -> list[FieldError]:
        # A bot sends the same body many times (one ask to thousands of people): the
        # same body against the same schema gets the same verdict, so remember it.
        try:
            key = (id(schema), json.dumps(instance, sort_keys=True))
        except (TypeError, ValueError):
            key = None
        if key is not None and key in self._verdicts:
            found = self._verdicts[key]
        else:
            validator = self._validator(schema)
            found = []
            for error in validator.iter_errors(instance):
                found += list(_field_errors(error))
            if key is not None:
                if len(self._verdicts) >= 4096:
                    self._verdicts.clear()
                self._verdicts[key] = found
        return [e.under(*prefix) for e in found]

    def _validator(self, schema: Json) -> Any:
        cached = self._validators.get(id(schema))
        if cached is None or cached[0] is not schema:
            # The schema refers to "#/components/...": give it the components as
            # siblings so those refs resolve inside the same resource.
            validator = Draft202012Validator({**schema, "components": self.components})
            cached = self._validators[id(schema)] = (schema, validator)
        return cached[1]

    def resolve(self, schema: Json) -> Json:
        while "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
            schema = self.components["schemas"][name]
        return schema


def _field_errors(error: Any) -> list[FieldError]:
    """Turn one jsonschema error into Discord-style field errors."""
    if error.validator in ("oneOf", "anyOf") and error.context:
        branch = _plausible_branch(error)
        if branch is not None:
            return [f for sub in branch for f in _field_errors(sub)]
        depth = len(error.absolute_path)
        choices = sorted(
            {
                choice
                for sub in error.context
                if sub.validator == "enum" and tuple(sub.absolute_path)[depth:] == ("type",)
                for choice in sub.validator_value
            },
            key=str,
        )
        if choices:  # every branch refused the discriminator: name it
            where = (*error.absolute_path, "type")
            return [FieldError(where, "BASE_TYPE_CHOICES", f"Value must be one of {choices}.")]
        kinds = [
            kind
            for sub in error.context
            if sub.validator == "type" and len(sub.absolute_path) == depth
            for kind in (
                sub.validator_value
                if isinstance(sub.validator_value, list)
                else [sub.validator_value]
            )
        ]
        if kinds:  # no branch takes this JSON type
            code, message = _describe("type", kinds, error.instance, error.message)
            return [FieldError(tuple(error.absolute_path), code, message)]
    path = tuple(error.absolute_path)
    validator, expected, instance = error.validator, error.validator_value, error.instance
    if validator == "required":
        missing = [name for name in expected if name not in instance]
        return [
            FieldError((*path, name), "BASE_TYPE_REQUIRED", "This field is required")
            for name in missing
        ]
    code, message = _describe(validator, expected, instance, error.message)
    return [FieldError(path, code, message)]


def _plausible_branch(error: Any) -> list[Any] | None:
    """Pick the oneOf/anyOf branch the caller meant (by JSON type and ``type`` discriminator)."""
    branches: dict[int, list[Any]] = {}
    for sub in error.context:
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)
    base = len(error.absolute_path)

    def mismatched(sub: Any) -> bool:
        rel = tuple(sub.absolute_path)[base:]
        if not rel and sub.validator == "type":
            return True
        return rel == ("type",) and sub.validator in ("enum", "const")

    candidates = [errs for errs in branches.values() if not any(mismatched(s) for s in errs)]
    if not candidates:
        return None
    return min(candidates, key=len)


def _describe(validator: str, expected: Any, instance: Any, fallback: str) -> tuple[str, str]:
    if validator in ("maxLength", "maxItems", "maxProperties"):
        return "BASE_TYPE_MAX_LENGTH", f"Must be {expected} or fewer in length."
    if validator in ("minLength", "minItems", "minProperties"):
        return "BASE_TYPE_MIN_LENGTH", f"Must be {expected} or more in length."
    if validator in ("enum", "const"):
        choices = expected if isinstance(expected, list) else [expected]
        return "BASE_TYPE_CHOICES", f"Value must be one of {set(choices)}."
    if validator in ("minimum", "exclusiveMinimum"):
        return "NUMBER_TYPE_MIN", f"int value should be greater than or equal to {expected}."
    if validator in ("maximum", "exclusiveMaximum"):
        return "NUMBER_TYPE_MAX", f"int value should be less than or equal to {expected}."
    if validator == "pattern":
        if expected == "^(0|[1-9][0-9]*)$":
            return "NUMBER_TYPE_COERCE", f'Value "{instance}" is not snowflake.'
        return "STRING_TYPE_REGEX", "String value did not match validation regex."
    if validator == "uniqueItems":
        return "LIST_ITEM_VALUE_DUPLICATE", "List item values must be unique."
    if validator == "additionalProperties":
        return "UNKNOWN_FIELD", fallback
    if validator == "type":
        kinds = expected if isinstance(expected, list) else [expected]
        if "integer" in kinds or "number" in kinds:
            return "NUMBER_TYPE_COERCE", f'Value "{instance}" is not int.'
        if "string" in kinds:
            return "STRING_TYPE_CONVERT", f'Could not interpret "{instance}" as string.'
        if "boolean" in kinds:
            return "BOOLEAN_TYPE_CONVERT", f'Could not interpret "{instance}" as boolean.'
        if "array" in kinds:
            return "LIST_TYPE_CONVERT", "Only iterables may be used in a ListType"
        if "object" in kinds:
            return "MODEL_TYPE_CONVERT", "Only dictionaries may be used in a ModelType"
    return "BASE_TYPE_INVALID", "Invalid Form Body"


_SNOWFLAKE = re.compile(r"^(0|[1-9][0-9]*)$")


def is_snowflake(value: object) -> bool:
    return isinstance(value, str) and bool(_SNOWFLAKE.match(value))
