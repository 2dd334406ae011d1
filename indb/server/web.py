"""The web page of ``indb serve`` and the endpoints it needs beyond ``/v1/sql`` and the runs':
signing in with a password (a short-lived token, kept as a hash like CREATE TOKEN's) and out,
the tables the caller may read, their rows with filters, their download as CSV or Parquet,
running an exposed function from its form, and every user's grants for admins.

Statements are built as sqlglot trees (quoted identifiers, filter values bound as ``?``) and run
on the caller's connections, so the page goes through the same privilege checks as ``/v1/sql``.
The page's assets (``static/``: HTML, one JS module, CSS, Chart.js) ship in the package."""

from __future__ import annotations

import time
from collections.abc import Callable, Coroutine, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import anyio
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
from fastapi import Depends, FastAPI
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from sqlglot import exp

from indb.catalog import users
from indb.catalog.names import sql_table
from indb.errors import IndbError, InterfaceError, NotSupportedError, ProgrammingError
from indb.parser import ExecuteFunction, render, render_indb
from indb.parser.privileges import ShowGrants
from indb.registry.runs import RunStatus
from indb.remote import ArrowChunks
from indb.result import Result
from indb.server.encoding import json_chunks
from indb.server.models import BINARY, ERRORS, Column, Rows, RunAccepted

if TYPE_CHECKING:
    from indb.catalog.database import Database
    from indb.server.app import ServerState

STATIC = Path(__file__).parent / "static"
SESSION_HOURS = 12  # how long a token made by signing in with a password lasts
BROWSE_LIMIT = 10_000  # rows a page of a table's rows may hold
EXPORT_BATCH = 64_000  # rows a CSV or Parquet chunk holds as the download streams
PARQUET = "application/vnd.apache.parquet"
FILE_FORMATS = {"csv": (pa_csv.CSVWriter, "text/csv"), "parquet": (pq.ParquetWriter, PARQUET)}
# the page's own files only: no inline script, nothing from elsewhere
PAGE_POLICY = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; "
               "script-src 'self'; frame-ancestors 'none'")

Dependency = Callable[..., Coroutine[Any, Any, Any]]


# -- the bodies ---------------------------------------------------------------------------------

class SignIn(BaseModel):
    user: str = Field(description="the user name (folded to lower case, as SQL names are)",
                      examples=["alice"])
    password: str = Field(examples=["correct horse"])


class Session(BaseModel):
    user: str
    roles: list[str] = Field(description="the user's roles (the owner: admin)")
    admin: bool = Field(description="whether the user is an admin (the page shows its admin view)")
    token: str | None = Field(None, description="POST: the session's token, sent as 'Authorization: "
                                                 "Bearer <token>' from then on; shown this once")
    expires: str | None = Field(None, description="POST: when the session's token expires (UTC)")


class SignedOut(BaseModel):
    revoked: str | None = Field(description="the id of the token revoked (none without a token)")


class Filter(BaseModel):
    column: str
    op: Literal["=", "!=", "<", "<=", ">", ">=", "contains", "is null", "is not null"] = Field(
        description="'contains': the value, ignoring case, in the column's text")
    value: str | float | int | bool | None = Field(
        None, description="bound as a parameter (a date or timestamp as ISO 8601 text); not "
                          "for 'is null' and 'is not null'")


class Browse(BaseModel):
    filters: list[Filter] = Field([], description="all of them must hold")
    order_by: str | None = Field(None, description="a column to sort by")
    descending: bool = False
    limit: int = Field(100, ge=1, le=BROWSE_LIMIT)
    offset: int = Field(0, ge=0, le=2**62)


class Export(BaseModel):
    filters: list[Filter] = []
    order_by: str | None = None
    descending: bool = False
    format: Literal["csv", "parquet"] = "csv"


class TableInfo(BaseModel):
    name: str
    kind: str = Field(description="sharded, replicated or view")
    rows: int | None = Field(description="rows in its current snapshot (views: none)")
    columns: list[Column]


class Tables(BaseModel):
    tables: list[TableInfo]


class RunRequest(BaseModel):
    input_table: str | None = Field(None, description="the table (or view) the function reads")
    output_table: str | None = Field(None, description="the table its rows go to (new: yours)")
    params: dict[str, str | float | int | bool | None] = Field(
        {}, description="the declared parameters' values (SHOW FUNCTIONS); omitted or null: "
                        "the default")


class GrantRows(BaseModel):
    columns: list[str]
    rows: list[list[str | None]]


EXPORT_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/csv": {"schema": {"type": "string"}}, PARQUET: BINARY},
          "description": "the rows as a CSV file (a header line) or a Parquet file, streamed"},
    **ERRORS}


# -- the routes ---------------------------------------------------------------------------------

def mount(app: FastAPI, state: ServerState, bearer: Dependency, user: Dependency) -> None:
    """Add the page (``/``, its files under ``/web``) and its endpoints to the API; ``bearer``
    and ``user`` are the API's dependencies: the request's token, and who it signs in as."""

    async def in_thread(function: Callable[..., Any], *args: Any) -> Any:
        return await anyio.to_thread.run_sync(function, *args, limiter=state.limiter)

    sessions: set[str] = set()  # ids of the tokens signing in made (sign-out revokes only those)

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY,
                                                            "Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=STATIC), name="web")

    @app.post("/v1/session", summary="Sign in with a password: a session token",
              response_model=Session, responses=ERRORS)
    async def sign_in(body: SignIn) -> dict[str, Any]:
        return dict(await in_thread(_sign_in, state, sessions, body.user.strip().lower(),
                                    body.password))

    @app.get("/v1/session", summary="Who the token (or its absence) signs in as",
             response_model=Session, responses=ERRORS)
    async def session(who: str = Depends(user)) -> dict[str, Any]:
        return dict(await in_thread(_session, state, who))

    @app.delete("/v1/session", summary="Sign out: the session's token (from POST) is revoked",
                response_model=SignedOut, responses=ERRORS)
    async def sign_out(token: str | None = Depends(bearer)) -> dict[str, str | None]:
        return {"revoked": await in_thread(_sign_out, state, sessions, token)}

    @app.get("/v1/tables", summary="The tables and views the caller may read, with columns",
             response_model=Tables, responses=ERRORS)
    async def tables(who: str = Depends(user)) -> dict[str, Any]:
        return {"tables": await in_thread(_readable, state, who)}

    @app.post("/v1/tables/{name}/rows", summary="A table's rows, filtered, sorted, a page of them",
              responses={200: {"model": Rows}, **ERRORS})
    async def rows(name: str, body: Browse, who: str = Depends(user)) -> Response:
        def read() -> bytes:
            return b"".join(json_chunks(_select(state, who, name, body, body.limit, body.offset)))
        return Response(await in_thread(read), media_type="application/json")

    @app.post("/v1/tables/{name}/export", summary="A table's rows, filtered, as CSV or Parquet",
              response_class=StreamingResponse, responses=EXPORT_ANSWERS)
    async def export(name: str, body: Export, who: str = Depends(user)) -> StreamingResponse:
        result = await in_thread(_select, state, who, name, body, None, 0)
        writer, media_type = FILE_FORMATS[body.format]
        return StreamingResponse(_file_chunks(result, writer), media_type=media_type,
                                 headers={"Content-Disposition":
                                          f'attachment; filename="{_file_name(name)}.{body.format}"'})

    @app.post("/v1/functions/{name}/run", summary="Start an exposed function from its form's values",
              status_code=202, response_model=RunAccepted, responses=ERRORS)
    async def run(name: str, body: RunRequest, who: str = Depends(user)) -> JSONResponse:
        sql = _execute_statement(name, body)
        started = await anyio.to_thread.run_sync(state.runs.start, sql, None, who,
                                                 limiter=state.waiters)
        if started.error is not None and started.run_id is None:
            raise started.error
        if started.run_id is None:
            raise InterfaceError("the run ended before it had an id")
        return JSONResponse({"run_id": started.run_id, "status": str(RunStatus.RUNNING)},
                            status_code=202, headers={"Location": f"/v1/runs/{started.run_id}"})

    @app.get("/v1/grants", summary="Every user's roles and grants, and every role's (admins)",
             response_model=GrantRows, responses=ERRORS)
    async def all_grants(who: str = Depends(user)) -> dict[str, Any]:
        return dict(await in_thread(_all_grants, state, who))


# -- what they do -------------------------------------------------------------------------------

def _database(state: ServerState) -> Database:
    if state.db is None:
        raise NotSupportedError("this server was started without its database's users")
    return state.db


def _sign_in(state: ServerState, sessions: set[str], name: str, password: str) -> dict[str, Any]:
    db = _database(state)
    users.check_password(db, name, password)
    expires = time.time() + SESSION_HOURS * 3600
    token_id, token = users.create_token(db.engine, name, expires)
    sessions.add(token_id)
    return {**_session(state, name), "token": token,
            "expires": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(expires))}


def _session(state: ServerState, name: str) -> dict[str, Any]:
    roles = sorted(users.roles_of(_database(state).engine, name))
    return {"user": name, "roles": roles, "admin": "admin" in roles}


def _sign_out(state: ServerState, sessions: set[str], token: str | None) -> str | None:
    """Revoke the session token the request came with (nothing without a token: the loopback
    owner). An API token (CREATE TOKEN) is left alone: REVOKE TOKEN is for those."""
    state.authenticate(token)
    if token is None:
        return None
    token_id = token.split("_", 2)[1]
    if token_id not in sessions:
        raise ProgrammingError(f"token {token_id} was not made by signing in to this server: "
                               f"signing out leaves it valid; REVOKE TOKEN '{token_id}' revokes it")
    users.revoke_token(_database(state).engine, token_id)
    sessions.discard(token_id)
    return token_id


def _readable(state: ServerState, who: str) -> list[dict[str, Any]]:
    """SHOW TABLES and SHOW VIEWS as ``who``, less what ``who`` may not read: each is tried with
    a query of no rows, so the privilege check itself decides (and gives the columns)."""
    with state.pool.connection(who) as conn:
        listed = [(row["name"], row["kind"], row["rows"])
                  for row in conn.sql("SHOW TABLES").arrow().to_pylist()]
        listed += [(row["name"], "view", None) for row in conn.sql("SHOW VIEWS").arrow().to_pylist()]
        found = []
        for name, kind, count in listed:
            try:
                probe = conn.sql(render(exp.select("*").from_(sql_table(name)).limit(0)))
            except IndbError:  # not granted (or a view that cannot be read now)
                continue
            found.append({"name": name, "kind": kind, "rows": count,
                          "columns": [{"name": c, "type": t}
                                      for c, t in zip(probe.columns, _types(probe), strict=True)]})
            probe.close()
    return found


def _types(result: Result) -> list[str]:
    return [str(t) for t in (result.types if result.types is not None else result.schema.types)]


def _select(state: ServerState, who: str, name: str, body: Browse | Export,
            limit: int | None, offset: int) -> Result:
    """The table's rows as ``who`` reads them, filtered and sorted as asked; streamed."""
    query = exp.select("*").from_(sql_table(name))
    params: list[Any] = []
    for f in body.filters:
        query = query.where(_condition(f, params), copy=False)
    if body.order_by:
        query = query.order_by(exp.Ordered(this=_column(body.order_by), desc=body.descending),
                               copy=False)
    if limit is not None:
        query = query.limit(limit, copy=False).offset(offset, copy=False)
    with state.pool.connection(who) as conn:
        return conn.sql(render(query), params)


def _column(name: str) -> exp.Column:
    return exp.Column(this=exp.to_identifier(name, quoted=True))


COMPARISONS: dict[str, type[exp.Binary]] = {"=": exp.EQ, "!=": exp.NEQ, "<": exp.LT, "<=": exp.LTE,
                                            ">": exp.GT, ">=": exp.GTE}


def _condition(f: Filter, params: list[Any]) -> exp.Expr:
    """A filter as a condition; its value goes to ``params``, bound to the ``?`` it leaves."""
    column = _column(f.column)
    if f.op == "is null":
        return exp.Is(this=column, expression=exp.Null())
    if f.op == "is not null":
        return exp.Not(this=exp.Is(this=column, expression=exp.Null()))
    params.append(f.value)
    if f.op == "contains":
        return exp.func("contains", exp.Lower(this=exp.cast(column, "VARCHAR")),
                        exp.Lower(this=exp.cast(exp.Placeholder(), "VARCHAR")))
    return COMPARISONS[f.op](this=column, expression=exp.Placeholder())


def _file_chunks(result: Result, writer: type[pa_csv.CSVWriter | pq.ParquetWriter]) -> Iterator[bytes]:
    """The rows as a file of ``writer``'s format, sent a batch at a time as DuckDB reads them."""
    sink = ArrowChunks()
    try:
        with writer(pa.PythonFile(sink, mode="w"), result.schema) as file:
            for batch in result.fetch_record_batch(EXPORT_BATCH):
                file.write_batch(batch)
                yield sink.take()
        yield sink.take()
    finally:
        result.close()


def _file_name(name: str) -> str:
    """The table's name as a download's file name (a header value: plain characters only)."""
    return "".join(c if c.isascii() and (c.isalnum() or c in "._-") else "_" for c in name) or "table"


def _execute_statement(name: str, body: RunRequest) -> str:
    """EXECUTE FUNCTION from a form: names quoted, values string literals of the tree (the
    planner checks and converts them against the declaration, naming a bad one)."""
    def kwarg(key: str, call: str, *arguments: exp.Expr) -> exp.Kwarg:
        return exp.Kwarg(this=exp.to_identifier(key),
                         expression=exp.Anonymous(this=call, expressions=list(arguments)))

    arguments = []
    if body.input_table:
        arguments.append(kwarg("INPUT_TABLE_NAMES", "INPUT_TABLE", sql_table(body.input_table)))
    if body.output_table:
        arguments.append(kwarg("OUTPUT_TABLE_NAMES", "OUTPUT_TABLES",
                               exp.Literal.string(body.output_table)))
    values = [exp.EQ(this=_column(key), expression=exp.Literal.string(_text(value)))
              for key, value in body.params.items() if value is not None]
    if values:
        arguments.append(kwarg("PARAMS", "KV_PAIRS", *values))
    return render_indb(ExecuteFunction(this=exp.to_identifier(name, quoted=True),
                                       expressions=arguments))


def _text(value: str | float | int | bool) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _all_grants(state: ServerState, who: str) -> dict[str, Any]:
    """SHOW GRANTS FOR every role and user, as ``who`` (SHOW USERS refuses a non-admin): a
    role's grants, and a user's roles and own grants (those through roles are the roles')."""
    with state.pool.connection(who) as conn:
        names = [row[0] for row in conn.sql("SHOW ROLES").fetchall()]
        names += [row[0] for row in conn.sql("SHOW USERS").fetchall()]
        rows: list[list[str | None]] = []
        for name in names:
            shown = conn.sql(render_indb(ShowGrants(this=exp.to_identifier(name, quoted=True))))
            rows += [list(row[:4]) for row in shown.fetchall() if row[4] is None]
    return {"columns": ["grantee", "privilege", "kind", "name"], "rows": rows}


__all__ = ["SESSION_HOURS", "mount"]
