"""The types of a prepared statement's parameters, for clients that ask the server for them.

A client that prepares ``SELECT * FROM t WHERE id = $1`` without saying what ``$1`` is (asyncpg,
libpq's ``PQdescribePrepared``) learns its type from the server's ParameterDescription, and then
encodes its values by it. PostgreSQL infers the type from where the parameter stands; so does
this module, by asking DuckDB for the type of what the parameter is compared with or stored in:

- ``expr op $1`` (=, <>, <, >, LIKE, arithmetic), ``expr IN ($1, $2)``, ``expr BETWEEN $1 AND $2``:
  the type of ``expr``, read from a probe ``SELECT expr FROM <the statement's FROM> LIMIT 0``;
- ``expr = ANY($1)`` (or SOME, ALL): an array of ``expr``'s type (``bigint[]``...); a list
  column's parameter: its array type;
- ``$1::type``: that type; ``LIMIT $1`` / ``OFFSET $1``: bigint;
- ``INSERT INTO t (a, b) VALUES ($1, $2)``: the target columns' types; ``UPDATE t SET a = $1``: a's;
- anything else (``SELECT $1``, a probe that fails): text, as PostgreSQL resolves an unknown.

The probes run as the client's user (``type_of``), so they see only what the user may read.
Structs, maps and JSON are given as text: pass them as their text form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.dialects.postgres import Postgres
from sqlglot.parsers.postgres import PostgresParser
from sqlglot.tokens import TokenType

from indb.planner.tables import write_target

TEXT, BIGINT, OID_ARRAY, JSON, VARBIT, TIMESTAMPTZ = 25, 20, 1028, 114, 1562, 1184
INT2VECTOR, OIDVECTOR = 22, 30  # the catalog's vectors: text "1 2", binary as int2[] / oid[]
VECTOR_ARRAYS = {INT2VECTOR: 1005, OIDVECTOR: OID_ARRAY}
# pg_index's columns that are vectors (SQLAlchemy's reflection splits indoption's text), whose
# subscripts start at 0 in PostgreSQL (psqlODBC's primary keys read ``i.indkey[ia.attnum-1]``)
VECTOR_COLUMNS = {"indkey": INT2VECTOR, "indoption": INT2VECTOR, "indclass": OIDVECTOR,
                  "indcollation": OIDVECTOR}
# the comparisons and arithmetic whose other side gives a parameter its type
_BESIDE = (exp.EQ, exp.NEQ, exp.GT, exp.GTE, exp.LT, exp.LTE, exp.Like, exp.ILike, exp.Add,
           exp.Sub, exp.Mul, exp.Div, exp.Mod, exp.NullSafeEQ, exp.NullSafeNEQ)
_BIGINT_PLACES = (exp.Limit, exp.Offset, exp.Fetch)

TypeOf = Callable[[exp.Select], "list[pa.DataType] | None"]


class PgSql(Postgres):
    """PostgreSQL's SQL, arrays of oids included (``$1::oid[]``, as asyncpg's type lookup casts:
    sqlglot reads no array of an object identifier type): a BIGINT[] marked ``oids``, since
    oids are BIGINT here, and a parameter cast so is described as ``oid[]``."""

    class Parser(PostgresParser):
        def _parse_types(self, check_func: bool = False, schema: bool = False,
                         allow_identifiers: bool = True, with_collation: bool = False
                         ) -> exp.Expr | None:
            kind = super()._parse_types(check_func, schema, allow_identifiers, with_collation)
            if isinstance(kind, exp.ObjectIdentifier) and \
                    self._match_pair(TokenType.L_BRACKET, TokenType.R_BRACKET):
                oids = exp.DataType.build("BIGINT[]")
                oids.meta["oids"] = True
                return oids
            return kind


def oid_of(kind: pa.DataType) -> int:
    """The PostgreSQL type OID a parameter of this Arrow type is described with (pg_type.h);
    a list's is the array type of its items' (text if there is none)."""
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        if pa.types.is_struct(kind.value_type) or pa.types.is_map(kind.value_type):
            return TEXT  # (no array of texts: a result column of them is JSON, buenavista's)
        return ARRAYS.get(oid_of(kind.value_type), TEXT)
    return next((oid for test, oid in _OIDS if test(kind)), TEXT)


# the array types of PostgreSQL's types, by their items' type OID (pg_type.h)
ARRAYS = {16: 1000, 17: 1001, 20: 1016, 21: 1005, 23: 1007, 25: 1009, 700: 1021, 701: 1022,
          1082: 1182, 1083: 1183, 1114: 1115, 1184: 1185, 1186: 1187, 1700: 1231}


_OIDS: tuple[tuple[Callable[[pa.DataType], bool], int], ...] = (
    (pa.types.is_boolean, 16), (lambda t: t in (pa.int8(), pa.int16(), pa.uint8()), 21),
    (lambda t: t in (pa.int32(), pa.uint16()), 23), (lambda t: t in (pa.int64(), pa.uint32()), 20),
    (lambda t: t in (pa.float16(), pa.float32()), 700), (pa.types.is_float64, 701),
    (lambda t: pa.types.is_string(t) or pa.types.is_large_string(t), TEXT),
    (lambda t: pa.types.is_binary(t) or pa.types.is_large_binary(t), 17),
    (pa.types.is_date, 1082), (pa.types.is_time, 1083),
    (lambda t: pa.types.is_timestamp(t) and t.tz is not None, 1184), (pa.types.is_timestamp, 1114),
    (pa.types.is_decimal, 1700), (lambda t: t == pa.month_day_nano_interval(), 1186),
)


def parameter_types(sql: str, declared: Sequence[int], type_of: TypeOf) -> list[int]:
    """The OID of each parameter ``$1``..``$n`` of ``sql``: the client's where it declared one
    (not 0), else inferred; as many as the statement has (or the client declared)."""
    trees: list[exp.Expr] = []
    for dialect in ("duckdb", PgSql):  # indb's SQL, or PostgreSQL's (a catalog query's)
        try:
            trees = [t for t in sqlglot.parse(sql, read=dialect) if t is not None]
            break
        except sqlglot.errors.SqlglotError:
            continue
    for parameter in [p for tree in trees for p in tree.find_all(exp.Parameter)]:
        if isinstance(parameter.this, exp.Literal) and parameter.this.name.isdigit():
            parameter.replace(exp.Placeholder(this=parameter.this.name))  # PostgreSQL's $1
    places = {int(p.name): p for tree in trees for p in tree.find_all(exp.Placeholder)
              if p.name.isdigit()}
    count = max([len(declared), *places])
    inferred = _inferred({n: p for n, p in places.items()
                          if n > len(declared) or not declared[n - 1]}, type_of)
    return [declared[n - 1] if n <= len(declared) and declared[n - 1] else inferred.get(n, TEXT)
            for n in range(1, count + 1)]


def _inferred(places: dict[int, exp.Placeholder], type_of: TypeOf) -> dict[int, int]:
    """What the undeclared parameters are, one probe a context (a FROM clause, a target)."""
    oids: dict[int, int] = {}
    probed: dict[int, exp.Expr] = {}
    for n, place in sorted(places.items()):
        if isinstance(place.parent, _BIGINT_PLACES):
            oids[n] = BIGINT
        elif isinstance(place.parent, exp.Cast) and _oids(place.parent.to):
            oids[n] = OID_ARRAY
        else:
            probed[n] = place
    oids.update((n, oid_of(kind)) for n, kind in types_where(probed, type_of).items())
    return oids


def array_strings(tree: exp.Expr, type_of: TypeOf) -> list[tuple[exp.Literal, pa.DataType]]:
    """The strings in PostgreSQL's array form (``'{1,2}'``) that stand where a list column's
    value goes (``INSERT ... VALUES``, ``SET c = ``, ``c = ``), with the column's type: PostgreSQL
    reads them as arrays, DuckDB's cast of such a string fails. A cast one (``'{1,2}'::int[]``)
    is not one of them: ``pgvalues.array_literal`` reads it by the cast's type."""
    strings = [node for node in tree.find_all(exp.Literal)
               if node.is_string and node.name.lstrip().startswith("{")
               and not isinstance(node.parent, exp.Cast)]
    kinds = types_where(dict(enumerate(strings)), type_of)
    return [(strings[i], kind) for i, kind in kinds.items()
            if pa.types.is_list(kind) or pa.types.is_large_list(kind)]


def types_where(places: dict[int, exp.Expr], type_of: TypeOf) -> dict[int, pa.DataType]:
    """The type each expression (a parameter, a literal) takes from where it stands: the column
    it is compared with or written to, learnt by one probe a context (a FROM clause, a target)."""
    kinds: dict[int, pa.DataType] = {}
    # by the id of their context: the probe, and each parameter's column in its answer
    probes: dict[int, tuple[exp.Select, dict[int, int]]] = {}
    for n, place in sorted(places.items()):
        typed = _typed_by(place)
        context = _context(place)
        if typed is None or context is None:
            continue
        probe, columns = probes.setdefault(id(context[0]), (context[1], {}))
        if isinstance(typed, int):  # a position among all of the table's columns
            if not probe.expressions:
                probe.select(exp.Star(), copy=False)
            columns[n] = typed
        else:
            columns[n] = len(probe.expressions)
            probe.select(typed.copy(), copy=False)
    for probe, columns in probes.values():
        answer = type_of(probe.limit(0, copy=False))
        if answer is not None:
            kinds.update((n, answer[i]) for n, i in columns.items() if i < len(answer))
    return kinds


def _oids(kind: exp.DataType) -> bool:
    """Whether a cast is to an array of oids: ``PgSql``'s, or DuckDB's reading (``oid`` a type
    of the user's)."""
    items = kind.expressions[0] if kind.this == exp.DataType.Type.ARRAY and kind.expressions \
        else None
    return bool(kind.meta.get("oids")) or (
        isinstance(items, exp.DataType) and items.this == exp.DataType.Type.USERDEFINED
        and str(items.args.get("kind")).lower() in ("oid", "regtype", "regclass"))


def _typed_by(place: exp.Expr) -> exp.Expr | int | None:
    """The expression whose type the parameter takes (or its position among the columns of the
    table an INSERT without a column list fills), or None where nothing says."""
    parent = place.parent
    if isinstance(parent, exp.Cast):
        return exp.cast(exp.null(), parent.to.copy())
    if isinstance(parent, _BESIDE):
        other = parent.expression if place is parent.this else parent.this
        return None if other.find(exp.Placeholder) else other
    if isinstance(parent, (exp.In, exp.Between)) and place is not parent.this:
        return None if parent.this.find(exp.Placeholder) else parent.this
    quantified = parent.parent if isinstance(parent, exp.Paren) else parent
    if isinstance(quantified, exp.Any) or (isinstance(quantified, exp.Anonymous)
                                           and quantified.name.upper() in ("ALL", "SOME")):
        compared = quantified.parent  # expr = ANY($1): an array of expr's type
        if isinstance(compared, _BESIDE) and quantified is compared.expression \
                and not compared.this.find(exp.Placeholder):
            return exp.Array(expressions=[compared.this.copy()])
    if isinstance(parent, exp.Tuple) and isinstance(parent.parent, exp.Values) and \
            isinstance(parent.parent.parent, exp.Insert):
        target, position = parent.parent.parent.this, parent.expressions.index(place)
        if not isinstance(target, exp.Schema):
            return position
        columns = target.expressions
        return exp.column(columns[position].name) if position < len(columns) else None
    return None


def _context(place: exp.Expr) -> tuple[exp.Expr, exp.Select] | None:
    """The node a parameter's probe is made for, and the probe (SELECT ... FROM its tables): the
    SELECT it stands in (its FROM, joins and the statement's WITH), or the table an INSERT,
    UPDATE or DELETE writes."""
    select = place.find_ancestor(exp.Select)
    if select is not None and not isinstance(place.parent, exp.Tuple):
        probe = exp.Select()
        for part in ("from_", "joins", "with_"):
            value = select.args.get(part)
            if value:
                probe.set(part, value.copy() if isinstance(value, exp.Expr) else
                          [v.copy() for v in value])
        return select, probe
    writing = place.find_ancestor(exp.Insert, exp.Update, exp.Delete)
    if writing is None:
        return None
    table = write_target(writing)
    if not isinstance(table, exp.Table):
        return None
    return writing, exp.Select().from_(table.copy())
