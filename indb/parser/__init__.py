"""SQL text to sqlglot syntax trees, in indb's dialect; syntax errors carry line and column."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import TokenType

from indb.errors import IndbError, SqlError
from indb.parser import qstatements
from indb.parser.messages import in_user_terms, syntax_message
from indb.parser import procedures, templates
from indb.parser.dialect import (AlterModelAlias, CreateFunction, CreateModel, DescribeModel,
                                 DropModel, ExecuteFunction, Indb, KillFunction, ReplicatedProperty,
                                 ShardKey, ShowFunction, ShowFunctionStatus, ShowModels)
from indb.parser.faithful import Written

# sqlglot logs a warning for each statement it keeps as an opaque Command; the planner refuses
# those with an error of its own, so the warning would only be noise on the user's terminal.
logging.getLogger("sqlglot").setLevel(logging.ERROR)

__all__ = ["AlterModelAlias", "CreateFunction", "CreateModel", "DescribeModel", "DropModel",
           "ExecuteFunction", "Indb", "KillFunction", "ReplicatedProperty", "ShowModels",
           "ShardKey", "ShowFunction", "ShowFunctionStatus", "error_at", "fragment", "in_user_terms",
           "parse", "position", "render", "render_indb", "split", "table_ref",
           "unfinished_procedure"]


def parse(sql: str) -> list[exp.Expr]:
    """Every statement in ``sql``, in order; empty statements are skipped. A line starting with
    ``q)`` is a q-sql statement (a ``qstatements.QStatement``, which the engine translates)."""
    parts = qstatements.pieces(sql)
    if len(parts) == 1 and not parts[0][2]:
        return _parse_sql(sql)
    statements: list[exp.Expr] = []
    for start, end, is_q in parts:  # SQL after blanked text, so positions stay the text's
        statements += [qstatements.statement(sql, start, end)] if is_q \
            else _parse_sql(_blanked(sql[:start]) + sql[start:end])
    return statements


def _blanked(text: str) -> str:
    return "".join(c if c == "\n" else " " for c in text)


def fragment(text: str, into: type[exp.Expr]) -> exp.Expr:
    """A piece of SQL read as ``into`` (an expression, a condition, ``fragments.Expressions``,
    ``fragments.Orderings``); SqlError where it is not one, pointing into ``text``."""
    dialect = Indb()
    found = _parsed(text, lambda: dialect.parser().parse_into(into, dialect.tokenize(text), text))
    if not found or found[0] is None:
        raise SqlError(f"expected SQL ({into.__name__.lower()}), and the text is empty", None, None,
                       text)
    return found[0]


def _parse_sql(sql: str) -> list[exp.Expr]:
    statements = _parsed(sql, lambda: Indb().parse(sql))
    # a comment after the last ';' parses as an empty statement of its own; a lone END after
    # other statements is sqlglot's end of a BEGIN ... END block, PostgreSQL's COMMIT
    return [exp.Commit() if isinstance(s, exp.EndStatement) else _duckdb_reads(_select_into(templates.named(s)))
            for s in statements if s is not None and not isinstance(s, exp.Semicolon)]


def _parsed(sql: str, parse: Callable[[], list[exp.Expr | None]]) -> list[exp.Expr | None]:
    """What ``parse`` reads of ``sql``, sqlglot's errors as SqlError at their place in it."""
    try:
        return parse()
    except RecursionError:
        raise SqlError("the statement nests too deeply (thousands of parentheses?); write it "
                       "with fewer levels", None, None, sql) from None
    except ParseError as error:
        first = error.errors[0] if error.errors else {}
        col = first.get("col")
        if col is not None:  # sqlglot gives the column where the token ends; point at its start
            col = max(1, col - len(first.get("highlight") or " ") + 1)
        raise SqlError(syntax_message(str(first.get("description", error)), first.get("highlight")),
                       first.get("line"), col, sql) from None
    except TokenError as error:
        raise SqlError(syntax_message(str(error), None), None, None, sql) from None
    except IndexError:  # sqlglot reading past the last token ("SHOW ALL"): the text ended early
        lines = sql.rstrip().split("\n")
        raise SqlError(syntax_message("the statement ends where more was expected", None),
                       len(lines), len(lines[-1]) + 1, sql) from None


def _duckdb_reads(statement: exp.Expr) -> exp.Expr:
    """DuckDB's ``SUMMARIZE``, ``PIVOT`` and ``UNPIVOT`` statements as the queries they are
    (``SELECT * FROM (SUMMARIZE t)``), planned and checked as any other; ``PRAGMA name[(...)]``
    that reads (``table_info('t')``, ``version``) and ``CALL f(...)`` as the table function
    they call (``SELECT * FROM pragma_table_info('t')``). (DuckDB's ``SHOW t`` is left alone:
    PostgreSQL's ``SHOW setting``, which its clients send, is the same text.)"""
    if isinstance(statement, exp.Summarize | exp.Pivot):
        return exp.select("*").from_(exp.Subquery(this=statement))
    if isinstance(statement, exp.Pragma) and isinstance(statement.this, exp.Anonymous | exp.Column):
        name, arguments = statement.this.name.lower(), statement.this.expressions
        if name == "show_tables":
            return exp.Show(this="TABLES")
        return exp.select("*").from_(exp.Table(this=exp.Anonymous(this=f"pragma_{name}",
                                                                  expressions=arguments)))
    if isinstance(statement, exp.Command) and statement.name.upper() == "CALL":
        called: exp.Expr = exp.maybe_parse(_rest(statement), dialect=Indb)
        if isinstance(called, exp.Func):
            return exp.select("*").from_(exp.Table(this=called))
    return statement


def _rest(command: exp.Command) -> str:
    """The text of an opaque command after its first word."""
    rest = command.expression
    return (rest.name if isinstance(rest, exp.Literal) else str(rest or "")).strip()


def _select_into(statement: exp.Expr) -> exp.Expr:
    """PostgreSQL's ``SELECT ... INTO [TEMP] t FROM ...`` as the ``CREATE [TEMP] TABLE t AS
    SELECT ...`` it means (DuckDB would read the rows and drop the INTO)."""
    into = statement.args.get("into") if isinstance(statement, exp.Select) else None
    if into is None:
        return statement
    query = statement.copy()
    query.set("into", None)
    properties = exp.Properties(expressions=[exp.TemporaryProperty()]) \
        if into.args.get("temporary") else None
    return exp.Create(this=into.this, kind="TABLE", expression=query, properties=properties)


def split(sql: str) -> list[str]:
    """The statements of ``sql`` as text, cut at the ``;`` tokens of indb's tokenizer, so a ``;``
    in a string, a ``$$`` body, a quoted name or a comment cuts nothing. Each runs from its first
    token through its ``;`` (the last one has none if the text does not end with one); text of
    comments alone is no statement; a ``;`` inside a CREATE PROCEDURE's BEGIN ... END cuts
    nothing either. Text that does not tokenize (an unterminated string or
    ``$$`` body) raises SqlError. A line starting with ``q)`` is one statement, ``q)`` included."""
    statements: list[str] = []
    for start, end, is_q in qstatements.pieces(sql):
        statements += [sql[start - len(qstatements.PREFIX):end]] if is_q else _split_sql(sql[start:end])
    return statements


def _split_sql(sql: str) -> list[str]:
    try:
        tokens = Indb().tokenize(sql)
    except TokenError as error:
        raise SqlError(syntax_message(str(error), None), None, None, sql) from None
    statements: list[str] = []
    first: int | None = None  # where the statement being read began
    begun = 0  # ... and its first token's index
    for i, token in enumerate(tokens):
        begun = i if first is None else begun
        first = token.start if first is None else first
        if token.token_type == TokenType.SEMICOLON and not procedures.open_body(tokens[begun:i]):
            if token.start > first:  # a lone ';' is no statement
                statements.append(sql[first:token.end + 1])
            first = None
    if first is not None:
        statements.append(sql[first:tokens[-1].end + 1])
    return statements


def unfinished_procedure(sql: str) -> bool:
    """Whether ``sql`` (one statement, as ``split`` cuts them) is a CREATE PROCEDURE whose
    BEGIN ... END is still open, so a prompt reads on past its ``;``."""
    try:
        return procedures.open_body(Indb().tokenize(sql))
    except TokenError:
        return False


def render(tree: exp.Expr) -> str:
    """A syntax tree as SQL DuckDB runs; SqlError where sqlglot cannot write a node of it (a
    function of another engine's, read into a node DuckDB's writer fails on)."""
    try:
        return tree.sql(dialect=Written)
    except IndbError:
        raise
    except (AttributeError, TypeError, KeyError, IndexError, ValueError) as error:
        raise SqlError(f"indb cannot write this statement for DuckDB: sqlglot failed on it "
                       f"({type(error).__name__}: {error}); rewrite the part it names, or "
                       "use DuckDB's function for it") from None


def render_indb(tree: exp.Expr) -> str:
    """A syntax tree as indb SQL (our statements included), e.g. the DDL SHOW FUNCTION returns."""
    return tree.sql(dialect=Indb)


def position(node: exp.Expr | None) -> tuple[int | None, int | None]:
    """Line and column of the first token of ``node`` that the parser located."""
    for candidate in ([node] + list(node.find_all(exp.Identifier)) if node is not None else []):
        meta = candidate.meta if candidate is not None else {}
        if "line" in meta:
            return meta["line"], meta["col"] - len(candidate.name) + 1 if candidate.name else meta["col"]
    return None, None


def error_at(node: exp.Expr | None, message: str) -> SqlError:
    """A SqlError pointing at ``node`` in the statement (the engine adds the statement's text)."""
    return SqlError(message, *position(node))


def table_ref(name: str) -> exp.Table:
    """A reference to the table (or view) called exactly ``name``: one quoted identifier, never
    parsed, so a name holding dots, quotes or semicolons stays one name."""
    return exp.Table(this=exp.to_identifier(name, quoted=True))
