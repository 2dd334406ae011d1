"""What an exposed function declares for its callers, in ``CREATE FUNCTION``:

- ``PARAMETERS (threshold DOUBLE DEFAULT 0.9 COMMENT 'the cut', symbol VARCHAR)``: each
  parameter is ``name TYPE [DEFAULT constant] [COMMENT 'text']``; one without a default is
  required;
- ``COMMENT 'what it does'``.

Both are clauses of CREATE FUNCTION like its others (any order, before ``AS $$ ... $$``), in the
file form and the inline form alike. ``parse_clause`` is tried by the dialect's CREATE FUNCTION
loop; ``clauses_sql`` renders them (after WITH OPTIONS, before the inline code). What the types and
defaults mean is the planner's business (``indb.planner.parameters``).
"""

from __future__ import annotations

from collections.abc import Callable

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import TokenType

SHAPE = "name TYPE [DEFAULT value] [COMMENT 'text']"


class Parameter(exp.Expression):
    """One declared parameter: ``this`` its name (an Identifier), ``kind`` its DataType,
    ``default`` the constant after DEFAULT, ``comment`` the string after COMMENT."""

    arg_types = {"this": True, "kind": True, "default": False, "comment": False}


def parse_clause(parser: Parser, args: dict) -> bool:
    """Read ``PARAMETERS (...)`` or ``COMMENT '...'`` into ``args`` if one comes next."""
    if parser._match_text_seq("PARAMETERS"):
        if args.get("parameters") is not None:
            parser.raise_error("PARAMETERS is given twice; declare every parameter in one list")
        if not parser._match(TokenType.L_PAREN, advance=False):
            parser.raise_error(f"expected ( after PARAMETERS: PARAMETERS ({SHAPE}, ...)")
        args["parameters"] = parser._parse_wrapped_csv(lambda: _parse_parameter(parser), optional=True)
        return True
    if parser._match_text_seq("COMMENT"):
        comment = parser._parse_string()
        if comment is None:
            parser.raise_error("COMMENT takes a string: COMMENT 'what the function does'")
        args["comment"] = comment
        return True
    return False


def _parse_parameter(parser: Parser) -> Parameter | None:
    name = parser._parse_id_var(any_token=False)
    if name is None:
        return None
    kind = parser._parse_types()
    if kind is None:
        parser.raise_error(f"parameter {name.name} needs a type: {SHAPE}")
    default = comment = None
    while True:
        if parser._match(TokenType.DEFAULT):
            default = parser._parse_unary()
            if default is None:
                parser.raise_error(f"DEFAULT of parameter {name.name} needs a value")
        elif parser._match_text_seq("COMMENT"):
            comment = parser._parse_string()
            if comment is None:
                parser.raise_error(f"COMMENT of parameter {name.name} takes a string")
        else:
            break
    if parser._curr and parser._curr.token_type not in (TokenType.COMMA, TokenType.R_PAREN):
        parser.raise_error(f"unexpected {parser._curr.text} in parameter {name.name}; a "
                           f"parameter is {SHAPE}")
    return parser.expression(Parameter(this=name, kind=kind, default=default, comment=comment))


def parameter_sql(self: Generator, e: Parameter) -> str:
    parts = [self.sql(e, "this"), self.sql(e, "kind")]
    if e.args.get("default") is not None:
        parts.append(f"DEFAULT {self.sql(e, 'default')}")
    if e.args.get("comment") is not None:
        parts.append(f"COMMENT {self.sql(e, 'comment')}")
    return " ".join(parts)


def clauses_sql(self: Generator, e: exp.Expr) -> list[str]:
    """PARAMETERS and COMMENT of a CREATE FUNCTION tree, as written back."""
    parts = []
    if e.args.get("parameters") is not None:
        parts.append("PARAMETERS (" + ", ".join(self.sql(p) for p in e.args["parameters"]) + ")")
    if e.args.get("comment") is not None:
        parts.append(f"COMMENT {self.sql(e, 'comment')}")
    return parts


TRANSFORMS: dict[type[exp.Expr], Callable[..., str]] = {Parameter: parameter_sql}
