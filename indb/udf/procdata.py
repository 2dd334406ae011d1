"""A Kinetica-style ``ProcData`` for UDF scripts: ``from kinetica_proc import ProcData``.

A script registered with ``RUN_COMMAND = 'python'`` runs as its own process, once per shard
instance. ``ProcData()`` reads the instance's request from ``$INDB_PROC_DIR`` (written by the
host process): the input tables (this shard's rows), the output tables' columns, the parameters
and ``request_info``. The script fills the output tables' columns and calls ``complete()``, which
writes them back for the host to store. The shape follows Kinetica's Python UDF API::

    proc_data = ProcData()
    for in_table, out_table in zip(proc_data.input_data, proc_data.output_data):
        out_table.size = in_table.size
        for in_column, out_column in zip(in_table, out_table):
            out_column.extend(in_column)
    proc_data.complete()
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa

__all__ = ["InputColumn", "InputTable", "OutputColumn", "OutputTable", "ProcData"]


class InputColumn(Sequence):
    """One input column: ``len``, indexing and iteration give Python values."""

    def __init__(self, name: str, values: pa.ChunkedArray) -> None:
        self.name = name
        self._arrow = values
        self._values: list | None = None

    def _list(self) -> list:
        if self._values is None:
            self._values = self._arrow.to_pylist()
        return self._values

    def __len__(self) -> int:
        return len(self._arrow)

    def __getitem__(self, index: int | slice) -> Any:
        return self._list()[index]

    def __iter__(self) -> Iterator[Any]:
        return iter(self._list())

    def to_numpy(self) -> Any:
        """The column as a numpy array (an indb extension: fast for numeric columns)."""
        return self._arrow.to_numpy()


class _Columns(Sequence[Any]):
    """Columns reachable by position or by name."""

    def __init__(self, name: str, columns: list) -> None:
        self.name = name
        self._columns = columns

    def __len__(self) -> int:
        return len(self._columns)

    def __iter__(self) -> Iterator:
        return iter(self._columns)

    def __getitem__(self, key: int | str) -> Any:  # type: ignore[override]  # by name too
        if isinstance(key, str):
            for column in self._columns:
                if column.name.lower() == key.lower():
                    return column
            raise KeyError(f"table {self.name} has no column {key!r}; it has "
                           + ", ".join(c.name for c in self._columns))
        return self._columns[key]


class InputTable(_Columns):
    """One input table: this shard's rows; ``size`` is the row count."""

    def __init__(self, name: str, table: pa.Table) -> None:
        super().__init__(name, [InputColumn(n, table[n]) for n in table.column_names])
        self.size = table.num_rows


class OutputColumn:
    """One output column: set ``table.size`` then assign by index, or ``append``/``extend``."""

    def __init__(self, name: str, sql_type: str) -> None:
        self.name = name
        self.sql_type = sql_type
        self.values: list = []

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> Any:
        return self.values[index]

    def __setitem__(self, index: int, value: Any) -> None:
        self.values[index] = value

    def append(self, value: Any) -> None:
        self.values.append(value)

    def extend(self, values: Any) -> None:
        self.values.extend(values)


class OutputTable(_Columns):
    """One output table; its columns are those of the output table in the database."""

    def __init__(self, name: str, columns: list[tuple[str, str]]) -> None:
        super().__init__(name, [OutputColumn(n, t) for n, t in columns])
        self._size = 0

    @property
    def size(self) -> int:
        return self._size

    @size.setter
    def size(self, rows: int) -> None:
        """Size the table: columns get ``rows`` empty slots to assign, or are cut to ``rows``."""
        self._size = rows
        for column in self._columns:
            column.values = column.values[:rows] + [None] * max(0, rows - len(column.values))

    def to_arrow(self) -> pa.Table:
        lengths = {len(c.values) for c in self._columns}
        if len(lengths) > 1:
            raise ValueError(f"output table {self.name}'s columns have different lengths: "
                             + ", ".join(f"{c.name} {len(c.values)}" for c in self._columns))
        return pa.table({c.name: pa.array(c.values) for c in self._columns})


class _DataSet(_Columns):
    """``input_data``/``output_data``: tables by position or by name."""


class ProcData:
    """The instance's view of its run, as Kinetica's ``kinetica_proc.ProcData`` gives it."""

    def __init__(self) -> None:
        directory = os.environ.get("INDB_PROC_DIR")
        if not directory:
            raise RuntimeError("ProcData() works inside a function run: register this script with "
                               "CREATE FUNCTION ... RUN_COMMAND = 'python' and EXECUTE FUNCTION it")
        self._dir = Path(directory)
        request = json.loads((self._dir / "request.json").read_text())
        self.request_info: dict[str, str] = request["request_info"]
        self.params: dict[str, str] = request["params"]
        self.bin_params: dict[str, bytes] = {}
        self.results: dict[str, str] = {}
        self.bin_results: dict[str, bytes] = {}
        self.input_data = _DataSet("input_data", [
            InputTable(i["name"], pa.ipc.open_file(pa.memory_map(str(self._dir / i["file"]))).read_all())
            for i in request["inputs"]])
        self.output_data = _DataSet("output_data", [
            OutputTable(o["name"], o["columns"]) for o in request["outputs"]])
        self._status = ""

    @property
    def status(self) -> str:
        return self._status

    @status.setter
    def status(self, message: str) -> None:
        """Shown as this instance's message in SHOW FUNCTION STATUS while the script runs."""
        self._status = str(message)
        (self._dir / "status").write_text(self._status)

    def complete(self) -> None:
        """Hand the output tables back; a script that exits without calling this has failed."""
        for i, table in enumerate(self.output_data):
            rows = table.to_arrow()
            with pa.OSFile(str(self._dir / f"output_{i}.arrow"), "wb") as sink, \
                    pa.ipc.new_file(sink, rows.schema) as writer:
                writer.write_table(rows)
        (self._dir / "complete.json").write_text(json.dumps({"results": self.results}))
