"""Rows to dataclasses, and the columns a caller may write: one way for every repository.

**Reading.** :func:`from_row` builds a repository's frozen dataclass from a ``sqlite3.Row`` by the
dataclass's field names: each field is read from the column of the same name, unless the call says
otherwise for that field, explicitly::

    from_row(Circle, row, is_private=flag, pseudonym_rotation=Rotation)
    from_row(PulseEntry, row, person=Column("user_id"), created_at=from_iso)
    from_row(Checkin, row, note=Computed(lambda r: notes.open(r["id"], r["note_enc"])))

A converter is one of:

- a callable, applied to the field's own column: :func:`flag` for SQLite's 0/1, ``from_iso`` for a
  time, an enum, :func:`optional` (converter) for a nullable column, …;
- :class:`Column` (name, converter): another column, for a renamed or prefixed one;
- :class:`Computed` (build): built from the whole row, e.g. an encrypted column opened with the
  row's id.

A row may hold more columns than the dataclass has fields (``SELECT *``, joins): they are ignored.

**Writing.** A repository method that builds an UPDATE or INSERT from column names its caller
passed checks them against a fixed tuple first (:func:`set_clause`, :func:`insert_clause`): a name
outside it raises :class:`UnknownColumn` before any SQL is built, so no caller can write a column
it shouldn't, and a typo fails loudly instead of reaching SQLite.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, fields
from functools import cache
from typing import TYPE_CHECKING, Any, TypeVar

from bot.storage.database import Row

if TYPE_CHECKING:
    from _typeshed import DataclassInstance

T = TypeVar("T", bound="DataclassInstance")
Converter = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Column:
    """Read the field from another column (renamed, or prefixed in a join), optionally converted."""

    name: str
    convert: Converter | None = None


@dataclass(frozen=True, slots=True)
class Computed:
    """Build the field from the whole row (a value that needs more than its own column)."""

    build: Callable[[Row], Any]


def flag(value: Any) -> bool:
    """SQLite's 0/1 (it has no boolean type) as a bool."""
    return bool(value)


def optional(convert: Converter) -> Converter:
    """``convert`` for a nullable column: NULL stays None."""

    def converted(value: Any) -> Any:
        return None if value is None else convert(value)

    return converted


@cache
def _field_names(cls: type[DataclassInstance]) -> tuple[str, ...]:
    return tuple(f.name for f in fields(cls))


@cache
def _field_set(cls: type[DataclassInstance]) -> frozenset[str]:
    return frozenset(_field_names(cls))


def from_row(cls: type[T], row: Row, /, **converted: Converter | Column | Computed) -> T:
    """An instance of the dataclass ``cls`` from ``row``: see the module's docstring."""
    if not _field_set(cls).issuperset(converted):
        raise TypeError(f"{cls.__name__} has no field {sorted(converted.keys() - _field_set(cls))}")
    values: dict[str, Any] = {}
    for name in _field_names(cls):
        how = converted.get(name)
        if how is None:
            values[name] = row[name]
        elif isinstance(how, Column):
            values[name] = row[how.name] if how.convert is None else how.convert(row[how.name])
        elif isinstance(how, Computed):
            values[name] = how.build(row)
        else:
            values[name] = how(row[name])
    return cls(**values)


def field_names(cls: type[DataclassInstance], *, without: Iterable[str] = ()) -> tuple[str, ...]:
    """The dataclass's field names (its table's columns), less ``without``: a whitelist that keeps
    step with the dataclass, e.g. what an INSERT may set (everything but the ``id``)."""
    left_out = set(without)
    return tuple(name for name in _field_names(cls) if name not in left_out)


class UnknownColumn(ValueError):
    """A caller named a column that isn't in the table's whitelist for that statement."""

    def __init__(self, table: str, names: Iterable[str]) -> None:
        self.table = table
        self.names = tuple(sorted(names))
        super().__init__(f"Not a column that may be written in {table}: {list(self.names)}")


def check_columns(table: str, allowed: Collection[str], names: Iterable[str]) -> None:
    """Raise :class:`UnknownColumn` unless every name is in ``allowed``."""
    unknown = set(names) - set(allowed)
    if unknown:
        raise UnknownColumn(table, unknown)


def set_clause(table: str, allowed: Collection[str], changes: Mapping[str, Any]) -> str:
    """``a = ?, b = ?`` for ``UPDATE table SET …`` (values in ``changes``' order), once every
    column is checked against ``allowed``."""
    check_columns(table, allowed, changes)
    return ", ".join(f"{name} = ?" for name in changes)


def insert_clause(table: str, allowed: Collection[str], values: Mapping[str, Any]) -> str:
    """``(a, b) VALUES (?, ?)`` for ``INSERT INTO table …`` (values in ``values``' order), once
    every column is checked against ``allowed``."""
    check_columns(table, allowed, values)
    return f"({', '.join(values)}) VALUES ({', '.join('?' for _ in values)})"
