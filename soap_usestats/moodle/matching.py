"""Text compared exactly, and the same way, on every database, whatever its collation.

PostgreSQL and SQLite compare text byte for byte. MariaDB's and MySQL's collations
do not: ``utf8mb4_unicode_ci``, the one Moodle installs, ignores case, accents and
trailing spaces, and even ``utf8mb4_bin`` ignores trailing spaces. There each
comparison keeps the collation's own (which the column's index serves, and which
every exact match passes) and adds the comparison of the bytes.
"""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import LargeBinary, and_, cast, collate, func, literal
from sqlalchemy.dialects.mysql import CHAR
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement

#: The case-insensitive collation Moodle installs on MariaDB and MySQL.
MOODLE_COLLATION = "utf8mb4_unicode_ci"


class _Exactly(FunctionElement):
    """``column IN (values...)``, byte for byte."""

    name = "exactly"
    inherit_cache = True


class _Caseless(FunctionElement):
    """``lower(column) IN (values...)``, byte for byte."""

    name = "caseless"
    inherit_cache = True


def exactly(column: ColumnElement, values: Collection[str]) -> ColumnElement[bool]:
    """``column`` equals one of ``values``, byte for byte."""
    return _Exactly(column, *(literal(value, column.type) for value in values))


def caseless(column: ColumnElement, values: Collection[str]) -> ColumnElement[bool]:
    """``column`` equals one of ``values`` but for case: in lower case, byte for byte
    (nothing else is folded). ``values`` are given in lower case."""
    return _Caseless(column, *(literal(value, column.type) for value in values))


def _split(element: FunctionElement) -> tuple[ColumnElement, list[ColumnElement]]:
    column, *values = element.clauses
    return column, values


def _bytes(value: ColumnElement) -> ColumnElement:
    return cast(value, LargeBinary)


@compiles(_Exactly)
def _exactly(element, compiler, **kw) -> str:
    column, values = _split(element)
    return compiler.process(column.in_(values), **kw)


@compiles(_Caseless)
def _caseless(element, compiler, **kw) -> str:
    column, values = _split(element)
    return compiler.process(func.lower(column).in_(values), **kw)


def _exactly_mysql(element, compiler, **kw) -> str:
    column, values = _split(element)
    both = and_(column.in_(values), _bytes(column).in_([_bytes(v) for v in values]))
    return compiler.process(both.self_group(), **kw)


def _caseless_mysql(element, compiler, **kw) -> str:
    # Moodle's collation finds every match, with the index on the column; a column with
    # another collation is compared in Moodle's, without the index but as exactly.
    column, values = _split(element)
    loose = [collate(cast(v, CHAR(charset="utf8mb4")), MOODLE_COLLATION) for v in values]
    both = and_(column.in_(loose), _bytes(func.lower(column)).in_([_bytes(v) for v in values]))
    return compiler.process(both.self_group(), **kw)


for _dialect in ("mysql", "mariadb"):
    compiles(_Exactly, _dialect)(_exactly_mysql)
    compiles(_Caseless, _dialect)(_caseless_mysql)
