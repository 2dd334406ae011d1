"""Model monitors: drift of a table's newest rows against a model version's training data, and
the model's accuracy where labels arrive, a time window at a time.

- ``CREATE [OR REPLACE] MONITOR mon ON MODEL m [VERSION n | 'alias'] FOR TABLE t
  TIME COLUMN ts [FEATURES (c1, c2, ...)] [LABEL col] [REFERENCE (SELECT ...)]
  [WINDOW n unit] [THRESHOLD metric > x | metric < x [, ...]]
  [EVERY n unit [STARTING AT 'YYYY-MM-DD HH:MM:SS']]`` (the clauses after ``FOR TABLE`` in any
  order, each once);
- ``EXECUTE MONITOR mon``, ``SHOW MONITORS``, ``SHOW MONITOR mon``, ``DROP MONITOR [IF EXISTS] mon``.

Units are the procedures' (SECONDS, MINUTES, HOURS, DAYS). The parse functions return None
(having consumed nothing) when the statement is not theirs, as ``indb.parser.procedures``'s do.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

from indb.parser.durations import duration, quoted_time
from indb.parser.names import unqualified

CLAUSES = {"time": "TIME COLUMN", "features": "FEATURES", "label": "LABEL",  # key: words
           "reference": "REFERENCE", "window": "WINDOW", "thresholds": "THRESHOLD", "every": "EVERY"}


class CreateMonitor(exp.Expression):
    """``CREATE MONITOR``: ``this`` its name, ``model`` and ``table`` names, ``version`` a
    Literal; ``time``, ``label`` Identifiers, ``features`` Identifiers, ``reference`` a query,
    ``window`` and ``every`` Durations, ``starting`` a string, ``thresholds`` GT/LT nodes
    (metric name > number)."""

    arg_types = {"this": True, "replace": False, "model": True, "version": False, "table": True,
                 "time": False, "features": False, "label": False, "reference": False,
                 "window": False, "thresholds": False, "every": False, "starting": False}


class ExecuteMonitor(exp.Expression):
    """``EXECUTE MONITOR mon``."""

    arg_types = {"this": True}


class ShowMonitors(exp.Expression):
    """``SHOW MONITORS`` (``this`` None) or ``SHOW MONITOR mon``."""

    arg_types = {"this": False}


class DropMonitor(exp.Expression):
    """``DROP MONITOR [IF EXISTS] mon``."""

    arg_types = {"this": True, "exists": False}


def parse_create(p: Parser) -> exp.Expr | None:
    """CREATE [OR REPLACE] MONITOR ... (after CREATE)."""
    start = p._index
    replace = p._match_pair(TokenType.OR, TokenType.REPLACE)
    if not p._match_text_seq("MONITOR"):
        p._retreat(start)
        return None
    args: dict[str, Any] = {"this": _name(p, "CREATE MONITOR"), "replace": replace}
    if not p._match_text_seq("ON", "MODEL"):
        p.raise_error("expected ON MODEL m FOR TABLE t after the monitor's name")
    args["model"] = _name(p, "ON MODEL")
    if p._match_text_seq("VERSION"):
        args["version"] = p._parse_number() or p._parse_string()
        if args["version"] is None:
            p.raise_error("VERSION takes a version number or an alias in quotes")
    if not p._match_text_seq("FOR", "TABLE"):
        p.raise_error("expected FOR TABLE t after the model: CREATE MONITOR mon ON MODEL m FOR "
                      "TABLE t TIME COLUMN ts")
    args["table"] = p._parse_table_parts()
    while p._curr:
        clause = _clause(p)
        if clause in args:
            p.raise_error(f"{CLAUSES[clause]} is given twice")
        args[clause] = _CLAUSE_PARSERS[clause](p)
        if clause == "every" and p._match_text_seq("STARTING", "AT"):
            args["starting"] = quoted_time(p, "STARTING AT")
    return p.expression(CreateMonitor(**args))


def _clause(p: Parser) -> str:
    for key, words in CLAUSES.items():
        if p._match_text_seq(*words.split()):
            return key
    p.raise_error(f"unexpected {p._curr.text if p._curr else 'end'} in CREATE MONITOR; its "
                  f"clauses are {', '.join(CLAUSES.values())}")
    return ""


def _column(p: Parser) -> exp.Expr:
    column = p._parse_id_var(any_token=False)
    if not isinstance(column, exp.Identifier):
        p.raise_error("expected a column's name")
    return column  # type: ignore[return-value]


def _features(p: Parser) -> list[exp.Expr]:
    if not p._match(TokenType.L_PAREN):
        p.raise_error("FEATURES takes columns in parentheses: FEATURES (c1, c2)")
    columns = p._parse_csv(lambda: _column(p))
    if not p._match(TokenType.R_PAREN):
        p.raise_error("expected ) after the FEATURES columns")
    return columns


def _reference(p: Parser) -> exp.Expr:
    if not p._match(TokenType.L_PAREN):
        p.raise_error("REFERENCE takes a query in parentheses: REFERENCE (SELECT ...)")
    query = p._parse_select()
    if query is None or not p._match(TokenType.R_PAREN):
        p.raise_error("REFERENCE takes a query in parentheses: REFERENCE (SELECT ...)")
    return query  # type: ignore[return-value]


def _thresholds(p: Parser) -> list[exp.Expr]:
    def one() -> exp.Expr:
        metric = _column(p)
        above = p._match(TokenType.GT)
        if not above and not p._match(TokenType.LT):
            p.raise_error("a threshold is a metric, > or <, and a number: THRESHOLD psi > 0.2")
        number = p._parse_number()
        if number is None:
            p.raise_error("a threshold is a metric, > or <, and a number: THRESHOLD psi > 0.2")
        node = exp.GT if above else exp.LT
        return p.expression(node(this=metric, expression=number))
    return p._parse_csv(one)


_CLAUSE_PARSERS: dict[str, Any] = {
    "time": _column, "features": _features, "label": _column, "reference": _reference,
    "window": lambda p: duration(p, "WINDOW"), "thresholds": _thresholds,
    "every": lambda p: duration(p, "EVERY"),
}


def _name(p: Parser, after: str) -> exp.Expr:
    return unqualified(p, after, "monitors and models")


def parse_execute(p: Parser) -> exp.Expr | None:
    """EXECUTE MONITOR mon (after EXECUTE)."""
    if not p._match_text_seq("MONITOR"):
        return None
    return p.expression(ExecuteMonitor(this=_name(p, "EXECUTE MONITOR")))


def parse_show(p: Parser) -> exp.Expr | None:
    """SHOW MONITORS, SHOW MONITOR mon (after SHOW)."""
    if p._match_text_seq("MONITORS"):
        return p.expression(ShowMonitors())
    if not p._match_text_seq("MONITOR"):
        return None
    return p.expression(ShowMonitors(this=_name(p, "SHOW MONITOR")))


def parse_drop(p: Parser) -> exp.Expr | None:
    """DROP MONITOR [IF EXISTS] mon (after DROP)."""
    if not p._match_text_seq("MONITOR"):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    return p.expression(DropMonitor(this=_name(p, "DROP MONITOR"), exists=bool(exists)))


# the clauses as CREATE MONITOR renders them, in this order
_RENDERED = (("version", "VERSION {}"), ("table", "FOR TABLE {}"), ("time", "TIME COLUMN {}"),
             ("features", "FEATURES ({})"), ("label", "LABEL {}"), ("reference", "REFERENCE ({})"),
             ("window", "WINDOW {}"), ("thresholds", "THRESHOLD {}"), ("every", "EVERY {}"),
             ("starting", "STARTING AT {}"))


def _create_sql(g: Generator, e: CreateMonitor) -> str:
    parts = [f"CREATE {'OR REPLACE ' if e.args.get('replace') else ''}MONITOR {g.sql(e, 'this')} "
             f"ON MODEL {g.sql(e, 'model')}"]
    for key, form in _RENDERED:
        value = e.args.get(key)
        if value is not None and value != []:
            parts.append(form.format(g.expressions(e, key, flat=True) if isinstance(value, list)
                                     else g.sql(e, key)))
    return " ".join(parts)


TRANSFORMS: dict[type[exp.Expr], Any] = {
    CreateMonitor: _create_sql,
    ExecuteMonitor: lambda g, e: f"EXECUTE MONITOR {g.sql(e, 'this')}",
    ShowMonitors: lambda g, e: f"SHOW MONITOR {g.sql(e, 'this')}" if e.args.get("this")
    else "SHOW MONITORS",
    DropMonitor: lambda g, e: "DROP MONITOR " + ("IF EXISTS " if e.args.get("exists") else "")
    + g.sql(e, "this"),
}

__all__ = ["CreateMonitor", "DropMonitor", "ExecuteMonitor", "ShowMonitors"]
