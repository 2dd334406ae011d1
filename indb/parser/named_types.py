"""Named types, DuckDB's and PostgreSQL's statements that sqlglot reads only as text:

- ``CREATE [OR REPLACE] TYPE name AS ENUM ('a', 'b')``, and DuckDB's ``CREATE TYPE name AS
  type`` of any type (``STRUCT(x DOUBLE, y DOUBLE)``, ``INTEGER``, ``VARCHAR[]``);
- ``DROP TYPE [IF EXISTS] name [CASCADE | RESTRICT]``;
- PostgreSQL's ``ALTER TYPE name ADD VALUE [IF NOT EXISTS] 'v' [BEFORE | AFTER 'w']``,
  ``ALTER TYPE name RENAME TO new``, and pg_dump's ``ALTER TYPE name OWNER TO role``.

A name may have PostgreSQL's schema ``public`` (pg_dump writes ``public.mood``): types live in
no schema. What a named type means is the engine's (``indb.engine.named_types``).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

SCHEMAS = ("public", "main")  # the schemas a type's name may be given in


class CreateType(exp.Expression):
    """``this`` the name, ``kind`` the DataType it names, or ``query`` the query whose values
    an ENUM takes (DuckDB's ``AS ENUM (SELECT ...)``)."""

    arg_types = {"this": True, "kind": False, "query": False, "replace": False}


class DropType(exp.Expression):
    arg_types = {"this": True, "exists": False}


class AlterType(exp.Expression):
    """``ADD VALUE``'s: ``value`` the new one, ``before`` or ``after`` the one it goes next to;
    ``RENAME TO`` (``renamed``, the new name); or pg_dump's ``OWNER TO`` (``owner``)."""

    arg_types = {"this": True, "value": False, "exists": False, "before": False, "after": False,
                 "owner": False, "renamed": False}


def parse_create(p: Parser) -> CreateType | None:
    """CREATE [OR REPLACE] TYPE (after CREATE)."""
    start = p._index
    replace = p._match_pair(TokenType.OR, TokenType.REPLACE)
    if not p._match_text_seq("TYPE"):
        p._retreat(start)
        return None
    name = type_name(p, "CREATE TYPE")
    if not p._match(TokenType.ALIAS):
        p.raise_error("expected AS: CREATE TYPE name AS ENUM ('a', 'b'), or AS a type")
    if p._match(TokenType.L_PAREN, advance=False):
        p.raise_error("PostgreSQL's composite types are DuckDB's structs here: CREATE TYPE name "
                      "AS STRUCT(a INTEGER, b VARCHAR)")
    before = p._index
    if p._match_text_seq("ENUM") and p._match(TokenType.L_PAREN) \
            and p._match_set((TokenType.SELECT, TokenType.WITH, TokenType.FROM), advance=False):
        query = p._parse_select()  # AS ENUM (SELECT ...): its values, made when it runs
        p._match_r_paren()
        return p.expression(CreateType(this=name, query=query, replace=bool(replace)))
    p._retreat(before)
    kind = p._parse_types()
    if kind is None:
        p.raise_error("expected a type after AS: CREATE TYPE name AS ENUM ('a', 'b'), or AS a type")
    return p.expression(CreateType(this=name, kind=kind, replace=bool(replace)))


def parse_drop(p: Parser) -> DropType | None:
    """DROP TYPE (after DROP)."""
    if not p._match_text_seq("TYPE"):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    name = type_name(p, "DROP TYPE")
    p._match_texts(("CASCADE", "RESTRICT"))
    return p.expression(DropType(this=name, exists=bool(exists)))


def parse_alter(p: Parser) -> AlterType | None:
    """ALTER TYPE name ADD VALUE (after ALTER)."""
    if not p._match_text_seq("TYPE"):
        return None
    name = type_name(p, "ALTER TYPE")
    if p._match_text_seq("OWNER", "TO"):
        return p.expression(AlterType(this=name, owner=p._parse_id_var(any_token=True)))
    if p._match_text_seq("RENAME", "TO"):
        return p.expression(AlterType(this=name, renamed=type_name(p, "RENAME TO")))
    if p._match_text_seq("RENAME", "VALUE"):
        p.raise_error("RENAME VALUE is not supported: an ENUM's values are stored as their text, "
                      "so renaming one rewrites every table of the type; UPDATE the rows, then "
                      "CREATE OR REPLACE TYPE")
    if not p._match_text_seq("ADD", "VALUE"):
        p.raise_error("ALTER TYPE takes ADD VALUE or RENAME TO: ALTER TYPE mood ADD VALUE 'calm' "
                      "[BEFORE 'ok' | AFTER 'ok']; CREATE OR REPLACE TYPE redefines a type")
    exists = p._match_text_seq("IF", "NOT", "EXISTS")
    value = p._parse_string()
    if value is None:
        p.raise_error("ADD VALUE takes a value in quotes: ADD VALUE 'calm'")
    where = {}
    if p._match_texts(("BEFORE", "AFTER")):
        side = p._prev.text.lower()
        where[side] = p._parse_string()
        if where[side] is None:
            p.raise_error(f"{side.upper()} takes a value of the type in quotes")
    return p.expression(AlterType(this=name, value=value, exists=bool(exists), **where))


def type_name(p: Parser, after: str) -> exp.Identifier:
    """A type's name, without its schema (``public`` or ``main``, where one is given)."""
    table = p._parse_table_parts()
    name = table.this if isinstance(table, exp.Table) and table.args.get("catalog") is None \
        and table.db.lower() in ("", *SCHEMAS) else None
    if not isinstance(name, exp.Identifier):
        p.raise_error(f"expected a type's name after {after} (types live in no schema)")
        return exp.to_identifier("")
    return name


def _create_sql(self: Generator, e: CreateType) -> str:
    replace = "OR REPLACE " if e.args.get("replace") else ""
    named = f"ENUM ({self.sql(e, 'query')})" if e.args.get("query") else self.sql(e, "kind")
    return f"CREATE {replace}TYPE {self.sql(e, 'this')} AS {named}"


def _alter_sql(self: Generator, e: AlterType) -> str:
    if e.args.get("owner") is not None:
        return f"ALTER TYPE {self.sql(e, 'this')} OWNER TO {self.sql(e, 'owner')}"
    if e.args.get("renamed") is not None:
        return f"ALTER TYPE {self.sql(e, 'this')} RENAME TO {self.sql(e, 'renamed')}"
    where = next((f" {side.upper()} {self.sql(e, side)}" for side in ("before", "after")
                  if e.args.get(side) is not None), "")
    exists = "IF NOT EXISTS " if e.args.get("exists") else ""
    return f"ALTER TYPE {self.sql(e, 'this')} ADD VALUE {exists}{self.sql(e, 'value')}{where}"


TRANSFORMS: dict[type[exp.Expr], Any] = {
    AlterType: _alter_sql,
    CreateType: _create_sql,
    DropType: lambda self, e: f"DROP TYPE {'IF EXISTS ' if e.args.get('exists') else ''}"
    f"{self.sql(e, 'this')}",
}
