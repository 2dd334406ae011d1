"""q-sql where SQL is accepted: a line starting with ``q)`` is a q-sql statement, and
``q('select ...')`` stands where a table or an input query goes. The parser leaves a
``QStatement`` in a statement's place; the engine translates both (``expand``) once it knows
the tables' columns."""

from __future__ import annotations

import re

from sqlglot import exp

from indb.errors import SqlError
from indb.parser.qsql import Columns, translate
from indb.parser.qsyntax import line_col

PREFIX = "q)"  # a statement written in q-sql, as kdb+'s console shows its prompt
_Q_LINE = re.compile(r"^[ \t]*q\)(.*)$", re.MULTILINE)


class QStatement(exp.Expression):
    """A statement written in q-sql (``q)select ...``): ``this`` is the q text as a string,
    ``line`` and ``col`` where it starts in the statement's text."""

    arg_types = {"this": True, "line": False, "col": False}


def pieces(sql: str) -> list[tuple[int, int, bool]]:
    """The text cut into SQL and q-sql: ``(start, end, is_q)``. A line starting with ``q)`` is
    one q-sql statement (its text after ``q)``, less a trailing ``;``); the rest is SQL."""
    parts: list[tuple[int, int, bool]] = []
    at = 0
    for line in _Q_LINE.finditer(sql):
        if line.start() > at:
            parts.append((at, line.start(), False))
        body = line.group(1).rstrip()
        parts.append((line.start(1), line.start(1) + len(body[:-1] if body.endswith(";")
                                                          else body), True))
        at = line.end()
    if at < len(sql) or not parts:
        parts.append((at, len(sql), False))
    return parts


def statement(sql: str, start: int, end: int) -> QStatement:
    """The placeholder of the q-sql statement at ``sql[start:end]``; the engine translates it
    when it knows the tables' columns (``expand``)."""
    line, col = line_col(sql, start)
    return QStatement(this=exp.Literal.string(sql[start:end]), line=line, col=col)


def expand(tree: exp.Expr, columns: Columns | None) -> exp.Expr:
    """The statement with its q-sql translated: a ``QStatement`` whole, and each ``q('...')``
    where a table or an input query goes (``FROM q('select ...')``,
    ``INPUT_TABLE(q('select ...'))``)."""
    if isinstance(tree, QStatement):
        text = tree.this.name
        try:
            return translate(text, columns)
        except SqlError as error:  # the q text's position, in the statement's text
            line, col = error.line, error.col
            if line is not None and col is not None:
                base_line, base_col = tree.args.get("line") or 1, tree.args.get("col") or 1
                col = base_col + col - 1 if line == 1 else col
                line = base_line + line - 1
            raise SqlError(error.message, line, col) from None

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Table) and _q_call(node.this):
            alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier("q"))
            return exp.Subquery(this=_embedded(node.this, columns), alias=alias)
        if _q_call(node):
            return _embedded(node, columns)
        return node
    return tree.transform(replace) if written_in_q(tree) else tree


def written_in_q(tree: exp.Expr) -> bool:
    """Whether the statement is, or holds, q-sql."""
    return isinstance(tree, QStatement) or any(_q_call(n) for n in tree.find_all(exp.Anonymous))


def _q_call(node: exp.Expr) -> bool:
    return isinstance(node, exp.Anonymous) and str(node.this).upper() == "Q"


def _embedded(call: exp.Expr, columns: Columns | None) -> exp.Select:
    """The tree of ``q('...')``; its errors give the position in the q text in words, since the
    string's place in the SQL is not kept by the parser."""
    arguments = call.expressions
    if len(arguments) != 1 or not (isinstance(arguments[0], exp.Literal) and arguments[0].is_string):
        raise SqlError("q('...') takes one argument: the q-sql text in quotes, as in "
                       "q('select avg price by sym from trade')")
    text = arguments[0].name
    try:
        return translate(text, columns)
    except SqlError as error:
        where = f" (line {error.line}, column {error.col} of the q-sql text)" \
            if error.line is not None else ""
        raise SqlError(error.message + where) from None
