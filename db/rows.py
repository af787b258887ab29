"""Rows into dataclasses by column name, so reordering a SELECT can't swap two fields.

`fetch_one(PromptRow, cursor)` and `fetch_all(PromptRow, cursor)` match the cursor's
column names (`cursor.description`) to the dataclass's fields and refuse a query whose
columns are not exactly those fields (a missing, extra or doubled name raises
`RowMismatch`, naming them). A field typed as one of `db.states`' enums gets the enum
member, a `bool` field a bool. A field that is itself a row dataclass (a session's
`user`) is read from the columns named `<field>_<its field>`.

The mapping is worked out once per dataclass and column list, then cached, so a
row costs one call and, where the order or the types differ, one small loop.
"""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, TypeVar

T = TypeVar("T")

Builder = Callable[[Sequence[Any]], Any]


class RowMismatch(TypeError):
    """A query's columns are not the fields of the dataclass it is read into."""


def fetch_one(cls: type[T], cursor: Any) -> T | None:
    """The cursor's next row as a `cls`, or None when there is none."""
    values = cursor.fetchone()
    return None if values is None else reader(cls, cursor.description)(values)


def fetch_all(cls: type[T], cursor: Any) -> list[T]:
    """Every remaining row of the cursor as a `cls`."""
    make = reader(cls, cursor.description)
    return [make(values) for values in cursor.fetchall()]


def reader(cls: type[T], description: Sequence[Sequence[Any]]) -> Callable[[Sequence[Any]], T]:
    """A function making a `cls` from one row with these columns."""
    names = tuple(column[0] for column in description)
    make = _readers.get((cls, names))
    if make is None:
        make = _readers[cls, names] = _reader(cls, names)
    return typing.cast(Callable[[Sequence[Any]], T], make)


_readers: dict[tuple[type, tuple[str, ...]], Builder] = {}


def _reader(cls: type, names: tuple[str, ...]) -> Builder:
    expected = _columns(cls, "")
    doubled = sorted({name for name in names if names.count(name) > 1})
    missing = [name for name in expected if name not in names]
    extra = [name for name in names if name not in expected]
    if doubled or missing or extra:
        problems = [
            f"{label}: {', '.join(found)}"
            for label, found in (("doubled", doubled), ("missing", missing), ("extra", extra))
            if found
        ]
        raise RowMismatch(f"columns don't match {cls.__name__} ({'; '.join(problems)})")
    index = {name: position for position, name in enumerate(names)}
    return _builder(cls, "", index)


def _columns(cls: type, prefix: str) -> list[str]:
    """The column names a row of `cls` is read from, in field order."""
    names: list[str] = []
    for name, kind in _fields(cls):
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            names += _columns(kind, f"{prefix}{name}_")
        else:
            names.append(prefix + name)
    return names


def _builder(cls: type, prefix: str, index: dict[str, int]) -> Builder:
    """How to make a `cls` from a row, given where each column is."""
    parts: list[tuple[int, Callable[[Any], Any] | None] | Builder] = []
    for name, kind in _fields(cls):
        if isinstance(kind, type) and dataclasses.is_dataclass(kind):
            parts.append(_builder(kind, f"{prefix}{name}_", index))
        else:
            parts.append((index[prefix + name], _converter(kind)))
    simple = [part for part in parts if isinstance(part, tuple)]
    if len(simple) == len(parts) and all(convert is None for _, convert in simple):
        positions = [position for position, _ in simple]
        if positions == list(range(len(index))):
            return lambda values: cls(*values)  # the usual case: the SELECT lists the fields
        return lambda values: cls(*[values[position] for position in positions])

    def build(values: Sequence[Any]) -> Any:
        args = []
        for part in parts:
            if isinstance(part, tuple):
                position, convert = part
                value = values[position]
                args.append(value if convert is None else convert(value))
            else:
                args.append(part(values))
        return cls(*args)

    return build


@functools.cache
def _fields(cls: type) -> tuple[tuple[str, Any], ...]:
    """(name, type) of each field a row dataclass is made with, in order."""
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"{cls.__name__} is not a dataclass")
    hints = typing.get_type_hints(cls)
    return tuple((f.name, hints[f.name]) for f in dataclasses.fields(cls) if f.init)


def _converter(kind: Any) -> Callable[[Any], Any] | None:
    """What a stored value goes through to become a field of this type (None: nothing)."""
    optional = False
    if typing.get_origin(kind) in (types.UnionType, typing.Union):
        others = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        if len(others) != 1:
            return None
        kind, optional = others[0], True
    if kind is bool:
        return (lambda value: None if value is None else bool(value)) if optional else bool
    if isinstance(kind, type) and issubclass(kind, StrEnum):
        return _enum_converter(kind, optional)
    return None


def _enum_converter(enum: type[StrEnum], optional: bool) -> Callable[[Any], Any]:
    members: dict[Any, StrEnum] = {member.value: member for member in enum}

    def convert(value: Any) -> StrEnum | None:
        if value is None and optional:
            return None
        try:
            return members[value]
        except KeyError:
            raise ValueError(f"{value!r} is not a {enum.__name__}") from None

    return convert
