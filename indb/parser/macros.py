"""DuckDB's macro statements that sqlglot does not read whole (its CREATE MACRO it does, and
DuckDB's other name for it, ``CREATE FUNCTION f(a) AS a + 1``):

- ``DROP MACRO [TABLE] [IF EXISTS] m``
- ``SHOW MACROS``
"""

from __future__ import annotations

from typing import Any, ClassVar

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser


class DropMacro(exp.Expression):
    arg_types = {"this": True, "exists": False, "table": False}


class ShowMacros(exp.Expression):
    arg_types: ClassVar[dict[str, bool]] = {}


def parse_show(p: Parser) -> ShowMacros | None:
    """SHOW MACROS (after SHOW)."""
    return p.expression(ShowMacros()) if p._match_text_seq("MACROS") else None


def parse_drop(p: Parser) -> DropMacro | None:
    """DROP MACRO (after DROP; sqlglot's tokenizer reads MACRO as FUNCTION, by its text here)."""
    if not p._match_text_seq("MACRO"):
        return None
    table = p._match_text_seq("TABLE")
    exists = p._match_text_seq("IF", "EXISTS")
    return p.expression(DropMacro(this=p._parse_table_parts(), exists=bool(exists),
                                  table=bool(table)))


def _drop_sql(self: Generator, e: DropMacro) -> str:
    return " ".join(filter(None, ["DROP MACRO", "TABLE" if e.args.get("table") else "",
                                  "IF EXISTS" if e.args.get("exists") else "", self.sql(e, "this")]))


TRANSFORMS: dict[type[exp.Expr], Any] = {
    DropMacro: _drop_sql,
    ShowMacros: lambda self, e: "SHOW MACROS",
}
