"""DuckDB's statements that move a whole database through a directory of files:

- ``EXPORT DATABASE [name TO] 'directory' [(FORMAT parquet, COMPRESSION zstd, ...)]``: the
  options are COPY's, for each table's file (CSV when no FORMAT is given, as DuckDB's);
- ``IMPORT DATABASE 'directory'``.

What they do is the engine's (``indb.engine.transfer``).
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

WORDS = ("EXPORT", "IMPORT")


class ExportDatabase(exp.Expression):
    """``this`` the directory (a string), ``expressions`` COPY's options (CopyParameter)."""

    arg_types = {"this": True, "expressions": False}


class ImportDatabase(exp.Expression):
    arg_types = {"this": True}


def parse_statement(p: Parser) -> exp.Expr | None:
    """EXPORT DATABASE or IMPORT DATABASE, when the statement starts with one."""
    word = p._curr.text.upper() if p._curr and p._curr.token_type == TokenType.VAR else ""
    if word not in WORDS or not (p._next and p._next.token_type == TokenType.DATABASE):
        return None
    p._advance(2)
    if word == "EXPORT" and not p._match(TokenType.STRING, advance=False):
        p._parse_id_var()  # EXPORT DATABASE name TO 'dir': indb is one database
        if not p._match_text_seq("TO"):
            p.raise_error("expected TO: EXPORT DATABASE [name TO] 'directory'")
    directory = p._parse_string()
    if directory is None:
        p.raise_error(f"{word} DATABASE takes a directory in quotes: {word} DATABASE 'backup'")
    if word == "IMPORT":
        return p.expression(ImportDatabase(this=directory))
    options = []
    if p._match(TokenType.L_PAREN):
        options = p._parse_copy_parameters()
        if not p._match(TokenType.R_PAREN):
            p.raise_error("expected ) after EXPORT DATABASE's options")
    return p.expression(ExportDatabase(this=directory, expressions=options))


def _export_sql(self: Generator, e: ExportDatabase) -> str:
    options = f" ({self.expressions(e, flat=True)})" if e.expressions else ""
    return f"EXPORT DATABASE {self.sql(e, 'this')}{options}"


TRANSFORMS: dict[type[exp.Expr], Any] = {
    ExportDatabase: _export_sql,
    ImportDatabase: lambda self, e: f"IMPORT DATABASE {self.sql(e, 'this')}",
}
