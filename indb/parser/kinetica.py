"""Kinetica's table SQL that DuckDB's grammar lacks: ``SELECT TOP n``, ``SHOW SCHEMAS``,
column properties in a VARCHAR's parameters, and Kinetica's column types (``IPV4``, ``WKT``,
``VECTOR(n)``...) as DuckDB's.

``CREATE SCHEMA``, ``DROP SCHEMA [CASCADE]``, ``CREATE OR REPLACE TABLE`` and ``PRIMARY KEY``
are DuckDB's own trees; the dialect (``indb.parser.dialect``) hooks these functions in.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar

from sqlglot import exp
from sqlglot.parsers.duckdb import DuckDBParser
from sqlglot.tokens import TokenType

if TYPE_CHECKING:
    from sqlglot.generators.duckdb import DuckDBGenerator


class ShowSchemas(exp.Expression):
    """``SHOW SCHEMAS``."""

    arg_types: ClassVar[dict[str, bool]] = {}


def parse_top(parser: DuckDBParser, this: exp.Expr | None) -> exp.Expr | None:
    """``TOP n`` or ``TOP (n)`` right after SELECT, as the query's LIMIT (DuckDB renders it so).
    TOP followed by anything else is a column called top, as in ``SELECT top FROM t``."""
    current, following = parser._curr, parser._next
    if not (current and current.token_type == TokenType.VAR and current.text.upper() == "TOP"
            and following and following.token_type in (TokenType.NUMBER, TokenType.L_PAREN)):
        return None
    if following.token_type == TokenType.L_PAREN:  # TOP (n), not a function called top
        after = parser._tokens[parser._index + 2] if parser._index + 2 < len(parser._tokens) else None
        if after is None or after.token_type != TokenType.NUMBER:
            return None
    start = parser._index
    parser._advance()
    limit = DuckDBParser._parse_limit(parser, this, top=True, skip_limit_token=True)
    if not parser._curr or parser._curr.token_type == TokenType.FROM:  # top(3) FROM: a call
        parser._retreat(start)
        return None
    return limit


def text_type(dtype: exp.DataType) -> exp.DataType:
    """VARCHAR's parameters as DuckDB reads them (a length means nothing to it, so it goes),
    except Kinetica's column properties (``VARCHAR(64, DICT, SHARD_KEY)``), which stay for the
    planner to read."""
    properties = [p for p in dtype.expressions or []
                  if isinstance(p, exp.DataTypeParam) and isinstance(p.this, exp.Var)]
    dtype.set("expressions", properties or None)
    return dtype


# Kinetica's column types that DuckDB lacks, as the DuckDB types that hold their values: an IPv4
# address is its dotted text (DuckDB's INET needs an extension it would download), a WKT column
# a geometry (DuckDB's GEOMETRY reads and writes WKT), ULONG an unsigned 64-bit integer (also
# written UNSIGNED BIGINT and UNSIGNED LONG: ``parse_unsigned``)
KINETICA_TYPES = {"IPV4": "VARCHAR", "WKT": "GEOMETRY", "ST_GEOMETRY": "GEOMETRY",
                  "ULONG": "UBIGINT"}


def named_type(dtype: exp.DataType) -> exp.DataType:
    """A type DuckDB does not know by name: Kinetica's (``KINETICA_TYPES``) as DuckDB's; any
    other (one CREATE TYPE named) as it is."""
    kind = dtype.args.get("kind")
    duckdb_type = KINETICA_TYPES.get(kind.upper()) if isinstance(kind, str) else None
    return exp.DataType.build(duckdb_type, dialect="duckdb") if duckdb_type else dtype


def parse_unsigned(parser: DuckDBParser) -> exp.DataType | None:
    """Kinetica's ``UNSIGNED BIGINT`` (``UNSIGNED LONG``) where a type is read: DuckDB's UBIGINT.
    None, nothing consumed, for anything else."""
    current, following = parser._curr, parser._next
    if not (current and following and current.text.upper() == "UNSIGNED"
            and following.text.upper() in ("BIGINT", "LONG")):
        return None
    parser._advance(2)
    return exp.DataType.build("UBIGINT", dialect="duckdb")


def vector_type(dtype: exp.DataType) -> exp.DataType:
    """Kinetica's ``VECTOR(n)``: n FLOATs, DuckDB's ``FLOAT[n]`` (a fixed-size array)."""
    size = dtype.expressions[0].this if len(dtype.expressions or []) == 1 else None
    if not isinstance(size, exp.Literal) or not size.is_int:
        return dtype  # DuckDB says what is wrong with it
    return exp.DataType.build(f"FLOAT[{size.name}]", dialect="duckdb")


def blob_type(dtype: exp.DataType) -> exp.DataType:
    """Kinetica's ``BLOB(WKT)``, a geometry in its binary form, as DuckDB's GEOMETRY; a plain
    BLOB as it is."""
    parameters = [p.this for p in dtype.expressions or [] if isinstance(p, exp.DataTypeParam)]
    if len(parameters) == 1 and isinstance(parameters[0], exp.Var) \
            and parameters[0].name.upper() == "WKT":
        return exp.DataType.build("GEOMETRY", dialect="duckdb")
    return dtype


def parse_show(parser: DuckDBParser) -> ShowSchemas | None:
    """``SHOW SCHEMAS`` after SHOW; None (nothing consumed) for any other SHOW."""
    if not parser._match_text_seq("SCHEMAS"):
        return None
    return parser.expression(ShowSchemas())


def show_schemas_sql(generator: DuckDBGenerator, tree: ShowSchemas) -> str:
    return "SHOW SCHEMAS"


class StorageClause(exp.Property):
    """One of Kinetica's clauses of CREATE TABLE after its columns that say how its rows are
    kept (``PARTITION BY RANGE (...) PARTITIONS (...)``, ``TIER STRATEGY (...)``, ``ATTRIBUTE
    INDEX (a)``, ``USING TABLE PROPERTIES (...)``...): read, kept as its text, and without
    effect, as the column properties DICT and STORE_ONLY are (Iceberg's files have neither
    Kinetica's partitions nor its memory tiers; DuckDB keeps no index of them)."""

    arg_types: ClassVar[dict[str, bool]] = {"this": True}


# each clause's first word (a token: PARTITION BY is one) and the words that may follow it
_CLAUSES = {"PARTITION BY": ("RANGE", "INTERVAL", "LIST", "HASH", "SERIES"),
            "TIER": ("STRATEGY",), "INDEX": ("(",), "ATTRIBUTE": ("INDEX",), "CHUNK": ("SKIP",),
            "GEOSPATIAL": ("INDEX",), "CAGRA": ("INDEX",), "HNSW": ("INDEX",),
            "USING": ("TABLE",)}


_ENDS = (TokenType.SEMICOLON, TokenType.ALIAS)  # the statement's end, or CREATE TABLE's AS query


def _opens_clause(parser: DuckDBParser) -> bool:
    current, following = parser._curr, parser._next
    return bool(current and following and following.text.upper() in _CLAUSES.get(
        current.text.upper(), ()))


def _storage_clause(word: str) -> Callable[..., exp.Expr | None]:
    """The property parser of the clause beginning with ``word`` (just read): the clause, up to
    the next one or the statement's end; else sqlglot's own clause of that word (``USING
    parquet``, Hive's ``PARTITION BY (a)``), or none."""
    fallback = DuckDBParser.PROPERTY_PARSERS.get(word)

    def parse(parser: DuckDBParser, **options: Any) -> exp.Expr | None:
        parser._retreat(parser._index - 1)
        if not _opens_clause(parser):
            if fallback is not None:
                parser._advance()
                return fallback(parser, **options)
            return None
        start = end = parser._curr
        parser._advance()
        depth = 0
        while parser._curr and parser._curr.token_type not in _ENDS:
            kind = parser._curr.token_type
            if depth == 0 and (kind == TokenType.R_PAREN or _opens_clause(parser)):
                break
            depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(kind, 0)
            end = parser._curr
            parser._advance()
        if depth:
            parser.raise_error(f"{word} ...: a parenthesis is not closed")
        return parser.expression(StorageClause(this=parser._find_sql(start, end)))
    return parse


PROPERTY_PARSERS = {word: _storage_clause(word) for word in _CLAUSES}
TRANSFORMS: dict[type[exp.Expr], Callable[..., str]] = {
    ShowSchemas: show_schemas_sql, StorageClause: lambda generator, tree: tree.name}
