"""LiveTable: one-row updates become Arrow rows of the table's schema, in arrival order."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from indb.catalog.tables import TableInfo
from indb.catalog.types import Column
from indb.errors import InternalError
from indb.stream.kdb import checked_vector
from indb.stream.live import LiveTable

NS = 1_700_000_000_000_000_000


def table(time_type: str) -> LiveTable:
    return LiveTable(TableInfo("ticks", (Column("time", time_type), Column("sym", "VARCHAR"),
                                         Column("px", "DOUBLE"), Column("size", "BIGINT", False))))


@pytest.mark.parametrize("time_type", ["TIMESTAMP_NS", "TIMESTAMP"])  # carrier is / is not the type
def test_one_row_updates_become_rows_of_the_schema(time_type):
    live = table(time_type)
    live.watched = True
    feed = [(NS, "A", 1.5, 10), (NS + 1_000, None, None, 20), (NS + 2_000, "B", 2.5, 30)]
    for upto, row in enumerate(feed[:2], 1):
        live.append_row([s.convert(v) for s, v in zip(live.slots, row)], upto)
    published = live.unpublished()  # what a publication seals: the rows so far, one batch
    live.append_row([s.convert(v) for s, v in zip(live.slots, feed[2])], 3)
    rows = live.rows()
    assert [b.num_rows for b in published] == [2]
    assert published[0].schema == live.schema
    assert rows.schema == live.schema and rows.schema.field("size").nullable is False
    assert live.row_count == 3 and live.snapshot()[1] == 3
    times = rows.column("time").cast(pa.int64()).to_pylist()
    step = 1 if time_type == "TIMESTAMP_NS" else 1_000  # TIMESTAMP keeps the microseconds
    assert times == [v // step for v in (NS, NS + 1_000, NS + 2_000)]
    assert rows.drop_columns("time").to_pylist() == [
        {"sym": s, "px": p, "size": n} for _, s, p, n in feed]


def test_rows_and_columns_keep_their_order():
    live = table("TIMESTAMP_NS")
    live.append_row([s.convert(v) for s, v in zip(live.slots, (NS, "A", 1.0, 1))], 1)
    columns = [np.array([NS + 1, NS + 2], dtype="datetime64[ns]"), np.array(["B", "C"], dtype=object),
               np.array([2.0, 3.0]), np.array([2, 3])]
    live.append_columns([checked_vector(v, s.column) for v, s in zip(columns, live.slots)], 2)
    live.append_row([s.convert(v) for s, v in zip(live.slots, (NS + 3, "D", 4.0, 4))], 3)
    rows = live.rows()
    assert rows.column("sym").to_pylist() == ["A", "B", "C", "D"]
    assert rows.column("size").to_pylist() == [1, 2, 3, 4]
    assert live.upto == 3


def test_a_row_of_the_wrong_length_is_refused_and_nothing_is_kept():
    live = table("TIMESTAMP_NS")
    with pytest.raises(InternalError, match="3 values for ticks's 4 columns"):
        live.append_row([NS, "A", 1.0], 1)
    assert live.row_count == 0 and live.upto == 0
    assert live.rows().num_rows == 0
