"""Kinetica's function environment statements, in indb's dialect.

- ``CREATE [OR REPLACE] FUNCTION ENVIRONMENT e``
- ``ALTER FUNCTION ENVIRONMENT e INSTALL PYTHON PACKAGE 'pkg==1.2 other'`` (Kinetica writes
  several packages in one string, apart by spaces; more strings may follow, apart by commas)
- ``ALTER FUNCTION ENVIRONMENT e UNINSTALL PYTHON PACKAGE 'pkg'`` (``REMOVE`` means the same)
- ``DROP FUNCTION ENVIRONMENT [IF EXISTS] e``
- ``DESC[RIBE] FUNCTION ENVIRONMENT e | *``, ``SHOW FUNCTION ENVIRONMENT e | *`` and
  ``SHOW FUNCTION ENVIRONMENTS``

Each ``parse_*`` function takes the dialect's parser standing after the statement's first keyword
and returns the tree, or None (with the parser back where it was) when the statement is not about
a function environment: the dialect tries these before its other CREATE/ALTER/DROP/DESCRIBE/SHOW
parsers. A function may itself be called ``environment``: ``DROP FUNCTION environment`` ends
after the word, and ``CREATE FUNCTION environment LANGUAGE ...`` goes on past a name, so both are
left to the other parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlglot import exp
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

ACTIONS = {"INSTALL": "INSTALL", "UNINSTALL": "UNINSTALL", "REMOVE": "UNINSTALL"}


class CreateFunctionEnvironment(exp.Expression):
    """``CREATE [OR REPLACE] FUNCTION ENVIRONMENT e``."""

    arg_types = {"this": True, "replace": False}


class AlterFunctionEnvironment(exp.Expression):
    """``ALTER FUNCTION ENVIRONMENT e INSTALL|UNINSTALL PYTHON PACKAGE 'spec ...'[, ...]``:
    ``action`` is INSTALL or UNINSTALL, ``expressions`` the package strings as written."""

    arg_types = {"this": True, "action": True, "expressions": True}


class DropFunctionEnvironment(exp.Expression):
    """``DROP FUNCTION ENVIRONMENT [IF EXISTS] e``."""

    arg_types = {"this": True, "exists": False}


class DescribeFunctionEnvironment(exp.Expression):
    """``DESCRIBE FUNCTION ENVIRONMENT e | *``."""

    arg_types = {"this": True}


class ShowFunctionEnvironment(exp.Expression):
    """``SHOW FUNCTION ENVIRONMENT e | *`` (its DDL; ``listing``: ``SHOW FUNCTION ENVIRONMENTS``,
    one row an environment)."""

    arg_types = {"this": True, "listing": False}


def _at_end(parser: Parser) -> bool:
    return not parser._curr or parser._curr.token_type in (TokenType.SEMICOLON,
                                                              TokenType.SENTINEL)


def _environment(parser: Parser, start: int) -> bool:
    """Whether FUNCTION ENVIRONMENT comes next and more follows it (then both are consumed);
    otherwise the parser goes back to ``start``."""
    if parser._match(TokenType.FUNCTION) and parser._match_text_seq("ENVIRONMENT") \
            and not _at_end(parser):
        return True
    parser._retreat(start)
    return False


def _name_or_star(parser: Parser) -> exp.Expr:
    if parser._match(TokenType.STAR):
        return exp.Star()
    return _name(parser)


def _name(parser: Parser) -> exp.Expr:
    name = parser._parse_id_var(any_token=False)
    if name is None:
        parser.raise_error("expected the function environment's name")
        return exp.Identifier(this="")  # reached only by a parser that collects its errors
    return name


def _statement(parse: Callable[[Parser], exp.Expr]) -> Callable[[Parser], exp.Expr | None]:
    """A parser of one whole statement: what follows its end is a syntax error of its own."""
    def whole(parser: Parser) -> exp.Expr | None:
        start = parser._index
        if not _environment(parser, start):
            return None
        tree = parse(parser)
        if parser._curr and not _at_end(parser):
            parser.raise_error(f"unexpected {parser._curr.text} after the statement")
        return parser.expression(tree)
    return whole


def parse_create(parser: Parser) -> exp.Expr | None:
    """``[OR REPLACE] FUNCTION ENVIRONMENT e`` after CREATE; anything more after the name is a
    CREATE FUNCTION of a function called ``environment``, for the dialect's own parser."""
    start = parser._index
    replace = parser._match_pair(TokenType.OR, TokenType.REPLACE)
    if _environment(parser, start):
        name = parser._parse_id_var(any_token=False)
        if name is not None and _at_end(parser):
            return parser.expression(CreateFunctionEnvironment(this=name, replace=bool(replace)))
    parser._retreat(start)
    return None


@_statement
def parse_alter(parser: Parser) -> exp.Expr:
    """``FUNCTION ENVIRONMENT e INSTALL|UNINSTALL|REMOVE PYTHON PACKAGE 'spec'`` after ALTER."""
    name = _name(parser)
    word = parser._curr.text.upper() if parser._curr else ""
    if word not in ACTIONS:
        parser.raise_error("expected INSTALL PYTHON PACKAGE 'pkg==1.0' or UNINSTALL PYTHON "
                           "PACKAGE 'pkg' after ALTER FUNCTION ENVIRONMENT name")
    parser._advance()
    if not (parser._match_text_seq("PYTHON", "PACKAGE") or parser._match_text_seq("PYTHON", "PACKAGES")):
        parser.raise_error(f"expected PYTHON PACKAGE after {word}, as in {word} PYTHON PACKAGE 'pkg'")
    packages = parser._parse_csv(parser._parse_string)
    if not packages or any(p is None for p in packages):
        parser.raise_error(f"{word} PYTHON PACKAGE takes the packages in quotes: 'pkg==1.2 other'")
    return AlterFunctionEnvironment(this=name, action=exp.var(ACTIONS[word]), expressions=packages)


@_statement
def _drop(parser: Parser) -> exp.Expr:
    exists = parser._match_text_seq("IF", "EXISTS")
    return DropFunctionEnvironment(this=_name(parser), exists=bool(exists))


def parse_drop(parser: Parser) -> exp.Expr | None:
    """``FUNCTION ENVIRONMENT [IF EXISTS] e`` after DROP."""
    return _drop(parser)


@_statement
def parse_describe(parser: Parser) -> exp.Expr:
    """``FUNCTION ENVIRONMENT e | *`` after DESCRIBE or DESC."""
    return DescribeFunctionEnvironment(this=_name_or_star(parser))


def parse_show(parser: Parser) -> exp.Expr | None:
    """``FUNCTION ENVIRONMENT e | *`` or ``FUNCTION ENVIRONMENTS`` after SHOW."""
    start = parser._index
    if parser._match(TokenType.FUNCTION) and parser._match_text_seq("ENVIRONMENTS") and _at_end(parser):
        return parser.expression(ShowFunctionEnvironment(this=exp.Star(), listing=True))
    parser._retreat(start)
    return _show(parser)


@_statement
def _show(parser: Parser) -> exp.Expr:
    return ShowFunctionEnvironment(this=_name_or_star(parser))


def _alter_sql(self: Any, e: AlterFunctionEnvironment) -> str:
    packages = ", ".join(self.sql(p) for p in e.expressions)
    return f"ALTER FUNCTION ENVIRONMENT {self.sql(e, 'this')} {e.args['action'].name} PYTHON " \
           f"PACKAGE {packages}"


TRANSFORMS: dict[type[exp.Expr], Callable[..., str]] = {
    CreateFunctionEnvironment: lambda self, e: ("CREATE OR REPLACE" if e.args.get("replace")
                                                else "CREATE") + f" FUNCTION ENVIRONMENT {self.sql(e, 'this')}",
    AlterFunctionEnvironment: _alter_sql,
    DropFunctionEnvironment: lambda self, e: "DROP FUNCTION ENVIRONMENT "
    + ("IF EXISTS " if e.args.get("exists") else "") + self.sql(e, "this"),
    DescribeFunctionEnvironment: lambda self, e: f"DESCRIBE FUNCTION ENVIRONMENT {self.sql(e, 'this')}",
    ShowFunctionEnvironment: lambda self, e: "SHOW FUNCTION ENVIRONMENTS" if e.args.get("listing")
    else f"SHOW FUNCTION ENVIRONMENT {self.sql(e, 'this')}",
}
