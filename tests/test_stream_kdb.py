"""kdb+ objects through PyKX: headers, error replies, tables built from Arrow, and the checks
an update's values pass before they reach a table."""

from __future__ import annotations

import datetime
import decimal

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from indb.catalog.types import Column  # noqa: E402
from indb.errors import DataError  # noqa: E402
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


def _columns_of_every_laid_out_type(count: int, nulls: bool) -> pa.Table:
    """A table of every column type ``kdb._laid_out`` lays out, ``count`` rows, with a null in
    each non-temporal column where ``nulls`` (PyKX's own encoding of a temporal null is not
    kdb+'s: ``test_temporal_nulls_are_kdb_nulls``)."""
    rng = np.random.default_rng(count)
    moment = np.datetime64("2026-12-03T09:30:00.123456789", "ns").astype(np.int64)

    def some(values: list, kind: pa.DataType) -> pa.Array:
        return pa.array([None if nulls and i == 1 else v for i, v in enumerate(values)], kind)
    return pa.table({
        "time": pa.array(moment + np.arange(count) * 7, pa.timestamp("ns")),
        "stamp": pa.array(moment // 1000 + np.arange(count), pa.timestamp("us", "UTC")),
        "day": pa.array((np.arange(count) + 20_000).astype(np.int32), pa.int32()).cast(pa.date32()),
        "at": pa.array(np.arange(count) * 1_000_000 + 5, pa.int64()).cast(pa.time64("ns")),
        "sym": some([f"S{i}é" for i in range(count)], pa.string()),
        "big": some([f"L{i}" for i in range(count)], pa.large_string()),
        "px": some(list(rng.random(count)), pa.float64()),
        "real": some(list(rng.random(count)), pa.float32()),
        "size": some(list(range(count)), pa.int32()),
        "n": some(list(range(count)), pa.int64()),
        "short": some(list(range(count)), pa.int16()),
        "byte": some([i % 256 for i in range(count)], pa.uint8()),
        "ok": some([i % 2 == 0 for i in range(count)], pa.bool_()),
        "total": some([i * 3 for i in range(count)], pa.decimal128(38, 0)),
        "mean": some([decimal.Decimal(i) / 4 for i in range(count)], pa.decimal128(18, 3))})


@pytest.mark.parametrize("count", [0, 1, 2, 9, 300])
@pytest.mark.parametrize("nulls", [False, True])
def test_a_table_laid_out_is_pykx_s_encoding_byte_for_byte(count, nulls):
    """The tables indb lays out itself (every column of a type ``_laid_out`` takes) are what
    PyKX encodes from the same rows, byte for byte, in one chunk or several."""
    rows = _columns_of_every_laid_out_type(count, nulls and count > 1)
    assert all(kdb._laid_out(rows.column(i)) is not None for i in range(rows.num_columns))
    assert kdb._table_body(rows) == kdb._pykx_body(rows)
    split = pa.concat_tables([rows.slice(0, count // 2), rows.slice(count // 2)])
    assert kdb._table_body(split) == kdb._pykx_body(rows)
    assert kdb._table_body(rows.to_batches()[0] if count else rows) == kdb._pykx_body(rows)


def test_temporal_nulls_are_kdb_nulls():
    """A null timestamp, date or time goes as kdb+'s 0Np, 0Nd, 0Nn (PyKX has no null of these
    from numpy: its NaT wraps around)."""
    rows = pa.table({"time": pa.array([None, 5], pa.timestamp("ns")),
                     "day": pa.array([None, 1], pa.date32()),
                     "at": pa.array([None, 7], pa.time64("ns"))})
    back = kx.deserialize(kdb.framed(kdb._table_body(rows), kdb.RESPONSE)).pa()
    assert [back[c][0].as_py() for c in rows.column_names] == [None, None, None]
    assert back["time"][1].value == 5 and back["at"][1].value == 7
    assert back["day"][1].as_py().date() == datetime.date(1970, 1, 2)  # PyKX reads a date so


@pytest.mark.parametrize("rows", [
    pa.table({"sym": ["a\0b"]}),                              # PyKX cuts a symbol at a 0 byte
    pa.table({"a\0b": [1.0]}),                                # and a name
    pa.table({"tiny": pa.array([1, None], pa.int8())}),       # PyKX widens these
    pa.table({"u": pa.array([1], pa.uint32())}),
    pa.table({"xs": pa.array([[1, 2]], pa.list_(pa.int64()))})])
def test_what_is_not_laid_out_is_left_to_pykx(rows):
    assert kdb._table_body(rows) == kdb._pykx_body(rows)


def _row_update(values: list, function: object = None, table: str = "ticks") -> bytes:
    return kdb.encode(kx.toq([function if function is not None else kx.SymbolAtom(".u.upd"),
                              kx.SymbolAtom(table), kx.toq(values)]), kdb.ASYNC)


def _same_as_pykx(message: bytes) -> None:
    """``kdb.decode`` read ``message`` by its layout, into what PyKX's ``np()`` makes of it."""
    ours, theirs = kdb._update_row(message), kx.deserialize(message).np()
    assert ours is not None
    assert (type(ours[0]), ours[0], ours[1]) == (type(theirs[0]), theirs[0], theirs[1])
    assert len(ours[2]) == len(theirs[2])
    for mine, pykx_s in zip(ours[2], theirs[2], strict=True):
        assert type(mine) is type(pykx_s)
        assert mine == pykx_s or (mine != mine and pykx_s != pykx_s), (mine, pykx_s)  # NaN
        if isinstance(mine, np.generic):
            assert mine.dtype == pykx_s.dtype


ROW_ATOMS = {  # every atom type a one-row update is read with, with its extremes and nulls
    "boolean": [kx.BooleanAtom(True), kx.BooleanAtom(False)],
    "byte": [kx.ByteAtom(0), kx.ByteAtom(255)],
    "short": [kx.ShortAtom(-32768), kx.ShortAtom(7), kx.ShortAtom(32767)],
    "int": [kx.IntAtom(-2**31), kx.IntAtom(-5), kx.IntAtom(2**31 - 1)],
    "long": [kx.LongAtom(-2**63), kx.LongAtom(42), kx.LongAtom(2**63 - 1)],
    "real": [kx.RealAtom(1.5), kx.RealAtom(float("nan")), kx.RealAtom(float("-inf"))],
    "float": [kx.FloatAtom(187.25), kx.FloatAtom(float("nan")), kx.FloatAtom(float("inf")), kx.FloatAtom(-0.0)],
    "symbol": [kx.SymbolAtom("AAPL"), kx.SymbolAtom(""), kx.SymbolAtom("é東京")],
    "timestamp": [kx.TimestampAtom(np.datetime64("2026-12-03T09:30:00.123456789", "ns")),
                  kx.TimestampAtom(np.datetime64("1970-01-01T00:00:00", "ns")),
                  kx.TimestampAtom(np.datetime64("1800-01-01T00:00:00", "ns"))],
    "timespan": [kx.TimespanAtom(np.timedelta64(5, "ns")), kx.TimespanAtom(np.timedelta64(-86_400_000_000_000, "ns"))],
}


@pytest.mark.parametrize("kind", sorted(ROW_ATOMS))
def test_a_one_row_update_is_read_as_pykx_reads_it(kind):
    for atom in ROW_ATOMS[kind]:
        _same_as_pykx(_row_update([kx.SymbolAtom("S1"), atom, kx.FloatAtom(1.0)]))
    _same_as_pykx(_row_update(ROW_ATOMS[kind]))


def test_an_update_s_function_and_table_are_read_as_pykx_reads_them():
    row = [kx.TimestampAtom(np.datetime64("2026-12-03T09:30:00", "ns")), kx.SymbolAtom("S1")]
    _same_as_pykx(_row_update(row, kx.CharVector(".u.upd")))  # PyKX's feeds send a string
    _same_as_pykx(_row_update(row, kx.SymbolAtom("upd"), "trade"))
    _same_as_pykx(_row_update(row, kx.CharVector("upd"), ""))


@pytest.mark.parametrize("message", [
    _row_update([kx.SymbolAtom("S1"), kx.toq(np.array([1.0, 2.0]))]),        # a vector in it
    _row_update([kx.SymbolAtom("S1"), kx.CharVector("text")]),
    _row_update([kx.DateAtom(np.datetime64("2026-12-03")), kx.FloatAtom(1.0)]),  # a date
    _row_update([kx.TimestampAtom(None), kx.FloatAtom(1.0)]),                  # 0Np
    _row_update([kx.FloatAtom(1.0)], kx.SymbolAtom(".u.sub")),                 # not an update
    _row_update([kx.FloatAtom(1.0)] * 65),                                      # a long row
    kdb.encode(kx.toq([kx.SymbolAtom(".u.upd"), kx.SymbolAtom("t"), kx.toq(np.array([1.0]))]), kdb.ASYNC),
    kdb.encode(kx.toq([kx.SymbolAtom(".u.upd"), kx.SymbolAtom("t")]), kdb.ASYNC),
    kdb.encode(kx.CharVector("select from t"), kdb.SYNC)])
def test_other_messages_are_left_to_pykx(message):
    assert kdb._update_row(message) is None
    decoded = kdb.decode(message)  # PyKX's, where it decodes
    assert decoded is not None


def test_a_damaged_update_is_read_as_pykx_reads_it_or_left_to_pykx():
    """Any byte of a one-row update changed to any value, or the message cut short: either it is still a
    plain update and reads as PyKX reads it, or it is left to PyKX (which reads it or refuses
    it), never read otherwise."""
    message = _row_update([kx.TimestampAtom(np.datetime64("2026-12-03T09:30:00", "ns")),
                           kx.SymbolAtom("S1"), kx.FloatAtom(1.5), kx.LongAtom(100)])
    variants = [message[:cut] for cut in range(len(message))]
    for index in range(len(message)):
        variants += [message[:index] + bytes([value]) + message[index + 1:] for value in range(256)]
    read = 0
    for variant in variants:
        if kdb._update_row(variant) is None:
            continue
        read += 1
        _same_as_pykx(variant)
    assert read > len(message)  # many changed values still read (and read as PyKX does)


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
