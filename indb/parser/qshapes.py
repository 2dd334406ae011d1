"""The shape of q's answer to a q-sql query: what the rows of its translation (always a table,
``qsql.translate``) stand for, so that a kdb+ client gets what kdb+ would send it (a keyed table
for ``select ... by``, a list for ``exec c``, a dictionary for ``exec a, b``)."""

from __future__ import annotations

from dataclasses import dataclass

from indb.parser.qsyntax import (Dyad, Keyed, Lit, Parser, QError, Query, Sorted, bare_column,
                                 has_aggregate)


@dataclass(frozen=True)
class Shape:
    """What q gives for a query, which the rows of its translation stand for: a ``table``; a
    ``keyed`` table (its first ``keys`` columns the key: ``select ... by``, ``n!t``); a
    ``list`` (the one column's values: ``exec c``); an ``atom`` (``exec max c``); a ``dict``
    of each column to its value in the one row (``exec a, b``, ``exec from t``, ``first t``);
    a ``map`` of the first column's values to the second's (``exec k!v``, ``exec c by k``); and
    of ``exec ... by``'s other dictionaries, a ``list_table`` (its first column's values to a
    table of the others: ``exec a, b by k``, ``exec n: c by k``) or a ``table_list`` (a table of
    its first ``keys`` columns to the last one's values: ``exec c by k: k``, ``exec c by j, k``)."""

    kind: str
    keys: int = 0


# exec ... by's answer by whether its keys and its values are tables: a dictionary of
# list!list, list!table, table!list, or a keyed table (table!table)
_BY_SHAPES = {(False, False): "map", (False, True): "list_table", (True, False): "table_list",
              (True, True): "keyed"}


def shape(text: str) -> Shape:
    """The shape of q's answer to a q-sql query (a table for what does not parse)."""
    try:
        node = Parser(text).table()
    except (QError, RecursionError):
        return Shape("table")
    if isinstance(node, Sorted) and node.how in ("first", "last"):
        return Shape("dict")
    if isinstance(node, Keyed) and node.columns is None and node.count:
        return Shape("keyed", node.count)
    if not isinstance(node, Query) or node.kind in ("update", "delete"):
        return Shape("table")
    falsy = len(node.by) == 1 and isinstance(node.by[0][1], Lit) and node.by[0][1].kind == "bool"
    if node.kind == "select" or falsy:  # exec ... by 0b: a table
        return Shape("keyed", len(node.by)) if node.by and not falsy else Shape("table")
    if node.by and node.phrase:  # named or several: a table; else a list (the q-sql reference)
        tables = (len(node.by) > 1 or node.by[0][0] is not None,
                  len(node.phrase) > 1 or node.phrase[0][0] is not None)
        return Shape(_BY_SHAPES[tables], len(node.by))
    if node.by:
        return Shape("table")
    if len(node.phrase) == 1 and isinstance(node.phrase[0][1], Dyad) and node.phrase[0][1].op == "!":
        return Shape("map")
    if len(node.phrase) == 1 and node.phrase[0][0] is None:
        column = node.phrase[0][1]
        aggregate = not node.distinct and has_aggregate(column) and not bare_column(column)
        return Shape("atom" if aggregate else "list")
    return Shape("dict")
