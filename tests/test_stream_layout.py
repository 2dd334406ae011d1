"""kdb+ IPC layouts indb reads and writes itself (``indb.stream.layout``), checked against
PyKX's own encoding and decoding: byte for byte, value for value, on damaged messages too."""

from __future__ import annotations

import datetime
import decimal
import struct

import numpy as np
import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from indb.stream import kdb, layout  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402


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
    assert all(layout.vector(rows.column(i)) is not None for i in range(rows.num_columns))
    assert layout.table_body(rows) == kdb._pykx_body(rows)
    split = pa.concat_tables([rows.slice(0, count // 2), rows.slice(count // 2)])
    assert layout.table_body(split) == kdb._pykx_body(rows)
    assert layout.table_body(rows.to_batches()[0] if count else rows) == kdb._pykx_body(rows)


def test_temporal_nulls_are_kdb_nulls():
    """A null timestamp, date or time goes as kdb+'s 0Np, 0Nd, 0Nn (PyKX has no null of these
    from numpy: its NaT wraps around)."""
    rows = pa.table({"time": pa.array([None, 5], pa.timestamp("ns")),
                     "day": pa.array([None, 1], pa.date32()),
                     "at": pa.array([None, 7], pa.time64("ns"))})
    back = kx.deserialize(kdb.framed(kdb.table_body(rows), kdb.RESPONSE)).pa()
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
    assert layout.table_body(rows) is None
    assert kdb.table_body(rows) == kdb._pykx_body(rows)


def _row_update(values: list, function: object = None, table: str = "ticks") -> bytes:
    return kdb.encode(kx.toq([function if function is not None else kx.SymbolAtom(".u.upd"),
                              kx.SymbolAtom(table), kx.toq(values)]), kdb.ASYNC)


def _same_as_pykx(message: bytes) -> None:
    """``layout.update_call`` read ``message`` into what PyKX's ``np()`` makes of it."""
    ours, theirs = layout.update_call(message), kx.deserialize(message).np()
    assert ours is not None
    assert (type(ours[0]), ours[0], ours[1]) == (type(theirs[0]), theirs[0], theirs[1])
    assert len(ours[2]) == len(theirs[2])
    for mine, pykx_s in zip(ours[2], theirs[2], strict=True):
        assert type(mine) is type(pykx_s)
        if isinstance(mine, np.ndarray):
            assert mine.dtype == pykx_s.dtype and mine.flags.writeable
            assert np.array_equal(mine, pykx_s, equal_nan=mine.dtype.kind == "f")
            continue
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


COLUMNS = {  # every vector type a column update is read with (nulls of integers: PyKX's own)
    "boolean": np.array([True, False, True]), "byte": np.array([0, 7, 255], np.uint8),
    "short": np.array([-32767, 0, 32767], np.int16), "int": np.array([-2**31 + 1, 5, 2**31 - 1], np.int32),
    "long": np.array([-2**63 + 1, 0, 2**63 - 1], np.int64), "real": np.array([1.5, np.nan, -np.inf], np.float32),
    "float": np.array([187.25, np.nan, np.inf]),
    "timestamp": np.array(["2026-12-03T09:30:00.123456789", "1970-01-01", "1800-01-01"], "datetime64[ns]"),
    "timespan": np.array([5, -86_400_000_000_000, 0], "timedelta64[ns]"),
}


@pytest.mark.parametrize("kind", sorted(COLUMNS))
def test_a_column_update_is_read_as_pykx_reads_it(kind):
    symbols = kx.toq(np.array(["AAPL", "", "é東京"], dtype=object), kx.SymbolVector)
    _same_as_pykx(_row_update([symbols, kx.toq(COLUMNS[kind])]))
    _same_as_pykx(_row_update([kx.toq(COLUMNS[kind][:0]), kx.toq(np.array([], dtype=object), kx.SymbolVector)]))
    _same_as_pykx(_row_update([kx.SymbolAtom("S1"), kx.toq(COLUMNS[kind])]))  # atoms and vectors


@pytest.mark.parametrize("message", [
    _row_update([kx.SymbolAtom("S1"), kx.CharVector("text")]),                 # a string in it
    _row_update([kx.DateAtom(np.datetime64("2026-12-03")), kx.FloatAtom(1.0)]),  # a date
    _row_update([kx.TimestampAtom(None), kx.FloatAtom(1.0)]),                  # 0Np
    _row_update([kx.toq(np.array([1, 2], "datetime64[ns]"))]).replace(         # a 0Np in a column
        struct.pack("<q", 1 - layout.EPOCH_2000), struct.pack("<q", layout.NULL_LONG)),
    _row_update([kx.toq(np.array([-2**31, 5], np.int32))]),                     # a 0Ni in a column
    _row_update([kx.FloatAtom(1.0)], kx.SymbolAtom(".u.sub")),                 # not an update
    _row_update([kx.FloatAtom(1.0)] * 65),                                      # a long row
    _row_update([kx.toq([kx.FloatAtom(1.0), kx.SymbolAtom("a")])]),           # a list in a list
    kdb.encode(kx.toq([kx.SymbolAtom(".u.upd"), kx.SymbolAtom("t"), kx.toq(np.array([1.0]))]), kdb.ASYNC),
    kdb.encode(kx.toq([kx.SymbolAtom(".u.upd"), kx.SymbolAtom("t")]), kdb.ASYNC),
    kdb.encode(kx.CharVector("select from t"), kdb.SYNC)])
def test_other_messages_are_left_to_pykx(message):
    assert layout.update_call(message) is None
    decoded = kdb.decode(message)  # PyKX's, where it decodes
    assert decoded is not None


def test_a_damaged_update_is_read_as_pykx_reads_it_or_left_to_pykx():
    """Any byte of a one-row update changed to any value, or the message cut short: either it is still a
    plain update and reads as PyKX reads it, or it is left to PyKX (which reads it or refuses
    it), never read otherwise."""
    for message in (
            _row_update([kx.TimestampAtom(np.datetime64("2026-12-03T09:30:00", "ns")),
                         kx.SymbolAtom("S1"), kx.FloatAtom(1.5), kx.LongAtom(100), kx.BooleanAtom(True)]),
            _row_update([kx.toq(np.array(["2026-12-03T09:30", "2026-12-03T09:31"], "datetime64[ns]")),
                         kx.toq(np.array(["A", "BC"], dtype=object), kx.SymbolVector),
                         kx.toq(np.array([True, False])), kx.toq(np.array([1, 2], np.int16))])):
        variants = [message[:cut] for cut in range(len(message))]
        for index in range(len(message)):
            variants += [message[:index] + bytes([value]) + message[index + 1:] for value in range(256)]
        read = 0
        for variant in variants:
            if layout.update_call(variant) is None:
                continue
            read += 1
            _same_as_pykx(variant)
        assert read > len(message)  # many changed values still read (and read as PyKX does)
