"""Kinetica's process control files, written and read with Arrow: every type round-trips, and
Kinetica's own kinetica_proc.py reads what indb writes."""

import datetime
import json
import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from indb.udf import kinetica_files as kf

KINETICA = Path(__file__).resolve().parents[2] / "shared" / "kinetica"

COLUMNS = {
    "b": pa.array([True, None, False]),
    "i8": pa.array([1, -2, None], pa.int8()),
    "u8": pa.array([255, 0, None], pa.uint8()),
    "i": pa.array([1, None, -3], pa.int32()),
    "l": pa.array([10**12, 2, None]),
    "f": pa.array([1.5, None, 2.5], pa.float32()),
    "d": pa.array([1.25, 2.5, None]),
    "s": pa.array(["ab", None, ""], pa.string()),
    "by": pa.array([b"x\x00y", None, b""]),
    "dt": pa.array([datetime.date(2024, 2, 29), None, datetime.date(1899, 12, 31)]),
    "tm": pa.array([datetime.time(13, 45, 7, 123000), None, datetime.time(0, 0)]),
    "ts": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, 6000), None, datetime.datetime(1960, 1, 1)],
                   pa.timestamp("us")),
    "tz": pa.array([datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), None, None],
                   pa.timestamp("us", "UTC")),
    "dec": pa.array([Decimal("12.3456"), None, Decimal("-1.5")], pa.decimal128(10, 4)),
    "vec": pa.array([[1.0, 2.0], None, [3.0, 4.0]], pa.list_(pa.float32(), 2)),
    "js": pa.array([[1, 2], None, []], pa.list_(pa.int64())),
    "dbl": pa.array([[0.1, 1e300], None, []], pa.list_(pa.float64())),  # JSON: no precision lost
    "enum": pa.array(["a", None, "b"]).dictionary_encode(),
}


def write(tmp_path, name, array):
    kind = kf.kind_of(array.type)
    files = kf.column_files(tmp_path, name, name, kind, True)
    kf.write_column(files, kf.to_wire(array, kind))
    return files


@pytest.mark.parametrize("name", COLUMNS)
def test_every_type_round_trips(tmp_path, name):
    array = COLUMNS[name]
    files = write(tmp_path, name, array)
    assert kf.row_count(files) == 3
    assert kf.from_wire(kf.read_column(files), files.kind, array.type).equals(array)


def test_a_sliced_array_writes_only_its_rows(tmp_path):
    array = pa.array(["skip", "a", None, "bc"]).slice(1)
    files = write(tmp_path, "s", array)
    assert kf.read_column(files).to_pylist() == ["a", None, "bc"]


def test_text_slots_sized_but_never_filled_are_empty(tmp_path):
    """A script sized 4 slots and appended 2: the offsets of the other two are 0."""
    files = kf.column_files(tmp_path, "s", "s", kf.KINDS[kf.ColumnType.STRING], False)
    np.array([0, 3, 0, 0], np.uint64).tofile(files.data)
    Path(files.var).write_bytes(b"ab\x00cde\x00")
    assert kf.read_column(files).to_pylist() == ["ab", "cde", "", ""]


def test_control_status_and_completion_files(tmp_path):
    files = write(tmp_path, "l", COLUMNS["l"])
    out = kf.column_files(tmp_path, "o", "o", kf.KINDS[kf.ColumnType.STRING], True)
    control = kf.Control({"run_id": "r"}, {"p": "1"}, {"b": b"\x00\xff"},
                         (kf.TableFiles("t", (files,)),), (kf.TableFiles("out", (out,)),),
                         str(tmp_path / "done"), str(tmp_path / "status"))
    kf.write_control(tmp_path / "control", control)
    assert kf.read_control(str(tmp_path / "control")) == control
    assert Path(out.data).exists() and Path(out.var).exists()  # Kinetica's module maps them all
    assert kf.read_completion(control.output_control) is None
    kf.write_completion(control.output_control, kf.Completion({"k": "v"}, {"b": b"\x01"}))
    assert kf.read_completion(control.output_control) == kf.Completion({"k": "v"}, {"b": b"\x01"})
    assert kf.read_status(control.status) is None
    kf.write_status(control.status, "half way")
    kf.write_status(control.status, "done")
    assert kf.read_status(control.status) == "done"


@pytest.mark.skipif(not (KINETICA / "kinetica_proc.py").exists(),
                    reason=f"Kinetica's kinetica_proc.py is not at {KINETICA}")
def test_kinetica_reads_what_indb_writes(tmp_path):
    columns = tuple(write(tmp_path, name, array) for name, array in COLUMNS.items())
    control = kf.Control({}, {}, {}, (kf.TableFiles("t", columns),), (), str(tmp_path / "done"),
                         str(tmp_path / "status"))
    kf.write_control(tmp_path / "control", control)
    code = ("import json\nfrom kinetica_proc import ProcData\n"
            "print(json.dumps({c.name: c[:] for c in ProcData().input_data['t']}, default=str))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          env={**os.environ, "KINETICA_PCF": str(tmp_path / "control"),
                               "PYTHONPATH": str(KINETICA)})
    assert done.returncode == 0, done.stderr
    read = json.loads(done.stdout)
    expected = {name: array.to_pylist() for name, array in COLUMNS.items()}
    expected.update(
        ts=[1704164645006, None, -315619200000], tz=[1704164645000, None, None],
        dt=["2024-02-29", None, "1899-12-31"], tm=["13:45:07.123000", None, "00:00:00"],
        dec=["12.3456", None, "-1.5000"], by=["b'x\\x00y'", None, "b''"],
        js=["[1, 2]", None, "[]"], dbl=["[0.1, 1e+300]", None, "[]"])
    assert read == expected
