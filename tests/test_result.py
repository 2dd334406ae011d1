"""Results: rows streamed in Arrow batches and read only as far as asked; DuckDB's ways to get
them (fetch*, iteration, Arrow, pandas, polars, numpy, show, the notebook view)."""

import datetime
import sys

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import indb
from indb.query.session import BATCH_ROWS
from indb.result import Result

SCHEMA = pa.schema([("i", pa.int64()), ("s", pa.string())])


class Stream:
    """A generator of batches of the given sizes that records how many it handed out."""

    def __init__(self, *sizes: int) -> None:
        self.sizes, self.pulled, self.closed = sizes, 0, False

    def batches(self):
        start = 0
        try:
            for size in self.sizes:
                self.pulled += 1
                yield pa.record_batch({"i": list(range(start, start + size)),
                                       "s": [f"r{k}" for k in range(start, start + size)]}, SCHEMA)
                start += size
        finally:
            self.closed = True

    def result(self) -> Result:
        return Result.streamed(SCHEMA, self.batches())


def test_fetches_of_every_kind_take_rows_in_order_across_batches():
    result = Stream(3, 0, 4, 2).result()
    assert result.fetchone() == (0, "r0")
    assert result.fetchmany(3) == [(1, "r1"), (2, "r2"), (3, "r3")]  # across an empty batch
    assert next(iter(result)) == (4, "r4")
    assert result.fetch_arrow_table().column("i").to_pylist() == [5, 6, 7, 8]
    assert result.fetchone() is None and result.fetchall() == [] and result.fetchmany(5) == []


def test_looking_reads_the_rows_not_fetched_yet_without_consuming_them():
    result = Stream(2, 3).result()
    assert result.fetchone() == (0, "r0")
    assert result.arrow().column("i").to_pylist() == [1, 2, 3, 4]
    assert result.arrow().num_rows == 4  # again: arrow() does not consume
    assert result.df()["s"].tolist() == ["r1", "r2", "r3", "r4"]
    assert result.fetchall() == [(1, "r1"), (2, "r2"), (3, "r3"), (4, "r4")]
    assert result.arrow().num_rows == 0


def test_a_stream_is_read_only_as_far_as_asked_and_closing_closes_it():
    stream = Stream(*[10] * 100)
    result = stream.result()
    assert result.fetchone() == (0, "r0") and stream.pulled == 1 and result.rows_read == 10
    assert len(result.fetchmany(15)) == 15 and stream.pulled == 2
    result.show(5)  # a preview reads what it shows, no more
    assert stream.pulled == 3
    result.close()
    assert stream.closed and result.fetchall() == []


def test_iterating_fetches_row_by_row_and_mixes_with_other_fetches():
    result = Stream(5000).result()
    rows = iter(result)
    assert [next(rows) for _ in range(3)] == [(0, "r0"), (1, "r1"), (2, "r2")]
    assert result.fetchone() == (3, "r3")  # the loop fetched no further than it went
    assert result.fetchmany(2) == [(4, "r4"), (5, "r5")]
    assert [r[0] for r in result] == list(range(6, 5000))


def test_fetch_record_batch_streams_the_rest_in_batches_of_the_size_asked():
    stream = Stream(7, 7, 7)
    result = stream.result()
    result.fetchone()
    reader = result.fetch_record_batch(5)
    assert stream.pulled == 1  # nothing more read until the reader is
    sizes = [batch.num_rows for batch in reader]
    assert sum(sizes) == 20 and max(sizes) <= 5
    assert result.fetchone() is None


def test_fetchnumpy_and_fetchdf_consume():
    result = Stream(4).result()
    result.fetchone()
    arrays = result.fetchnumpy()
    assert isinstance(arrays["i"], np.ndarray) and arrays["i"].tolist() == [1, 2, 3]
    assert result.fetchdf().empty
    frame = Stream(2).result().fetchdf()
    assert isinstance(frame, pd.DataFrame) and frame["i"].tolist() == [0, 1]


def test_show_and_the_notebook_view_preview_without_fetching(capsys):
    result = Stream(30).result()
    result.show(3)
    printed = capsys.readouterr().out
    assert "r2" in printed and "r3" not in printed and "first 3 rows shown" in printed
    page = result._repr_html_()
    assert page.startswith("<table") and "r19" in page and "r20" not in page
    assert result.fetchone() == (0, "r0")
    assert "3 rows" in repr(Stream(3).result()) and "more" not in repr(Stream(3).result())
    assert "created" in Result(message="created table t")._repr_html_()


def test_a_hugeint_such_as_a_sum_of_integers_is_fetched_as_an_int(tmp_path):
    """Arrow carries DuckDB's HUGEINT as decimal(38, 0); DuckDB's client gives an int."""
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE t (v INTEGER)")
        conn.sql("INSERT INTO t VALUES (20), (22), (NULL)")
        assert conn.sql("SELECT sum(v) FROM t").types == ["HUGEINT"]  # DuckDB's sum of INTEGERs
        row = conn.sql("SELECT sum(v), 12345678901234567890123::HUGEINT, NULL::HUGEINT, "
                       "5::UHUGEINT FROM t").fetchone()
        assert row == (42, 12345678901234567890123, None, 5)
        assert [type(v) for v in row] == [int, int, type(None), int]
        # a UHUGEINT of 2**127 or more: Arrow's decimal of its bits reads negative
        large = "SELECT md5_number('hello'), '340282366920938463463374607431768211455'::UHUGEINT"
        assert conn.sql(large).fetchall() == duckdb.sql(large).fetchall()
        assert conn.sql(large).fetchone()[1] == 2**128 - 1


def test_bignums_and_tuples_are_fetched_as_duckdb_s_client_gives_them(conn):
    """A BIGNUM as its digits (Arrow carries DuckDB's bytes of it), a TUPLE (an unnamed struct:
    ROW(1, 2)) as a tuple wherever it is nested (Arrow carries a struct of named fields), and a
    HUGEINT or BIT inside a list or struct as at the top."""
    query = ("SELECT '-85070591730234614260976917445211069672'::BIGNUM, '256'::BIGNUM, "
             "NULL::BIGNUM, ROW(1, 2), [ROW(1, [ROW(2, 'a')])], {'x': ROW(1, NULL)}, "
             "NULL::TUPLE(INTEGER, INTEGER), {'k': 1}, [12345678901234567890123::HUGEINT], "
             "{'b': ['101'::BIT]}, [1, 2]::HUGEINT[2]")
    assert conn.sql(query).fetchall() == duckdb.sql(query).fetchall() == [(
        "-85070591730234614260976917445211069672", "256", None, (1, 2), [(1, [(2, "a")])],
        {"x": (1, None)}, None, {"k": 1}, [12345678901234567890123], {"b": ["101"]}, (1, 2))]


def test_maps_whose_keys_are_lists_or_structs_are_fetched_as_duckdb_s_client_gives_them(conn):
    """As ``{'key': [...], 'value': [...]}``, at any depth, the other maps of the row as dicts
    (the whole column came as lists of (key, value) pairs before)."""
    query = ("SELECT MAP([[1], [2]], [4, 2]), [MAP([[1]], [4])], MAP([1], [2]), "
             "{'a': MAP([{'i': 1}], [MAP([1], [2])])}, NULL::MAP(INTEGER[], INTEGER)")
    assert conn.sql(query).fetchall() == duckdb.sql(query).fetchall() == [(
        {"key": [[1], [2]], "value": [4, 2]}, [{"key": [[1]], "value": [4]}], {1: 2},
        {"a": {"key": [{"i": 1}], "value": [{1: 2}]}}, None)]


def test_dates_and_timestamps_python_cannot_hold_are_fetched_as_duckdb_s_client_gives_them(conn):
    """'infinity' is the type's largest value, '-infinity' its smallest, a date BC DuckDB's text
    of it (pyarrow raised OverflowError for the row); printing them works too."""
    result = conn.sql("SELECT DATE 'infinity', DATE '-infinity', TIMESTAMP 'infinity', "
                      "TIMESTAMPTZ '-infinity', DATE '3000-01-02 (BC)', "
                      "TIMESTAMP '0044-03-15 (BC) 10:00', DATE '2026-01-02'")
    assert "3000-01-02 (BC)" in repr(result)
    assert result.fetchall() == [(datetime.date.max, datetime.date.min, datetime.datetime.max,
                                  datetime.datetime.min, "3000-01-02 (BC)",
                                  "0044-03-15 (BC) 10:00:00", datetime.date(2026, 1, 2))]
    with pytest.raises(indb.DataError, match="inside a list, struct or map is outside"):
        conn.sql("SELECT [DATE 'infinity']").fetchall()  # (not a text of the whole list)


def test_arrays_and_bits_are_fetched_as_duckdb_s_client_gives_them(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        row = conn.sql("SELECT [1.5, 2.5]::DOUBLE[2], [[1, 2], [3, 4]]::INTEGER[2][2], "
                       "NULL::INTEGER[2], [1, 2]::INTEGER[], '101'::BIT, '111111111'::BIT").fetchone()
        assert row == ((1.5, 2.5), ((1, 2), (3, 4)), None, [1, 2], "101", "111111111")


def test_a_null_prints_as_null_whatever_its_type():
    result = Result(pa.table({"s": pa.array([None, "x"], pa.string()), "n": [1.5, None]}))
    assert repr(result).split("\n")[1:3] == ["NULL  1.5", "   x NULL"]
    assert "<td>NULL</td>" in Result(pa.table({"s": pa.array([None], pa.string())}))._repr_html_()


def test_pl_gives_a_polars_frame_and_says_what_to_install_without_polars(monkeypatch):
    polars = pytest.importorskip("polars")
    frame = Stream(3).result().pl()
    assert isinstance(frame, polars.DataFrame) and frame["s"].to_list() == ["r0", "r1", "r2"]
    monkeypatch.setitem(sys.modules, "polars", None)  # as if it were not installed
    with pytest.raises(ImportError, match="pip install polars"):
        Stream(3).result().pl()


def test_a_writes_summary_is_no_result_set_but_still_readable():
    summary = Result(pa.table({"rows_inserted": [3]}), "inserted 3 rows", 3)
    assert not summary.returns_rows and summary.description is None
    assert summary.fetchall() == [(3,)]  # conn.sql() callers (the CLI) still see it
    assert Result(message="created table t").description is None
    assert Stream(1).result().description[0][:2] == ("i", pa.int64())  # no SQL types known


# -- through a connection ---------------------------------------------------------------------

def test_fetchone_on_a_5m_row_result_reads_one_batch_not_the_result(conn):
    cur = conn.cursor()
    cur.execute("SELECT range AS i, range::VARCHAR AS s FROM range(5000000)")
    assert cur.fetchone() == (0, "0")
    result = cur._result
    assert 0 < result.rows_read <= BATCH_ROWS  # one batch read from DuckDB, not 5M rows
    assert len(cur.fetchmany(10)) == 10 and result.rows_read <= BATCH_ROWS
    assert sum(batch.num_rows for batch in cur.fetch_record_batch()) == 5000000 - 11
    assert result.rows_read == 5000000


def test_cursor_iteration_and_duckdb_style_results(conn, table_name):
    conn.execute(f"CREATE TABLE {table_name} AS SELECT range AS i, range * 0.5 AS x FROM range(4)")
    cur = conn.execute(f"SELECT i, x FROM {table_name} ORDER BY i")
    assert [row for row in cur] == [(0, 0.0), (1, 0.5), (2, 1.0), (3, 1.5)]
    assert conn.execute(f"SELECT i FROM {table_name} ORDER BY i").fetchnumpy()["i"].tolist() == [0, 1, 2, 3]
    assert conn.execute(f"SELECT i FROM {table_name}").fetchdf()["i"].sum() == 6
    assert conn.sql(f"SELECT sum(i) AS n FROM {table_name}").pl()["n"].to_list() == [6]
    assert "<table" in conn.sql(f"SELECT i FROM {table_name}")._repr_html_()


def test_an_error_while_rows_stream_is_a_sql_error(conn):
    cur = conn.execute("SELECT CASE WHEN i < 300000 THEN i ELSE error('boom') END AS v "
                       "FROM (SELECT range AS i FROM range(400000))")
    with pytest.raises(indb.SqlError, match="boom"):
        cur.fetchall()
    assert conn.execute("SELECT 42").fetchone() == (42,)  # the connection carries on
