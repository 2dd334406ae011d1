"""``indb.server.pgcopy``: COPY ... FROM STDIN and TO STDOUT read, the client's rows in text
and CSV read into Arrow, rows written as PostgreSQL writes them (the exchange with clients:
tests/test_pgwire.py)."""

from __future__ import annotations

import struct

import pyarrow as pa
import pytest

from indb.errors import DataError, NotSupportedError, SqlError
from indb.server.pgcopy import (BINARY_HEADER, BINARY_TRAILER, CopyIn, CopyOut, Form,
                                binary_row, cast, line, read, rows_binary, rows_in)

CSV = Form(csv=True, delimiter=",", null="")


@pytest.mark.parametrize("sql, columns, form", [
    ("COPY t FROM STDIN", (), Form()),
    ("copy t (id, \"Name\") from stdin;", ("id", "Name"), Form()),
    ("COPY t FROM STDIN WITH (FORMAT csv, HEADER)", (), Form(csv=True, delimiter=",", null="", header=True)),
    ("COPY t FROM STDIN (FORMAT csv, HEADER false, NULL 'NA', DELIMITER ';')", (),
     Form(csv=True, delimiter=";", null="NA")),
    ("COPY t FROM STDIN WITH CSV HEADER", (), Form(csv=True, delimiter=",", null="", header=True)),
    ("COPY t FROM STDIN DELIMITER AS '|' NULL ''", (), Form(delimiter="|", null="")),
])
def test_copies_from_the_client_are_read(sql, columns, form):
    copying = read(sql)
    assert isinstance(copying, CopyIn) and copying.table.name == "t"
    assert (copying.columns, copying.form) == (columns, form)


def test_copies_to_the_client_read_their_query():
    assert read("COPY (SELECT a FROM t WHERE b = ')') TO STDOUT") == \
        CopyOut("SELECT a FROM t WHERE b = ')'", Form())
    assert read("COPY s.t (a) TO STDOUT (FORMAT csv)") == CopyOut('SELECT "a" FROM s.t', CSV)
    assert read("COPY t TO STDOUT").query == "SELECT * FROM t"


@pytest.mark.parametrize("sql", ["COPY t FROM 'ticks.csv'", "COPY t TO 'out.parquet'",
                                 "SELECT 1", "COPY"])
def test_other_statements_are_left_alone(sql):
    assert read(sql) is None


def test_freeze_is_taken_and_changes_nothing():  # pgbench -i's COPY ... WITH (FREEZE ON)
    assert read("COPY t FROM STDIN WITH (FREEZE ON)") == read("COPY t FROM STDIN")
    assert read("COPY t FROM STDIN (FORMAT csv, FREEZE)") == read("COPY t FROM STDIN (FORMAT csv)")


def test_text_rows_of_list_columns_are_read_as_postgresql_arrays():  # as pg_dump writes them
    rows = pa.table({"a": ["1", None], "tags": ['{a,"b c",NULL}', None], "xs": ["{1,2}", "{}"]})
    kinds = [pa.int32(), pa.list_(pa.string()), pa.list_(pa.int64())]
    assert cast(rows, ["INTEGER", "VARCHAR[]", "BIGINT[]"], "t", kinds).to_pylist() == [
        {"a": 1, "tags": ["a", "b c", None], "xs": [1, 2]}, {"a": None, "tags": None, "xs": []}]
    with pytest.raises(DataError, match="takes PostgreSQL's arrays"):
        cast(pa.table({"xs": ["{1,x}"]}), ["BIGINT[]"], "t", [pa.list_(pa.int64())])


def test_text_rows_of_blob_columns_are_read_as_postgresql_s_bytea():  # as pg_dump writes them
    rows = pa.table({"raw": ["\\x0102ff", "\\x", "a\\000b", None]})
    assert cast(rows, ["BLOB"], "t", [pa.binary()]).to_pylist() == [
        {"raw": b"\x01\x02\xff"}, {"raw": b""}, {"raw": b"a\x00b"}, {"raw": None}]
    with pytest.raises(DataError, match="takes PostgreSQL's bytea"):
        cast(pa.table({"raw": ["\\x0g"]}), ["BLOB"], "t", [pa.binary()])


@pytest.mark.parametrize("sql, error, match", [
    ("COPY t FROM STDIN (FORMAT parquet)", NotSupportedError, "text, csv or binary"),
    ("COPY t FROM STDIN (FORMAT binary, HEADER)", SqlError, "takes no HEADER"),
    ("COPY t FROM STDIN (FREEZE maybe)", NotSupportedError, "FREEZE MAYBE: true or false"),
    ("COPY t FROM STDIN (FORCE_NOT_NULL a)", NotSupportedError, "FORCE_NOT_NULL is not supported"),
    ("COPY t FROM STDIN (DELIMITER '||')", SqlError, "one character"),
    ("COPY t FROM STDIN (QUOTE '''')", SqlError, "CSV's options"),
    ("COPY (SELECT 1) FROM STDIN", SqlError, "into a table"),
    ("COPY t FROM STDIN (FORMAT csv", SqlError, "not closed"),
])
def test_what_cannot_be_copied_is_refused_by_name(sql, error, match):
    with pytest.raises(error, match=match):
        read(sql)


def test_text_rows_with_escapes_and_nulls():
    data = b"1\ta\\tb\\\\c\n2\t\\N\n3\t\\x41\\101\\n\n\\.\n"
    assert rows_in(data, ["id", "name"], Form()).to_pylist() == [
        {"id": "1", "name": "a\tb\\c"}, {"id": "2", "name": None}, {"id": "3", "name": "AA\n"}]
    assert rows_in(b"", ["id"], Form()).num_rows == 0


def test_csv_rows_with_quotes_a_header_and_nulls():
    data = b'id,name\n1,"a,b"\n2,\n3,""\n4,"say ""hi""\nthere"\n'
    rows = rows_in(data, ["id", "name"], Form(csv=True, delimiter=",", null="", header=True))
    assert rows.column("name").to_pylist() == ["a,b", None, "", 'say "hi"\nthere']
    with pytest.raises(DataError, match="do not fit the columns id, name"):
        rows_in(b"1,2,3\n", ["id", "name"], CSV)


def test_lines_as_postgresql_writes_them():
    assert line(["1", None, "a\tb", "x\\y", "l1\nl2"], Form()) == b"1\t\\N\ta\\tb\tx\\\\y\tl1\\nl2\n"
    assert line(["a|b"], Form(delimiter="|")) == b"a\\|b\n"
    assert line(["1", None, "", 'a,"b"', "x"], CSV) == b'1,,"","a,""b""",x\n'


def test_binary_rows_decoded_by_their_columns_types():
    def field(raw):
        return struct.pack("!i", -1) if raw is None else struct.pack("!i", len(raw)) + raw
    rows = [(struct.pack("!q", 5000000000), b"caf\xc3\xa9"), (struct.pack("!q", -1), None)]
    data = b"PGCOPY\n\xff\r\n\x00" + struct.pack("!ii", 0, 0) + b"".join(
        struct.pack("!h", 2) + field(a) + field(b) for a, b in rows) + struct.pack("!h", -1)
    table = rows_binary(data, ["id", "name"], [pa.int64(), pa.string()])
    assert table.to_pylist() == [{"id": 5000000000, "name": "café"}, {"id": -1, "name": None}]
    assert read("COPY t FROM STDIN (FORMAT BINARY)").form == Form(binary=True)
    with pytest.raises(DataError, match="header"):
        rows_binary(b"1\t2\n", ["id"], [pa.int64()])
    with pytest.raises(DataError, match="a row of 2 fields"):
        rows_binary(data, ["id"], [pa.int64()])


def test_binary_rows_written_are_the_ones_read():
    """What the server writes to a binary COPY TO is what its reader of the client's rows reads."""
    data = BINARY_HEADER + binary_row([struct.pack("!q", 7), "née".encode()]) + \
        binary_row([struct.pack("!q", 8), None]) + BINARY_TRAILER
    assert rows_binary(data, ["id", "name"], [pa.int64(), pa.string()]).to_pylist() == [
        {"id": 7, "name": "née"}, {"id": 8, "name": None}]
    assert rows_binary(BINARY_HEADER + BINARY_TRAILER, ["id"], [pa.int64()]).num_rows == 0

