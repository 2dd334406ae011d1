"""kdb+ objects through PyKX: headers, error replies, tables built from Arrow, and the checks
an update's values pass before they reach a table."""

from __future__ import annotations

import datetime

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from indb.catalog.types import Column  # noqa: E402
from indb.errors import DataError  # noqa: E402
from indb.parser.qshapes import Shape  # noqa: E402
from indb.stream import kdb  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402


def test_pykx_imports_unlicensed_in_a_clean_process():
    import subprocess
    import sys
    code = "import indb.stream.kdb as k; print(k.kx.licensed)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


@pytest.mark.parametrize("data", [b"\x00\x01\x00\x00\x10\x00\x00\x00",   # big-endian
                                  b"\x01\x07\x00\x00\x10\x00\x00\x00",   # message type 7
                                  b"\x01\x01\x00\x00\x04\x00\x00\x00",   # shorter than its header
                                  b"\x01\x01\x00\x00\xff\xff\xff\x7f"])  # 2 GB
def test_headers_no_kdb_peer_sends_are_refused(data):
    with pytest.raises(kdb.MessageError):
        kdb.header(data)


def test_an_error_reply_is_what_pykx_raises_as_a_q_error():
    with pytest.raises(kx.QError, match="the table is wrong"):
        kx.deserialize(kdb.error_message("the table is wrong"))


def test_a_table_from_arrow_reads_back_in_pykx():
    moment = np.datetime64("2026-12-03T09:30:00.123456789", "ns")
    rows = pa.table({"sym": ["AAPL", None], "px": [187.5, None], "size": pa.array([100, None], pa.int64()),
                     "time": pa.array([moment, moment], pa.timestamp("ns")),
                     "ok": [True, False]})
    table = kdb.table(rows)
    assert isinstance(table, kx.Table)
    back = table.pa()
    assert back.column_names == rows.column_names
    assert back["sym"].to_pylist() == ["AAPL", ""]          # kdb+ has no null symbol but `
    assert back["px"].to_pylist() == [187.5, None]  # 0n, kdb+'s null float, reads back as null
    assert back["size"].to_pylist()[0] == 100
    assert back["time"].cast(pa.int64()).to_pylist()[0] == int(moment.astype(np.int64))
    assert back["ok"].to_pylist() == [True, False]


def test_lists_and_blobs_are_q_lists_of_vectors():
    rows = pa.table({"l": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
                     "f": pa.array([[1.5], [2.5], [3.5]], pa.list_(pa.float64(), 1)),
                     "s": pa.array([["a"], ["b", None], None]),
                     "x": pa.array([b"\x01\x02", None, b""], pa.binary())})
    for table in (rows, rows.slice(1)):  # (a slice's lists start inside its values)
        back = kdb.table(table).py()
        full = {"l": [[1, 2], [], []], "f": [[1.5], [2.5], [3.5]], "s": [["a"], ["b", ""], []],
                "x": [[1, 2], [], []]}
        assert back == {k: v[3 - table.num_rows:] for k, v in full.items()}


@pytest.mark.parametrize("count", [0, 1, 7])
def test_update_messages_are_pykx_s_encoding_of_the_call(count):
    """Joined from one encoding of the table: byte for byte what PyKX makes of the whole call,
    whatever the columns (nulls among them) and however many rows."""
    moment = np.datetime64("2026-12-03T09:30:00.123456789", "ns").astype(np.int64)
    rng = np.random.default_rng(count)
    rows = pa.table({
        "time": pa.array(moment + np.arange(count), pa.timestamp("ns")),
        "stamp": pa.array([None if i == 1 else int(moment) // 1000 + i for i in range(count)], pa.timestamp("us")),
        "sym": pa.array([None if i == 2 else f"S{i}" for i in range(count)], pa.string()),
        "px": pa.array(rng.random(count)), "size": pa.array([None if i == 3 else i for i in range(count)], pa.int32()),
        "n": pa.array(np.arange(count), pa.int64()), "ok": pa.array(np.arange(count) % 2 == 0)})
    for names in ([".u.upd", "upd"], ["upd"]):
        made = kdb.update_messages(names, "trade", rows)
        assert made == [kdb.encode(kdb.call(f, kdb.symbol("trade"), kdb.table(rows)), kdb.ASYNC)
                        for f in names]
    function, name, back = kx.deserialize(made[0]).py()
    assert (function, name, len(back["time"])) == ("upd", "trade", count)


def test_values_of_the_wrong_kind_are_refused_naming_the_column():
    price = kdb.slot(Column("price", "DOUBLE"))
    assert price.convert(3) == 3 and price.convert(2.5) == 2.5
    with pytest.raises(DataError, match="column price is DOUBLE; the feed sent a str"):
        price.convert("x")
    size = kdb.slot(Column("size", "BIGINT"))
    with pytest.raises(DataError, match="column size is BIGINT"):
        size.convert(1.5)
    with pytest.raises(DataError, match="column size is BIGINT"):
        size.convert(True)
    for span in (np.timedelta64(5, "ns"), np.timedelta64("NaT", "ns")):  # numpy's are integers
        with pytest.raises(DataError, match="column price is DOUBLE; the feed sent a timedelta64"):
            price.convert(span)
    assert kdb.is_null(np.timedelta64("NaT", "ns")) and not kdb.is_null(np.timedelta64(0, "ns"))
    assert kdb.slot(Column("at", "TIME")).convert(np.timedelta64(5, "ns")) == 5


def test_vectors_are_checked_then_become_columns_of_the_table_type():
    def decoded(vector):
        return kdb.decode(kdb.encode(vector, kdb.ASYNC))
    price = Column("px", "DOUBLE")
    longs = kdb.checked_vector(decoded(kx.LongVector([1, 2])), price)
    more = kdb.checked_vector(decoded(kx.LongVector([3])), price)
    joined = kdb.column_array([longs, more], price)
    assert joined.type == pa.float64() and joined.to_pylist() == [1.0, 2.0, 3.0]
    with pytest.raises(DataError, match="column size is BIGINT; the feed sent a column of float"):
        kdb.checked_vector(decoded(kx.FloatVector([1.5])), Column("size", "BIGINT"))
    with pytest.raises(DataError, match="column sym is VARCHAR"):
        kdb.checked_vector(decoded(kx.FloatVector([1.5])), Column("sym", "VARCHAR"))
    with pytest.raises(DataError, match=r"outside -32768\.\.32767"):
        kdb.checked_vector(decoded(kx.LongVector([1, 40_000])), Column("n", "SMALLINT"))
    stamps = decoded(kx.toq(np.array(["2026-12-03T09:30:00.123456789"], "datetime64[ns]")))
    time = Column("time", "TIMESTAMP")
    micro = kdb.column_array([kdb.checked_vector(stamps, time)], time)
    assert micro.to_pylist() == [datetime.datetime(2026, 12, 3, 9, 30, 0, 123456)]  # truncated to µs


def test_update_shapes_are_told_apart():
    def decoded(x):
        return kdb.decode(kdb.encode(x, kdb.ASYNC))
    assert kdb.shape(decoded(kx.toq([kx.SymbolAtom("a"), kx.FloatAtom(1.0)]))) == "row"
    assert kdb.shape(decoded(kx.FloatVector([1.0, 2.0]))) == "row"   # q makes one type's atoms a vector
    assert kdb.shape(decoded(kx.toq([kx.SymbolVector(["a"]), kx.FloatVector([1.0])]))) == "columns"
    assert kdb.shape(decoded(kdb.table(pa.table({"a": [1.0]})))) == "table"
    with pytest.raises(kdb.MessageError):
        kdb.shape(decoded(kx.FloatAtom(1.0)))


def test_kdb_nulls_become_sql_nulls():
    def decoded(x):
        return kdb.decode(kdb.encode(x, kdb.ASYNC))
    row = decoded(kx.toq([kx.LongAtom(-2**63), kx.FloatAtom(float("nan")), kx.LongAtom(5)]))
    size, price = kdb.slot(Column("size", "BIGINT")), kdb.slot(Column("price", "DOUBLE"))
    assert [size.convert(row[0]), price.convert(row[1]), size.convert(row[2])] == [None, None, 5]
    longs = decoded(kx.LongVector([1, -2**63, 3]))
    assert kdb.column_array([kdb.checked_vector(longs, Column("n", "BIGINT"))],
                            Column("n", "BIGINT")).to_pylist() == [1, None, 3]
    stamps = decoded(kx.toq(np.array(["2026-12-03T09:30", "NaT"], "datetime64[ns]")))
    time = Column("time", "TIMESTAMP_NS")
    assert kdb.column_array([kdb.checked_vector(stamps, time)], time).null_count == 1


def upd_message(x) -> bytes:
    """``(".u.upd"; `trade; x)`` as PyKX's ``q(".u.upd", ...)`` sends it."""
    return kdb.encode(kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("trade"), x]), kdb.ASYNC)


def test_one_row_values_become_vectors_a_column_at_a_time_or_none():
    def rows(*xs):
        return [kdb.decode(upd_message(kx.toq(list(x))))[2] for x in xs]
    columns = [Column("sym", "VARCHAR"), Column("price", "DOUBLE"), Column("size", "INTEGER")]
    good = rows((kx.SymbolAtom("A"), kx.FloatAtom(1.0), kx.LongAtom(1)),
                (kx.SymbolAtom("B"), kx.FloatAtom(float("nan")), kx.LongAtom(-2**63)))
    def row_vectors(rows, columns):
        vectors = kdb.gather_rows(rows)
        return None if vectors is None else kdb.checked_vectors(vectors, columns)
    vectors = row_vectors(good, columns)
    assert vectors is not None
    arrays = [kdb.column_array([v], c).to_pylist() for v, c in zip(vectors, columns, strict=True)]
    assert arrays == [["A", "B"], [1.0, None], [1, None]]
    mixed = rows((kx.SymbolAtom("A"), kx.FloatAtom(1.0), kx.LongAtom(1)),
                 (kx.SymbolAtom("B"), kx.LongAtom(2), kx.LongAtom(2)))  # a long for a DOUBLE: fine alone
    assert row_vectors(mixed, columns) is None  # two types in a column: each row alone
    floats = rows((kx.SymbolAtom("A"), kx.FloatAtom(1.0), kx.FloatAtom(1.0)))
    assert row_vectors(floats, columns) is None  # a float for an INTEGER: refused alone
    wide = rows((kx.SymbolAtom("A"), kx.FloatAtom(1.0), kx.LongAtom(2**40)))
    assert row_vectors(wide, columns) is None


def test_vectors_of_different_types_keep_each_ones_nulls():
    size = Column("size", "BIGINT")
    ints = kdb.checked_vector(kdb.decode(kdb.encode(kx.IntVector([1, -2**31]), kdb.ASYNC)), size)
    longs = kdb.checked_vector(kdb.decode(kdb.encode(kx.LongVector([-2**31, -2**63]), kdb.ASYNC)), size)
    assert kdb.column_array([ints, longs], size).to_pylist() == [1, None, -2**31, None]


def test_a_table_without_rows_keeps_its_column_types():
    # what .u.sub answers with: kx.toq alone would make an empty object column a general list
    schema = pa.schema([("time", pa.timestamp("ns")), ("sym", pa.string()), ("px", pa.float64()),
                        ("size", pa.int32()), ("ok", pa.bool_())])
    table = kdb.table(schema.empty_table())
    assert [type(v).__name__ for v in table.flip.values()] == [
        "TimestampVector", "SymbolVector", "FloatVector", "IntVector", "BooleanVector"]


def test_answers_in_q_shapes():
    rows = pa.table({"sym": ["a", "b"], "px": [1.5, 2.5]})
    keyed = kdb.answer(rows, Shape("keyed", 1))
    assert isinstance(keyed, kx.KeyedTable)
    assert keyed.pd().reset_index().to_dict("list") == {"sym": ["a", "b"], "px": [1.5, 2.5]}
    assert kdb.answer(rows.select([1]), Shape("list")).py() == [1.5, 2.5]
    assert kdb.answer(rows.slice(0, 1).select([0]), Shape("atom")).py() == "a"
    assert kdb.answer(rows.slice(1, 1), Shape("dict")).py() == {"sym": "b", "px": 2.5}
    assert kdb.answer(rows, Shape("map")).py() == {"a": 1.5, "b": 2.5}
    by = pa.table({"s": ["s1", "s2"], "q": [1600, 700], "n": [4, 2]})
    list_table = kdb.answer(by, Shape("list_table", 1))  # exec q, n by s: s1| 1600 4 ...
    assert isinstance(list_table, kx.Dictionary) and isinstance(list_table.values(), kx.Table)
    assert list_table.keys().py() == ["s1", "s2"]
    assert list_table.values().py() == {"q": [1600, 700], "n": [4, 2]}
    table_list = kdb.answer(by.select([0, 1]), Shape("table_list", 1))  # exec sum qty by s: s
    assert isinstance(table_list.keys(), kx.Table) and table_list.values().py() == [1600, 700]
    lists = pa.table({"a": [[1, 2]], "b": [["x"]]})
    assert kdb.answer(lists, Shape("dict")).py() == {"a": [1, 2], "b": ["x"]}
    assert isinstance(kdb.answer(rows, Shape("atom")), kx.Table)  # not one value: a table
