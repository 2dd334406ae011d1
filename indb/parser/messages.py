"""Error messages in the user's terms: sqlglot's syntax errors without its internals, and DuckDB's
errors pointed at the text the user typed rather than at the SQL indb rewrote it into.

DuckDB runs a rendering of the statement (views, PREDICT functions, staging tables), so the
``LINE 1: ...`` context it prints quotes SQL the user never wrote. It is dropped; instead, a name
the message quotes (a column, a table, a function) is looked up among the tokens of the user's own
text, and the error points there.
"""

from __future__ import annotations

import re

from sqlglot.errors import TokenError
from sqlglot.tokens import TokenType

from indb.errors import SqlError

# sqlglot's wordings that name its own classes and tokens, and what to say instead
_INTERNALS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"Required keyword: '\w+' missing for <class '[\w.]+'>"),
     "something is missing here"),
    (re.compile(r"<Token token_type: TokenType\.SENTINEL[^>]*>"), "the end of the statement"),
    (re.compile(r"<Token token_type: TokenType\.\w+, text: ([^,]*),[^>]*>"), r"'\1'"),
    (re.compile(r"Error tokenizing '.*", re.S), "a quote or comment is not closed"),
]
# the names DuckDB's errors quote: "name", or "with name NAME does not exist"
_NAMES = [re.compile(r'"([^"]+)"'), re.compile(r"with name (\S+) does not exist")]
_NAME_TOKENS = {TokenType.VAR, TokenType.IDENTIFIER}


def syntax_message(description: str, near: str | None) -> str:
    """A syntax error's description without sqlglot's class and token reprs."""
    for pattern, replacement in _INTERNALS:
        description = pattern.sub(replacement, description)
    if description == "something is missing here" and near:
        description = f"something is missing after {near!r}"
    return f"syntax error: {description}."


def in_user_terms(error: SqlError, sql: str) -> SqlError:
    """A SqlError from DuckDB, without DuckDB's quote of the rewritten SQL, pointing at the name
    it complains about in ``sql`` when that name appears there; with the text attached."""
    if not isinstance(sql, str):  # the statement itself was not text: nothing to point into
        return error
    if error.line is not None or error.sql is not None:
        return error.with_sql(sql)
    lines = error.message.splitlines()
    message = "\n".join(line for line in lines if not line.startswith("LINE ")
                        and not set(line.strip()) <= {"^"}).strip()
    line, col = _locate(sql, message)
    return SqlError(message, line, col, sql)


def _locate(sql: str, message: str) -> tuple[int | None, int | None]:
    names = [m.group(1).lower() for pattern in _NAMES for m in pattern.finditer(message)]
    if not names:
        return None, None
    from indb.parser.dialect import Indb  # the dialect's tokenizer reads the text as parse does
    try:
        tokens = Indb().tokenize(sql)
    except TokenError:
        return None, None
    for name in names:
        for token in tokens:
            if token.token_type in _NAME_TOKENS and token.text.lower() == name:
                return token.line, token.col - len(token.text) + 1
    return None, None
