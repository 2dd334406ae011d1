"""Results on the wire: a statement's rows as a JSON document or an Arrow IPC stream, written
a record batch at a time as they are read from DuckDB, and errors as HTTP status codes."""

from __future__ import annotations

import base64
import datetime
import decimal
import json
import math
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow as pa

from indb import errors
from indb.remote import (META_ERROR, META_MESSAGE, META_ROWCOUNT, META_TYPES, ArrowChunks,
                         error_json)
from indb.result import Result, of_type, python_values

ROWS_A_CHUNK = 10_000  # rows converted to JSON at once (a big batch is sent in pieces)

# the status of an error, by the first of its classes (most specific first) named here
STATUS_OF: dict[str, int] = {
    "AuthenticationError": 401, "PrivilegeError": 403,
    "ConflictError": 409, "IntegrityError": 409, "RunError": 422, "DataError": 422,
    "FunctionError": 422, "ModelError": 422, "NotSupportedError": 501, "InterfaceError": 400,
    "ProgrammingError": 400, "DirectoryError": 503, "OperationalError": 503,
    "InternalError": 500, "DatabaseError": 500, "IndbError": 500,
}


def status_of(error: BaseException) -> int:
    """The HTTP status for an error: 400 for a mistake in the statement, 409 for a lost race,
    422 for a run or value that failed, 501 for what indb does not do, 500 for a bug."""
    for kind in type(error).__mro__:
        if kind.__name__ in STATUS_OF and issubclass(kind, errors.IndbError):
            return STATUS_OF[kind.__name__]
    return 500


def json_value(value: Any) -> Any:
    """A value of a row as JSON: dates and times as ISO 8601 text, decimals as text (exact),
    bytes as base64, NaN and infinities as null (JSON has none)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime.datetime | datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, datetime.timedelta):
        return value.total_seconds()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_value(v) for v in value]
    return value


def _dumps(value: Any) -> str:
    return json.dumps(value, default=str, allow_nan=False, separators=(",", ":"))


def _types(result: Result) -> list[str]:
    return [str(t) for t in result.types] if result.types is not None else [
        str(t) for t in result.schema.types]


def _json_column(column: pa.Array, kind: Any) -> list[Any]:
    """A column's values for ``json_value``: as DuckDB's client gives them, a BIT its text, a
    128-bit integer its exact text (JSON readers hold numbers as doubles)."""
    values = of_type(python_values(column), kind)
    return [None if v is None else str(v) for v in values] if str(kind) in _EXACT_TEXT else values


_EXACT_TEXT = {"HUGEINT", "UHUGEINT"}


def json_chunks(result: Result) -> Iterator[bytes]:
    """``{"columns": [...], "rows": [[...], ...], "rowcount": n, "message": "..."}``, the rows
    written as they are read; an error met while reading ends it with ``"error": {...}``."""
    columns = [{"name": n, "type": t} for n, t in zip(result.columns, _types(result), strict=True)]
    head = {"columns": columns, "rowcount": result.rowcount, "message": result.message}
    yield (_dumps(head)[:-1] + ',"rows":[').encode()
    first, tail = True, {}
    try:
        types = result.types or [None] * len(result.columns)
        for batch in result.fetch_record_batch(ROWS_A_CHUNK):
            rows = zip(*(_json_column(column, kind)
                         for column, kind in zip(batch.columns, types, strict=True)), strict=True)
            text = ",".join(_dumps([json_value(v) for v in row]) for row in rows)
            if text:
                yield (text if first else "," + text).encode()
                first = False
    except Exception as error:  # the status is sent already: the error goes in the document
        tail = {"error": error_json(error)}
    finally:
        result.close()
    yield ("]" + "".join(f",{_dumps(k)}:{_dumps(v)}" for k, v in tail.items()) + "}").encode()


def arrow_chunks(result: Result) -> Iterator[bytes]:
    """The rows as an Arrow IPC stream, a record batch at a time. The schema's metadata carries
    the statement's message, rowcount and SQL types; an error met while reading is sent as a
    last, empty batch whose custom metadata holds it."""
    metadata = {META_MESSAGE: result.message.encode(), META_ROWCOUNT: str(result.rowcount).encode(),
                META_TYPES: _dumps(_types(result)).encode()}
    schema = result.schema.with_metadata(metadata)
    sink = ArrowChunks()
    try:
        with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), schema) as writer:
            try:
                for batch in result.fetch_record_batch():
                    writer.write_batch(batch)
                    yield sink.take()
            except Exception as error:
                writer.write_batch(pa.RecordBatch.from_pylist([], schema=schema),
                                   custom_metadata={META_ERROR: _dumps(error_json(error))})
        yield sink.take()
    finally:
        result.close()
