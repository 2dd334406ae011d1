"""q-sql, kdb+'s query templates, translated into sqlglot trees that DuckDB runs.

``translate("select vwap: size wavg price by sym from trade where size > 100")`` gives the tree of
``SELECT sym, SUM(size * price) / SUM(size of non-null prices) AS vwap FROM trade WHERE size > 100
GROUP BY sym ORDER BY 1 NULLS FIRST``. The forms are ``select``/``exec``/``update``/``delete``
with ``by`` and ``where``, and q's joins (``indb.parser.qjoins``; docs/qsql.md lists them);
what the translation does not know is refused with a SqlError at its line and column in the q
text. q's semantics are kept where SQL's differ:

- an expression is evaluated right to left without precedence: ``a*b+c`` is ``a*(b+c)``;
- the subphrases of ``where`` filter one after another: an aggregate or ``fby`` in a later one
  sees only the rows the earlier ones kept (a level of ``QUALIFY`` each);
- rows are ordered: ``i`` is the row's position, ``first``/``last`` are by position, and a
  result keeps the rows' order (a ``by`` result is sorted by its keys, as kdb+'s is);
- an unnamed column is named after the leftmost name in its expression (``avg price`` is
  ``price``; ``2*c2`` is ``x``), a duplicate name gets ``1``, ``2``... appended.

``update`` and ``delete`` are queries returning the changed table; nothing stored changes.
``update`` needs the source's columns (to keep a changed column in its place, or add a new one
at the end): ``columns(name)`` gives a table's, the engine's from DuckDB.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace

from sqlglot import exp

from indb.errors import SqlError
from indb.parser import qfunctions as qf
from indb.parser import qjoins
from indb.parser.qsyntax import (AGGREGATES, DYADIC_AGGREGATES, DYADS, MOVING, RUNNING, WORDS,
                                 Call, Dyad, GList, Join, Keyed, Lit, Name, Node, Parser, QError,
                                 Query, Sorted, TableCols, Vec, WindowJoin, bare_column, boolish,
                                 column_names, has_aggregate, line_col, start)

ROW = "__q_i"  # q's virtual column i: the row's position in the source, from 0
HOISTED = "__q_w"  # a window computed a level below the expression that takes it
FIRST_ROW = "__q_first"  # a distinct row's first position, to keep the order of first occurrence
Columns = Callable[[str], Sequence[str] | Mapping[str, str] | None]  # names, or names: types

def _double(value: exp.Expr) -> exp.Expr:
    return exp.cast(value, exp.DataType.build("DOUBLE"))


# q's aggregates of an atom x: sum x is x, count x is 1, var x is 0f, svar x is 0%0 (0n)
ATOM_AGGREGATES: dict[str, Callable[[exp.Expr], exp.Expr]] = {
    **{fn: lambda value: value for fn in ("sum", "prd", "min", "max", "first", "last", "all", "any")},
    "avg": _double, "med": _double,
    "count": lambda value: exp.Literal.number(1),
    "var": lambda value: _double(exp.Literal.number(0)),
    "dev": lambda value: _double(exp.Literal.number(0)),
    "svar": lambda value: _double(exp.Null()), "sdev": lambda value: _double(exp.Null()),
}
LITERAL_TYPES = {"time": "TIME", "timestamp": "TIMESTAMP_NS", "date": "DATE"}  # ([] t: 10:00)


# -- translation -------------------------------------------------------------------------------

@dataclass(frozen=True)
class Scope:
    """Where an expression is evaluated: per row (``row``; aggregates become windows over
    ``partition``, seeing only rows where ``only`` holds), or once a group (``group``)."""

    mode: str
    partition: tuple[exp.Expr, ...] = ()
    only: exp.Expr | None = None


PER_ROW = Scope("row")
PER_GROUP = Scope("group")


def _col(name: str) -> exp.Column:
    return exp.column(name, quoted=True)


def _row() -> exp.Column:
    return _col(ROW)


def _by_row() -> exp.Order:
    return exp.Order(expressions=[exp.Ordered(this=_row(), nulls_first=False)])


class Translator:
    def __init__(self, columns: Columns | None) -> None:
        self.columns = columns
        self.filtered = False  # whether the query being translated has a where phrase
        self.listed: list[str] = []  # the last table's columns of lists (for ungroup)
        self.groups: tuple[exp.Expr, ...] = ()  # the by phrase's keys, while a select's values
        self.types: dict[str, str] = {}  # columns' types, where columns() gives them
        self.read: dict[str, Sequence[str] | Mapping[str, str] | None] = {}  # columns() said
        self.source_columns: list[str] | None = None  # the last query's source's, if known

    # expressions

    def expr(self, node: Node, scope: Scope) -> exp.Expr:
        if isinstance(node, Lit):
            return qf.literal(node)
        if isinstance(node, Name):
            if node.name in WORDS:
                raise QError(f"{node.name} needs an argument here", node.pos)
            if node.name in qf.SYSTEM:
                return qf.system(node.name)
            column, _, part = node.name.partition(".")
            if part in qf.PARTS:
                return qf.part(part, _col(column))
            if part:
                raise QError(f"{node.name}: foreign keys and namespaces are not translated; "
                             "join in SQL, or name a column (a time's parts are "
                             + ", ".join(sorted(qf.PARTS)) + ")", node.pos)
            return _row() if node.name == "i" else _col(node.name)
        if isinstance(node, Call):
            return self.call(node, scope)
        if isinstance(node, Dyad):
            return self.dyad(node, scope)
        if isinstance(node, Vec) and scope.mode == "row" and not scope.partition \
                and not self.filtered:  # a column given as a list: the row's item
            items = exp.Array(expressions=[qf.literal(item) for item in node.items])
            return exp.func("list_extract", items, exp.Add(this=_row(),
                                                           expression=exp.Literal.number(1)))
        if isinstance(node, Vec):
            raise QError("a list of values goes with in, within or xbar, or as a column of "
                         "select or update without where and by", node.pos)
        raise QError("a general list (a;b) goes with fby and within only", node.pos)

    def call(self, node: Call, scope: Scope) -> exp.Expr:
        fn, args = node.fn, node.args
        if fn.endswith(" each"):
            return qf.each(fn.removesuffix(" each"), self.expr(args[0], scope), node.pos)
        if fn == "?":  # a null condition is false, as q's 0b
            condition, yes, no = (_wrapped(self.expr(a, scope)) for a in args)
            return exp.Case(ifs=[exp.If(this=condition, true=yes)], default=no)
        if fn in DYADS:
            if len(args) != 2:
                raise QError(f"{fn}[x;y] takes two arguments", node.pos)
            return self.dyad(Dyad(node.pos, fn, args[0], args[1]), scope)
        if len(args) != 1:
            raise QError(f"{fn} takes one argument", node.pos)
        arg = args[0]
        if fn in AGGREGATES:
            return self.aggregate(fn, arg, scope, node.pos)
        if fn == "rank":
            partition = self.along(scope, fn, node.pos)
            return qf.rank(self.expr(arg, scope), partition, _row())
        if fn in RUNNING:
            return qf.running(fn, self.expr(arg, scope), self.over(scope, fn, node.pos))
        if fn == "distinct":
            raise QError("distinct goes in count distinct x, select distinct or exec distinct",
                         node.pos)
        return qf.scalar(fn, self.expr(arg, scope))

    def aggregate(self, fn: str, arg: Node, scope: Scope, pos: int,
                  second: Node | None = None) -> exp.Expr:
        # the argument along the group's rows (sums inside last runs per group)
        inner = Scope("row", self.groups) if scope.mode == "group" else PER_ROW
        if scope.mode != "group" and (has_aggregate(arg) or (
                second is not None and has_aggregate(second))):
            raise QError(f"{fn} of an aggregate is translated once a group (select ... by), "
                         "not as a window (update, fby)", pos)
        if second is None and has_aggregate(arg) and bare_column(arg) is None:
            return self.of_atom(fn, self.expr(arg, scope), pos)
        if fn == "count":
            if isinstance(arg, Call) and arg.fn == "distinct":
                value: exp.Expr = exp.Count(this=exp.Distinct(
                    expressions=[self.expr(arg.args[0], inner)]))
            else:  # q counts the items, nulls included
                value = exp.Count(this=exp.Star())
        else:
            y = self.expr(second, inner) if second is not None else None
            value = qf.aggregate(fn, self.expr(arg, inner), y, _by_row())
        placed = self.placed(value, scope)  # q's sum counts nulls as 0: all nulls sum to 0
        return exp.Coalesce(this=placed, expressions=[exp.Literal.number(0)]) if fn == "sum" \
            else placed

    def of_atom(self, fn: str, value: exp.Expr, pos: int) -> exp.Expr:
        """An aggregate of a group's atom (``sum avg price``, ``count sum size``): q applies it
        to the one value (a window of it over the rows would be summed once a row)."""
        if fn in ATOM_AGGREGATES:
            return ATOM_AGGREGATES[fn](value)
        raise QError(f"{fn} of an aggregate's value (one atom a group) is not translated", pos)

    def placed(self, value: exp.Expr, scope: Scope) -> exp.Expr:
        """An aggregate as the scope evaluates it: as it is once a group, else a window."""
        if scope.mode == "group":
            return value
        return exp.Window(this=value, partition_by=_partition(scope), over="OVER")

    def along(self, scope: Scope, fn: str, pos: int) -> list[exp.Expr] | None:
        """The groups a function that builds its own windows along the rows (``rank``,
        ``xrank``, ``ema``) runs in; refused where it cannot run along rows, as ``over``."""
        self.over(scope, fn, pos)
        return _partition(scope)

    def over(self, scope: Scope, fn: str, pos: int) -> qf.Over:
        """Windows along the rows in order (within the scope's groups)."""
        if scope.mode == "group":
            raise QError(f"{fn} runs along rows: use it in update ... by, or in select "
                         "without an aggregate beside it", pos)
        partition = _partition(scope)

        def window(value: exp.Expr, rows: int | None) -> exp.Expr:
            spec = None
            if rows is not None:
                begin = "UNBOUNDED" if rows == 0 else exp.Literal.number(rows - 1)
                spec = exp.WindowSpec(kind="ROWS", start=begin, start_side="PRECEDING",
                                      end="CURRENT ROW")
            return exp.Window(this=value, partition_by=partition, order=_by_row(), spec=spec,
                              over="OVER")
        return window

    def dyad(self, node: Dyad, scope: Scope) -> exp.Expr:
        op = node.op
        if op == "fby":
            return self.fby(node, scope)
        if op in DYADIC_AGGREGATES - {"wavg", "wsum"}:
            return self.aggregate(op, node.left, scope, node.pos, node.right)
        if op in MOVING:
            if not (isinstance(node.left, Lit) and node.left.text.isdigit()):
                raise QError(f"{op} takes a count of rows first: 3 {op} price", node.pos)
            return qf.moving(op, int(node.left.text), self.expr(node.right, scope),
                             self.over(scope, op, node.pos))
        if op == "ema":
            partition = self.along(scope, op, node.pos)
            return qf.ema(qf.smoothing(node.left), self.expr(node.right, scope), partition, _row())
        if op in ("wavg", "wsum"):
            weight, value = self.expr(node.left, PER_ROW), self.expr(node.right, PER_ROW)
            if has_aggregate(node.left) or has_aggregate(node.right):
                raise QError(f"{op} of an aggregate: q-sql aggregates once a group", node.pos)
            product = self.placed(exp.Sum(this=exp.Mul(this=_wrapped(weight),
                                                        expression=_wrapped(value))), scope)
            if op == "wsum":
                return product
            counted = exp.Case(ifs=[exp.If(this=exp.Not(this=exp.Is(  # q weighs non-nulls
                this=_wrapped(value), expression=exp.Null())), true=weight)])
            return exp.Div(this=product, expression=self.placed(exp.Sum(this=counted), scope))
        if op == "within":
            low, high = self.pair(node.right, scope, "within takes (low;high) or low high")
            return exp.Between(this=_wrapped(self.compared(node.left, scope, node.right)),
                               low=low, high=high)
        if op == "in":
            values = node.right.items if isinstance(node.right, Vec | GList) else [node.right]
            if not all(isinstance(v, Lit) for v in values):
                raise QError("in takes a list of values: x in `a`b, x in 1 2 3", node.right.pos)
            return exp.In(this=_wrapped(self.expr(node.left, scope)),
                          expressions=[self.expr(v, scope) for v in values])
        if op == "like":
            if not isinstance(node.right, Lit):
                raise QError('like takes a pattern in quotes: sym like "AA*"', node.right.pos)
            return exp.Glob(this=_wrapped(self.expr(node.left, scope)),
                            expression=exp.Literal.string(qf.glob(node.right)))
        if op == "xbar":
            return self.xbar(node, scope)
        if op == "$":
            cast = qf.cast(node.left, self.expr(node.right, scope))
            if cast is None:
                raise QError("casts are `type$x with type one of " + ", ".join(qf.CASTS)
                             + ', `$x (to a symbol) or "F"$x with a type\'s letter', node.pos)
            return cast
        comparison = op in ("=", "<>", "<", ">", "<=", ">=", "~")
        left = _wrapped(self.compared(node.left, scope, node.right) if comparison
                        else self.expr(node.left, scope))
        right = _wrapped(self.compared(node.right, scope, node.left) if comparison
                         else self.expr(node.right, scope))
        if op in ("&", "|", "and", "or"):
            if boolish(node.left) or boolish(node.right):
                return (exp.And if op in ("&", "and") else exp.Or)(this=left, expression=right)
            return exp.func("least" if op in ("&", "and") else "greatest", left, right)
        if op == "^":  # fill: right's nulls become left
            return exp.Coalesce(this=right, expressions=[left])
        if op == "%":
            return exp.Div(this=exp.cast(left, exp.DataType.build("DOUBLE")), expression=right)
        if op == "mod":
            return qf.mod(left, right)
        if op in ("xexp", "xlog", "xrank"):
            partition = self.along(scope, op, node.pos) if op == "xrank" else None
            return qf.powers(op, left, right, partition, _row())
        if op == "div":  # q's div floors (DuckDB's // truncates)
            return exp.cast(exp.func("floor", exp.Div(this=left, expression=right)),
                            exp.DataType.build("BIGINT"))
        if op in ("=", "<>") and any(isinstance(n, Lit) and n.kind == "null"
                                     for n in (node.left, node.right)):  # q: 0N=0N is 1b
            return (exp.NullSafeEQ if op == "=" else exp.NullSafeNEQ)(this=left, expression=right)
        binary = {"+": exp.Add, "-": exp.Sub, "*": exp.Mul, "=": exp.EQ, "<>": exp.NEQ,
                  "<": exp.LT, ">": exp.GT, "<=": exp.LTE, ">=": exp.GTE,
                  "~": exp.NullSafeEQ}.get(op)
        if binary is None:
            raise QError(f"the operator {op} is not translated", node.pos)
        return binary(this=left, expression=right)

    def pair(self, node: Node, scope: Scope, message: str) -> tuple[exp.Expr, exp.Expr]:
        if isinstance(node, Vec | GList) and len(node.items) == 2:
            return self.compared(node.items[0], scope, node), \
                self.compared(node.items[1], scope, node)
        raise QError(message, node.pos)

    def compared(self, node: Node, scope: Scope, other: Node) -> exp.Expr:
        """An operand of a comparison with ``other``: a timespan literal as a time of day, and
        a timestamp column compared with a time as q compares them, converted to the time's
        type (09:29 a minute, 09:29:15 a second, else a time)."""
        if isinstance(node, Lit):
            return qf.literal(node, of_day=True)
        others = other.items if isinstance(other, Vec | GList) else [other]
        times = [o.text for o in others if isinstance(o, Lit) and o.kind == "time"]
        if isinstance(node, Name) and times and \
                self.types.get(node.name, "").upper().startswith("TIMESTAMP"):
            part = {5: "minute", 8: "second"}.get(len(times[0]), "time")
            return qf.part(part, _col(node.name))
        return self.expr(node, scope)

    def xbar(self, node: Dyad, scope: Scope) -> exp.Expr:
        if not isinstance(node.left, Lit):
            raise QError("xbar takes a bucket size first: 5 xbar price, 0D00:05 xbar time",
                         node.pos)
        size = qf.literal(node.left)
        right = node.right
        column, _, part = right.name.partition(".") if isinstance(right, Name) else ("", "", "")
        known = self.types.get(column, "").upper() if column and not part else ""
        if node.left.kind == "num":  # minutes, seconds, milliseconds, days
            part = "date" if known == "DATE" else part
            if part in ("minute", "second", "time", "date"):
                return qf.bucket(part, size, _col(column))
            if known == "TIME" or known.startswith("TIMESTAMP"):
                # q counts a bare number in the column's q unit: indb's TIMEs hold q's times,
                # seconds, minutes and timespans alike, and a timestamp's nanoseconds are finer
                # than DuckDB's intervals
                n = node.left.text
                raise QError(f"{n} xbar {column}: a {known} column is bucketed by a timespan "
                             f"(0D00:05 xbar {column}) or a named unit ({n} xbar {column}.minute, "
                             f"{column}.second, {column}.time in milliseconds), not by a bare "
                             f"number (q counts it in the column's own unit: a time's "
                             f"milliseconds, a timestamp's nanoseconds)", node.pos)
        value = self.expr(right, scope)
        if node.left.kind == "timespan":
            of_day = part in ("time", "minute", "second") or known == "TIME"
            return qf.span_bucket(size, value, "TIME" if of_day else
                                  "TIMESTAMP" if re.fullmatch(r"TIMESTAMP(_NS|_MS|_S)?", known)
                                  else "")
        return qf.floor_to(value, size)

    def fby(self, node: Dyad, scope: Scope) -> exp.Expr:
        if scope.mode == "group":
            raise QError("fby gives a value a row: use it in where, or in select/update "
                         "without by", node.pos)
        left = node.left
        if not (isinstance(left, GList) and len(left.items) == 2 and isinstance(left.items[0], Name)
                and left.items[0].name in AGGREGATES - DYADIC_AGGREGATES):
            raise QError("fby takes (aggregate;column) on its left: (avg;qty) fby p", left.pos)
        assert isinstance(left, GList)
        fn = left.items[0]
        assert isinstance(fn, Name)
        groups = node.right.items if isinstance(node.right, TableCols) else [node.right]
        partition = tuple(self.expr(g, PER_ROW) for g in groups)
        return self.aggregate(fn.name, left.items[1], Scope("row", partition, scope.only),
                              node.pos)

    # queries

    def table(self, node: Node) -> tuple[exp.Select, list[str] | None]:
        """A table expression's tree and its result's columns (None where the translation
        cannot know them without the source's)."""
        self.listed = []
        if isinstance(node, Query) and isinstance(node.source, Name):
            self.source(node.source)  # its columns' types, before the phrases that use them
        if isinstance(node, Query) and isinstance(node.source, TableCols):
            self.literal_types(node.source)
        if isinstance(node, Query):
            self.filtered = bool(node.where)
            if node.kind == "delete":
                return self.delete(node)
            if node.kind == "update":
                return self.update(node)
            return self.select(node)
        if isinstance(node, Sorted):
            return self.sorted(node)
        if isinstance(node, TableCols):
            return self.literal_table(node)
        if isinstance(node, Keyed):  # the same rows: keys are read by the joins
            return self.table(node.table)
        if isinstance(node, WindowJoin):  # its windows over the left table's columns
            left, right = qjoins.sides(node, self.table)
            begin, end = (self.expr(w, PER_ROW) for w in node.window)
            joined = qjoins.window_join(node, left, right, begin, end)
            return joined.tree, joined.columns
        if isinstance(node, Join):  # a stored table's keys: its primary key, where columns() says
            joined = qjoins.translated(node, self.table, lambda name: getattr(
                self.read.get(name), "primary_key", ()))
            return joined.tree, joined.columns
        source, known = self.source(node)
        return exp.select(exp.Star()).from_(source), known

    def source(self, node: Node) -> tuple[exp.Expr, list[str] | None]:
        if not isinstance(node, Name):
            inner, columns = self.table(node)
            return exp.Subquery(this=inner, alias=exp.TableAlias(
                this=exp.to_identifier("q", quoted=True))), columns
        parts = node.name.split(".")
        if len(parts) > 2:
            raise QError(f"{node.name}: a table is t or schema.t", node.pos)
        table = exp.Table(this=exp.to_identifier(parts[-1], quoted=True),
                          db=exp.to_identifier(parts[0], quoted=True) if len(parts) == 2 else None)
        if node.name not in self.read:  # once a table: the engine's look-up is a query
            self.read[node.name] = self.columns(node.name) if self.columns else None
        known = self.read[node.name]
        if isinstance(known, Mapping):  # names and DuckDB's types
            self.types.update(known)
        return table, list(known) if known is not None else None

    def sorted(self, node: Sorted) -> tuple[exp.Select, list[str] | None]:
        """```c xasc t`` (q's sorts are stable, nulls first), ```c xdesc t``, ``reverse t``,
        ```c xgroup t`` (the other columns as lists, groups in order of first occurrence),
        ```c xcols t`` (those columns first), ```a`b xcol t`` (the first columns renamed),
        ``ungroup t`` (a row an item of its lists) and
        ``first t``, ``last t`` (a row: q's dictionary, as a table of one row)."""
        source, known = self.source(node.table)
        keys = [_col(c) for c in node.columns]
        if node.how == "xcol":  # the first columns renamed, in their places
            if known is None or len(node.columns) > len(known):
                raise QError(f"xcol renames the first {len(node.columns)} columns of a table "
                             "whose columns are known (a stored table or a query's), and "
                             "it has " + ("fewer" if known else "none known"), node.pos)
            renamed = [exp.alias_(_col(old), new, quoted=True)
                       for old, new in zip(known, node.columns)]
            unchanged = known[len(node.columns):]
            return exp.select(*renamed, *map(_col, unchanged)).from_(source), \
                node.columns + unchanged
        if node.how == "xcols":
            others = [c for c in known if c not in node.columns] if known is not None else None
            return exp.select(*keys, exp.Star(except_=keys)).from_(source), \
                node.columns + others if others is not None else None
        if node.how == "ungroup":
            if not self.listed:
                raise QError("ungroup flattens the lists of a select ... by (or xgroup) "
                             "written here: ungroup select p, qty by s from sp", node.pos)
            flat = [exp.alias_(exp.Unnest(expressions=[_col(c)]), c, quoted=True)
                    for c in self.listed]
            return exp.select(exp.Star(replace=flat)).from_(source), known
        numbered = exp.Sub(this=exp.Window(this=exp.RowNumber(), over="OVER"),
                           expression=exp.Literal.number(1))
        rows = exp.select(exp.Star(), exp.alias_(numbered, ROW, quoted=True)).from_(
            source).subquery("q", copy=False)
        if node.how == "xgroup":
            if known is not None:
                self.listed = [c for c in known if c not in node.columns]
            rest = exp.Columns(this=exp.Star(except_=[*keys, _row()]))
            lists = exp.ArrayAgg(this=exp.Order(this=rest, expressions=_by_row().expressions))
            return exp.select(*keys, lists).from_(rows).group_by(*keys).order_by(
                exp.Min(this=_row())), known
        order = [exp.Ordered(this=k, desc=node.how == "xdesc", nulls_first=node.how == "xasc")
                 for k in keys]
        last = exp.Ordered(this=_row(), desc=node.how in ("reverse", "last"))
        if node.how in ("first", "last"):  # q's first row of a keyed table: its values
            keyed = len(node.table.by) if isinstance(node.table, Query) else 0
            dropped = known[:keyed] if known is not None else []
            return exp.select(exp.Star(except_=[_row(), *map(_col, dropped)])).from_(
                rows).order_by(last).limit(1), known[keyed:] if known is not None else None
        return exp.select(exp.Star(except_=[_row()])).from_(rows).order_by(*order, last), known

    def literal_table(self, node: TableCols) -> tuple[exp.Select, list[str] | None]:
        """``([] a: 1 2; b: `x`y)``: each column a list of values (an atom repeated)."""
        names = column_names(list(zip(node.names, node.items)))
        lengths = {len(n.items) for n in node.items if isinstance(n, Vec)}
        if len(lengths) > 1 or not all(isinstance(n, Vec | Lit) for n in node.items):
            raise QError("a table's columns are lists of values of one length: "
                         "([] a: 1 2; b: `x`y)", node.pos)
        count = lengths.pop() if lengths else 1
        columns = [exp.Unnest(expressions=[exp.Array(expressions=[
            qf.literal(i) for i in (n.items if isinstance(n, Vec) else [n] * count)])])
            for n in node.items if isinstance(n, Vec | Lit)]
        return exp.select(*[exp.alias_(c, n, quoted=True) for c, n in zip(columns, names)]), \
            names

    def literal_types(self, node: TableCols) -> None:
        """A table literal's temporal columns' types, as a stored table's (xbar and comparisons
        with times read them)."""
        for name, column in zip(column_names(list(zip(node.names, node.items))), node.items):
            kinds = {i.kind for i in (column.items if isinstance(column, Vec) else [column])
                     if isinstance(i, Lit)}
            if len(kinds) == 1 and (kind := LITERAL_TYPES.get(kinds.pop(), "")):
                self.types[name] = kind

    def rows(self, query: Query, needs_row: bool) -> tuple[exp.Select, bool]:
        """``SELECT * FROM source`` filtered by the where phrase, subphrase after subphrase,
        and whether its rows carry their position ``__q_i`` (when anything uses it)."""
        source, self.source_columns = self.source(query.source)
        conditions = [self.where(w) for w in query.where]
        needs_row = needs_row or any(_uses_row(c) or c.find(exp.Window) for c in conditions)
        level = exp.select(exp.Star()).from_(source)
        if needs_row:
            numbered = exp.Sub(this=exp.Window(this=exp.RowNumber(), over="OVER"),
                               expression=exp.Literal.number(1))
            level = exp.select(exp.Star(), exp.alias_(numbered, ROW, quoted=True)).from_(source)
        for condition in conditions:
            # a window sees the rows the subphrases before kept: a SELECT of its own; and the
            # position is an alias, which WHERE may not read in the SELECT that makes it
            if level.args.get("qualify") is not None or len(level.expressions) > 1:
                level = exp.select(exp.Star()).from_(level.subquery("q", copy=False))
            if condition.find(exp.Window):
                level = level.qualify(condition, copy=False)
            else:
                level = level.where(condition, copy=False)
        return level, needs_row

    def where(self, node: Node) -> exp.Expr:
        """A filter; a list of booleans (``where 101b``) keeps the rows where it has 1."""
        bits = node.items if isinstance(node, Vec) else []
        if bits and all(b.kind == "bool" for b in bits):
            kept = [exp.Literal.number(k) for k, b in enumerate(bits) if b.text == "1"]
            return exp.In(this=_row(), expressions=kept) if kept else exp.false()
        condition = self.expr(node, PER_ROW)
        if any(w.find_ancestor(exp.Window) for w in condition.find_all(exp.Window)):
            raise QError("ema in a where phrase is not translated: update the table with it "
                         "first, then select from that where ...", start(node))
        return condition

    def select(self, query: Query) -> tuple[exp.Select, list[str] | None]:
        if query.kind == "exec" and len(query.by) == 1 and isinstance(query.by[0][1], Lit) \
                and query.by[0][1].text == "0" and query.by[0][1].kind == "bool":
            query = replace(query, kind="select", by=[])  # exec ... by 0b: a table
        if query.kind == "exec" and not query.by and len(query.phrase) == 1 \
                and isinstance(query.phrase[0][1], Dyad) and query.phrase[0][1].op == "!":
            pair = query.phrase[0][1]  # exec k!v: a dictionary, a row a key (k and v's rows)
            query = replace(query, kind="select", phrase=[(None, pair.left), (None, pair.right)])
        names = column_names(query.by + query.phrase)
        keys = [(names[k], self.expr(node, PER_ROW)) for k, (_, node) in enumerate(query.by)]
        phrase_names = names[len(keys):]
        plain_keys = [n for (n, _), (_, node) in zip(keys, query.by)  # by k: the column k
                      if isinstance(node, Name) and node.name == n]
        if query.kind == "exec" and not query.by and not query.distinct and (
                len(query.phrase) != 1 or query.phrase[0][0] is not None):
            grouped = True  # a dictionary: one row, a list (or an aggregate) a column
        else:
            grouped = bool(keys)
        self.groups = tuple(k for _, k in keys)
        aggregated = not grouped and bool(query.phrase) and all(
            has_aggregate(n) and not bare_column(n) for _, n in query.phrase)  # one row
        if grouped:
            values = [self.grouped(node, self.groups) for _, node in query.phrase]
        else:
            values = [self.expr(node, PER_GROUP if aggregated else PER_ROW)
                      for _, node in query.phrase]
        self.groups = ()
        keyed = [_named(k, n) for n, k in keys]
        windows = any(v.find(exp.Window) for v in values + [k for _, k in keys])
        uses_row = any(_uses_row(v) for v in values + [k for _, k in keys])
        last_rows = grouped and not query.phrase  # select by k, exec from t: the last rows
        ordered = any(isinstance(item, Call) for item in query.limit)
        rows, numbered = self.rows(query, uses_row or windows or query.distinct or ordered
                                   or bool(last_rows))
        rows, _ = _hoisted(rows, values)
        projection = [_named(v, n) for v, n in zip(values, phrase_names)]
        if last_rows:
            rest = exp.Columns(this=exp.Star(except_=[_col(n) for n in plain_keys] + [_row()]))
            projection = [exp.Last(this=exp.Order(this=rest, expressions=_by_row().expressions))]
        if not projection and not keyed:
            projection = [exp.Star(except_=[_row()]) if numbered else exp.Star()]
        select = _outer(rows, keyed + projection)
        if keys:
            select = select.group_by(*[k for _, k in keys], copy=False).order_by(
                *[exp.Ordered(this=exp.Literal.number(n + 1), nulls_first=True)
                  for n in range(len(keys))], copy=False)  # q's nulls are the smallest
        elif aggregated and not any(v.find(exp.AggFunc) for v in values):
            # aggregates of atoms only (count sum x is 1): still one row, from no rows too
            select = select.group_by(exp.Tuple(expressions=[]), copy=False)
        elif query.distinct and not grouped:
            select = _first_occurrences(select)
        elif numbered and not grouped and not aggregated and (
                windows or any(rows.find_all(exp.Qualify))):
            select = select.order_by(_row(), copy=False)  # windows reorder rows: back in order
        if query.limit:
            select = self.limited(select, query)
        source = self.source_columns  # select from t, select by k from t: t's columns
        columns = [n for n, _ in keys] + phrase_names if query.phrase else None if source is None \
            else [n for n, _ in keys] + [c for c in source if c not in plain_keys]
        self.listed = [n for n, v in zip(phrase_names, values) if grouped and keys
                       and isinstance(v, exp.ArrayAgg)]
        return select, columns

    def grouped(self, node: Node, partition: tuple[exp.Expr, ...]) -> exp.Expr:
        """A subphrase evaluated once a group: an aggregate, or the group's list of values
        (running functions along the group's rows; ``distinct x`` in order of first
        occurrence)."""
        if has_aggregate(node):
            bare = bare_column(node)
            if bare is not None:
                raise QError(f"{bare.name} is a column of many values here, beside an "
                             "aggregate: aggregate it too", bare.pos)
            return self.expr(node, PER_GROUP)
        distinct = isinstance(node, Call) and node.fn == "distinct"
        value = self.expr(node.args[0] if isinstance(node, Call) and distinct else node,
                          Scope("row", partition))
        values = exp.ArrayAgg(this=exp.Order(this=value, expressions=_by_row().expressions))
        if not distinct:
            return values
        item, k = exp.to_identifier("x"), exp.to_identifier("k")
        first = exp.EQ(this=exp.func("list_position", values.copy(), item), expression=k)
        return exp.ArrayFilter(this=values, expression=exp.Lambda(this=first,
                                                                  expressions=[item, k]))

    def limited(self, select: exp.Select, query: Query) -> exp.Select:
        """``select[...]``: an order (``>c`` descending, ``<c`` ascending), then a count of
        rows from the first (``n``) or from row ``m`` (``m n``)."""
        counts = [item for item in query.limit if not isinstance(item, Call)]
        orders = [exp.Ordered(this=self.expr(item.args[0], PER_ROW), desc=item.fn == ">",
                              nulls_first=False) for item in query.limit if isinstance(item, Call)]
        if orders:  # q's sorts are stable: ties keep their rows' order
            select = select.order_by(*orders, _row(), copy=False)
        if not counts:
            return select
        count = counts[0]
        if len(counts) == 1 and isinstance(count, Lit) and count.kind == "num" \
                and count.text.isdigit():
            return select.limit(int(count.text), copy=False)
        if len(counts) == 1 and isinstance(count, Lit) and re.fullmatch(r"-\d+", count.text):
            # the last n rows, in their order
            position = exp.alias_(exp.Window(this=exp.RowNumber(), over="OVER"), FIRST_ROW,
                                  quoted=True)
            numbered = exp.select(exp.Star(), position).from_(select.subquery("q", copy=False))
            last = exp.GT(this=_col(FIRST_ROW), expression=exp.Add(
                this=exp.Window(this=exp.Count(this=exp.Star()), over="OVER"),
                expression=exp.Literal.number(int(count.text))))
            return exp.select(exp.Star(except_=[_col(FIRST_ROW)])).from_(
                numbered.qualify(last).subquery("q", copy=False)).order_by(_col(FIRST_ROW))
        if len(counts) == 1 and isinstance(count, Vec) and len(count.items) == 2 \
                and all(i.text.isdigit() for i in count.items):
            return select.offset(int(count.items[0].text), copy=False).limit(
                int(count.items[1].text), copy=False)
        raise QError("select[n], select[-n], select[m n], select[>c] or select[n;>c], with "
                     "n and m numbers", count.pos)

    def update(self, query: Query) -> tuple[exp.Select, list[str] | None]:
        if not query.phrase:
            raise QError("update needs a phrase: update c: expr from t", query.pos)
        _, known = self.source(query.source)
        self.filtered = bool(query.where)  # the source's translation set it for its own
        if known is None:
            raise QError("update needs to know the columns of its source, to keep a changed "
                         "column in its place", query.source_pos)
        where = [self.expr(w, PER_ROW) for w in query.where]
        if any(c.find(exp.Window) for c in where):
            raise QError("fby and aggregates in an update's where phrase are not translated",
                         start(query.where[0]))
        only = exp.and_(*where) if where else None
        partition = tuple(self.expr(node, PER_ROW) for _, node in query.by)
        scope = Scope("row", partition, only)
        names = column_names(query.phrase)
        changed: list[exp.Expr] = []
        added: list[exp.Expr] = []
        for name, (_, node) in zip(names, query.phrase):
            value = self.expr(node, scope)
            existing = name in known
            if only is not None:  # rows outside the where phrase keep their value (or null)
                value = exp.Case(ifs=[exp.If(this=only, true=value)],
                                 default=_col(name) if existing else None)
            (changed if existing else added).append(exp.alias_(value, name, quoted=True))
        values = changed + added
        uses_row = any(_uses_row(v) or v.find(exp.Window) for v in values)
        rows, numbered = self.rows(Query(query.pos, "select", source=query.source,
                                         source_pos=query.source_pos), uses_row)
        rows, hoisted = _hoisted(rows, values)
        hidden = [_row()] * numbered + [_col(n) for n in hoisted]
        star = exp.Star(except_=hidden or None, replace=changed or None)
        select = _outer(rows, [star, *added])
        if numbered:
            select = select.order_by(_row(), copy=False)
        return select, list(known) + [n for n in names if n not in known]

    def delete(self, query: Query) -> tuple[exp.Select, list[str] | None]:
        _, known = self.source(query.source)
        if query.phrase:
            if query.where:
                raise QError("delete removes columns or rows, not both: delete c from t, or "
                             "delete from t where ...", start(query.where[0]))
            if not all(isinstance(n, Name) and name is None for name, n in query.phrase):
                raise QError("delete names columns: delete c1, c2 from t", query.phrase[0][1].pos)
            gone = [n.name for _, n in query.phrase if isinstance(n, Name)]
            rows, _ = self.rows(Query(query.pos, "select", source=query.source,
                                      source_pos=query.source_pos), False)
            kept = [c for c in known if c not in gone] if known is not None else None
            return _outer(rows, [exp.Star(except_=[_col(n) for n in gone])]), kept
        conditions = [self.where(w) for w in query.where]
        windowed = [c for c in conditions if c.find(exp.Window)]
        if windowed and len(conditions) > 1:
            raise QError("fby or an aggregate in a delete's where phrase goes alone",
                         start(query.where[0]))
        doomed = exp.and_(*conditions) if conditions else exp.true()
        keep = exp.Is(this=exp.Paren(this=doomed), expression=exp.Not(this=exp.true()))
        rows, numbered = self.rows(Query(query.pos, "select", source=query.source,
                                         source_pos=query.source_pos),
                                   any(_uses_row(c) for c in conditions) or bool(windowed))
        select = _outer(rows, [exp.Star(except_=[_row()]) if numbered else exp.Star()])
        select = select.qualify(keep, copy=False) if windowed else select.where(keep, copy=False)
        if numbered:
            select = select.order_by(_row(), copy=False)
        return select, known


def _uses_row(tree: exp.Expr) -> bool:
    return any(c.name == ROW for c in tree.find_all(exp.Column))


def _named(tree: exp.Expr, name: str) -> exp.Expr:
    """``tree AS name``, or the column itself where it has that name already."""
    if isinstance(tree, exp.Column) and tree.name == name:
        return tree
    return exp.alias_(tree, name, quoted=True)


def _wrapped(tree: exp.Expr) -> exp.Expr:
    """An operand in parentheses where SQL's precedence could regroup it (q has none)."""
    if isinstance(tree, exp.Binary | exp.Between | exp.In | exp.Not | exp.Is | exp.Neg):
        return exp.Paren(this=tree)
    return tree


def _partition(scope: Scope) -> list[exp.Expr] | None:
    """A window's groups: the by phrase's, and apart the rows an update's where phrase
    takes (the others keep their values, so what their windows see does not matter)."""
    only = [exp.Paren(this=scope.only)] if scope.only is not None else []
    groups = list(scope.partition) + only
    return groups or None


def _hoisted(rows: exp.Select, values: list[exp.Expr]) -> tuple[exp.Select, list[str]]:
    """The rows with each window that an aggregate or another window takes (a group's list
    of running sums, ``last sums x``; an ema's place of a row) computed beside them, a level
    of SELECT for each depth, since a window cannot stand inside either; the outer one then
    takes that column; and the names of those columns (``__q_w0``...)."""
    names: dict[str, str] = {}
    while True:
        inner = [w for v in values for w in v.find_all(exp.Window)  # the innermost first
                 if w.find_ancestor(exp.AggFunc, exp.Window)
                 and sum(1 for _ in w.find_all(exp.Window)) == 1]
        if not inner:
            return rows, list(names.values())
        computed = []
        for window in inner:
            text = window.sql(dialect="duckdb")
            if text not in names:
                names[text] = f"{HOISTED}{len(names)}"
                computed.append(exp.alias_(window.copy(), names[text], quoted=True))
            window.replace(_col(names[text]))
        rows = exp.select(exp.Star(), *computed).from_(rows.subquery("q", copy=False))


def _outer(rows: exp.Select, projection: list[exp.Expr]) -> exp.Select:
    """The projection over the filtered rows: in the same SELECT when that is a plain
    ``SELECT *``, else over it as a subquery."""
    plain = rows.expressions == [exp.Star()] and rows.args.get("qualify") is None
    if plain:
        return rows.select(*projection, append=False, copy=False)
    return exp.select(*projection).from_(rows.subquery("q", copy=False))


def _first_occurrences(select: exp.Select) -> exp.Select:
    """Distinct rows in the order of their first occurrence (SQL's DISTINCT keeps no order)."""
    first = exp.alias_(exp.Min(this=_row()), FIRST_ROW, quoted=True)
    select = select.select(first, copy=False).group_by(exp.var("ALL"), copy=False)
    return exp.select(exp.Star(except_=[_col(FIRST_ROW)])).from_(
        select.subquery("q", copy=False)).order_by(_col(FIRST_ROW))


def translate(text: str, columns: Columns | None = None) -> exp.Select:
    """The sqlglot tree (DuckDB's dialect) of a q-sql query; SqlError with the line and
    column in ``text`` for anything malformed or not translated. ``columns(table)`` gives a
    table's columns (or None), which ``update`` needs, or a mapping of them to their DuckDB
    types (a timestamp compared with a time is converted as q converts it), or a
    ``qjoins.TableColumns`` with its primary key too (its keys in q's joins)."""
    try:
        parser = Parser(text)
        query = parser.table()
        if isinstance(query, Name | TableCols):
            raise QError("q-sql starts with select, exec, update or delete (or sorts one: "
                         "`c xasc, `c xdesc, `c xgroup, reverse)", query.pos)
        if parser.peek.kind != "end":
            raise QError(f"unexpected {parser.peek.text} after the query", parser.peek.pos)
        return Translator(columns).table(query)[0]
    except QError as error:
        line, col = line_col(text, error.pos)
        raise SqlError(f"q-sql: {error.message}", line, col) from None
    except RecursionError:
        raise SqlError("q-sql: the query nests too deeply", None, None) from None
