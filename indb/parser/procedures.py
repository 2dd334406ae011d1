"""Kinetica's SQL procedures: a named batch of statements, run on demand or on a schedule.

- ``CREATE [OR REPLACE] PROCEDURE p [()] [LANGUAGE SQL] BEGIN stmt; stmt; ... END
  [EXECUTE FOR EVERY n SECOND[S]|MINUTE[S]|HOUR[S]|DAY[S] [STARTING AT 'YYYY-MM-DD [HH:MM[:SS]]']
  [STOP AFTER 'YYYY-MM-DD [HH:MM[:SS]]' | n unit]]``;
- ``EXEC[UTE] PROCEDURE p [()]``, ``SHOW PROCEDURE p | *``, ``SHOW PROCEDURES``,
  ``DROP PROCEDURE [IF EXISTS] p``.

The body's statements are parsed here, by the same parser, as the CREATE is read: a syntax error
in one is reported at CREATE with the line and column of the text the user typed. sqlglot cuts a
script into chunks at its ``;`` tokens before parsing, so the body reads on across chunks until
an ``END`` that starts a statement (as sqlglot's own Trino routines do). Each statement's text is
kept as typed: it is what runs, and what ``SHOW PROCEDURE`` gives back.

The parse functions take the dialect's parser and return None (having consumed nothing) when the
statement is not theirs, so the dialect chains them before its other parsers.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser
from sqlglot.tokens import Token, TokenType

from indb.parser.durations import duration, quoted_time
from indb.parser.names import unqualified

SCHEDULE = ("EXECUTE FOR EVERY n SECONDS|MINUTES|HOURS|DAYS [STARTING AT 'YYYY-MM-DD HH:MM:SS'] "
            "[STOP AFTER 'YYYY-MM-DD HH:MM:SS' | n unit]")


class CreateProcedure(exp.Expression):
    """``CREATE [OR REPLACE] PROCEDURE``: ``expressions`` are the body's statement trees and
    ``texts`` their text as typed (Literal strings); ``every`` a Duration
    (``indb.parser.durations``), ``starting`` a string, ``stop`` a string (a time) or a Duration
    (after the first due time)."""

    arg_types = {"this": True, "replace": False, "expressions": True, "texts": True,
                 "every": False, "starting": False, "stop": False}


class ExecuteProcedure(exp.Expression):
    """``EXECUTE PROCEDURE p``."""

    arg_types = {"this": True}


class ShowProcedure(exp.Expression):
    """``SHOW PROCEDURE p`` or ``SHOW PROCEDURE *`` (``listing``: ``SHOW PROCEDURES``)."""

    arg_types = {"this": True, "listing": False}


class DropProcedure(exp.Expression):
    """``DROP PROCEDURE [IF EXISTS] p``."""

    arg_types = {"this": True, "exists": False}


def parse_create(p: Parser) -> exp.Expr | None:
    """CREATE [OR REPLACE] PROCEDURE ... (after CREATE)."""
    start = p._index
    replace = p._match_pair(TokenType.OR, TokenType.REPLACE)
    if not p._match(TokenType.PROCEDURE):
        p._retreat(start)
        return None
    name = _name(p, "CREATE PROCEDURE")
    if p._match(TokenType.L_PAREN) and not p._match(TokenType.R_PAREN):
        p.raise_error("a procedure takes no parameters: CREATE PROCEDURE p () BEGIN ... END")
    if p._match_text_seq("LANGUAGE") and not p._match_text_seq("SQL"):
        p.raise_error("procedures are written in SQL: LANGUAGE SQL, or no LANGUAGE")
    if not p._match(TokenType.BEGIN):
        p.raise_error("expected BEGIN and the procedure's statements: CREATE PROCEDURE p BEGIN "
                      "stmt; stmt; END")
    trees, texts = _body(p)
    args: dict[str, Any] = {}
    if p._match_text_seq("EXECUTE", "FOR", "EVERY"):
        args["every"] = duration(p, "EXECUTE FOR EVERY")
        if p._match_text_seq("STARTING", "AT"):
            args["starting"] = quoted_time(p, "STARTING AT")
        if p._match_text_seq("STOP", "AFTER"):
            args["stop"] = p._parse_string() or duration(p, "STOP AFTER")
    if p._curr:
        p.raise_error(f"unexpected {p._curr.text} after the procedure's END; a schedule is "
                      f"{SCHEDULE}")
    return p.expression(CreateProcedure(this=name, replace=replace, expressions=trees,
                                        texts=texts, **args))


def _body(p: Parser) -> tuple[list[exp.Expr], list[exp.Expr]]:
    """The statements between BEGIN and END, each with its text as typed."""
    trees: list[exp.Expr] = []
    texts: list[exp.Expr] = []
    while True:
        if not p._curr:  # the end of one ;-separated chunk: read on in the next
            if p._chunk_index >= len(p._chunks):
                p.raise_error("the procedure's body has no END: CREATE PROCEDURE p BEGIN stmt; "
                              "stmt; END")
                break
            p._advance_chunk()
        elif p._match(TokenType.SEMICOLON):  # an empty statement (;;, or a ; carrying a comment)
            continue
        elif p._match(TokenType.END):
            return trees, texts
        else:
            first = p._curr
            tree = p._parse_statement()
            if tree is None:
                p.raise_error("expected a statement in the procedure's body")
                break
            trees.append(tree)
            texts.append(exp.Literal.string(p.sql[first.start:p._prev.end + 1]))
            if p._curr and p._curr.token_type != TokenType.END:  # END may follow
                p.raise_error(f"unexpected {p._curr.text} in the procedure's statement; end each "
                              "statement with ; (the last one too, before END)")
    return trees, texts


def _name(p: Parser, after: str) -> exp.Expr:
    return unqualified(p, after, "procedures")


def parse_execute(p: Parser) -> exp.Expr | None:
    """EXECUTE PROCEDURE p (after EXECUTE)."""
    if not p._match(TokenType.PROCEDURE):
        return None
    name = _name(p, "EXECUTE PROCEDURE")
    if p._match(TokenType.L_PAREN) and not p._match(TokenType.R_PAREN):
        p.raise_error("a procedure takes no arguments: EXECUTE PROCEDURE p")
    return p.expression(ExecuteProcedure(this=name))


def parse_exec(p: Parser) -> exp.Expr | None:
    """Kinetica's short EXEC PROCEDURE p, EXEC being a plain word to the tokenizer."""
    if not (p._curr and p._curr.token_type == TokenType.VAR and p._curr.text.upper() == "EXEC"
            and p._next and p._next.token_type == TokenType.PROCEDURE):
        return None
    p._advance()
    return parse_execute(p)


def parse_show(p: Parser) -> exp.Expr | None:
    """SHOW PROCEDURE p | *, SHOW PROCEDURES (after SHOW)."""
    if p._match_text_seq("PROCEDURES"):
        return p.expression(ShowProcedure(this=exp.Star(), listing=True))
    if not p._match(TokenType.PROCEDURE):
        return None
    name = exp.Star() if p._match(TokenType.STAR) else _name(p, "SHOW PROCEDURE")
    return p.expression(ShowProcedure(this=name))


def parse_drop(p: Parser) -> exp.Expr | None:
    """DROP PROCEDURE [IF EXISTS] p (after DROP)."""
    if not p._match(TokenType.PROCEDURE):
        return None
    exists = p._match_text_seq("IF", "EXISTS")
    return p.expression(DropProcedure(this=_name(p, "DROP PROCEDURE"), exists=bool(exists)))


def open_body(tokens: list[Token]) -> bool:
    """Whether ``tokens``, a statement read so far, is a CREATE PROCEDURE whose body has begun
    and not ended: a ``;`` there ends one of its statements, not the CREATE."""
    words = [t.token_type for t in tokens[:4]]
    if words[:2] != [TokenType.CREATE, TokenType.PROCEDURE] and \
            words != [TokenType.CREATE, TokenType.OR, TokenType.REPLACE, TokenType.PROCEDURE]:
        return False
    begun = statement_start = False
    for token in tokens:
        if not begun:
            begun = statement_start = token.token_type == TokenType.BEGIN
        elif token.token_type == TokenType.SEMICOLON:
            statement_start = True
        elif statement_start and token.token_type == TokenType.END:
            return False
        else:
            statement_start = False
    return begun


def _create_sql(g: Generator, e: CreateProcedure) -> str:
    body = "".join(f"\n  {text.name};" for text in e.args["texts"])
    parts = [f"CREATE {'OR REPLACE ' if e.args.get('replace') else ''}PROCEDURE "
             f"{g.sql(e, 'this')} BEGIN{body}\nEND"]
    if e.args.get("every") is not None:
        parts.append(f"EXECUTE FOR EVERY {g.sql(e, 'every')}")
    if e.args.get("starting") is not None:
        parts.append(f"STARTING AT {g.sql(e, 'starting')}")
    if e.args.get("stop") is not None:
        parts.append(f"STOP AFTER {g.sql(e, 'stop')}")
    return " ".join(parts)


TRANSFORMS: dict[type[exp.Expr], Any] = {
    CreateProcedure: _create_sql,
    ExecuteProcedure: lambda g, e: f"EXECUTE PROCEDURE {g.sql(e, 'this')}",
    ShowProcedure: lambda g, e: "SHOW PROCEDURES" if e.args.get("listing")
    else f"SHOW PROCEDURE {g.sql(e, 'this')}",
    DropProcedure: lambda g, e: "DROP PROCEDURE " + ("IF EXISTS " if e.args.get("exists") else "")
    + g.sql(e, "this"),
}
