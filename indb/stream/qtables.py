"""q's questions about tables, as kdb+ clients ask a process they connect to: ``tables[]``,
``cols t``, ``meta t`` and ``count t`` (browsers such as qStudio and KX's dashboards, and
scripts, ask them before they query), and the two q words scripts put before a query,
``count select ...`` and ``n#select ...``. Without a licence PyKX cannot evaluate q, so the
forms are read here (a function name, then a table name or symbol, bare or in brackets; or the
word, then q-sql) and answered from the database, for the user who asks, as q answers them: a
symbol list, a keyed table ``([c] t; f; a)`` (the kdb+ type character of each column as the
port sends it), a long, the rows taken. Anything else is not one of these forms, and is a query
(SQL or q-sql).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
from sqlglot import exp

from indb.catalog.names import DEFAULT_SCHEMA, sql_table
from indb.engine.privileges import readable_relations
from indb.parser import render
from indb.parser.qstatements import PREFIX as Q_PREFIX
from indb.stream import kdb, layout

if TYPE_CHECKING:
    from indb.engine.core import Engine

kx = kdb.kx

# tables[] (or tables`.); f t, f`t, f[t], f[`t] for the others
_TABLES = re.compile(r"\s*tables\s*(?:\[\s*`?\.?\s*\]|`\.)?\s*$")
_OF_TABLE = re.compile(r"\s*(cols|meta|count)\s*(?:\[\s*`?([\w.]+)\s*\]|`([\w.]+)|\s+`?([\w.]+))\s*$")
# count select ..., count exec ...; n#select ... (q's take: -n from the end)
_COUNTED = re.compile(r"\s*count\s+((?:select|exec)\b.*)$", re.DOTALL)
_TAKEN = re.compile(r"\s*(-?\d+)\s*#\s*(select\b.*)$", re.DOTALL)
TYPE_CHARS = " bg xhijefcspmdznuvt"  # q's .Q.t: a vector's type character by its type number
VECTOR_HEAD = 6  # a vector's type, attribute and count, before its items


@dataclass(frozen=True)
class TableQuestion:
    """``function`` (tables, cols, meta, count) asked of ``table`` (None for ``tables[]``), or
    of the rows of a q-sql ``query`` (count, and take: ``taken`` rows)."""

    function: str
    table: str | None = None
    query: str | None = None
    taken: int = 0


def read(text: str) -> TableQuestion | None:
    """The question ``text`` asks, or None when it is not one of these forms."""
    if _TABLES.match(text):
        return TableQuestion("tables")
    counted, taken = _COUNTED.match(text), _TAKEN.match(text)
    if counted is not None:
        return TableQuestion("count", query=counted.group(1))
    if taken is not None:
        return TableQuestion("take", query=taken.group(2), taken=int(taken.group(1)))
    found = _OF_TABLE.match(text)
    if found is None:
        return None
    return TableQuestion(found.group(1), next(g for g in found.groups()[1:] if g))


def answer(engine: Engine, question: TableQuestion, user: str) -> Any:
    """What q answers, from the tables ``user`` may read (a table the user may not read is
    refused as in any query of it)."""
    with engine.as_user(user):
        if question.function == "tables":
            return kx.SymbolVector(sorted(r.name if r.schema == DEFAULT_SCHEMA else
                                          f"{r.schema}.{r.name}"
                                          for r in readable_relations(engine)
                                          if not r.view and r.sequence is None))
        if question.query is not None:
            rows = engine.execute(Q_PREFIX + question.query).arrow()
            if question.function == "count":
                return kx.LongAtom(rows.num_rows)
            return kdb.table(rows.take(_taken(rows.num_rows, question.taken)))
        assert question.table is not None
        source = sql_table(question.table)
        if question.function == "count":
            counted = engine.execute(render(exp.select(exp.Count(this=exp.Star())).from_(source)))
            return kx.LongAtom(counted.arrow().column(0)[0].as_py())
        first = engine.execute(render(exp.select(exp.Star()).from_(source).limit(1))).arrow()
    if question.function == "cols":
        return kx.SymbolVector(first.column_names)
    return _meta(first)


def _taken(count: int, n: int) -> pa.Array:
    """The rows q's ``n#`` takes of ``count``: the first ``n``, or the last ``-n``, going round
    again where ``n`` is larger than ``count`` (q's take repeats its list); none of none."""
    if not count:
        return pa.array([], pa.int64())
    start = 0 if n >= 0 else count - abs(n) % count
    return pa.array([(start + i) % count for i in range(abs(n))], pa.int64())


def _meta(first: pa.Table) -> Any:
    """q's ``meta``: ``([c: columns] t: type characters; f: foreign keys; a: attributes)``,
    each type that of the column the port sends (``first``: the table's first row, if any: a
    column of lists is its items' type in capitals, ``J`` for lists of longs, as q shows it)."""
    names = first.column_names
    blank = kx.SymbolVector([""] * len(names))
    keys = _body(kx.toq({"c": kx.SymbolVector(names)}))
    values = _body(kx.toq({"t": kx.CharVector("".join(_type_char(first, n) for n in names)),
                           "f": blank, "a": blank}))
    return kx.deserialize(kdb.framed(b"\x63" + keys + values, kdb.RESPONSE))


def _type_char(first: pa.Table, name: str) -> str:
    """The type character of the column ``name`` as the port encodes it: its vector's type,
    read from the encoding of that column alone (flip, the one name, the list of columns)."""
    body = kdb.table_body(first.select([name]))
    at = len(layout.FLIP) + VECTOR_HEAD + len(name.encode()) + 1 + VECTOR_HEAD
    kind = body[at]
    if kind == 0 and first.num_rows:  # a general list: its first item's type, in capitals
        item = body[at + VECTOR_HEAD]
        return TYPE_CHARS[item].upper() if 0 < item < len(TYPE_CHARS) else " "
    return TYPE_CHARS[kind] if kind < len(TYPE_CHARS) else " "


def _body(columns: Any) -> bytes:
    """A dictionary of columns, encoded, as a table (no message header)."""
    return layout.FLIP + kdb.encode(columns, kdb.RESPONSE)[kdb.HEADER.size + 1:]
