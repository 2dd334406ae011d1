"""``indb.connect("http://host:8765")``: the DB-API connection of a database that ``indb serve``
serves, with the local connection's surface, and the wire formats both ends share.

Statements go as JSON (``POST /v1/sql``); rows come back as an Arrow IPC stream, read batch by
batch as they are fetched (``indb.Result`` over the HTTP response). A function run answers
``202`` with its run id, and its progress is read from ``/v1/runs/{id}/progress`` (one JSON
object a line) until it ends. Errors come as JSON naming indb's error class, so the client
raises the same exception, ``SqlError`` with its line and column included.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime
import decimal
import json
import ssl
import threading
import urllib.parse
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path, PurePath
from typing import Any

import pyarrow as pa
from sqlglot import exp

from indb import errors
from indb.connection import Connection
from indb.parser import CreateFunction, parse, render_indb
from indb.registry.code import stored_path
from indb.registry.uploads import UPLOAD_SCHEME
from indb.errors import NotSupportedError, OperationalError, ProgrammingError
from indb.registry.runs import InstanceProgress, RunStatus
from indb.result import Result
from indb.sharding.executor import Progress, RunProgress

ARROW_STREAM = "application/vnd.apache.arrow.stream"
JSON = "application/json"
NDJSON = "application/x-ndjson"
RESPOND_ASYNC = "respond-async"  # Prefer: a function run answers 202 with its run id at once
# the Arrow stream's schema metadata: what the statement did, beside its rows
META_MESSAGE, META_ROWCOUNT, META_TYPES, META_ERROR = (b"indb.message", b"indb.rowcount",
                                                       b"indb.types", b"indb.error")
UPLOAD_CHUNK = 1 << 20  # bytes of an Arrow upload sent at a time


# -- values and errors as JSON (both ends) -----------------------------------------------------

def encode_value(value: Any) -> Any:
    """A parameter as JSON: JSON's own types as they are, others tagged with their type."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, datetime.datetime):
        return {"$timestamp": value.isoformat()}
    if isinstance(value, datetime.date):
        return {"$date": value.isoformat()}
    if isinstance(value, datetime.time):
        return {"$time": value.isoformat()}
    if isinstance(value, bytes | bytearray | memoryview):
        return {"$bytes": base64.b64encode(bytes(value)).decode()}
    if isinstance(value, decimal.Decimal):
        return {"$decimal": str(value)}
    if isinstance(value, Mapping):
        return {"$map": {str(k): encode_value(v) for k, v in value.items()}}
    if isinstance(value, Sequence):
        return [encode_value(v) for v in value]
    raise ProgrammingError(f"a parameter of type {type(value).__name__} cannot be sent to the "
                           "server; use None, bool, int, float, str, bytes, Decimal, date, "
                           "time, datetime, or lists of them")


_DECODERS: dict[str, Callable[[Any], Any]] = {
    "$timestamp": datetime.datetime.fromisoformat, "$date": datetime.date.fromisoformat,
    "$time": datetime.time.fromisoformat, "$bytes": base64.b64decode, "$decimal": decimal.Decimal,
    "$map": lambda items: {k: decode_value(v) for k, v in items.items()},
}


def decode_value(value: Any) -> Any:
    """``encode_value`` undone; a malformed tagged value raises ValueError."""
    if isinstance(value, list):
        return [decode_value(v) for v in value]
    if isinstance(value, dict):
        if len(value) != 1 or next(iter(value)) not in _DECODERS:
            raise ValueError(f"a parameter object is one of {', '.join(_DECODERS)} with its "
                             f"value, such as {{\"$date\": \"2024-01-31\"}}; not {value!r}")
        tag, text = next(iter(value.items()))
        return _DECODERS[tag](text)
    return value


def error_json(error: BaseException) -> dict[str, Any]:
    """An exception as the JSON the server sends: indb's class name, message and fields."""
    body: dict[str, Any] = {"class": type(error).__name__ if isinstance(error, errors.IndbError)
                            else "InternalError", "message": str(error)}
    if isinstance(error, errors.SqlError):
        body.update(message=error.message, line=error.line, col=error.col, sql=error.sql)
    elif isinstance(error, errors.RunError):
        body.update(message=error.message, run_id=error.run_id, status=error.status)
    elif not isinstance(error, errors.IndbError):
        body["message"] = f"{type(error).__name__}: {error}"
    return body


def error_from_json(body: Mapping[str, Any]) -> errors.IndbError:
    """The exception a server's error JSON describes (a class this client does not know is a
    DatabaseError)."""
    kind = getattr(errors, str(body.get("class")), None)
    if not (isinstance(kind, type) and issubclass(kind, errors.IndbError)):
        kind = errors.DatabaseError
    message = str(body.get("message", "the server gave no message"))
    if issubclass(kind, errors.SqlError):
        return kind(message, body.get("line"), body.get("col"), body.get("sql"))
    if issubclass(kind, errors.RunError):
        return kind(message, str(body.get("run_id")), str(body.get("status")))
    return kind(message)


def progress_json(progress: RunProgress) -> dict[str, Any]:
    return {"event": "progress", **dataclasses.asdict(progress)}


def progress_from_json(event: Mapping[str, Any]) -> RunProgress:
    shards = tuple(InstanceProgress(**{**shard, "status": RunStatus(shard["status"])})
                   for shard in event["shards"])
    return RunProgress(event["run_id"], event["finished"], event["instances"], shards,
                       event["starting"])


def result_json(result: Result) -> dict[str, Any]:
    """A small result (a run's status row) whole, as JSON rows."""
    table = result.arrow()
    return {"message": result.message, "rowcount": result.rowcount, "columns": table.column_names,
            "rows": [list(row.values()) for row in table.to_pylist()]}


# -- the client ---------------------------------------------------------------------------------

class ChunkFile:
    """Chunks of bytes (an HTTP body) as the file pyarrow's stream reader reads."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks, self._buffer, self.closed = chunks, bytearray(), False

    def read(self, size: int = -1) -> bytes:
        while size < 0 or len(self._buffer) < size:
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            self._buffer += chunk
        size = len(self._buffer) if size < 0 else size
        out = bytes(self._buffer[:size])
        del self._buffer[:size]
        return out


class HttpEngine:
    """What a remote connection's cursors call in place of the local ``Engine``: statements sent
    to the server, results streamed back."""

    def __init__(self, url: str, token: str | None = None, timeout: float | None = None,
                 verify: bool | str = True) -> None:
        import httpx
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.url = url.rstrip("/")
        if isinstance(verify, str):  # a CA bundle that signed the server's certificate
            verify = ssl.create_default_context(cafile=verify)  # type: ignore[assignment]
        self.http = httpx.Client(base_url=self.url, headers=headers, verify=verify,
                                 timeout=httpx.Timeout(timeout, connect=30.0))
        self.progress: Progress | None = None
        self._runs: set[str] = set()  # runs this connection waits for (interrupt() kills them)
        self._lock = threading.Lock()
        try:
            self.version = self._json(self.http.get("/v1/health"))["version"]
        except httpx.HTTPError as error:
            raise OperationalError(f"cannot reach an indb server at {self.url}: {error}; start "
                                   "one with `indb serve --db DIR`") from None

    def execute(self, sql: str, params: object = None) -> Result:
        if not isinstance(sql, str):
            raise ProgrammingError(f"SQL is a str, not a {type(sql).__name__}")
        return self._statement({"sql": self._with_uploads(sql), "params": _parameters(params)})

    def _with_uploads(self, sql: str) -> str:
        """The SQL with each CREATE FUNCTION's FILE PATHS that is a file of this machine
        uploaded (as its place in the code directory: ``udfs/f.py``) and named ``upload://``;
        the SQL as it was when there is none (or when it does not parse: the server says why)."""
        try:
            trees = parse(sql)
        except errors.SqlError:
            return sql
        uploaded = False
        for tree in trees:
            if not isinstance(tree, CreateFunction):
                continue
            for literal in tree.args.get("file_paths") or []:
                file = Path(literal.name).expanduser()
                if literal.name.startswith(UPLOAD_SCHEME) or not file.is_file():
                    continue  # a path of the server's, read there as ever
                literal.replace(exp.Literal.string(self.upload(stored_path(literal.name),
                                                               file.read_bytes())))
                uploaded = True
        return ";\n".join(render_indb(tree) for tree in trees) if uploaded else sql

    def executemany(self, sql: str, seq_of_parameters: Any) -> Result:
        if isinstance(seq_of_parameters, str | bytes) or not isinstance(seq_of_parameters, Sequence | Iterator):
            raise ProgrammingError("executemany takes a sequence of parameter sets (a list of "
                                   f"lists or tuples), not a {type(seq_of_parameters).__name__}")
        return self._statement({"sql": sql, "many": [_parameters(p) for p in seq_of_parameters]})

    def _statement(self, body: dict[str, Any]) -> Result:
        headers = {"Accept": ARROW_STREAM, "Prefer": RESPOND_ASYNC}
        response = self.http.send(self.http.build_request("POST", "/v1/sql", json=body,
                                                          headers=headers), stream=True)
        if response.status_code == 202:
            run_id = self._json(response)["run_id"]
            return self.follow(run_id)
        if response.status_code >= 400:
            self._json(response)  # raises the server's error
        return _arrow_result(response)

    def follow(self, run_id: str) -> Result:
        """Wait for a run, telling ``progress`` as it goes; its result (or its error). An
        exception from ``progress`` (Ctrl-C) kills the run and is raised."""
        with self._lock:
            self._runs.add(run_id)
        try:
            with self.http.stream("GET", f"/v1/runs/{run_id}/progress") as response:
                if response.status_code >= 400:
                    response.read()
                    self._json(response)
                for line in response.iter_lines():
                    event = json.loads(line) if line.strip() else {}
                    if event.get("event") == "progress":
                        if self.progress is not None:
                            self.progress(progress_from_json(event))
                    elif event.get("event") == "error":
                        raise error_from_json(event["error"])
                    elif event.get("event") == "end":
                        body = event["result"]
                        return Result(_table_of(body), body["message"], body["rowcount"])
            raise OperationalError(f"the server stopped reporting run {run_id} before it ended; "
                                   f"SHOW FUNCTION STATUS FOR '{run_id}' tells how it went")
        except BaseException as error:
            if not isinstance(error, errors.IndbError):
                self.kill(run_id)
            raise
        finally:
            with self._lock:
                self._runs.discard(run_id)

    def kill(self, run_id: str) -> None:
        self._json(self.http.post(f"/v1/runs/{run_id}/kill"))

    def interrupt(self) -> None:
        """Kill the runs this connection waits for (a query is not stopped remotely)."""
        with self._lock:
            runs = list(self._runs)
        for run_id in runs:
            self.kill(run_id)

    def load(self, table: str, data: Any, options: dict[str, Any]) -> int:
        """Upload rows as an Arrow stream; the server loads them in one snapshot."""
        reader = _record_batches(data)
        params = {"table": table, **{k: json.dumps(v) for k, v in options.items()}}
        response = self.http.post("/v1/load", params=params, content=_arrow_chunks(reader),
                                  headers={"Content-Type": ARROW_STREAM})
        return int(self._json(response)["rowcount"])

    def upload(self, name: str, data: bytes) -> str:
        """Put a code file in the user's uploads; what FILE PATHS names it by."""
        response = self.http.put(f"/v1/files/{urllib.parse.quote(name)}", content=data,
                                 headers={"Content-Type": "application/octet-stream"})
        return str(self._json(response)["file_path"])

    def status(self, run_id: str, wait: bool) -> Result:
        body = self._json(self.http.get(f"/v1/runs/{run_id}", params={"wait": str(wait).lower()}))
        return Result(_table_of(body), body["message"])

    @staticmethod
    def _json(response: Any) -> Any:
        """The response's JSON body; an error response raises the error it names."""
        response.read()  # a streamed response's body (once read, read() returns it again)
        try:
            body = response.json()
        except ValueError:
            raise OperationalError(f"the server answered {response.status_code} with no JSON: "
                                   f"{response.text[:200]!r}") from None
        if response.status_code >= 400:
            raise error_from_json(body.get("error", body) if isinstance(body, dict) else {})
        return body

    def close(self) -> None:
        self.http.close()


def _table_of(body: Mapping[str, Any]) -> pa.Table:
    """The rows of ``result_json``'s form as a table."""
    columns: list[Any] = (list(zip(*body["rows"], strict=True)) if body["rows"]
                          else [[] for _ in body["columns"]])
    return pa.table(dict(zip(body["columns"], columns, strict=True)))


def _parameters(params: object) -> Any:
    if params is None:
        return None
    if isinstance(params, Mapping):
        return {str(k): encode_value(v) for k, v in params.items()}
    if isinstance(params, Sequence) and not isinstance(params, str | bytes | bytearray):
        return [encode_value(v) for v in params]
    raise ProgrammingError(f"parameters are a sequence of values, one for each ? (a list or "
                           f"tuple), or a mapping for $name parameters; not a {type(params).__name__}")


def _arrow_result(response: Any) -> Result:
    """The statement's result, its rows read from the response as they are fetched."""
    reader = pa.ipc.open_stream(ChunkFile(response.iter_raw()))
    meta = reader.schema.metadata or {}
    message = meta.get(META_MESSAGE, b"").decode()
    rowcount = int(meta.get(META_ROWCOUNT, b"-1"))
    schema = reader.schema.remove_metadata()

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            while True:
                try:
                    batch, custom = reader.read_next_batch_with_custom_metadata()
                except StopIteration:
                    return
                if custom is not None and META_ERROR in custom:
                    raise error_from_json(json.loads(custom[META_ERROR]))
                yield batch.replace_schema_metadata(None)
        except (pa.ArrowInvalid, OSError) as error:
            raise OperationalError(f"the result's stream broke off: {error}") from None
        finally:
            response.close()

    if rowcount >= 0 or not schema.names:  # a write's summary: read it whole now
        stream = batches()
        rows = pa.Table.from_batches(list(stream), schema)
        return Result(rows, message, rowcount)
    import duckdb
    types = [duckdb.sqltype(t) for t in json.loads(meta.get(META_TYPES, b"[]"))] or None
    result = Result.streamed(schema, batches(), types)  # type: ignore[arg-type]
    result.message = message
    return result


def _record_batches(data: Any) -> pa.RecordBatchReader:
    if isinstance(data, pa.RecordBatchReader):
        return data
    if isinstance(data, pa.Table):
        return data.to_reader()
    if isinstance(data, str | PurePath) and str(data).endswith((".parquet", ".csv")):
        if str(data).endswith(".csv"):
            import pyarrow.csv
            return pyarrow.csv.open_csv(data)
        import pyarrow.parquet
        file = pyarrow.parquet.ParquetFile(data)
        return pa.RecordBatchReader.from_batches(file.schema_arrow, file.iter_batches())
    if type(data).__module__.startswith("pandas"):
        return pa.Table.from_pandas(data, preserve_index=False).to_reader()
    if hasattr(data, "to_arrow"):  # polars
        return data.to_arrow().to_reader()
    raise NotSupportedError("a remote load takes a pyarrow Table or RecordBatchReader, a pandas "
                            f"DataFrame or a .parquet/.csv path here; not a {type(data).__name__}")


class ArrowChunks:
    """A file an Arrow stream writer writes to, whose bytes are taken a batch at a time: a
    stream is sent as it is written, never held whole."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []

    def write(self, data: Any) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def take(self) -> bytes:
        out = b"".join(self._parts)
        self._parts.clear()
        return out


def _arrow_chunks(reader: pa.RecordBatchReader) -> Iterator[bytes]:
    """The batches as an Arrow IPC stream, a batch at a time."""
    sink = ArrowChunks()
    with pa.ipc.new_stream(pa.PythonFile(sink, mode="w"), reader.schema) as writer:
        for batch in reader:
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


class RemoteConnection(Connection):
    """A database served by ``indb serve``, with the local connection's surface: cursors,
    ``sql``, ``load``, runs with ``progress``, ``wait``; statements run on the server."""

    def __init__(self, url: str, token: str | None = None, *, timeout: float | None = None,
                 verify: bool | str = True) -> None:
        self._engine = HttpEngine(url, token, timeout, verify)  # type: ignore[assignment]
        self.path = None  # type: ignore[assignment]
        self.url = self._http.url
        self._cursor = None
        self._closed = False
        self._replacements = False  # (the statements run on the server: no variable is there)

    @property
    def _http(self) -> HttpEngine:
        return self._engine  # type: ignore[return-value]

    def interrupt(self) -> None:
        """Kill the function runs this connection waits for."""
        self._check_open()
        self._http.interrupt()

    def wait(self, run_id: str) -> Result:
        self._check_open()
        return self._http.status(run_id, wait=True)

    def load(self, table: str, data: Any, *, shard_key: str | list[str] | tuple[str, ...] = (),
             shards: int | None = None, replicated: bool = False,
             progress: Callable[[int], None] | None = None,
             truncate_timestamps: bool = False, overriding: str | None = None) -> int:
        """Upload rows (a pyarrow Table or RecordBatchReader, a pandas DataFrame, or a
        .parquet/.csv file of this machine, read as it is sent) to load in one snapshot on the
        server, as ``Connection.load``; ``progress`` hears the total."""
        self._check_open()
        key = [shard_key] if isinstance(shard_key, str) else list(shard_key)
        count = self._http.load(table, data, {"shard_key": key, "shards": shards,
                                              "replicated": replicated,
                                              "truncate_timestamps": truncate_timestamps,
                                              "overriding": overriding})
        if progress is not None:
            progress(count)
        return count

    def upload(self, name: str, source: str | Path | bytes) -> str:
        """Upload a code file (a path of this machine, or its bytes) to your uploads on the
        server, as ``name`` (``udfs/score.py``; developers only); returns what ``CREATE
        FUNCTION ... FILE PATHS`` names it by (``'upload://udfs/score.py'``)."""
        self._check_open()
        data = source if isinstance(source, bytes) else Path(source).read_bytes()
        return self._http.upload(name, data)

    def model(self, name: str, version: int | str | None = None, *,
              precision: str | None = None) -> Any:
        raise NotSupportedError("a remote connection cannot load a model into this process; "
                                "call it on the server with PREDICT in SQL")

    def table(self, name: str) -> Any:
        raise NotSupportedError(f"table handles read files, which a remote connection cannot; "
                                f"query the table with SQL: conn.sql('SELECT * FROM {name}')")

    def _data(self, data: Any) -> Any:
        raise NotSupportedError("a remote connection's statements run on the server, which does "
                                "not have this process's data: conn.load(table, data) uploads it")

    def create_function(self, name: str, function: Callable[..., Any], parameters: Any = None,
                        return_type: Any = None, **options: Any) -> Connection:
        raise NotSupportedError("a Python function of this process cannot run in the server's "
                                "statements: CREATE FUNCTION ... LANGUAGE PYTHON registers code "
                                "the server runs")

    def remove_function(self, name: str) -> Connection:
        raise NotSupportedError("a remote connection has no Python functions of this process")

    def begin(self) -> Connection:
        raise NotSupportedError("each request to the server runs alone: a transaction cannot "
                                "span requests (send BEGIN; ...; COMMIT in one sql() call, or use "
                                "the PostgreSQL port)")

    def close(self) -> None:
        self._check_open()
        self._closed = True
        self._http.close()
