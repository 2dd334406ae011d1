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

from indb.parser import qfunctions as qf
from indb.parser.qsyntax import (AGGREGATES, Join, Keyed, Name, Node, QError, Query, TableCols,
                                 WindowJoin, column_names)

ROW = "__q_i"  # a side's row position, for the result's order and a key's first row
RANK = "__q_k"  # wj: a right row's place in the order of its columns, time and position
BEGIN, END = "__q_b0", "__q_b1"  # wj: a left row's window
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


Translate = Callable[[Node], tuple[exp.Select, list[str] | None]]  # the translator's table()


def sides(node: Join | WindowJoin, table: Translate) -> list[Side]:
    """The two sides of ``node`` translated by ``table`` (a tree and its columns, None where
    the translation cannot know them, which a join refuses)."""
    translated = []
    for side in (node.left, node.right):
        tree, known = table(side)
        if known is None:
            raise QError(f"{node.how} needs to know the columns of its tables: name them in a "
                         "select phrase", side.pos)
        translated.append(Side(tree, known))
    return translated


def translated(node: Join, table: Translate, table_keys: Callable[[str], Sequence[str]]) -> Side:
    """The join ``node``, its two sides translated by ``table`` (the translator's), a stored
    table's keys by ``table_keys``."""
    left, right = sides(node, table)
    keys = [key_columns(side, lambda t: table(t)[1], table_keys)
            for side in (node.left, node.right)]
    return join(node, left, right, *keys)


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
    if how == "asof":  # t asof d: aj[d's columns; d; t], t's other columns alone
        missing = [c for c in right.columns if c not in left.columns]
        if missing:
            raise QError("t asof d: d's keys are columns of t, the last one its time; t has no "
                         "column " + ", ".join(missing) + " (it has " + ", ".join(left.columns)
                         + ")", node.pos)
        joined = _asof("aj", right, left, right.columns)
        kept = [c for c in left.columns if c not in right.columns]
        joined.tree.set("expressions", [v for v in joined.tree.expressions if v.alias in kept])
        return Side(joined.tree, kept)
    if not right_keys:
        raise QError(f"{how} joins on the keys of a keyed table, on its right: a table with a "
                     "PRIMARY KEY, `k xkey t, 1!t, select ... by k from t, or ([k: ...] c: ...)",
                     node.pos)
    _present(right_keys, left, right, node)
    return _keyed(how, left, _unique(right, right_keys), right_keys,
                  inner=how in ("ij", "ijf"))


def _present(keys: Sequence[str], left: Side, right: Side, node: Join | WindowJoin) -> None:
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


def _stamp(time: exp.Expr, position: exp.Expr, keys: Sequence[exp.Expr] = ()) -> exp.Expr:
    """``{k0: key, ..., t: time, i: position}``, null where a key or the time is (it matches
    nothing): rows compared by their keys, then time, then position."""
    fields = [(f"k{n}", key) for n, key in enumerate(keys)] + [("t", time), ("i", position)]
    struct = exp.Struct(expressions=[
        exp.PropertyEQ(this=exp.to_identifier(name), expression=value) for name, value in fields])
    nulls = [exp.Is(this=value.copy(), expression=exp.null()) for _, value in fields[:-1]]
    return exp.Case(ifs=[exp.If(this=exp.or_(*nulls), true=exp.null())], default=struct)


def window_join(node: WindowJoin, left: Side, right: Side, begin: exp.Expr, end: exp.Expr) -> Side:
    """``wj``/``wj1``: each left row, with aggregates of the right rows of equal
    ``columns[:-1]`` whose time is in [begin, end] (``begin``, ``end``: over the left's
    columns), taken in the right's order; ``wj`` starts at the row prevailing at ``begin`` (the
    last at or before it, as kdb+'s binary search finds it: quotes are a step function). A
    window without rows gives nulls (a count and a sum 0).

    The right rows are ranked by their columns, time and position (kdb+ wants them sorted so);
    a window is then a range of ranks, whose ends two ASOF joins find on a stamp ``{columns,
    time, rank}``, and its rows are joined by rank: work in the size of the windows, not in
    the left rows times the right's."""
    *equal, time = node.columns
    _present(node.columns, left, right, node)
    names = _window_columns(node, right)
    values = [exp.alias_(_aggregate(node, f, columns), columns[-1], quoted=True)
              for f, columns in node.aggregates]
    position = exp.Sub(this=exp.Window(this=exp.RowNumber(), over="OVER"),
                       expression=exp.Literal.number(1))
    lefts = exp.select(exp.Star(), exp.alias_(position, ROW, quoted=True),
                       exp.alias_(begin, BEGIN, quoted=True), exp.alias_(end, END, quoted=True)
                       ).from_(left.tree.subquery("q"))
    ranked = exp.Sub(this=exp.Window(this=exp.RowNumber(), over="OVER", order=exp.Order(
        expressions=[exp.Ordered(this=_col(c)) for c in [*equal, time, ROW]])),
        expression=exp.Literal.number(1))
    rights = exp.select(exp.Star(), exp.alias_(ranked, RANK, quoted=True)).from_(
        _numbered(right.tree, "q")).where(exp.and_(*[
            exp.Not(this=exp.Is(this=_col(c), expression=exp.Null())) for c in node.columns]))
    stamped = exp.select(exp.Star(), exp.alias_(_stamp(
        _col(time), _col(RANK), [_col(c) for c in equal]), STAMP, quoted=True)).from_(
        rights.subquery("q"))
    windows = exp.select(_col(ROW, "q"), *values).from_(
        _window_rows(node.how, equal).subquery("q")).join(
        exp.to_table("__q_wr").as_("r"), on=exp.EQ(this=_col(RANK, "q"),
                                                   expression=_col(RANK, "r"))).group_by(
        _col(ROW, "q"))
    result = [exp.alias_(_filled(node, names.index(c)), c, quoted=True) if c in names
              else _col(c, "l") for c in left.columns]
    result += [exp.alias_(_filled(node, k), c, quoted=True) for k, c in enumerate(names)
               if c not in left.columns]
    tree = exp.select(*result).from_(exp.to_table("__q_wl").as_("l")).join(
        windows.subquery("w"), on=exp.EQ(this=_col(ROW, "l"), expression=_col(ROW, "w")),
        join_type="left").order_by(_col(ROW, "l")).with_("__q_wl", lefts).with_(
        "__q_wr", stamped)
    return Side(tree, left.columns + [c for c in names if c not in left.columns])


def _window_columns(node: WindowJoin, right: Side) -> list[str]:
    """The names of a window join's aggregates (each its last column's), checked: columns of
    the second table, no name twice."""
    taken = list(dict.fromkeys(c for _, columns in node.aggregates for c in columns))
    missing = [c for c in taken if c not in right.columns]
    if missing:
        raise QError(f"{node.how}: the second table has no column " + ", ".join(missing)
                     + " (it has " + ", ".join(right.columns) + ")", node.pos)
    names = [c[-1] for _, c in node.aggregates]
    if len(set(names)) < len(names):
        raise QError(f"{node.how}: two aggregates name the same column (" + ", ".join(names)
                     + "): each takes its name from its last column", node.pos)
    return names


def _window_rows(how: str, equal: Sequence[str]) -> exp.Select:
    """Each left row's window as ranks of right rows (``__q_i``, ``__q_k``): its first and last
    rank found by ASOF joins of ``__q_wl``'s begin and end to ``__q_wr``'s stamps, the range
    between them unnested."""
    first = exp.Literal.number(-1 if how == "wj1" else 2 ** 63 - 1)
    last = exp.Literal.number(2 ** 63 - 1)
    keys = [_col(c, "l") for c in equal]
    bounds = exp.select(_col(ROW, "l"), exp.alias_(_low(how, equal), "lo", quoted=True),
                        exp.alias_(_high(equal), "hi", quoted=True)).from_(
        exp.to_table("__q_wl").as_("l"))
    for alias, at, edge in (("a", BEGIN, first), ("b", END, last)):
        bounds = bounds.join(exp.to_table("__q_wr").as_(alias), join_type="asof left", on=exp.GTE(
            this=_stamp(_col(at, "l"), edge, [k.copy() for k in keys]),
            expression=_col(STAMP, alias)))
    ranks = exp.Unnest(expressions=[exp.func("range", _col("lo"), exp.Add(
        this=_col("hi"), expression=exp.Literal.number(1)))])
    return exp.select(_col(ROW), exp.alias_(ranks, RANK, quoted=True)).from_(
        bounds.subquery("q")).where(exp.LTE(this=_col("lo"), expression=_col("hi")))


def _same_keys(equal: Sequence[str], alias: str) -> exp.Expr:
    """Whether the row an ASOF join found has the left row's keys (not an earlier group's)."""
    found = exp.Not(this=exp.Is(this=_col(RANK, alias), expression=exp.null()))
    return exp.and_(found, *[exp.EQ(this=_col(c, "l"), expression=_col(c, alias)) for c in equal])


def _low(how: str, equal: Sequence[str]) -> exp.Expr:
    """A window's first rank: after the last row before ``begin`` (``wj1``), or the last row
    at or before it where it has the row's keys (``wj``, the prevailing row)."""
    after = exp.Coalesce(this=exp.Add(this=_col(RANK, "a"), expression=exp.Literal.number(1)),
                         expressions=[exp.Literal.number(0)])
    if how == "wj1":
        return after
    return exp.Case(ifs=[exp.If(this=_same_keys(equal, "a"), true=_col(RANK, "a"))],
                    default=after)


def _high(equal: Sequence[str]) -> exp.Expr:
    """A window's last rank: the last row at or before ``end`` with the row's keys."""
    return exp.Case(ifs=[exp.If(this=_same_keys(equal, "b"), true=_col(RANK, "b"))])


def _aggregate(node: WindowJoin, function: str, columns: list[str]) -> exp.Expr:
    """A window's aggregate: a function of q's (``wavg``, ``cov``... of two columns), or ``::``
    (the window's values, as a list)."""
    order = exp.Order(expressions=[exp.Ordered(this=_col(RANK, "r"))])
    pairs = {"wavg", "wsum", "cov", "scov", "cor"}
    if len(columns) != (2 if function in pairs else 1) or not (
            function in AGGREGATES or function == "::"):
        raise QError(f"{node.how} takes (f; `c) with f an aggregate or ::, or (f; `w; `c) with "
                     "f one of " + ", ".join(sorted(pairs)) + f": not ({function}; `"
                     + ";`".join(columns) + ")", node.pos)
    x, y = _col(columns[-1], "r"), _col(columns[0], "r")
    if function == "::":
        return exp.ArrayAgg(this=exp.Order(this=x, expressions=order.expressions))
    if function == "count":
        return exp.Count(this=exp.Star())
    if function in ("wavg", "wsum"):
        product = exp.Sum(this=exp.Mul(this=y, expression=x))
        weights = exp.Sum(this=exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(
            this=x.copy(), expression=exp.Null())), true=y.copy())]))
        return product if function == "wsum" else exp.Div(this=product, expression=weights)
    return qf.aggregate(function, y, x if function in pairs else None, order)


def _filled(node: WindowJoin, k: int) -> exp.Expr:
    """The ``k``-th aggregate of a left row's window; a count or a sum of no rows is 0."""
    value = _col(node.aggregates[k][1][-1], "w")
    if node.aggregates[k][0] in ("count", "sum", "wsum"):
        return exp.Coalesce(this=value, expressions=[exp.Literal.number(0)])
    return value
