"""The HTTP API of ``indb serve`` (FastAPI): statements, loads and function runs, with the
OpenAPI document at ``/openapi.json`` (no ``/docs`` pages: FastAPI's load scripts from a CDN)."""

from __future__ import annotations

import itertools
import json
import queue
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

import anyio
import pyarrow as pa
from fastapi import Depends, FastAPI, Header, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response, StreamingResponse
from starlette.exceptions import HTTPException
from pydantic import BaseModel, Field
from sqlglot import exp

import indb
from indb.errors import AuthenticationError, IndbError, ProgrammingError
from indb.parser import ShowFunctionStatus, render_indb
from indb.registry.runs import RunStatus
from indb.remote import (ARROW_STREAM, JSON, NDJSON, RESPOND_ASYNC, ChunkFile, decode_value,
                         error_json, progress_json, result_json)
from indb.result import Result
from indb.server.encoding import arrow_chunks, json_chunks, status_of
from indb.server.models import (ARROW_BODY, ERRORS, PROGRESS_ANSWERS, SQL_ANSWERS, Health, Loaded,
                                StatusRows)
from indb.server.pool import ConnectionPool, Runs, TrackedRun, is_run
from indb.server import files, web

if TYPE_CHECKING:
    from indb.catalog.database import Database

Authenticate = Callable[[str | None], str]  # bearer token (or None) -> user; AuthenticationError if refused
WATCH_INTERVAL = 0.5  # seconds between looks at a run the server did not start (its records)
THREADS = 32  # statements carried out at once (the others wait for a thread)
WAITERS = 1000  # requests waiting for their runs: never holding the statements' threads
WHOLE_BELOW = 1 << 20  # bytes of a response sent as one body; a larger one is streamed
UPLOAD_QUEUE = 16  # chunks of an upload read ahead of the load (then the client waits)


class Statement(BaseModel):
    sql: str = Field(description="One or more SQL statements, separated by ';' (the last one's "
                                 "result is returned)",
                     examples=["SELECT * FROM prices WHERE day = ? AND symbol = ?"])
    params: list[Any] | dict[str, Any] | None = Field(
        None, description="Values of the ? parameters (a list) or of $name ones (an object). "
                          "Dates, times, timestamps, decimals and bytes are objects: "
                          '{"$date": "2024-01-31"}, {"$timestamp": "..."}, {"$time": "..."}, '
                          '{"$decimal": "1.10"}, {"$bytes": "<base64>"}',
        examples=[[{"$date": "2024-01-31"}, "ACME"]])
    many: list[list[Any] | dict[str, Any]] | None = Field(
        None, description="executemany: one parameter set a run of the statement (an INSERT "
                          "writes them all in one snapshot); instead of params")


class ServerState:
    """What the endpoints share: the pool, the runs, how to tell who is asking."""

    def __init__(self, pool: ConnectionPool, authenticate: Authenticate,
                 db: Database | None = None) -> None:
        self.pool, self.authenticate = pool, authenticate
        self.db = db  # its users and tokens: the web page's sign-in (server/web.py)
        self.runs = Runs(pool)
        self.limiter = anyio.CapacityLimiter(THREADS)
        self.waiters = anyio.CapacityLimiter(WAITERS)  # threads waiting for runs, apart
        self.stopping = threading.Event()


def create_app(state: ServerState, on_shutdown: Callable[[], None] | None = None) -> FastAPI:
    """The API over the database of ``state``'s pool; ``on_shutdown`` runs when it stops."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> Any:
        yield
        state.stopping.set()
        if on_shutdown is not None:
            await anyio.to_thread.run_sync(on_shutdown)

    app = FastAPI(title="indb", version=indb.__version__, lifespan=lifespan, docs_url=None,
                  redoc_url=None,
                  description="SQL, loads and function runs on an indb database. Errors are "
                              '`{"error": {"class", "message", "line", "col", ...}}` with indb\'s '
                              "error class.")
    app.state.indb = state

    @app.exception_handler(IndbError)
    async def indb_error(request: Request, error: IndbError) -> JSONResponse:
        challenge = {"WWW-Authenticate": "Bearer"} if isinstance(error, AuthenticationError) else None
        return JSONResponse({"error": error_json(error)}, status_code=status_of(error),
                            headers=challenge)

    @app.exception_handler(RequestValidationError)
    async def malformed(request: Request, error: RequestValidationError) -> JSONResponse:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors())
        return await indb_error(request, ProgrammingError(
            f"the request does not match the API (/openapi.json): {problems}"))

    @app.exception_handler(HTTPException)
    async def refused(request: Request, error: HTTPException) -> JSONResponse:
        """FastAPI's own refusals (an unreadable body, an unknown path) in indb's error form."""
        return JSONResponse({"error": {"class": "ProgrammingError", "message": str(error.detail)}},
                            status_code=error.status_code, headers=error.headers)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        return JSONResponse({"error": error_json(error)}, status_code=500)

    async def bearer(authorization: str | None = Header(None, description="Bearer <token>")) -> str | None:
        scheme, _, token = (authorization or "").partition(" ")
        if authorization and scheme.lower() != "bearer":
            raise AuthenticationError("the Authorization header takes 'Bearer <token>' (a token "
                                      "from CREATE TOKEN FOR user)")
        return token.strip() or None

    async def user(token: str | None = Depends(bearer)) -> str:
        return str(await in_thread(state.authenticate, token))

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=state.limiter)

    @app.get("/v1/health", summary="Whether the server is up (no token needed)",
             response_model=Health)
    async def health() -> dict[str, str]:
        return {"status": "stopping" if state.stopping.is_set() else "ok",
                "version": indb.__version__}

    @app.post("/v1/sql", summary="Run SQL; its rows as JSON or an Arrow IPC stream (Accept)",
              responses=SQL_ANSWERS)
    async def sql(statement: Statement,
                  accept: str | None = Header(None, description=f"{ARROW_STREAM}: the rows as an "
                                                                "Arrow IPC stream; else JSON"),
                  prefer: str | None = Header(None, description=f"{RESPOND_ASYNC}: EXECUTE "
                                                                "FUNCTION answers 202 at once"),
                  token: str | None = Depends(bearer)) -> Response:
        arrow = _wants_arrow(accept)
        params = _decoded(statement.params)
        if statement.many is None and is_run(statement.sql):
            who = await in_thread(state.authenticate, token)
            run = await anyio.to_thread.run_sync(state.runs.start, statement.sql, params, who,
                                                 limiter=state.waiters)
            if run.error is not None and run.run_id is None:
                raise run.error
            if run.run_id is not None and RESPOND_ASYNC in (prefer or ""):
                return JSONResponse({"run_id": run.run_id, "status": str(RunStatus.RUNNING)},
                                    status_code=202, headers={"Location": f"/v1/runs/{run.run_id}"})
            head, rest = await anyio.to_thread.run_sync(lambda: _begun(_outcome(run), arrow),
                                                        limiter=state.waiters)
        else:
            # one thread for the sign-in, the statement and a small result: each hop costs
            head, rest = await in_thread(lambda: _begun(_execute(
                state.pool, statement, params, state.authenticate(token)), arrow))
        media_type = ARROW_STREAM if arrow else JSON
        if rest is None:
            return Response(b"".join(head), media_type=media_type)
        return StreamingResponse(itertools.chain(head, rest), media_type=media_type)

    @app.post("/v1/load", summary="Bulk-load an Arrow IPC stream (the body) into a table",
              response_model=Loaded, responses=ERRORS, openapi_extra=ARROW_BODY)
    async def load(request: Request, table: str = Query(description="the table, created if new"),
                   shard_key: str = Query("[]", description="JSON list of shard key columns, if new"),
                   shards: str = Query("null", description="JSON shard count, if new"),
                   replicated: str = Query("false", description="JSON true: replicated, if new"),
                   truncate_timestamps: str = Query("false", description="JSON true: drop "
                                                    "nanoseconds bound for TIMESTAMP columns"),
                   overriding: str = Query("null", description='JSON "SYSTEM": keep values '
                                           "given to GENERATED ALWAYS columns"),
                   who: str = Depends(user)) -> dict[str, int]:
        options = {"shard_key": _json_arg(shard_key, "shard_key"),
                   "shards": _json_arg(shards, "shards"),
                   "replicated": _json_arg(replicated, "replicated"),
                   "truncate_timestamps": _json_arg(truncate_timestamps, "truncate_timestamps"),
                   "overriding": _json_arg(overriding, "overriding")}
        chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=UPLOAD_QUEUE)
        ended = threading.Event()  # the load is over (done or failed): nothing more is read
        outcome: dict[str, Any] = {}

        def carry_out() -> None:
            try:
                reader = _uploaded(iter(chunks.get, None))
                with state.pool.connection(who) as conn:
                    outcome["rows"] = conn.load(table, reader, **options)
            except Exception as error:
                outcome["error"] = error
            finally:
                ended.set()

        async def load_in_thread() -> None:
            await in_thread(carry_out)

        async with anyio.create_task_group() as group:
            group.start_soon(load_in_thread)
            async for chunk in request.stream():  # the body is loaded as it arrives
                if ended.is_set():
                    break
                if chunk:
                    await anyio.to_thread.run_sync(_hand_over, chunks, chunk, ended)
            await anyio.to_thread.run_sync(_hand_over, chunks, None, ended)
        if "error" in outcome:
            raise outcome["error"]
        return {"rowcount": outcome["rows"]}

    @app.get("/v1/runs/{run_id}", summary="A run's status row (wait=true: once it has ended)",
             response_model=StatusRows, responses=ERRORS)
    async def run_status(run_id: str, wait: bool = False,
                         who: str = Depends(user)) -> dict[str, Any]:
        tracked = state.runs.get(run_id, who)
        if wait and tracked is not None:
            await anyio.to_thread.run_sync(_outcome, tracked, False, limiter=state.waiters)
        if wait:  # a run of another process: watched from its records, on a waiting thread
            return result_json(await anyio.to_thread.run_sync(_status, state, run_id, True, who,
                                                              limiter=state.waiters))
        return result_json(await in_thread(_status, state, run_id, False, who))

    @app.get("/v1/runs/{run_id}/progress", summary="A run's progress, one JSON object a line",
             responses=PROGRESS_ANSWERS)
    async def run_progress(run_id: str, who: str = Depends(user)) -> StreamingResponse:
        tracked = state.runs.get(run_id, who)
        if tracked is None:
            await in_thread(_status, state, run_id, False, who)  # an unknown run is a 400 now
        return StreamingResponse(_apart(_events(state, run_id, tracked, who), state.waiters),
                                 media_type=NDJSON)

    @app.post("/v1/runs/{run_id}/kill", summary="Stop a run; it writes nothing",
             response_model=StatusRows, responses=ERRORS)
    async def kill(run_id: str, who: str = Depends(user)) -> dict[str, Any]:
        return result_json(await in_thread(state.runs.kill, run_id, who))

    web.mount(app, state, bearer, user)  # the web page at /, and the endpoints it needs
    files.mount(app, state, user)  # code uploads: PUT /v1/files/{name}
    return app


async def _apart(lines: Iterator[bytes], limiter: anyio.CapacityLimiter) -> AsyncIterator[bytes]:
    """A blocking iterator read on threads of ``limiter``: watchers of runs, who wait most of
    the time, never hold the threads that statements and their results need."""
    while (line := await anyio.to_thread.run_sync(next, lines, None, limiter=limiter)) is not None:
        yield line


def _hand_over(chunks: queue.Queue[bytes | None], chunk: bytes | None, ended: threading.Event) -> None:
    """Put a chunk of an upload for the load to read, unless the load has ended already."""
    while not ended.is_set():
        try:
            chunks.put(chunk, timeout=0.1)
            return
        except queue.Full:
            continue


def _uploaded(chunks: Iterator[bytes]) -> pa.RecordBatchReader:
    """The body of a load as a reader of its batches; bytes that are not an Arrow IPC stream,
    at its start or further on, are the client's mistake (pyarrow says ArrowInvalid or OSError:
    the body is in memory, so an OSError is a malformed message, never a disk's)."""
    def not_arrow(error: Exception) -> ProgrammingError:
        return ProgrammingError(f"the body is not an Arrow IPC stream of the rows to load: {error}")

    try:
        reader = pa.ipc.open_stream(ChunkFile(chunks))
    except (pa.ArrowInvalid, OSError) as error:
        raise not_arrow(error) from None

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (pa.ArrowInvalid, OSError) as error:
            raise not_arrow(error) from None

    return pa.RecordBatchReader.from_batches(reader.schema, batches())


def _wants_arrow(accept: str | None) -> bool:
    return ARROW_STREAM in (accept or "")


def _decoded(params: Any) -> Any:
    try:
        if isinstance(params, dict):
            return {key: decode_value(value) for key, value in params.items()}
        return None if params is None else [decode_value(value) for value in params]
    except (ValueError, TypeError) as error:
        raise ProgrammingError(f"a parameter could not be read: {error}") from None


def _json_arg(text: str, name: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise ProgrammingError(f"{name} is JSON, such as [\"id\"], 8 or true; not {text!r}") from None


def _execute(pool: ConnectionPool, statement: Statement, params: Any, user: str) -> Result:
    """Run the statement on a connection of the user's; its rows stream after it goes back."""
    with pool.connection(user) as conn:
        if statement.many is None:
            return conn.sql(statement.sql, params)
        cursor = conn.cursor().executemany(statement.sql, [_decoded(p) for p in statement.many])
        if cursor.description is None:
            return Result(message=f"{cursor.rowcount} rows", rowcount=cursor.rowcount)
        reader = cursor.fetch_record_batch()
        return Result.streamed(reader.schema, (batch for batch in reader),
                               [column[1] for column in cursor.description])


def _outcome(run: TrackedRun, raise_error: bool = True) -> Result | None:
    """Wait for a run the server started; its result, or its error raised."""
    with run.changed:
        run.changed.wait_for(lambda: run.done)
    if run.error is not None and raise_error:
        raise run.error
    return run.result


def _status(state: ServerState, run_id: str, wait: bool, user: str) -> Result:
    """SHOW FUNCTION STATUS FOR the run (``wait``: looked at until it has ended)."""
    statement = render_indb(ShowFunctionStatus(verbose=False, run_id=exp.Literal.string(run_id)))
    while True:
        with state.pool.connection(user) as conn:
            result = conn.sql(statement)
            result.arrow()
        status = result.arrow()["status"][0].as_py()
        if not wait or status not in (RunStatus.QUEUED, RunStatus.RUNNING) or state.stopping.is_set():
            return result
        time.sleep(WATCH_INTERVAL)  # a run of another process: its records are all there is


def _events(state: ServerState, run_id: str, run: TrackedRun | None, user: str) -> Iterator[bytes]:
    """Progress events of a run, then ``{"event": "end", "result": ...}`` or
    ``{"event": "error", "error": ...}``."""
    def line(event: dict[str, Any]) -> bytes:
        return (json.dumps(event, default=str) + "\n").encode()

    if run is None:  # not started here: its status until it ends
        result = _status(state, run_id, True, user)
        yield line({"event": "end", "result": result_json(result)})
        return
    seen = -1
    while True:
        with run.changed:
            if not run.changed.wait_for(lambda: run.version != seen, timeout=1.0):
                continue  # nothing new (the loop ends with the run, or with the client)
            seen, progress, done = run.version, run.progress, run.done
        if done:
            if run.error is not None:
                yield line({"event": "error", "error": error_json(run.error)})
            else:
                assert run.result is not None
                yield line({"event": "end", "result": result_json(run.result)})
            return
        if progress is not None:
            yield line(progress_json(progress))


def _begun(result: Result | None, arrow: bool) -> tuple[list[bytes], Iterator[bytes] | None]:
    """The response's first chunks, read on the statement's thread: all of a small result (sent
    as one body, saving the event loop a thread hop a chunk), the start of a large one and the
    rest to stream."""
    assert result is not None
    chunks = arrow_chunks(result) if arrow else json_chunks(result)
    head: list[bytes] = []
    size = 0
    for chunk in chunks:
        head.append(chunk)
        size += len(chunk)
        if size >= WHOLE_BELOW:
            return head, chunks
    return head, None
