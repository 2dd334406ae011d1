"""``indb.server.pgrows``: a cursor's rows taken as FETCHes ask, across DuckDB's batches, and
values made plain for the writers (the rows through the wire: tests/test_pgwire.py)."""

from __future__ import annotations

import datetime

import pyarrow as pa

from indb.server.pgrows import Cursor, Rows, plain
from indb.server import pgvalues


def cursor_over(*sizes: int) -> Cursor:
    """A cursor over batches of ``sizes`` rows, numbered from 0 across them."""
    starts = [sum(sizes[:i]) for i in range(len(sizes))]
    batches = [pa.record_batch({"n": list(range(start, start + size))})
               for start, size in zip(starts, sizes, strict=True)]
    return Cursor(Rows(None, None, ""), iter(batches), hold=False)  # type: ignore[arg-type]


def test_a_cursor_takes_rows_across_batches_and_stops_at_its_end():
    cursor = cursor_over(3, 0, 4, 2)
    assert cursor.take(2) == [[0], [1]]
    assert cursor.take(0) == []
    assert cursor.take(4) == [[2], [3], [4], [5]]  # the rest of a batch, an empty one, the next
    assert cursor.take(1) == [[6]]
    assert cursor.take(None) == [[7], [8]]
    assert cursor.take(5) == [] and cursor.take(None) == []


def test_values_are_made_plain_for_the_writers():
    zoned = pa.array([datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)],
                     pa.timestamp("us", tz="America/New_York"))
    assert plain(zoned) == [datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)]
    assert plain(zoned)[0].utcoffset() == datetime.timedelta(0)  # in UTC, the session's zone
    interval = pa.array([pa.scalar((1, 2, 3_000_000_000), pa.month_day_nano_interval())])
    assert plain(interval) == [pgvalues.Interval(1, 2, 3_000_000)]  # a month stays a month
    # dates Python's cannot hold: PostgreSQL's text of them (DuckDB's is "3000-01-02 (BC)")
    days = pa.array([2**31 - 1, -(2**31 - 1), -1_814_889, 0], pa.date32())
    assert plain(days) == ["infinity", "-infinity", "3000-01-02 BC", datetime.date(1970, 1, 1)]
    bc = pa.array([-63_517_788_000_000_000], pa.timestamp("us", tz="UTC"))
    assert plain(bc) == ["0044-03-15 10:00:00+00 BC"]  # a timestamptz's, as PostgreSQL's


def test_a_decimal_column_s_modifier_is_postgresql_s_numeric_precision_and_scale():
    from indb.result import Result
    table = pa.table({"amount": pa.array([1], pa.decimal128(10, 2)), "n": [1]})
    rows = Rows(None, Result(table), "")  # type: ignore[arg-type]
    assert rows.typmod(0) == (10 << 16 | 2) + 4  # what psycopg's and ODBC's precision read
    assert rows.typmod(1) == -1
