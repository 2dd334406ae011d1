"""DuckDB's relational API on indb's Python connections: a query's result that more queries are
built on, a step at a time (``conn.sql("FROM trades").filter("px > 10").aggregate("sym,
avg(px)", "sym").order("sym").df()``), and relations of files and Python data
(``conn.read_csv``, ``conn.from_df``).

A ``Relation`` is a ``Result`` (its rows, read as they are fetched) that also knows the query it
came from. Each step parses its piece of SQL into a tree (``parser.fragment``), puts the query
before it in the FROM clause of a new one, and runs that as any statement of the connection:
checked, planned, privileges and all. Unlike DuckDB's lazy relations, each step runs when it is
called (its errors are raised there), and reading a relation's rows twice reads them once, as
for any result; ``execute()`` runs it again.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from sqlglot import exp

from indb.errors import OptionError, SqlError
from indb.parser import fragment, parse, render
from indb.parser.fragments import Expressions, Orderings
from indb.result import Result

# how a relation's join is written (DuckDB's names), as sqlglot's join sides and kinds
JOINS: dict[str, dict[str, str]] = {
    "inner": {}, "left": {"side": "LEFT"}, "right": {"side": "RIGHT"},
    "outer": {"side": "FULL"}, "full": {"side": "FULL"}, "semi": {"kind": "SEMI"},
    "anti": {"kind": "ANTI"}, "cross": {"kind": "CROSS"},
}


@dataclass(frozen=True)
class Source:
    """What a relation runs: its SQL (``text`` as the user wrote it, or ``tree``), the
    parameters of its text, the Python data its names read (``frames``, by name), and the
    variables of the code that made it (``variables``: DuckDB's replacement scans)."""

    run: Callable[[Source], Result]
    text: str | None = None
    tree: exp.Query | None = None
    params: Any = None
    frames: Mapping[str, object] = field(default_factory=dict)
    variables: Callable[[str], object] = lambda name: None
    alias: str = field(default_factory=lambda: unnamed())

    def query(self) -> exp.Query:
        """The relation's query as a tree (its text parsed the first time it is needed)."""
        if self.tree is not None:
            return self.tree
        assert self.text is not None
        statements = parse(self.text)
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise SqlError("a relation is built on one query (SELECT, FROM, VALUES...); this "
                           "statement's result is not one")
        return statements[0]

    def lookup(self, name: str) -> object:
        """The Python data a name of the relation reads: its own, else its maker's variable."""
        return self.frames[name] if name in self.frames else self.variables(name)

    def sql(self) -> str:
        return self.text if self.tree is None and self.text is not None else render(self.query())


def unnamed() -> str:
    """A relation's name when it is given none (DuckDB's kind)."""
    return f"unnamed_relation_{uuid.uuid4().hex[:16]}"


class Relation(Result):
    """A query's rows, and the query: DuckDB's relational API's steps build on it."""

    source: Source

    @classmethod
    def of(cls, result: Result, source: Source) -> Relation:
        relation = result.moved(cls)
        relation.source = source
        return relation

    # -- steps: each a new relation over this one ------------------------------------------

    def filter(self, condition: str) -> Relation:
        """The rows for which ``condition`` (SQL) holds."""
        return self._step(self._base().where(fragment(condition, exp.Condition)))

    def project(self, *expressions: str) -> Relation:
        """The columns ``expressions`` (SQL, commas allowed: ``"a, b * 2 AS c"``) compute."""
        return self._step(self._base().select(*_listed(expressions), append=False))

    select = project

    def aggregate(self, aggregates: str, groups: str = "") -> Relation:
        """``aggregates`` (SQL) over the groups ``groups`` (SQL; none: all rows, one group)."""
        query = self._base().select(*_listed([aggregates]), append=False)
        return self._step(query.group_by(*_listed([groups])) if groups.strip() else query)

    def order(self, ordering: str) -> Relation:
        """The rows in ``ordering``'s order (an ORDER BY's list: ``"a DESC, b"``)."""
        return self._step(self._base().order_by(*fragment(ordering, Orderings).expressions))

    sort = order

    def limit(self, n: int, offset: int = 0) -> Relation:
        """At most ``n`` rows, after the first ``offset``."""
        if not isinstance(n, int) or not isinstance(offset, int) or n < 0 or offset < 0:
            raise OptionError("limit takes whole numbers: limit(n, offset=0)")
        query = self._base("order").limit(n)  # (the relation's ORDER BY, then the LIMIT)
        return self._step(query.offset(offset) if offset else query)

    def distinct(self) -> Relation:
        return self._step(self._base().distinct())

    def count(self, expression: str = "*") -> Relation:
        """One row: the count of ``expression``'s values (``"*"``: of the rows)."""
        counted = exp.Star() if expression.strip() == "*" else fragment(expression, exp.Condition)
        return self._step(self._base().select(exp.Count(this=counted), append=False))

    def join(self, other: Relation, condition: str | list[str] | None = None,
             how: str = "inner") -> Relation:
        """The rows of both that ``condition`` pairs: SQL (ON), or a column name or list of
        them (USING); ``how`` is inner, left, right, outer (full), semi, anti or cross."""
        side = JOINS.get(how.lower())
        if side is None:
            raise OptionError(f"join's how is one of {', '.join(JOINS)}, not {how!r}")
        if (condition is None) != (how.lower() == "cross"):
            raise OptionError("a join takes a condition, but for how='cross'")
        join: dict[str, Any] = {}
        names = [condition] if isinstance(condition, str) else condition or []
        if isinstance(condition, str):
            parsed = fragment(condition, Expressions).expressions
            if not all(isinstance(e, exp.Column) and not e.table for e in parsed):
                join["on"] = fragment(condition, exp.Condition)
            names = [e.name for e in parsed] if "on" not in join else []
        if names:
            join["using"] = [exp.to_identifier(n) for n in names]
        query = self._all().join(other._from(), join_type=None, **join)
        query.args["joins"][-1].set("side", side.get("side"))
        query.args["joins"][-1].set("kind", side.get("kind"))
        return self._step(query, other)

    def union(self, other: Relation) -> Relation:
        """This relation's rows then ``other``'s (UNION ALL, as DuckDB's)."""
        return self._step(exp.union(self._all(), other._all(), distinct=False), other)

    def except_(self, other: Relation) -> Relation:
        return self._step(exp.except_(self._all(), other._all(), distinct=False), other)

    def intersect(self, other: Relation) -> Relation:
        return self._step(exp.intersect(self._all(), other._all(), distinct=False), other)

    def set_alias(self, alias: str) -> Relation:
        """The relation named ``alias`` in the steps after (``alias.column`` in a join)."""
        return self._step(self.source.query(), alias=alias)

    @property
    def alias(self) -> str:
        return self.source.alias

    def query(self, name: str, sql: str) -> Result:
        """``sql`` run with this relation named ``name`` (a CTE of its statement)."""
        statements = parse(sql)
        if len(statements) != 1 or not isinstance(statements[0], exp.Query):
            raise SqlError("query() runs one query over the relation")
        tree = statements[0].with_(name, as_=self.source.query())
        return self.source.run(replace(self.source, text=None, tree=tree))

    def execute(self) -> Relation:
        """The relation run again: its rows as they are now."""
        return self._step(self.source.query(), alias=self.alias)

    # -- outputs ---------------------------------------------------------------------------

    def create(self, table_name: str) -> None:
        """A new table of the relation's rows (CREATE TABLE ... AS)."""
        self._write(exp.Create(this=exp.to_table(table_name), kind="TABLE",
                               expression=self.source.query()))

    to_table = create

    def insert_into(self, table_name: str) -> None:
        """The relation's rows added to an existing table (INSERT INTO ... SELECT)."""
        self._write(exp.insert(self.source.query(), table_name))

    def create_view(self, view_name: str, replace: bool = True) -> None:
        self._write(exp.Create(this=exp.to_table(view_name), kind="VIEW", replace=replace,
                               expression=self.source.query()))

    to_view = create_view

    def write_csv(self, file_name: str, *, sep: str | None = None, header: bool = True,
                  **options: Any) -> None:
        """The rows to a CSV file (COPY ... TO; more of COPY's options by keyword)."""
        given = {"header": header, **({"delimiter": sep} if sep is not None else {}), **options}
        self._copy(file_name, "csv", given)

    to_csv = write_csv

    def write_parquet(self, file_name: str, *, compression: str | None = None,
                      **options: Any) -> None:
        self._copy(file_name, "parquet",
                   {**({"compression": compression} if compression else {}), **options})

    to_parquet = write_parquet

    def sql_query(self) -> str:
        """The SQL that gives the relation's rows."""
        return self.source.sql()

    @property
    def dtypes(self) -> list[Any]:
        return list(self.types or [])

    @property
    def shape(self) -> tuple[int, int]:
        """(rows, columns), the rows counted by a query of their own."""
        rows = self.count().fetchone()
        return (rows[0] if rows else 0, len(self.columns))

    # -- helpers ---------------------------------------------------------------------------

    def _from(self) -> exp.Subquery:
        return self.source.query().subquery(exp.to_identifier(self.source.alias, quoted=True))

    def _all(self) -> exp.Select:
        return exp.select(exp.Star()).from_(self._from())

    def _base(self, *kept: str) -> exp.Select:
        """What a step builds on: the relation's own query where it is a plain ``SELECT *``
        (of a table, of a join: its tables' names stay visible, as in DuckDB's steps; with a
        clause of ``kept``: LIMIT takes an ORDER BY's query), else ``SELECT * FROM (query) AS
        alias``."""
        query = self.source.query()
        if not isinstance(query, exp.Select) or [type(e) for e in query.expressions] != [exp.Star] \
                or any(query.expressions[0].args.values()) or any(  # (* EXCLUDE, REPLACE...)
                    query.args.get(k) for k in ("group", "having", "order", "limit", "offset",
                                                "distinct", "qualify", "windows", "with_")
                    if k not in kept):
            return self._all()
        return query.copy()

    def _step(self, tree: exp.Query, other: Relation | None = None,
              alias: str | None = None) -> Relation:
        source = self.source
        if other is not None and source.params and other.source.params:
            raise SqlError("two relations of queries with parameters cannot be combined: give the "
                           "values in the SQL, or run the queries into tables first")
        made = Source(source.run, tree=tree, params=source.params or (
            other.source.params if other is not None else None),
            frames={**source.frames, **(other.source.frames if other is not None else {})},
            variables=source.variables, **({"alias": alias} if alias else {}))
        result = source.run(made)
        return result if isinstance(result, Relation) else Relation.of(result, made)

    def _write(self, statement: exp.Expr) -> None:
        self.source.run(replace(self.source, text=render(statement), tree=None))

    def _copy(self, file_name: str, kind: str, options: Mapping[str, Any]) -> None:
        unknown = next((key for key in options if not key.isidentifier()), None)
        if unknown is not None:
            raise OptionError(f"{unknown!r} is not an option of COPY: options are names "
                              "(header=True, delimiter=';', compression='zstd')")
        given = [exp.CopyParameter(this=exp.var("FORMAT"), expression=exp.var(kind))]
        given += [exp.CopyParameter(this=exp.var(key.upper()), expression=exp.convert(value))
                  for key, value in options.items()]
        self._write(exp.Copy(this=self.source.query().subquery(), kind=False,
                             files=[exp.Literal.string(str(file_name))], params=given))


def _listed(pieces: list[str] | tuple[str, ...]) -> list[exp.Expr]:
    """The expressions of pieces of SQL, each a comma-separated list."""
    return [e for piece in pieces for e in fragment(piece, Expressions).expressions]


def reading(function: str, paths: str | list[str], options: Mapping[str, Any]) -> exp.Select:
    """``SELECT * FROM read_csv('path', option := value, ...)`` (or read_parquet, read_json)."""
    files = exp.Literal.string(paths) if isinstance(paths, str) else exp.Array(
        expressions=[exp.Literal.string(p) for p in paths])
    arguments = [files, *(exp.PropertyEQ(this=exp.to_identifier(k), expression=exp.convert(v))
                          for k, v in options.items())]
    return exp.select(exp.Star()).from_(exp.Table(this=exp.Anonymous(this=function,
                                                                     expressions=arguments)))
