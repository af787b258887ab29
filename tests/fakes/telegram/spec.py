"""The Bot API spec (methods, types, fields) and a strict validator built from it.

:func:`load_spec` reads ``telegram-bot-api.json`` (Bot API 10.1: every method and
type with its fields, their types and whether they are required).
:meth:`Spec.parse_params` turns one call's raw parameters (strings from a query
string or form, JSON values from a JSON body, uploaded files from multipart) into
typed values, refusing what the fake refuses:

* a parameter the method does not have ("Bad Request: unknown parameter NAME"),
* a required parameter that is missing or empty,
* a value of the wrong type ("abc" for an Integer, "maybe" for a Boolean),
* nested objects (sent JSON-serialized in form encodings) checked recursively
  against their types: unknown fields, missing required fields and wrong types
  are refused; abstract types (BotCommandScope, InputMedia, ...) pick their
  subtype by the discriminating field, unions of objects by the fields present.

Telegram-level rules beyond types (button text non-empty, callback_data size,
command names, ...) live in :mod:`.rules` and run on every object of their type.
:meth:`Spec.check_result` validates the fake's own answers against the method's
return type, so the self-tests prove the objects it invents are well-formed.
"""

from __future__ import annotations

import functools
import json
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import Json, bad_request

SCALARS = ("Integer", "Float", "Boolean", "String")
_INT = re.compile(r"-?\d{1,19}")
_FLOAT = re.compile(r"-?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_BOOLS = {"true": True, "false": False, "1": True, "0": False, "yes": True, "no": False}
# The texts Telegram uses for some missing required parameters; others get a generic one.
_MISSING = {
    "chat_id": "chat_id is empty",
    "text": "message text is empty",
    "message_id": "message identifier is not specified",
    "callback_query_id": "query is too old and response timeout expired or query ID is invalid",
    "user_id": "invalid user_id specified",
    "file_id": "invalid file_id",
}

# Required parameters whose empty value means something ("Use an empty string to remove
# webhook integration"); any other empty parameter counts as missing.
MAY_BE_EMPTY = frozenset({("setWebhook", "url")})


@dataclass(frozen=True)
class Upload:
    """A file uploaded in a multipart request."""

    filename: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Field:
    """One parameter of a method, or one field of a type."""

    name: str
    types: tuple[str, ...]
    required: bool


@dataclass(frozen=True)
class TypeDef:
    """An object type: its fields, or (for abstract types) its subtypes."""

    name: str
    fields: tuple[Field, ...]
    subtypes: tuple[str, ...] = ()
    tag: tuple[str, str] | None = None  # discriminator: (field name, value)

    @functools.cached_property
    def by_name(self) -> dict[str, Field]:
        return {f.name: f for f in self.fields}


class Mismatch(Exception):
    """A value that does not fit its declared type, with the path to it."""

    def __init__(self, path: str, reason: str) -> None:
        super().__init__(reason)
        self.path = path
        self.reason = reason


Rule = Callable[[dict[str, Json]], dict[str, Json]]


def spec_path() -> Path:
    """Where the Bot API spec is: $TELEGRAM_BOT_API_SPEC, else tests/specs/."""
    env = os.environ.get("TELEGRAM_BOT_API_SPEC")
    candidates = [Path(env)] if env else []
    candidates.append(Path(__file__).resolve().parents[2] / "specs" / "telegram-bot-api.json")
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"Telegram Bot API spec not found; tried {candidates}")


def _fields(raw: list[dict[str, Json]]) -> tuple[Field, ...]:
    return tuple(Field(f["name"], tuple(f["types"]), bool(f["required"])) for f in raw)


def _tag(fields: tuple[Field, ...], raw: list[dict[str, Json]]) -> tuple[str, str] | None:
    """The discriminator of a subtype: its first field, described as 'always "x"'."""
    if not fields or fields[0].types != ("String",):
        return None
    match = re.search(r'(?:must be|always) "?([a-z_0-9]+)"?', raw[0].get("description", ""))
    return (fields[0].name, match.group(1)) if match else None


@functools.cache
def load_spec(path: Path | None = None) -> Spec:
    """Load (once) and index the Bot API spec."""
    doc = json.loads((path or spec_path()).read_text(encoding="utf-8"))
    types: dict[str, TypeDef] = {}
    for name, raw in doc["types"].items():
        raw_fields = raw.get("fields", [])
        fields = _fields(raw_fields)
        types[name] = TypeDef(
            name, fields, tuple(raw.get("subtypes", ())), _tag(fields, raw_fields)
        )
    methods = {name: _fields(raw.get("fields", [])) for name, raw in doc["methods"].items()}
    returns = {name: tuple(raw["returns"]) for name, raw in doc["methods"].items()}
    return Spec(doc["version"], methods, returns, types)


@dataclass
class Spec:
    """The indexed spec plus the validator."""

    version: str
    methods: dict[str, tuple[Field, ...]]
    returns: dict[str, tuple[str, ...]]
    types: dict[str, TypeDef]

    @functools.cached_property
    def _lower(self) -> dict[str, str]:
        return {name.lower(): name for name in self.methods}

    def method_name(self, name: str) -> str | None:
        """The spec's spelling of a method name (Telegram matches them case-insensitively)."""
        return self._lower.get(name.lower())

    # --- requests -------------------------------------------------------------------

    def parse_params(
        self,
        method: str,
        raw: Mapping[str, Json],
        files: Mapping[str, Upload],
        rules: Mapping[str, Rule] | None = None,
    ) -> dict[str, Json]:
        """Typed parameters for ``method``; ApiError for anything the fake refuses.

        ``rules`` maps a type name to a check run on every object of that type
        (after its fields are validated); it may normalise the object or raise.
        """
        fields = {f.name: f for f in self.methods[method]}
        attached: set[str] = set()
        present = {
            k: v
            for k, v in raw.items()
            if v is not None and (v != "" or (method, k) in MAY_BE_EMPTY)
        }
        for name in present:
            if name not in fields:
                raise bad_request(f"unknown parameter {name}")
        result: dict[str, Json] = {}
        for f in fields.values():
            value: Json = files[f.name] if f.name in files else present.get(f.name)
            if value is None:
                if f.required:
                    raise bad_request(_MISSING.get(f.name, f'parameter "{f.name}" is required'))
                continue
            checker = _Checker(self, files, attached, rules or {})
            try:
                result[f.name] = checker.value(f.types, value, "", top=True, param=f.name)
            except Mismatch as err:
                if not err.path:
                    raise bad_request(f'field "{f.name}" {err.reason}') from None
                raise bad_request(f"can't parse {f.name}: {err.path} {err.reason}") from None
        for name in files:
            if name not in fields and name not in attached:
                raise bad_request(f"unknown parameter {name}")
        return result

    # --- answers ----------------------------------------------------------------------

    def check_result(self, method: str, result: Json) -> None:
        """Raise Mismatch unless ``result`` fits the method's declared return type."""
        _Checker(self, {}, set(), None).value(self.returns[method], result, "result")

    def check_object(self, type_name: str, value: Json) -> None:
        """Raise Mismatch unless ``value`` is a well-formed object of ``type_name``."""
        _Checker(self, {}, set(), None).value((type_name,), value, type_name)


class _Checker:
    """One validation pass (parameters of a request, or one answer)."""

    def __init__(
        self,
        spec: Spec,
        files: Mapping[str, Upload],
        attached: set[str],
        rules: Mapping[str, Rule] | None,
    ) -> None:
        self.spec = spec
        self.files = files
        self.attached = attached
        self.rules = rules or {}
        self.coerce = rules is not None  # request mode: accept strings for numbers

    def value(
        self, types: tuple[str, ...], value: Json, path: str, *, top: bool = False, param: str = ""
    ) -> Json:
        types = self.alternatives(types)
        for t in types:
            if t in SCALARS or t == "InputFile":
                try:
                    return self.scalar(t, value, path, top)
                except Mismatch:
                    continue
        others = [t for t in types if t not in SCALARS and t != "InputFile"]
        if others and top and isinstance(value, str):
            try:
                value = json.loads(value)
            except ValueError:
                if len(others) == len(types):
                    raise bad_request(f"can't parse {param} JSON object") from None
        if isinstance(value, list):
            arrays = [t[len("Array of ") :] for t in others if t.startswith("Array of ")]
            error: Mismatch | None = None
            for item_type in arrays:
                try:
                    return [
                        self.value((item_type,), v, f"{path}[{i}]") for i, v in enumerate(value)
                    ]
                except Mismatch as err:
                    error = error or err
            if error is not None:
                raise error
        if isinstance(value, dict):
            candidates = [
                s for t in others if not t.startswith("Array of ") for s in self.expand(t)
            ]
            if candidates:
                return self.obj(self.best(candidates, value, path), value, path)
        raise Mismatch(path, "must be of type " + " or ".join(types))

    def scalar(self, t: str, value: Json, path: str, top: bool) -> Json:
        relaxed = self.coerce and isinstance(value, str)
        if t == "Integer":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if relaxed and _INT.fullmatch(value.strip()):
                return int(value)
        elif t == "Float":
            if isinstance(value, int | float) and not isinstance(value, bool):
                return value
            if relaxed and _FLOAT.fullmatch(value.strip()):
                return float(value)
        elif t == "Boolean":
            if isinstance(value, bool):
                return value
            if relaxed and top and value.strip().lower() in _BOOLS:
                return _BOOLS[value.strip().lower()]
        elif t == "String":
            if isinstance(value, str):
                return value
            if top and isinstance(value, int | float) and not isinstance(value, bool):
                return str(value)
        elif isinstance(value, Upload):  # InputFile
            return value
        elif isinstance(value, str) and value.startswith("attach://") and not top:
            name = value[len("attach://") :]
            if name in self.files:
                self.attached.add(name)
                return self.files[name]
        raise Mismatch(path, f"must be of type {t}")

    def alternatives(self, types: tuple[str, ...]) -> tuple[str, ...]:
        """Types with an abstract type that is a union of non-objects spelled out: RichText
        is a String, an Array of RichText, or one of the rich text objects."""
        spelled: list[str] = []
        for t in types:
            typedef = self.spec.types.get(t)
            if typedef is not None and any(s not in self.spec.types for s in typedef.subtypes):
                spelled.extend(typedef.subtypes)
            else:
                spelled.append(t)
        return tuple(spelled)

    def expand(self, name: str) -> list[TypeDef]:
        """A type, or the concrete subtypes of an abstract type."""
        typedef = self.spec.types[name]
        if not typedef.subtypes:
            return [typedef]
        return [s for sub in typedef.subtypes if sub in self.spec.types for s in self.expand(sub)]

    @staticmethod
    def best(candidates: list[TypeDef], value: dict[str, Json], path: str) -> TypeDef:
        """The candidate type a dict most plausibly is: its tag matches, most fields shared."""
        tagged = [c for c in candidates if c.tag and value.get(c.tag[0]) == c.tag[1]]
        tags = {c.tag for c in candidates if c.tag}
        names = {tag_field for tag_field, _ in tags}
        if not tagged and len(names) == 1 and len(tags) == len(candidates):
            name = names.pop()
            if name in value:
                allowed = ", ".join(sorted(f'"{v}"' for _, v in tags))
                raise Mismatch(f"{path}.{name}" if path else name, f"must be one of {allowed}")
        pool = tagged or candidates
        keys = set(value)

        def score(c: TypeDef) -> tuple[int, int]:
            names = set(c.by_name)
            return (len(keys & names), -len(keys - names))

        return max(pool, key=score)

    def obj(self, typedef: TypeDef, value: dict[str, Json], path: str) -> dict[str, Json]:
        prefix = f"{path}." if path else ""
        for key in value:
            if key not in typedef.by_name:
                raise Mismatch(f"{prefix}{key}", f"is not a field of {typedef.name}")
        if typedef.tag and typedef.tag[0] in value and value[typedef.tag[0]] != typedef.tag[1]:
            raise Mismatch(f"{prefix}{typedef.tag[0]}", f'must be "{typedef.tag[1]}"')
        result: dict[str, Json] = {}
        for f in typedef.fields:
            item = value.get(f.name)
            if item is None:
                if f.required:
                    raise Mismatch(f"{prefix}{f.name}", f"is required in {typedef.name}")
                continue
            result[f.name] = self.value(f.types, item, f"{prefix}{f.name}")
        rule = self.rules.get(typedef.name)
        if rule is not None:
            result = rule(result)
        return result
