"""Subscriptions: a function run on a table's ticks as the tickerplant accepts them.

- ``CREATE [OR REPLACE] SUBSCRIPTION s ON t [WHERE sym IN ('A', 'B')]
  EXECUTE FUNCTION f([INPUT_TABLE_NAMES => INPUT_TABLE(SELECT ... FROM t ...),]
  [PARAMS => KV_PAIRS(k = 'v', ...),] [OUTPUT_TABLE_NAMES => OUTPUT_TABLES('o')])
  [OUTPUT_TABLES('o')] [PUBLISH TO 'kdb://host:port']
  [WITH (MAX_BATCH = rows, MAX_WAIT = ms, HISTORY = rows, TIMEOUT = s, ISOLATION = 'none')]``:
  the clauses after the call in any order, each once; the output tables inside the call or
  after it, not both;
- ``SHOW SUBSCRIPTIONS``, ``SHOW SUBSCRIPTION s``, ``DROP SUBSCRIPTION [IF EXISTS] s``.

The parse functions return None (having consumed nothing) when the statement is not theirs, as
``indb.parser.monitors``'s do.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

from indb.parser.names import unqualified

CLAUSES = {"outputs": "OUTPUT_TABLES", "publish": "PUBLISH TO", "options": "WITH"}  # key: words


class CreateSubscription(exp.Expression):
    """``CREATE SUBSCRIPTION``: ``this`` its name, ``table`` the table, ``where`` the sym
    filter, ``function`` the function's name, ``expressions`` the call's named arguments (Kwarg
    nodes, as EXECUTE FUNCTION's), ``outputs`` OUTPUT_TABLES(...) given after the call,
    ``publish`` a string, ``options`` EQ nodes (name = value)."""

    arg_types = {"this": True, "replace": False, "table": True, "where": False, "function": True,
                 "expressions": False, "outputs": False, "publish": False, "options": False}


class ShowSubscriptions(exp.Expression):
    """``SHOW SUBSCRIPTIONS`` (``this`` None) or ``SHOW SUBSCRIPTION s``."""

    arg_types = {"this": False}


class DropSubscription(exp.Expression):
    """``DROP SUBSCRIPTION [IF EXISTS] s``."""

    arg_types = {"this": True, "exists": False}


def parse_create(p: Parser) -> exp.Expr | None:
    """CREATE [OR REPLACE] SUBSCRIPTION ... (after CREATE)."""
    start = p._index
    replace = p._match_pair(TokenType.OR, TokenType.REPLACE)
    if not p._match_text_seq("SUBSCRIPTION"):
        p._retreat(start)
        return None
    args: dict[str, Any] = {"this": _name(p, "CREATE SUBSCRIPTION"), "replace": replace}
    if not p._match(TokenType.ON):
        p.raise_error("expected ON table after the subscription's name: CREATE SUBSCRIPTION s "
                      "ON ticks EXECUTE FUNCTION f(...) OUTPUT_TABLES('out')")
    args["table"] = p._parse_table_parts()
    if p._match(TokenType.WHERE):
        args["where"] = p._parse_disjunction()
    if not p._match_text_seq("EXECUTE", "FUNCTION"):
        p.raise_error("expected EXECUTE FUNCTION f(...) after the table (and its WHERE sym IN "
                      "(...))")
    args["function"] = _name(p, "EXECUTE FUNCTION")
    if not p._match(TokenType.L_PAREN, advance=False):
        p.raise_error("expected the function's arguments in parentheses: f(PARAMS => "
                      "KV_PAIRS(...)), or f()")
    named = p._parse_named_argument  # type: ignore[attr-defined]  # the dialect's, as EXECUTE FUNCTION's
    args["expressions"] = p._parse_wrapped_csv(named, optional=True)
    while p._curr and p._curr.token_type != TokenType.SEMICOLON:
        clause = _clause(p)
        if clause in args:
            p.raise_error(f"{CLAUSES[clause]} is given twice")
        args[clause] = _CLAUSE_PARSERS[clause](p)
    return p.expression(CreateSubscription(**args))


def _clause(p: Parser) -> str:
    for key, words in CLAUSES.items():
        if p._match_text_seq(*words.split()):
            return key
    p.raise_error(f"unexpected {p._curr.text if p._curr else 'end'} in CREATE SUBSCRIPTION; "
                  "after the function's call come OUTPUT_TABLES('t'), PUBLISH TO 'kdb://host:port' "
                  "and WITH (MAX_BATCH = n, MAX_WAIT = ms, HISTORY = n)")
    return ""


def _outputs(p: Parser) -> list[exp.Expr]:
    if not p._match(TokenType.L_PAREN):
        p.raise_error("OUTPUT_TABLES takes table names in parentheses: OUTPUT_TABLES('t')")
    names = p._parse_csv(p._parse_primary)
    if not p._match(TokenType.R_PAREN):
        p.raise_error("expected ) after the output tables")
    return names


def _publish(p: Parser) -> exp.Expr:
    target = p._parse_string()
    if target is None:
        p.raise_error("PUBLISH TO takes a kdb+ tickerplant's address in quotes: PUBLISH TO "
                      "'kdb://host:5010'")
    return target  # type: ignore[return-value]


def _options(p: Parser) -> list[exp.Expr]:
    def one() -> exp.Expr:
        key = p._parse_var(any_token=True)
        if key is None or not p._match(TokenType.EQ):
            p.raise_error("WITH takes name = value pairs: WITH (MAX_BATCH = 1000, MAX_WAIT = 2)")
        value = p._parse_primary()
        if value is None:
            p.raise_error(f"{key.name if key else 'an option'} needs a value")
        return p.expression(exp.EQ(this=key, expression=value))
    if not p._match(TokenType.L_PAREN):
        p.raise_error("WITH takes options in parentheses: WITH (MAX_BATCH = 1000)")
    options = p._parse_csv(one)
    if not p._match(TokenType.R_PAREN):
        p.raise_error("expected ) after the options")
    return options


_CLAUSE_PARSERS: dict[str, Any] = {"outputs": _outputs, "publish": _publish, "options": _options}


def _name(p: Parser, after: str) -> exp.Expr:
    return unqualified(p, after, "subscriptions and functions")


def parse_show(p: Parser) -> exp.Expr | None:
    """SHOW SUBSCRIPTIONS, SHOW SUBSCRIPTION s (after SHOW)."""
    if p._match_text_seq("SUBSCRIPTIONS"):
        return p.expression(ShowSubscriptions())
    if not p._match_text_seq("SUBSCRIPTION"):
        return None
    return p.expression(ShowSubscriptions(this=_name(p, "SHOW SUBSCRIPTION")))


def parse_drop(p: Parser) -> exp.Expr | None:
    """DROP SUBSCRIPTION [IF EXISTS] s (after DROP)."""
    if not p._match_text_seq("SUBSCRIPTION"):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    return p.expression(DropSubscription(this=_name(p, "DROP SUBSCRIPTION"), exists=bool(exists)))


def _create_sql(g: Generator, e: CreateSubscription) -> str:
    parts = [f"CREATE {'OR REPLACE ' if e.args.get('replace') else ''}SUBSCRIPTION "
             f"{g.sql(e, 'this')} ON {g.sql(e, 'table')}"]
    if e.args.get("where") is not None:
        parts.append(f"WHERE {g.sql(e, 'where')}")
    parts.append(f"EXECUTE FUNCTION {g.sql(e, 'function')}({g.expressions(e, flat=True)})")
    if e.args.get("outputs"):
        parts.append(f"OUTPUT_TABLES({g.expressions(e, 'outputs', flat=True)})")
    if e.args.get("publish") is not None:
        parts.append(f"PUBLISH TO {g.sql(e, 'publish')}")
    if e.args.get("options"):
        parts.append(f"WITH ({g.expressions(e, 'options', flat=True)})")
    return " ".join(parts)


TRANSFORMS: dict[type[exp.Expr], Any] = {
    CreateSubscription: _create_sql,
    ShowSubscriptions: lambda g, e: f"SHOW SUBSCRIPTION {g.sql(e, 'this')}" if e.args.get("this")
    else "SHOW SUBSCRIPTIONS",
    DropSubscription: lambda g, e: "DROP SUBSCRIPTION " + ("IF EXISTS " if e.args.get("exists")
                                                           else "") + g.sql(e, "this"),
}

__all__ = ["CreateSubscription", "DropSubscription", "ShowSubscriptions"]
