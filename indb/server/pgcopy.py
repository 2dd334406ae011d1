"""PostgreSQL's ``COPY ... FROM STDIN`` and ``COPY ... TO STDOUT`` on the pg port: the statement
read with sqlglot's tokenizer (sqlglot's parsers refuse PostgreSQL's ``(FORMAT csv)`` after
STDIN), the client's rows (text or CSV) read into Arrow by pyarrow's CSV reader, and rows
written in PostgreSQL's text or CSV form; text rows are cast to their columns' types by DuckDB
(``cast``). The protocol's exchange and the load into the table are ``server.pgwire``'s.

Text format: columns apart by a tab, ``\\N`` for NULL, backslash escapes (``\\t``, ``\\n``,
``\\\\``, octal and hex). CSV: PostgreSQL's, an unquoted empty value being NULL and a quoted one
an empty string. Binary: PostgreSQL's, each value decoded by psycopg's loader of its column's
type (from the client only).
"""

from __future__ import annotations

import io
import re
import struct
from collections.abc import Sequence
from dataclasses import dataclass

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError
from sqlglot.tokens import Token, Tokenizer, TokenType

from indb.engine import Engine
from indb.engine.schemas import looked_up
from indb.engine.temporary import Temporaries, resolved
from indb.errors import DataError, IndbError, NotSupportedError, SqlError
from indb.parser import render
from indb.planner.tables import table_name
from indb.server import pgparams, pgvalues

_TRUE = frozenset({"TRUE", "ON", "1"})
_FALSE = frozenset({"FALSE", "OFF", "0"})
_ESCAPES = {"b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}
_ESCAPED = re.compile(r"\\(?:([0-7]{1,3})|x([0-9A-Fa-f]{1,2})|(.))", re.DOTALL)
_OUT = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


@dataclass(frozen=True)
class Form:
    """How rows are written: PostgreSQL's text format, or CSV, with COPY's options."""

    csv: bool = False
    binary: bool = False
    delimiter: str = "\t"
    null: str = "\\N"
    header: bool = False
    quote: str = '"'
    escape: str = '"'


@dataclass(frozen=True)
class CopyIn:
    """``COPY table [(columns)] FROM STDIN [options]``."""

    table: exp.Table
    columns: tuple[str, ...]  # () for all of them
    form: Form


@dataclass(frozen=True)
class CopyOut:
    """``COPY {table [(columns)] | (query)} TO STDOUT [options]``: ``query`` the rows' SQL;
    ``table`` the table of ``COPY table TO`` without a column list (its generated columns are
    left out, as PostgreSQL leaves them out)."""

    query: str
    form: Form
    table: exp.Table | None = None


class _Words(Tokenizer):
    COMMANDS = Tokenizer.COMMANDS - {TokenType.COPY}  # (sqlglot's reads the rest as one)


def read(sql: str) -> CopyIn | CopyOut | None:
    """``sql`` as a COPY from the client or to it; None for anything else (a COPY of a file
    is indb's own statement)."""
    words = sql.split(None, 1)
    if not words or words[0].upper() != "COPY":
        return None
    try:
        tokens = [t for t in _Words().tokenize(sql) if t.token_type != TokenType.SEMICOLON]
    except TokenError:
        return None
    at = 1
    query: str | None = None
    table: exp.Table | None = None
    if len(tokens) > 1 and tokens[1].token_type == TokenType.L_PAREN:
        end = _closing(tokens, 1)
        query, at = sql[tokens[1].end + 1:tokens[end].start].strip(), end + 1
    else:
        while at < len(tokens) and tokens[at].token_type != TokenType.L_PAREN \
                and tokens[at].text.upper() not in ("FROM", "TO"):
            at += 1
        if at == 1:
            return None
        try:
            table = exp.to_table(sql[tokens[1].start:tokens[at - 1].end + 1], dialect="postgres")
        except ParseError:
            return None
    columns: tuple[str, ...] = ()
    if table is not None and at < len(tokens) and tokens[at].token_type == TokenType.L_PAREN:
        end = _closing(tokens, at)
        names = tokens[at + 1:end]
        columns = tuple(_name(t) for t in names[::2])
        if any(t.token_type != TokenType.COMMA for t in names[1::2]) or not columns:
            raise SqlError("COPY table (column, ...): a list of column names")
        at = end + 1
    if at + 1 >= len(tokens):
        return None
    direction, end_point = tokens[at].text.upper(), tokens[at + 1].text.upper()
    if (direction, end_point) not in (("FROM", "STDIN"), ("TO", "STDOUT")):
        return None  # a file's: indb's own COPY
    form = _form(tokens[at + 2:])
    if direction == "TO":
        if table is not None:
            chosen: list[exp.Expr] = [exp.column(c, quoted=True) for c in columns] or [exp.Star()]
            query = exp.select(*chosen).from_(table).sql(dialect="duckdb")
        assert query is not None
        return CopyOut(query, form, table if table is not None and not columns else None)
    if table is None:
        raise SqlError("COPY FROM STDIN copies into a table, not a query")
    return CopyIn(table, columns, form)


def generated(engine: Engine, table: exp.Table) -> list[str]:
    """The generated columns of the table a COPY names, which COPY without a column list leaves
    out, as PostgreSQL's (none for a name that is no table's: the COPY then says so)."""
    name = table_name(table)
    try:
        info = engine.db.load(looked_up(engine, name) if table.args.get("db") is None else name)[1]
    except IndbError:
        return []
    return [c.name for c in info.generated_columns]


def all_columns(engine: Engine, table: exp.Table, temporaries: Temporaries | None) -> str | None:
    """``COPY table TO STDOUT``'s query where the table has generated columns: the others (as
    PostgreSQL's); None where it has none."""
    left_out = generated(engine, resolved(temporaries, table.copy()))
    if not left_out:
        return None
    return render(exp.select(exp.Star(except_=[exp.column(c, quoted=True) for c in left_out]))
                  .from_(table))


def _closing(tokens: list[Token], opening: int) -> int:
    depth = 0
    for at in range(opening, len(tokens)):
        depth += {TokenType.L_PAREN: 1, TokenType.R_PAREN: -1}.get(tokens[at].token_type, 0)
        if depth == 0:
            return at
    raise SqlError("COPY: a parenthesis is not closed")


def _form(tokens: list[Token]) -> Form:
    """COPY's options: ``[WITH] (FORMAT csv, HEADER, DELIMITER ',', NULL '', QUOTE '"', ESCAPE
    '"')``, or the older ``[WITH] CSV HEADER DELIMITER [AS] ','`` words."""
    if tokens and tokens[0].text.upper() == "WITH":
        tokens = tokens[1:]
    options: list[tuple[str, str | None]] = []
    if tokens and tokens[0].token_type == TokenType.L_PAREN:
        if _closing(tokens, 0) != len(tokens) - 1:
            raise SqlError("COPY ... (option value, ...): nothing may follow the options")
        for item in _split(tokens[1:-1]):
            options.append((item[0].text.upper(), _value(item[1:])))
    else:
        words = list(tokens)
        while words:
            name = words.pop(0).text.upper()
            if name in ("CSV", "BINARY"):
                options.append(("FORMAT", name.lower()))
            elif name == "HEADER":
                options.append(("HEADER", None))
            else:
                if words and words[0].text.upper() == "AS":
                    words.pop(0)
                if not words:
                    raise SqlError(f"COPY ... {name}: a value must follow")
                options.append((name, _value([words.pop(0)])))
    return _options(options)


def _split(tokens: list[Token]) -> list[list[Token]]:
    items: list[list[Token]] = [[]]
    for token in tokens:
        if token.token_type == TokenType.COMMA:
            items.append([])
        else:
            items[-1].append(token)
    if any(not item for item in items):
        raise SqlError("COPY ... (option value, ...): an option is missing")
    return items


def _value(tokens: list[Token]) -> str | None:
    if not tokens:
        return None
    if len(tokens) != 1:
        raise SqlError(f"COPY option value {' '.join(t.text for t in tokens)}: one value")
    return tokens[0].text


def _options(options: Sequence[tuple[str, str | None]]) -> Form:
    given = dict(options)
    # FREEZE (pgbench's): rows visible to old snapshots at once; a commit of new files is
    # seen by every query that starts after it anyway, so it changes nothing here
    freeze = (given.pop("FREEZE", None) or "TRUE").upper()
    if freeze not in _TRUE | _FALSE:
        raise NotSupportedError(f"COPY ... FREEZE {freeze}: true or false")
    unknown = set(given) - {"FORMAT", "DELIMITER", "NULL", "HEADER", "QUOTE", "ESCAPE", "ENCODING"}
    if unknown:
        raise NotSupportedError(f"COPY option {sorted(unknown)[0]} is not supported (FORMAT, "
                                "DELIMITER, NULL, HEADER, QUOTE, ESCAPE, ENCODING and FREEZE are)")
    kind = (given.get("FORMAT") or "text").lower()
    if kind not in ("text", "csv", "binary"):
        raise NotSupportedError(f"COPY ... FORMAT {kind}: text, csv or binary")
    if kind == "binary":
        if set(given) - {"FORMAT", "ENCODING"}:
            raise SqlError(f"COPY ... FORMAT binary takes no {sorted(set(given) - {'FORMAT'})[0]}")
        return Form(binary=True)
    if (given.get("ENCODING") or "utf8").lower().replace("-", "") != "utf8":
        raise NotSupportedError("COPY ... ENCODING: rows are UTF8 here")
    header = (given.get("HEADER") or "TRUE").upper() if "HEADER" in given else "FALSE"
    if header not in _TRUE | _FALSE:
        raise NotSupportedError(f"COPY ... HEADER {header}: true or false")
    csv = kind == "csv"
    null = given.get("NULL")
    form = Form(csv=csv, delimiter=given.get("DELIMITER") or ("," if csv else "\t"),
                null=null if null is not None else ("" if csv else "\\N"),
                header=header in _TRUE, quote=given.get("QUOTE") or '"',
                escape=given.get("ESCAPE") or given.get("QUOTE") or '"')
    for option in ("delimiter", "quote", "escape"):
        if len(getattr(form, option)) != 1:
            raise SqlError(f"COPY ... {option.upper()}: one character")
    if (given.get("QUOTE") or given.get("ESCAPE")) and not csv:
        raise SqlError("COPY ... QUOTE and ESCAPE are CSV's options: add FORMAT csv")
    return form


def _name(token: Token) -> str:
    return token.text if token.token_type == TokenType.IDENTIFIER else token.text.lower()


# -- the rows ----------------------------------------------------------------------------------

def rows_in(data: bytes, columns: Sequence[str], form: Form) -> pa.Table:
    """The client's rows as strings (NULLs as nulls), a column for each of ``columns``."""
    empty = pa.table({c: pa.array([], pa.string()) for c in columns})
    if not form.csv and data.endswith(b"\\.\n"):  # the old end-of-data line
        data = data[:-3]
    if not data.strip(b"\r\n"):
        return empty
    strings = {c: pa.string() for c in columns}
    parse = pacsv.ParseOptions(delimiter=form.delimiter, quote_char=form.quote if form.csv else False,
                               double_quote=form.csv and form.escape == form.quote,
                               escape_char=form.escape if form.csv and form.escape != form.quote
                               else False, newlines_in_values=form.csv)
    convert = pacsv.ConvertOptions(column_types=strings, null_values=[form.null],
                                   strings_can_be_null=True, quoted_strings_can_be_null=False)
    options = pacsv.ReadOptions(column_names=list(columns), skip_rows=1 if form.header else 0,
                                use_threads=False)
    try:
        table = pacsv.read_csv(io.BytesIO(data), read_options=options, parse_options=parse,
                               convert_options=convert)
    except pa.ArrowInvalid as error:
        raise DataError(f"COPY's rows do not fit the columns {', '.join(columns)}: "
                        f"{str(error).splitlines()[0]}") from None
    if form.csv:
        return table
    return pa.table({c: _unescaped(table[c]) for c in columns})


_SIGNATURE = b"PGCOPY\n\xff\r\n\x00"


def rows_binary(data: bytes, columns: Sequence[str], types: Sequence[pa.DataType]) -> pa.Table:
    """The client's rows in PostgreSQL's binary COPY format (asyncpg's copy_records_to_table,
    psycopg's binary copy): the header, then each row's fields, each decoded by psycopg's binary
    loader of its column's type (``pgparams.oid_of``)."""
    if not data.startswith(_SIGNATURE) or len(data) < len(_SIGNATURE) + 8:
        raise DataError("COPY ... FORMAT binary: the rows do not start with PostgreSQL's header")
    extension, = struct.unpack_from("!i", data, len(_SIGNATURE) + 4)
    at = len(_SIGNATURE) + 8 + extension
    oids = [pgparams.oid_of(kind) for kind in types]
    values: list[list[object]] = [[] for _ in columns]
    try:
        while at < len(data):
            count, = struct.unpack_from("!h", data, at)
            at += 2
            if count == -1:  # the trailer
                break
            if count != len(columns):
                raise DataError(f"COPY ... FORMAT binary: a row of {count} fields for the "
                                f"{len(columns)} columns {', '.join(columns)}")
            for column, oid in zip(values, oids, strict=True):
                size, = struct.unpack_from("!i", data, at)
                at += 4
                column.append(None if size < 0 else pgvalues.decoded(data[at:at + size], oid))
                at += max(size, 0)
        return pa.table({c: pa.array(v, type=t) for c, v, t in zip(columns, values, types,
                                                                  strict=True)})
    except (struct.error, ValueError, TypeError, pa.ArrowException) as error:
        raise DataError(f"COPY ... FORMAT binary: the rows do not fit the columns "
                        f"{', '.join(columns)}: {error}") from None


BINARY_HEADER = _SIGNATURE + struct.pack("!ii", 0, 0)  # flags, and no header extension
BINARY_TRAILER = struct.pack("!h", -1)


def binary_row(fields: Sequence[bytes | None]) -> bytes:
    """One row of PostgreSQL's binary COPY format: its field count, then each field's length
    (-1 for NULL) and bytes (each value in its type's binary form)."""
    return struct.pack("!h", len(fields)) + b"".join(
        struct.pack("!i", -1) if f is None else struct.pack("!i", len(f)) + f for f in fields)


def cast(strings: pa.Table, types: Sequence[str], table: str,
         arrow_types: Sequence[pa.DataType] = ()) -> pa.Table:
    """The client's rows of strings cast by DuckDB to their columns' SQL types, as an INSERT of
    those strings into ``table`` would be; a list column's and a BLOB column's (``arrow_types``
    say which) read from PostgreSQL's text of an array (``{a,b}``) or a bytea (``\\x0102``), as
    pg_dump writes them, first (DuckDB reads ``\\x01`` in a BLOB's text as one byte)."""
    if not strings.num_rows:
        return strings
    for name, kind in zip(strings.column_names, arrow_types):
        if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_binary(kind) \
                or pa.types.is_large_binary(kind):
            strings = strings.set_column(strings.column_names.index(name), name,
                                         _postgres_texts(strings[name], kind, table))
    casts = [exp.alias_(exp.cast(exp.column(c, quoted=True), exp.DataType.build(
        kind, dialect="duckdb")), c, quoted=True) for c, kind in zip(
        strings.column_names, types, strict=True)]
    with duckdb.connect() as duck:
        duck.register("copied", strings)
        try:
            return duck.sql(exp.select(*casts).from_("copied").sql(dialect="duckdb")
                            ).to_arrow_table()
        except duckdb.Error as error:
            raise DataError(f"COPY's rows do not fit table {table}: "
                            f"{str(error).splitlines()[0]}") from None


def _postgres_texts(texts: pa.ChunkedArray, kind: pa.DataType, table: str) -> pa.Array:
    oid = pgparams.oid_of(kind)

    def value(text: str) -> object:  # (bytea's hex form checked: psycopg's loader skips bad digits)
        if oid == pgparams.oid_of(pa.binary()) and text.startswith("\\x"):
            return bytes.fromhex(text[2:])
        return pgvalues.decoded(text.encode(), oid, binary=False)
    try:
        return pa.array([None if text is None else value(text) for text in texts.to_pylist()],
                        type=kind)
    except (ValueError, TypeError, pa.ArrowException, NotSupportedError) as error:
        form = "arrays, {1,2}" if pa.types.is_list(kind) or pa.types.is_large_list(kind) \
            else "bytea, \\x0102"
        raise DataError(f"COPY's rows do not fit table {table}: a {kind} column takes "
                        f"PostgreSQL's {form}: {error}") from None


def response(code: bytes, count: int, binary: bool) -> bytes:
    """CopyInResponse (``G``) or CopyOutResponse (``H``): the rows' format, and each of the
    ``count`` columns'."""
    body = struct.pack(f"!bh{count}h", int(binary), count, *([int(binary)] * count))
    return struct.pack("!ci", code, len(body) + 4) + body


def _unescaped(column: pa.ChunkedArray) -> pa.Array:
    """Text format's backslash escapes decoded (in the few values that have one)."""
    values = column.to_pylist()
    return pa.array([_ESCAPED.sub(_escape, v) if v is not None and "\\" in v else v
                     for v in values], pa.string())


def _escape(match: re.Match[str]) -> str:
    octal, hexadecimal, char = match.groups()
    if octal:
        return chr(int(octal, 8))
    if hexadecimal:
        return chr(int(hexadecimal, 16))
    return _ESCAPES.get(char, char)


def line(values: Sequence[str | None], form: Form) -> bytes:
    """One row (its values in their text forms, None for NULL) as a line of COPY's output."""
    if form.csv:
        return (form.delimiter.join(form.null if v is None else _quoted(v, form)
                                    for v in values) + "\n").encode()
    escapes = {**_OUT, form.delimiter: "\\" + form.delimiter} if form.delimiter != "\t" else _OUT
    return (form.delimiter.join(
        form.null if v is None else "".join(escapes.get(c, c) for c in v) if
        any(c in escapes for c in v) else v for v in values) + "\n").encode()


def _quoted(value: str, form: Form) -> str:
    special = value == form.null or any(c in value for c in (form.delimiter, form.quote, "\n", "\r"))
    if not special:
        return value
    inner = value.replace(form.escape, form.escape * 2) if form.escape == form.quote else \
        value.replace(form.escape, form.escape * 2).replace(form.quote, form.escape + form.quote)
    return form.quote + inner + form.quote
