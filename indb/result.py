"""The result of a statement: its rows as a stream of Arrow record batches, read only as far as
they are asked for, plus what a write did."""

from __future__ import annotations

import datetime
import html
import itertools
import re
import uuid
from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from typing import Any, TypeVar

import duckdb
import pyarrow as pa

from indb.errors import DataError

R = TypeVar("R", bound="Result")
ROWS_CONVERTED = 2048  # rows made into tuples at once while fetching one by one (40x cheaper a row)
PREVIEW_ROWS = 20  # rows ``show()`` and the notebook view print


class Result:
    """Rows a statement returned, a message for people, and the rows a write changed.

    The rows come as a stream of Arrow record batches (a query's come from DuckDB as it runs)
    and are read only as far as they are asked for: ``fetchone`` on a 5M-row result reads one
    batch. ``fetch*`` and iteration consume rows; ``arrow()``, ``df()``, ``pl()``, ``show()``
    and the notebook view give the rows not fetched yet without consuming them (``arrow()`` and
    the frames read them all into memory, and keep them).
    """

    def __init__(self, table: pa.Table | None = None, message: str = "",
                 rowcount: int = -1, returned: bool = False) -> None:
        rows = pa.table({}) if table is None else table
        self.message = message
        self.rowcount = rowcount  # rows a write inserted, deleted or loaded; -1 for queries
        self.returned = returned  # a write's rows are its RETURNING's, not a summary
        self.schema: pa.Schema = rows.schema
        self.types: Sequence[Any] | None = None  # each column's SQL type (DuckDB's), when known
        self.rows_read = 0  # rows read from the stream so far
        self._stream: Generator[pa.RecordBatch, None, None] = (b for b in rows.to_batches())
        self._exhausted = False
        self._pending: deque[pa.RecordBatch] = deque()  # read, not (wholly) fetched yet
        self._offset = 0  # rows of the first pending batch fetched already
        self._buffered = 0  # rows pending, less the offset
        self._converted: deque[tuple] = deque()  # the next rows to fetch, as tuples
        self._interrupt: Callable[[], None] | None = None  # stops a streamed query (interrupt)

    @classmethod
    def streamed(cls, schema: pa.Schema, batches: Generator[pa.RecordBatch, None, None],
                 types: Sequence[Any] | None = None,
                 interrupt: Callable[[], None] | None = None) -> Result:
        """A query's result whose rows are read from ``batches`` as they are fetched; closing
        the result closes the generator (and so what it reads from). ``interrupt`` stops what
        computes the rows, from any thread (``Result.interrupt``)."""
        result = cls(schema.empty_table())
        result._stream, result.types = batches, types
        result._interrupt = interrupt
        return result

    def moved(self, kind: type[R]) -> R:
        """This result as an instance of ``kind`` (a subclass: the Python API's Relation), the
        two one result: they share their rows and how far they were read."""
        made = kind.__new__(kind)
        made.__dict__ = self.__dict__
        return made

    def interrupt(self) -> None:
        """From another thread: stop what computes the rows not read yet (DuckDB's interrupt of
        the query's connection); the thread reading them gets SqlError. Nothing for rows that
        are all in memory."""
        if self._interrupt is not None:
            self._interrupt()

    # -- what the rows are ------------------------------------------------------------------

    @property
    def columns(self) -> list[str]:
        return self.schema.names

    @property
    def returns_rows(self) -> bool:
        """Whether the statement returned rows, as DB-API counts them: a write's summary row
        (``rows_inserted`` ...) is not a result set, its ``RETURNING`` rows are."""
        return (self.rowcount < 0 or self.returned) and len(self.schema) > 0

    @property
    def description(self) -> list[tuple] | None:
        """DB-API 2.0's description: ``(name, type_code, None, None, None, None, None)`` a column,
        the type code comparing equal to ``indb.STRING``, ``indb.NUMBER``...; None without rows."""
        if not self.returns_rows:
            return None
        types = self.types if self.types is not None else self.schema.types
        return [(name, code, None, None, None, None, None)
                for name, code in zip(self.schema.names, types, strict=True)]

    # -- fetching (consumes rows) -------------------------------------------------------------

    def fetchone(self) -> tuple | None:
        if not self._converted and not self._convert():
            return None
        row = self._converted[0]
        self._drop(1)
        return row

    def fetchmany(self, size: int = 1) -> list[tuple]:
        rows: list[tuple] = []
        while len(rows) < size and (self._converted or self._convert()):
            count = min(size - len(rows), len(self._converted))
            rows.extend(itertools.islice(self._converted, count))
            self._drop(count)
        return rows

    def fetchall(self) -> list[tuple]:
        return _tuples(self.fetch_arrow_table(), self.types)

    def __iter__(self) -> Iterator[tuple]:
        """Each row not fetched yet, fetched one at a time (so a loop left early leaves the
        rest to fetch), converted a chunk at a time."""
        while (row := self.fetchone()) is not None:
            yield row

    def fetch_arrow_table(self) -> pa.Table:
        """The rows not fetched yet, as one Arrow table; they count as fetched."""
        table = self.arrow()
        self._drop(self._buffered)
        return table

    def fetch_record_batch(self, rows_per_batch: int = 1_000_000) -> pa.RecordBatchReader:
        """The rows not fetched yet as a stream of record batches of at most ``rows_per_batch``
        rows, each fetched as it is read."""
        def batches() -> Iterator[pa.RecordBatch]:
            while self._read(1):
                yield from self._take(rows_per_batch).to_batches()
        return pa.RecordBatchReader.from_batches(self.schema, batches())

    def fetchdf(self) -> Any:
        """The rows not fetched yet as a pandas DataFrame; they count as fetched."""
        return self.fetch_arrow_table().to_pandas()

    def fetchnumpy(self) -> dict[str, Any]:
        """The rows not fetched yet as one numpy array a column; they count as fetched."""
        table = self.fetch_arrow_table()
        return {name: column.to_numpy() for name, column in zip(table.column_names, table.columns,
                                                                strict=True)}

    # -- looking (reads, does not consume) ------------------------------------------------------

    def arrow(self) -> pa.Table:
        """The rows not fetched yet, as one Arrow table (read whole into memory, and kept)."""
        self._read(None)
        return self._peek(self._buffered)

    to_arrow_table = arrow

    def df(self) -> Any:
        """``arrow()`` as a pandas DataFrame."""
        return self.arrow().to_pandas()

    to_df = df  # (DuckDB's other names)

    def pl(self) -> Any:
        """``arrow()`` as a polars DataFrame (polars is optional: ``pip install polars``)."""
        try:
            import polars
        except ImportError:
            raise ImportError("Result.pl() needs polars, which indb does not install: pip install "
                              "polars (or use .df() for pandas, .arrow() for Arrow)") from None
        return polars.from_arrow(self.arrow())

    def show(self, max_rows: int = PREVIEW_ROWS) -> None:
        """Print the first ``max_rows`` rows not fetched yet, without fetching them."""
        print(self._preview(max_rows))

    def _repr_html_(self) -> str:
        """The notebook view: the first rows as an HTML table, without fetching them."""
        if not self.columns:
            return f"<p>{html.escape(self.message or 'no rows')}</p>"
        rows, more = self._head(PREVIEW_ROWS)
        footer = html.escape(self._footer(rows, more))
        return f"{self._shown(rows).to_html(index=False, na_rep='NULL')}<p>{footer}</p>"

    def __repr__(self) -> str:
        return self._preview(PREVIEW_ROWS) if self.columns else f"Result({self.message!r})"

    def close(self) -> None:
        """Stop reading: the stream (and the DuckDB connection a query's rows came from) closes."""
        self._stream.close()
        self._exhausted = True
        self._pending.clear()
        self._converted.clear()
        self._offset = self._buffered = 0

    # -- the stream ---------------------------------------------------------------------------

    def _read(self, rows: int | None) -> int:
        """Read batches until ``rows`` rows (None: all) are waiting to be fetched; how many are."""
        while not self._exhausted and (rows is None or self._buffered < rows):
            try:
                batch = next(self._stream)
            except StopIteration:
                self._exhausted = True
                break
            if batch.num_rows:
                self._pending.append(batch)
                self._buffered += batch.num_rows
                self.rows_read += batch.num_rows
        return self._buffered

    def _peek(self, rows: int) -> pa.Table:
        """The first ``rows`` waiting rows, left waiting."""
        taken, wanted, offset = [], rows, self._offset
        for batch in self._pending:
            if wanted <= 0:
                break
            taken.append(batch.slice(offset, wanted))
            wanted -= taken[-1].num_rows
            offset = 0
        return pa.Table.from_batches(taken, self.schema)

    def _take(self, rows: int) -> pa.Table:
        """The first ``rows`` rows not fetched yet, fetched."""
        self._read(rows)
        table = self._peek(rows)
        self._drop(table.num_rows)
        return table

    def _drop(self, rows: int) -> None:
        """Count the first ``rows`` waiting rows as fetched."""
        self._buffered -= rows
        for _ in range(min(rows, len(self._converted))):
            self._converted.popleft()
        while rows:
            left = self._pending[0].num_rows - self._offset
            if rows < left:
                self._offset += rows
                break
            rows -= left
            self._pending.popleft()
            self._offset = 0

    def _convert(self) -> int:
        """Make the next rows to fetch (up to ROWS_CONVERTED, of one batch) into tuples; how many
        there are."""
        if self._read(1):
            self._converted.extend(_tuples(self._pending[0].slice(self._offset, ROWS_CONVERTED),
                                           self.types))
        return len(self._converted)

    def _head(self, rows: int) -> tuple[pa.Table, bool]:
        """The first ``rows`` waiting rows, and whether more follow."""
        waiting = self._read(rows + 1)
        return self._peek(rows), waiting > rows

    def _preview(self, max_rows: int) -> str:
        rows, more = self._head(max_rows)
        # a NULL as NULL, as the CLI prints it (pandas would print NaN or None by the type)
        text = self._shown(rows).to_string(index=False, na_rep="NULL") if rows.num_rows \
            else ", ".join(self.columns)
        return f"{text}\n{self._footer(rows, more)}"

    def _shown(self, rows: pa.Table) -> Any:
        """Rows to print, as a pandas frame: Arrow's own conversion, or, where pandas cannot
        hold a value (a date BC, ``'infinity'``), the values ``fetchall`` gives."""
        try:
            return rows.to_pandas()
        except (ValueError, OverflowError):
            import pandas
            return pandas.DataFrame.from_records(_tuples(rows, self.types), columns=rows.column_names)

    def _footer(self, rows: pa.Table, more: bool) -> str:
        shown = f"{rows.num_rows} row{'s' if rows.num_rows != 1 else ''}"
        return f"first {shown} shown; more not fetched yet" if more else shown


def python_values(column: pa.Array | pa.ChunkedArray,
                  outside: Callable[[str, pa.DataType], Any] | None = None) -> list[Any]:
    """A column's values as Python's, as DuckDB's Python client gives them: a MAP's each a dict
    (``{'key': [...], 'value': [...]}`` where its keys cannot be a dict's: lists, structs); an
    INTERVAL's a ``timedelta``, a month 30 days (as PostgreSQL's justify_days counts too). A date or
    timestamp outside Python's years 1 to 9999 is ``outside(DuckDB's text of it, its type)``,
    by default as DuckDB's client gives it (``duckdb_client_value``)."""
    if column.type == pa.month_day_nano_interval():
        return [None if v is None else datetime.timedelta(
            days=30 * v.months + v.days, microseconds=v.nanoseconds // 1000)
            for v in column.to_pylist()]
    try:
        return column.to_pylist(maps_as_pydicts="lossy")
    except TypeError:  # a map whose keys are lists or structs
        return [_maps(v, column.type) for v in column.to_pylist()]
    except OverflowError:  # a date or timestamp Python's cannot hold
        if not pa.types.is_temporal(column.type):
            raise DataError("a date or timestamp inside a list, struct or map is outside "
                            "Python's years 1 to 9999 ('infinity', a date BC): fetch the rows "
                            "with .arrow(), or cast the value to VARCHAR") from None
        return _outside_python(column, outside or duckdb_client_value)


def _maps(value: Any, kind: pa.DataType) -> Any:
    """A value whose maps Arrow gave as (key, value) pairs, each map as DuckDB's client gives
    it: a dict of its pairs, or where its keys cannot be a dict's keys, ``{'key': keys,
    'value': values}``."""
    if value is None:
        return None
    if pa.types.is_map(kind):
        pairs = [(_maps(k, kind.key_type), _maps(v, kind.item_type)) for k, v in value]
        try:
            return dict(pairs)
        except TypeError:
            return {"key": [k for k, _ in pairs], "value": [v for _, v in pairs]}
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return [_maps(v, kind.value_type) for v in value]
    if pa.types.is_struct(kind):
        return {field.name: _maps(value[field.name], field.type) for field in kind}
    return value


def duckdb_client_value(text: str, kind: pa.DataType) -> Any:
    """A date or timestamp outside Python's years 1 to 9999 as DuckDB's client gives it:
    ``'infinity'`` the type's largest value (``date.max``, ``datetime.max``), ``'-infinity'``
    its smallest, any other (a date BC, year 10000 and on) DuckDB's text (``'3000-01-02
    (BC)'``)."""
    largest, smallest = ((datetime.date.max, datetime.date.min) if pa.types.is_date(kind)
                         else (datetime.datetime.max, datetime.datetime.min))
    return {"infinity": largest, "-infinity": smallest}.get(text, text)


def _outside_python(column: pa.Array | pa.ChunkedArray,
                    outside: Callable[[str, pa.DataType], Any]) -> list[Any]:
    with duckdb.connect() as duck:
        duck.register("outside", pa.table({"value": column}))
        texts = [row[0] for row in duck.execute("SELECT CAST(value AS VARCHAR) FROM outside")
                 .fetchall()]
    values: list[Any] = []
    for scalar, text in zip(column, texts, strict=True):
        try:
            values.append(scalar.as_py())
        except OverflowError:
            values.append(outside(text, column.type))
    return values


def _bits(blob: bytes) -> str:
    """A BIT value's text (``'101'``) from DuckDB's bytes of it, which Arrow carries: a first byte
    counting the padding bits that lead the rest."""
    return "".join(f"{byte:08b}" for byte in blob[1:])[blob[0]:] if blob else ""


def _unsigned(value: Any) -> int:
    """A UHUGEINT from Arrow's ``decimal(38, 0)`` of its bits, read as signed: 2**127 and above
    come negative."""
    number = int(value)
    return number + 2**128 if number < 0 else number


def _bignum(blob: bytes) -> str:
    """A BIGNUM's digits, as DuckDB's client gives them, from DuckDB's bytes of it (which Arrow
    carries): a 3-byte header whose first bit is set for a number >= 0, then its magnitude's
    bytes, most significant first; a negative number's header and bytes are inverted."""
    magnitude = blob[3:] if blob[0] & 0x80 else bytes(~b & 0xFF for b in blob[3:])
    number = int.from_bytes(magnitude, "big")
    return str(number if blob[0] & 0x80 else -number)


_CONVERTED: dict[str, Callable[[Any], Any]] = {"UUID": uuid.UUID, "HUGEINT": int,
                                               "UHUGEINT": _unsigned, "BIT": _bits,
                                               "BIGNUM": _bignum}
_ARRAY = re.compile(r"(\[\d+\])+$")  # a fixed-size array's type (FLOAT[2]): a tuple, as DuckDB's


def _tupled(depth: int) -> Callable[[list], tuple]:
    """A fixed-size array's value as DuckDB's client gives it: a tuple, of tuples ``depth`` deep
    (``INTEGER[2][2]``)."""
    def tupled(value: list) -> tuple:
        return tuple(v if depth == 1 or v is None else _tupled(depth - 1)(v) for v in value)
    return tupled


def _tuples(table: pa.Table, types: Sequence[Any] | None = None) -> list[tuple]:
    """The rows as tuples; a UUID column's values ``uuid.UUID``, a HUGEINT's (``sum`` of
    integers) ``int``, a BIT's text, a fixed-size array's a tuple, as DuckDB's Python client
    gives them (``types``, DuckDB's, say which: Arrow has a UUID's text, a HUGEINT's
    ``decimal(38, 0)``, DuckDB's bytes of a BIT and a fixed-size list)."""
    columns = [python_values(column) for column in table.columns]  # two of one name stay two
    for i, kind in enumerate(types or ()):
        array = _ARRAY.search(str(kind))
        if isinstance(kind, duckdb.sqltypes.DuckDBPyType) and kind.id in _NESTED \
                and _CONVERTED_INSIDE.search(str(kind)) and i < len(columns):
            columns[i] = [_nested(v, kind) for v in columns[i]]
        elif array and i < len(columns):
            columns[i] = [None if v is None else _tupled(array.group().count("["))(v)
                          for v in columns[i]]
        elif i < len(columns):
            columns[i] = of_type(columns[i], kind)
    return list(zip(*columns, strict=True)) if columns else []


# nested types whose values are converted inside: TUPLEs (DuckDB's unnamed structs, ROW(1, 2)),
# and the types of _CONVERTED as elements or fields
_NESTED = ("tuple", "struct", "list", "array")
_CONVERTED_INSIDE = re.compile(r"TUPLE|HUGEINT|UUID|\bBIT\b|BIGNUM")


def _nested(value: Any, kind: Any) -> Any:  # (kind: a DuckDBPyType)
    """A value of a nested type as DuckDB's client gives it: a TUPLE a tuple (Arrow carries a
    struct of fields DuckDB named), its elements and fields as ``of_type`` converts them."""
    if value is None:
        return None
    if kind.id == "tuple":
        return tuple(_nested(v, child) for v, (_, child) in
                     zip(value.values(), kind.children, strict=True))
    if kind.id == "struct":
        return {name: _nested(value[name], child) for name, child in kind.children}
    if kind.id in ("list", "array"):
        items = [_nested(v, kind.children[0][1]) for v in value]
        return tuple(items) if kind.id == "array" else items
    convert = _CONVERTED.get(str(kind))
    return value if convert is None else convert(value)


def of_type(values: list[Any], kind: Any) -> list[Any]:
    """A column's Python values as DuckDB's client gives those of its SQL type ``kind``, where
    Arrow carries them otherwise: a UUID ``uuid.UUID``, a HUGEINT and a UHUGEINT ``int``, a BIT
    its text."""
    convert = _CONVERTED.get(str(kind))
    return values if convert is None else [None if v is None else convert(v) for v in values]
