"""PostgreSQL's sequence statements that sqlglot does not read whole (its CREATE SEQUENCE it does):

- ``DROP SEQUENCE [IF EXISTS] s [, ...] [CASCADE | RESTRICT]``
- ``ALTER SEQUENCE [IF EXISTS] s [AS type] [INCREMENT [BY] n] [MINVALUE n | NO MINVALUE]
  [MAXVALUE n | NO MAXVALUE] [START [WITH] n] [RESTART [[WITH] n]] [CACHE n] [[NO] CYCLE]
  [OWNED BY t.c | NONE]``
- ``ALTER TABLE t ALTER [COLUMN] c ADD GENERATED {ALWAYS | BY DEFAULT} AS IDENTITY [(SEQUENCE
  NAME s, sequence options)]`` and ``... DROP IDENTITY [IF EXISTS]`` (what pg_dump writes for an
  identity column)
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType


class DropSequence(exp.Expression):
    arg_types = {"expressions": True, "exists": False, "cascade": False}


class AlterSequence(exp.Expression):
    """``properties``: a SequenceProperties; ``restart``: True (to its START) or the number."""

    arg_types = {"this": True, "exists": False, "kind": False, "properties": False, "restart": False}


class AlterIdentity(exp.Expression):
    """ALTER COLUMN's ``ADD GENERATED ... AS IDENTITY`` (``identity``: the constraint, its options
    in ``properties``) or ``DROP IDENTITY`` (no ``identity``)."""

    arg_types = {"this": True, "identity": False, "properties": False, "sequence": False,
                 "exists": False}


class ShowSequences(exp.Expression):
    arg_types: ClassVar[dict[str, bool]] = {}


def parse_show(p: Parser) -> ShowSequences | None:
    """SHOW SEQUENCES (after SHOW)."""
    return p.expression(ShowSequences()) if p._match_text_seq("SEQUENCES") else None


def parse_drop(p: Parser) -> DropSequence | None:
    """DROP SEQUENCE (after DROP)."""
    if not p._match_text_seq("SEQUENCE"):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    names = p._parse_csv(p._parse_table_parts)
    cascade = p._match_text_seq("CASCADE")
    p._match_text_seq("RESTRICT")
    return p.expression(DropSequence(expressions=names, exists=bool(exists), cascade=bool(cascade)))


def parse_alter(p: Parser) -> AlterSequence | None:
    """ALTER SEQUENCE (after ALTER)."""
    if not p._match_text_seq("SEQUENCE"):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    name = p._parse_table_parts()
    kind, restart, properties = None, None, exp.SequenceProperties()
    while p._curr:
        if p._match(TokenType.ALIAS):
            kind = p._parse_types()
        elif p._match_text_seq("RESTART"):
            p._match_text_seq("WITH")
            restart = p._parse_number() or exp.true()
        else:
            found = p._parse_sequence_properties()
            if found is None:
                p.raise_error(f"ALTER SEQUENCE does not take {p._curr.text}: it takes AS, "
                              "INCREMENT, MINVALUE, MAXVALUE, START, RESTART, CACHE, CYCLE and "
                              "OWNED BY")
                break
            for key, value in found.args.items():
                if key == "options" and value:
                    value = [*(properties.args.get("options") or []), *value]
                properties.set(key, value)
    return p.expression(AlterSequence(this=name, exists=bool(exists), kind=kind,
                                      properties=properties, restart=restart))


def parse_alter_column(p: Parser) -> AlterIdentity | None:
    """ALTER [COLUMN] c ADD GENERATED ... AS IDENTITY [(...)] | DROP IDENTITY [IF EXISTS] (after
    ALTER TABLE t ALTER), or None with nothing read."""
    start = p._index
    p._match(TokenType.COLUMN)
    column = p._parse_field(any_token=True)
    if column is not None and p._match_text_seq("DROP", "IDENTITY"):
        exists = p._match_text_seq("IF", "EXISTS")
        return p.expression(AlterIdentity(this=column, exists=bool(exists)))
    if column is None or not p._match_text_seq("ADD", "GENERATED"):
        p._retreat(start)
        return None
    always = bool(p._match_text_seq("ALWAYS"))
    if not always and not p._match_text_seq("BY", "DEFAULT"):
        p.raise_error("expected ALWAYS or BY DEFAULT after ADD GENERATED")
    if not p._match_text_seq("AS", "IDENTITY"):
        p.raise_error("expected AS IDENTITY: ADD GENERATED ALWAYS AS IDENTITY")
    properties, named = None, None
    if p._match(TokenType.L_PAREN):
        named = p._parse_table_parts() if p._match_text_seq("SEQUENCE", "NAME") else None
        properties = p._parse_sequence_properties()
        p._match_r_paren()
    return p.expression(AlterIdentity(
        this=column, properties=properties, sequence=named,
        identity=exp.GeneratedAsIdentityColumnConstraint(this=always)))


def _alter_sql(g: Generator, e: AlterSequence) -> str:
    parts = ["ALTER SEQUENCE", "IF EXISTS" if e.args.get("exists") else "", g.sql(e, "this")]
    if e.args.get("kind"):
        parts.append(f"AS {g.sql(e, 'kind')}")
    parts.append(g.sql(e, "properties"))
    restart = e.args.get("restart")
    if restart is not None:
        parts.append("RESTART" if isinstance(restart, exp.Boolean) else f"RESTART WITH {g.sql(restart)}")
    return " ".join(p for p in parts if p)


def _identity_sql(g: Generator, e: AlterIdentity) -> str:
    if e.args.get("identity") is None:
        return f"ALTER COLUMN {g.sql(e, 'this')} DROP IDENTITY" + (
            " IF EXISTS" if e.args.get("exists") else "")
    generated = "ALWAYS" if e.args["identity"].this else "BY DEFAULT"
    options = " ".join(filter(None, [f"SEQUENCE NAME {g.sql(e, 'sequence')}" if e.args.get("sequence")
                                     else "", g.sql(e, "properties")]))
    return (f"ALTER COLUMN {g.sql(e, 'this')} ADD GENERATED {generated} AS IDENTITY"
            + (f" ({options})" if options else ""))


TRANSFORMS: dict[type[exp.Expr], Any] = {
    ShowSequences: lambda g, e: "SHOW SEQUENCES",
    DropSequence: lambda g, e: "DROP SEQUENCE " + ("IF EXISTS " if e.args.get("exists") else "")
    + g.expressions(e, flat=True) + (" CASCADE" if e.args.get("cascade") else ""),
    AlterSequence: _alter_sql,
    AlterIdentity: _identity_sql,
}
