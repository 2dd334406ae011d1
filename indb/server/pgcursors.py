"""PostgreSQL's statements about a session's own state, which none of the SQL parsers indb uses
reads: its cursors (``DECLARE name CURSOR FOR query``, ``FETCH``, ``MOVE``, ``CLOSE``), its
prepared statements (``DEALLOCATE``; ``prepared_text`` cuts a ``PREPARE`` apart), ``RESET``,
``UNLISTEN``, ``DISCARD`` and ``LOCK``. Each is read with sqlglot's tokenizer into a small typed
object; the pg port's session carries it out (``server.pgsession``). ``statements`` cuts a text
of several of them apart.

Clients send them on their own: psycopg's and psycopg2's named (server-side) cursors, which
SQLAlchemy's ``stream_results`` and pandas' ``read_sql(chunksize=...)`` use, declare a cursor and
fetch from it; psycopg deallocates its prepared statements after a statement that changes a
table; asyncpg's pool resets a connection it takes back with ``CLOSE ALL; UNLISTEN *; RESET
ALL;``, and poolers send ``DISCARD ALL``; pg_dump locks the tables it dumps. Cursors move
forward only here (``FETCH NEXT``, ``FORWARD n``, ``n``, ``ALL``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp
from sqlglot.errors import TokenError
from sqlglot.dialects.postgres import Postgres
from sqlglot.tokens import Token, Tokenizer, TokenType

from indb.errors import NotSupportedError, SqlError

FIRST_WORDS = frozenset({"DECLARE", "FETCH", "MOVE", "CLOSE", "DEALLOCATE", "RESET", "UNLISTEN",
                         "DISCARD", "LOCK"})
# statements that end or begin a transaction, or SET something: in a text of several
# (``BEGIN; INSERT ...; COMMIT``) each statement runs on its own, these doing nothing
SESSION_WORDS = FIRST_WORDS | {"BEGIN", "START", "COMMIT", "END", "ROLLBACK", "ABORT", "SAVEPOINT",
                               "RELEASE", "SET"}
_FORWARD = frozenset({"FORWARD", "NEXT"})
_OTHER_DIRECTIONS = frozenset({"PRIOR", "FIRST", "LAST", "ABSOLUTE", "RELATIVE", "BACKWARD"})


@dataclass(frozen=True)
class Declare:
    """``DECLARE name [BINARY] [ASENSITIVE | INSENSITIVE] [[NO] SCROLL] CURSOR [{WITH | WITHOUT}
    HOLD] FOR query``: ``query`` is the text after FOR; ``hold``: it outlives its transaction."""

    name: str
    query: str
    hold: bool


@dataclass(frozen=True)
class Fetch:
    """``FETCH`` (or ``MOVE``, which skips the rows) of ``count`` rows (None: ALL)."""

    name: str
    count: int | None
    move: bool


@dataclass(frozen=True)
class Close:
    """``CLOSE name | ALL`` (``name`` None)."""

    name: str | None


@dataclass(frozen=True)
class Deallocate:
    """``DEALLOCATE [PREPARE] name | ALL`` (``name`` None)."""

    name: str | None


@dataclass(frozen=True)
class Reset:
    """``RESET name | ALL``, ``UNLISTEN name | *``, ``DISCARD {ALL | PLANS | SEQUENCES | TEMP}``:
    what the first two undo does not persist here (SET does nothing, nothing listens), but for
    the search path (``path``); ``DISCARD ALL`` (``everything``) also closes the cursors and
    drops the prepared statements."""

    tag: str
    everything: bool = False
    temporary: bool = False  # DISCARD TEMP or ALL: the session's temporary tables go
    path: bool = False  # RESET search_path, RESET ALL, DISCARD ALL: the search path is main again


@dataclass(frozen=True)
class Lock:
    """``LOCK [TABLE] [ONLY] name [*] [, ...] [IN mode MODE] [NOWAIT]``: the tables must be there
    for the session to read, and no lock is taken (indb's readers read a snapshot, and its
    writers commit optimistically: a DROP does not wait for them)."""

    tables: tuple[exp.Table, ...]


Statement = Declare | Fetch | Close | Deallocate | Reset | Lock


class _Words(Tokenizer):
    """sqlglot's tokens, FETCH among the words (sqlglot reads the rest of a FETCH as one)."""

    COMMANDS = Tokenizer.COMMANDS - {TokenType.FETCH}


class _Pieces(Postgres.Tokenizer):
    """sqlglot's tokens of PostgreSQL's SQL, whose ``$$`` strings hold semicolons, and no
    statement read as a command to its end."""

    COMMANDS = set[TokenType]()


def read(sql: str) -> Statement | None:
    """``sql`` as one of these statements; None for any other (left to the other parsers)."""
    words = sql.split(None, 1)
    if not words or words[0].upper() not in FIRST_WORDS:
        return None  # (no tokenizing of every other statement)
    try:
        tokens = [t for t in _Words().tokenize(sql) if t.token_type != TokenType.SEMICOLON]
    except TokenError:
        return None
    first, rest = tokens[0].text.upper(), tokens[1:]
    if first == "DECLARE":
        return _declare(sql, rest)
    if first in ("FETCH", "MOVE"):
        return _fetch(rest, move=first == "MOVE")
    if first == "CLOSE":
        return Close(_name_or_all(rest, "CLOSE name | ALL"))
    if first == "RESET" and rest and rest[0].text.upper() == "VARIABLE":
        return None  # DuckDB's RESET VARIABLE v: the engine's
    if first in ("RESET", "UNLISTEN", "DISCARD"):
        return _reset(first, [t.text.upper() for t in rest])
    if first == "LOCK":
        return _lock(rest)
    if rest and rest[0].text.upper() == "PREPARE":
        rest = rest[1:]
    return Deallocate(_name_or_all(rest, "DEALLOCATE [PREPARE] name | ALL"))


def _reset(verb: str, words: list[str]) -> Reset:
    if len(words) != 1 or (verb == "DISCARD" and words[0] not in (
            "ALL", "PLANS", "SEQUENCES", "TEMP", "TEMPORARY")):
        raise SqlError({"RESET": "RESET name | ALL", "UNLISTEN": "UNLISTEN channel | *",
                        "DISCARD": "DISCARD ALL | PLANS | SEQUENCES | TEMP"}[verb])
    everything = verb == "DISCARD" and words[0] == "ALL"
    return Reset(f"{verb} ALL" if everything else verb, everything,
                 verb == "DISCARD" and words[0] in ("ALL", "TEMP", "TEMPORARY"),
                 verb in ("RESET", "DISCARD") and words[0] in ("ALL", "SEARCH_PATH", "SCHEMA"))


def statements(sql: str) -> list[str] | None:
    """The statements of a text of several, where one of them is one of these or begins, ends or
    sets something of a session (asyncpg's ``CLOSE ALL; UNLISTEN *; RESET ALL;``, a script's
    ``BEGIN; ...; COMMIT``): each to run on its own, since no other parser reads these; None
    otherwise (one statement, or none of these: the engine reads the text whole)."""
    if ";" not in sql:
        return None
    try:
        tokens = _Pieces().tokenize(sql)
    except TokenError:
        return None
    pieces, start = [], 0
    for token in tokens:
        if token.token_type == TokenType.SEMICOLON:
            pieces.append(sql[start:token.start].strip())
            start = token.end + 1
    pieces = [p for p in [*pieces, sql[start:].strip()] if p]
    if len(pieces) < 2 or not any(p.split(None, 1)[0].upper() in SESSION_WORDS for p in pieces):
        return None
    return pieces


_LOCK_MODES = frozenset({"ACCESS", "ROW", "SHARE", "UPDATE", "EXCLUSIVE"})


def _lock(tokens: list[Token]) -> Lock:
    usage = "LOCK [TABLE] [ONLY] name [, ...] [IN lockmode MODE] [NOWAIT]"
    words = [t.text.upper() for t in tokens]
    if words[-1:] == ["NOWAIT"]:
        tokens, words = tokens[:-1], words[:-1]
    if "IN" in words:
        at = words.index("IN")
        if words[-1] != "MODE" or not set(words[at + 1:-1]) <= _LOCK_MODES or at + 2 == len(words):
            raise SqlError(f"{usage}: unknown lock mode {' '.join(words[at + 1:-1])}")
        tokens = tokens[:at]
    if tokens and tokens[0].text.upper() == "TABLE":
        tokens = tokens[1:]
    if tokens and tokens[0].text.upper() == "ONLY":
        tokens = tokens[1:]
    items: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.COMMA:
            items.append([])
        elif token.token_type != TokenType.STAR:  # (name *: its descendants too, none here)
            items[-1].append(token)
    tables = []
    for item in items:
        parts = item[::2]  # name . name . name
        if not 1 <= len(parts) <= 3 or any(t.token_type != TokenType.DOT for t in item[1::2]) \
                or len(item) % 2 == 0:
            raise SqlError(usage)
        names = [exp.to_identifier(t.text, quoted=t.token_type == TokenType.IDENTIFIER)
                 for t in parts]
        tables.append(exp.Table(this=names[-1], db=names[-2] if len(names) > 1 else None,
                                catalog=names[-3] if len(names) > 2 else None))
    return Lock(tuple(tables))


def prepared_text(sql: str) -> tuple[str, str] | None:
    """``PREPARE name [(type, ...)] AS statement``: the name, as PostgreSQL reads it, and the
    statement's text (its parameters' types are left to it); None for any other statement."""
    words = sql.split(None, 1)
    if not words or words[0].upper() != "PREPARE":
        return None
    try:
        tokens = _Pieces().tokenize(sql)
    except TokenError:
        return None
    depth = 0
    for token in tokens[2:]:
        depth += (token.token_type == TokenType.L_PAREN) - (token.token_type == TokenType.R_PAREN)
        if depth == 0 and token.token_type == TokenType.ALIAS:
            return _name(tokens[1]), sql[token.end + 1:].strip().rstrip(";")
    return None


def _declare(sql: str, tokens: list[Token]) -> Declare:
    words = [t.text.upper() for t in tokens]
    if "CURSOR" not in words or "FOR" not in words[words.index("CURSOR"):] or len(tokens) < 4:
        raise SqlError("DECLARE name CURSOR [WITH HOLD | WITHOUT HOLD] FOR query")
    cursor = words.index("CURSOR")
    options = words[1:cursor]
    if "BINARY" in options:
        raise NotSupportedError("a BINARY cursor is not supported: declare it without BINARY "
                                "and fetch in binary, as the client's protocol asks")
    unknown = set(options) - {"ASENSITIVE", "INSENSITIVE", "NO", "SCROLL"}
    if unknown:
        raise SqlError(f"DECLARE ... {sorted(unknown)[0]} ... CURSOR: unknown option")
    at = cursor + 1 + words[cursor + 1:].index("FOR")
    hold = words[cursor + 1:at]
    if hold not in ([], ["WITH", "HOLD"], ["WITHOUT", "HOLD"]):
        raise SqlError("DECLARE name CURSOR [WITH HOLD | WITHOUT HOLD] FOR query")
    query = sql[tokens[at].end + 1:tokens[-1].end + 1].strip()  # (without a last semicolon)
    if not query:
        raise SqlError("DECLARE name CURSOR FOR query: the query is missing")
    return Declare(_name(tokens[0]), query, hold == ["WITH", "HOLD"])


def _fetch(tokens: list[Token], move: bool) -> Fetch:
    verb = "MOVE" if move else "FETCH"
    usage = f"{verb} [NEXT | FORWARD [count | ALL] | count | ALL] [FROM | IN] name"
    if not tokens:
        raise SqlError(usage)
    name, words = tokens[-1], [t.text.upper() for t in tokens[:-1]]
    if words and words[-1] in ("FROM", "IN"):
        words = words[:-1]
    if words and words[0] in _OTHER_DIRECTIONS:
        raise NotSupportedError(f"{verb} {words[0]}: cursors here move forward only ({usage})")
    count: int | None = 1
    if words and words[0] in _FORWARD:
        forward, words = words[0], words[1:]
        if forward == "NEXT" and words:
            raise SqlError(usage)
    if words == ["ALL"]:
        count = None
    elif len(words) == 1 and words[0].isdigit():
        count = int(words[0])
    elif words:
        raise NotSupportedError(f"{verb} {' '.join(words)}: cursors here move forward only "
                                f"({usage})") if words[0].startswith("-") else SqlError(usage)
    return Fetch(_name(name), count, move)


def _name_or_all(tokens: list[Token], usage: str) -> str | None:
    if len(tokens) != 1:
        raise SqlError(usage)
    return None if tokens[0].token_type == TokenType.ALL else _name(tokens[0])


def _name(token: Token) -> str:
    """A name as PostgreSQL reads it: as quoted, or lowercased."""
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()
