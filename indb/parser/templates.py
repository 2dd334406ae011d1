"""PostgreSQL's functions of a template, as the dialect reads them: ``to_char`` (of a number:
``numformat``; of a date or time: ``dateformat``), ``to_timestamp`` and ``to_date``. A literal
template is read when the statement is, so an element indb cannot lay out is refused at its
place in the text; the rewritten call's query column keeps the function's name."""

from __future__ import annotations

from sqlglot import exp
from sqlglot.parser import Parser

from indb.errors import IndbError
from indb.parser import dateformat, numformat

WRITTEN_AS = "written_as"  # a rewritten call's meta: the name its query column takes


def parse_to_char(p: Parser) -> exp.Expr:
    """``to_char(value, template)``: of a number when the template is one (a 9 or 0 place and no
    date keyword), as the session's function of ``numformat``; else of a date or time, as the
    expression ``dateformat`` makes of it."""
    args = p._parse_function_args(False)
    template = _literal(p, args, "to_char")
    if template is None:
        return p.validate_expression(p.FUNCTIONS["TO_CHAR"](args), args)
    if not numformat.is_number_template(template.name) or dateformat.is_date_template(template.name):
        return _written_as("to_char", dateformat.to_char(args[0], template.name))
    try:
        numformat.read(template.name)
    except IndbError as error:
        p.raise_error(str(error), p._prev)
    # the type's name too: PostgreSQL writes a float8 or float4 out as printf does
    return _written_as("to_char", exp.Anonymous(this=numformat.NAME, expressions=[
        exp.cast(args[0], exp.DataType.Type.VARCHAR), template,
        exp.Anonymous(this="TYPEOF", expressions=[args[0].copy()])]))


def parse_to_time(p: Parser, kind: type[exp.Expr], name: str) -> exp.Expr:
    """``to_timestamp(text, template)`` / ``to_date(text, template)`` of a literal template:
    DuckDB's strptime of the format ``dateformat`` reads it as."""
    args = p._parse_function_args(False)
    template = _literal(p, args, name.lower())
    if template is None:
        return p.validate_expression(p.FUNCTIONS[name](args), args)
    try:
        written = dateformat.strptime_format(template.name)
    except IndbError as error:
        p.raise_error(str(error), p._prev)
    return _written_as(name.lower(), kind(this=args[0], format=exp.Literal.string(written)))


def _literal(p: Parser, args: list[exp.Expr], name: str) -> exp.Literal | None:
    """The call's template, a literal; None for a call without one (``to_timestamp(seconds)``);
    a template that is not a literal refused (indb reads it when the statement is parsed)."""
    if len(args) != 2:
        return None
    template = args[1]
    if not isinstance(template, exp.Literal) or not template.is_string:
        p.raise_error(f"{name}(value, template) takes its template as a literal ('YYYY-MM-DD'): "
                      "indb reads PostgreSQL's template when it reads the statement", p._prev)
        return None
    return template


def _written_as(name: str, rewritten: exp.Expr) -> exp.Expr:
    rewritten.meta[WRITTEN_AS] = name
    return rewritten


def named(statement: exp.Expr) -> exp.Expr:
    """A query's column made of a rewritten call (``to_char(ts, 'YYYY')``, which DuckDB runs as
    ``printf(...)``) keeps the function's name, as PostgreSQL names it, where the query gives
    it none."""
    for select in statement.find_all(exp.Select):
        for column in select.expressions:
            name = column.meta.get(WRITTEN_AS)
            if name is not None:
                column.replace(exp.alias_(column.copy(), name))
    return statement
