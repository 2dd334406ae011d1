"""q's joins as DuckDB queries: ``lj``, ``ij``, ``pj`` and ``uj`` on the keys of a keyed table,
``ej`` on columns given, ``aj`` as of a time (DuckDB's ASOF JOIN), with their ``f`` variants.
``indb.parser.qsql`` translates each side; this module joins the two trees.

q's rules, kept: the result has the left table's columns in their order, then the right's new
ones; a common column takes the right's value where a row matched (``ljf``, ``ijf``, ``ujf``,
``ajf`` and ``ajf0`` keep the left's where the right's is null), and the left's otherwise; rows
keep the left table's order; a keyed table's key finds its first row (q's lookup), and ``aj``
takes the last row at or before the time (kdb+'s binary search over rows in time order).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlglot import exp

from indb.parser.qsyntax import (Join, Keyed, Name, Node, QError, Query, TableCols,
                                 column_names)

ROW = "__q_i"  # a side's row position, for the result's order and a key's first row
MATCHED = "__q_m"  # true on the right side's rows: a row of the left matched one
SIDE = "__q_s"  # uj: 0 for the left table's rows, 1 for the right's
STAMP = "__q_t"  # aj: a right row's time and position
# what a common column takes from a matched row: the right's value, the right's unless it
# is null, the sum, or the left's (ej: q keeps the second table's, its left side here)
TAKES = {"lj": "right", "ij": "right", "uj": "right", "ljf": "fill", "ijf": "fill",
         "ujf": "fill", "pj": "plus", "ej": "left", "aj": "right", "aj0": "right",
         "ajf": "fill", "ajf0": "fill"}
KEEPS_LEFT_KEYS = {"lj", "ljf", "ij", "ijf", "pj"}  # their result is keyed as their left is


class TableColumns(dict[str, str]):
    """A stored table's columns and their DuckDB types, as ``columns(table)`` may give them, with
    its primary key read only when asked (``primary_key``): a table with one is keyed on it, as
    a kdb+ keyed table is, so ``t lj ref`` joins on ``ref``'s key."""

    def __init__(self, types: Mapping[str, str], primary_key: Callable[[], Sequence[str]]) -> None:
        super().__init__(types)
        self._primary_key = primary_key

    @functools.cached_property
    def primary_key(self) -> tuple[str, ...]:
        return tuple(self._primary_key())


@dataclass(frozen=True)
class Side:
    """A table expression's tree and its columns."""

    tree: exp.Select
    columns: list[str]


def key_columns(node: Node, columns_of: Callable[[Node], Sequence[str] | None],
                table_keys: Callable[[str], Sequence[str]]) -> list[str]:
    """The key columns of a table expression, as q keys it: a stored table's primary key
    (``table_keys``), ```k xkey t``, ``n!t``, ``([k: ...] c: ...)``, ``select ... by k``,
    ``select from`` a keyed table, and a keyed join of a keyed table; [] if unkeyed."""
    def keys(side: Node) -> list[str]:
        return key_columns(side, columns_of, table_keys)
    if isinstance(node, Name):
        return list(table_keys(node.name))
    if isinstance(node, Keyed) and node.columns is not None:
        return node.columns
    if isinstance(node, Keyed):
        known = columns_of(node.table)
        if known is None:
            raise QError(f"{node.count}!t keys t on its first {node.count} columns, which "
                         "the translation does not know here: write `k xkey t", node.pos)
        if node.count > len(known):
            raise QError(f"{node.count}!t: t has {len(known)} columns", node.pos)
        return list(known[:node.count])
    if isinstance(node, TableCols):
        return column_names(list(zip(node.names, node.items)))[:node.keys]
    if isinstance(node, Query) and node.kind == "select" and node.by:
        return column_names(node.by + node.phrase)[:len(node.by)]
    if isinstance(node, Query) and node.kind == "select" and not node.phrase:
        return keys(node.source)  # select from kt where ...: its rows, keyed as kt
    if isinstance(node, Join) and node.how in KEEPS_LEFT_KEYS:
        return keys(node.left)
    if isinstance(node, Join) and node.how in ("uj", "ujf"):
        return keys(node.right) if keys(node.left) else []
    return []


def translated(node: Join, table: Callable[[Node], tuple[exp.Select, list[str] | None]],
               table_keys: Callable[[str], Sequence[str]]) -> Side:
    """The join ``node``, its two sides translated by ``table`` (the translator's: a tree and
    its columns, None where it cannot know them), a stored table's keys by ``table_keys``."""
    sides = []
    for side in (node.left, node.right):
        tree, known = table(side)
        if known is None:
            raise QError(f"{node.how} needs to know the columns of its tables: name them in a "
                         "select phrase", side.pos)
        sides.append(Side(tree, known))
    keys = [key_columns(side, lambda t: table(t)[1], table_keys)
            for side in (node.left, node.right)]
    return join(node, sides[0], sides[1], *keys)


def join(node: Join, left: Side, right: Side, left_keys: list[str],
         right_keys: list[str]) -> Side:
    """The join ``node`` of its two translated sides (and their keys)."""
    how = node.how
    if how == ",":  # q's join of tables: the same columns, else 'mismatch; keyed: an upsert
        if set(left.columns) != set(right.columns):
            raise QError("t1, t2 joins tables of the same columns (here " + ", ".join(
                left.columns) + " and " + ", ".join(right.columns) + "): uj joins others",
                node.pos)
        how = "uj"
    if how in ("uj", "ujf"):
        if left_keys != right_keys:
            raise QError(f"{how} joins two unkeyed tables, or two keyed on the same columns "
                         f"(here {left_keys or 'none'} and {right_keys or 'none'})", node.pos)
        return _union(how, left, right, right_keys)
    if how == "ej":  # q: each row of the second table that matches the first, in its order
        _present(node.columns, left, right, node)
        return _keyed(how, right, _unique(left, node.columns), node.columns, inner=True)
    if how.startswith("aj"):
        _present(node.columns, left, right, node)
        return _asof(how, left, right, node.columns)
    if not right_keys:
        raise QError(f"{how} joins on the keys of a keyed table, on its right: a table with a "
                     "PRIMARY KEY, `k xkey t, 1!t, select ... by k from t, or ([k: ...] c: ...)",
                     node.pos)
    _present(right_keys, left, right, node)
    return _keyed(how, left, _unique(right, right_keys), right_keys,
                  inner=how in ("ij", "ijf"))


def _present(keys: Sequence[str], left: Side, right: Side, node: Join) -> None:
    if not keys:
        raise QError(f"{node.how} needs the columns to join on", node.pos)
    for side, name in ((left, "left"), (right, "right")):
        missing = [k for k in keys if k not in side.columns]
        if missing:
            raise QError(f"{node.how}: the {name} table has no column "
                         + ", ".join(missing) + " (it has " + ", ".join(side.columns) + ")",
                         node.pos)


def _col(name: str, table: str | None = None) -> exp.Column:
    return exp.column(name, table=table, quoted=True)


def _numbered(tree: exp.Select, alias: str) -> exp.Subquery:
    """The rows with their position as ``__q_i``."""
    position = exp.Sub(this=exp.Window(this=exp.RowNumber(), over="OVER"),
                       expression=exp.Literal.number(1))
    return exp.select(exp.Star(), exp.alias_(position, ROW, quoted=True)).from_(
        tree.subquery("q")).subquery(alias, copy=False)


def _unique(side: Side, keys: Sequence[str]) -> Side:
    """A key's first row, as q's lookup finds it, marked as matched."""
    first = exp.Window(this=exp.RowNumber(), partition_by=[_col(k) for k in keys],
                       order=exp.Order(expressions=[exp.Ordered(this=_col(ROW))]), over="OVER")
    tree = exp.select(exp.Star(except_=[_col(ROW)]),
                      exp.alias_(exp.true(), MATCHED, quoted=True)).from_(
        _numbered(side.tree, "q")).qualify(exp.EQ(this=first, expression=exp.Literal.number(1)))
    return Side(tree, side.columns)


def _value(takes: str, name: str) -> exp.Expr:
    """A common column's value in a row of the result."""
    left, right = _col(name, "l"), _col(name, "r")
    if takes == "left":
        return left
    if takes == "fill":
        return exp.Coalesce(this=right, expressions=[left])
    if takes == "plus":
        return exp.Add(this=left, expression=exp.Coalesce(this=right,
                                                          expressions=[exp.Literal.number(0)]))
    return exp.Case(ifs=[exp.If(this=_col(MATCHED, "r"), true=right)], default=left)


def _projection(how: str, left: Side, right: Side, joined: Sequence[str]) -> tuple[
        list[exp.Expr], list[str]]:
    """The result's columns: the left's (a common one's value as ``how`` takes it), then the
    right's new ones."""
    values: list[exp.Expr] = []
    for name in left.columns:
        common = name in right.columns and name not in joined
        value = _value(TAKES[how], name) if common else _col(name, "l")
        values.append(exp.alias_(value, name, quoted=True))
    new = [c for c in right.columns if c not in left.columns]
    for name in new:
        value = _col(name, "r")
        if how == "pj":  # q's plus join fills the new columns' unmatched rows with 0
            value = exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
        values.append(exp.alias_(value, name, quoted=True))
    return values, left.columns + new


def _on(keys: Sequence[str]) -> exp.Expr:
    """Keys equal, a null matching a null as in q."""
    return exp.and_(*[exp.NullSafeEQ(this=_col(k, "l"), expression=_col(k, "r")) for k in keys])


def _keyed(how: str, left: Side, right: Side, keys: Sequence[str], inner: bool) -> Side:
    values, columns = _projection(how, left, right, keys)
    tree = exp.select(*values).from_(_numbered(left.tree, "l")).join(
        right.tree.subquery("r"), on=_on(keys), join_type="inner" if inner else "left",
        copy=False).order_by(_col(ROW, "l"), copy=False)
    return Side(tree, columns)


def _union(how: str, left: Side, right: Side, keys: Sequence[str]) -> Side:
    """``uj``: the left's rows (updated by the right's where keyed), then the right's (where
    keyed, those whose keys the left lacks)."""
    columns = left.columns + [c for c in right.columns if c not in left.columns]
    first = exp.select(exp.Star()).from_(_numbered(left.tree, "l"))
    second = exp.select(exp.Star()).from_(_numbered(right.tree, "r"))
    if keys:
        unique = _unique(right, keys)
        values, _ = _projection(how, left, unique, keys)
        first = exp.select(*values, _col(ROW, "l")).from_(_numbered(left.tree, "l")).join(
            unique.tree.subquery("r"), on=_on(keys), join_type="left")
        second = second.join(left.tree.subquery("l"), on=_on(keys), join_type="anti")
    both = exp.Union(
        this=first.select(exp.alias_(exp.Literal.number(0), SIDE, quoted=True)),
        expression=second.select(exp.alias_(exp.Literal.number(1), SIDE, quoted=True)),
        distinct=False, by_name=True)
    tree = exp.select(*[_col(c) for c in columns]).from_(both.subquery("q")).order_by(
        _col(SIDE), _col(ROW))
    return Side(tree, columns)


def _asof(how: str, left: Side, right: Side, keys: Sequence[str]) -> Side:
    """``aj``: each left row joined to the last right row with equal ``keys[:-1]`` and
    ``keys[-1]`` at or before the left's; ``aj0``/``ajf0`` take that row's time. The time is
    compared with the row's position beside it, ``{t: time, i: position}``, so that of rows with
    the same time the last is taken (q's binary search), by DuckDB's ASOF JOIN alone."""
    *equal, time = keys
    values, columns = _projection(how, left, right, keys)
    if how in ("aj0", "ajf0"):
        values[left.columns.index(time)] = exp.alias_(exp.Case(
            ifs=[exp.If(this=_col(MATCHED, "r"), true=_col(time, "r"))],
            default=_col(time, "l")), time, quoted=True)
    last = exp.Literal.number(2 ** 63 - 1)  # after every row at the left row's time
    position = exp.Window(this=exp.RowNumber(), over="OVER")
    stamped = exp.select(exp.Star(), exp.alias_(exp.true(), MATCHED, quoted=True),
                         exp.alias_(_stamp(_col(time), position), STAMP, quoted=True)).from_(
        right.tree.subquery("q"))
    on = exp.and_(*[exp.EQ(this=_col(k, "l"), expression=_col(k, "r")) for k in equal],
                  exp.GTE(this=_stamp(_col(time, "l"), last), expression=_col(STAMP, "r")))
    tree = exp.select(*values).from_(_numbered(left.tree, "l")).join(
        stamped.subquery("r"), on=on, join_type="asof left", copy=False).order_by(
        _col(ROW, "l"), copy=False)
    return Side(tree, columns)


def _stamp(time: exp.Expr, position: exp.Expr) -> exp.Expr:
    """``{t: time, i: position}``, null where the time is (a null time matches nothing)."""
    struct = exp.Struct(expressions=[
        exp.PropertyEQ(this=exp.to_identifier("t"), expression=time),
        exp.PropertyEQ(this=exp.to_identifier("i"), expression=position)])
    return exp.Case(ifs=[exp.If(this=exp.Is(this=time.copy(), expression=exp.null()),
                                true=exp.null())], default=struct)
