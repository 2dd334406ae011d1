"""The bodies of the HTTP API as pydantic models: what ``/openapi.json`` declares for each
operation's answers (schemathesis checks the server against them, tests/test_server_schema.py)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from indb.remote import ARROW_STREAM, NDJSON

BINARY = {"schema": {"type": "string", "format": "binary"}}


class ErrorDetail(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    class_: str = Field(alias="class", description="indb's error class (indb.errors), such as "
                                                   "SqlError, PrivilegeError, RunError")
    message: str = Field(description="what went wrong and how to fix it")
    line: int | None = Field(None, description="SqlError: the line of the statement's mistake")
    col: int | None = Field(None, description="SqlError: its column")
    sql: str | None = Field(None, description="SqlError: the statement")
    run_id: str | None = Field(None, description="RunError: the run")
    status: str | None = Field(None, description="RunError: how the run ended")


class ErrorBody(BaseModel):
    error: ErrorDetail


class Health(BaseModel):
    status: Literal["ok", "stopping"]
    version: str


class Column(BaseModel):
    name: str
    type: str = Field(description="the column's SQL type, such as BIGINT or DECIMAL(9,2)")


class Rows(BaseModel):
    """A statement's result as JSON (an error met while its rows streamed ends it, in ``error``)."""
    columns: list[Column]
    rowcount: int = Field(description="rows written, or -1 for a query")
    message: str
    rows: list[list[Any]] = Field(description="dates and times as ISO 8601 text, decimals as "
                                              "text, bytes as base64, NaN as null")
    error: ErrorDetail | None = None


class RunAccepted(BaseModel):
    run_id: str
    status: str


class StatusRows(BaseModel):
    """A small result whole: a run's status row (SHOW FUNCTION STATUS's columns)."""
    message: str
    rowcount: int
    columns: list[str]
    rows: list[list[Any]]


class Loaded(BaseModel):
    rowcount: int = Field(description="rows loaded")


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text} for status, text in [
        (400, "a mistake in the request or statement (ProgrammingError and beneath it)"),
        (401, "no token, or a wrong, revoked or expired one (AuthenticationError)"),
        (403, "the user lacks a privilege (PrivilegeError)"),
        (409, "a lost race with another writer (ConflictError)"),
        (422, "a value or run that failed (DataError, RunError, FunctionError, ModelError)"),
        (501, "what indb does not do (NotSupportedError)"),
        (503, "the database cannot be reached now (OperationalError)")]}

SQL_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"model": Rows, "content": {ARROW_STREAM: BINARY},
          "description": "the rows as JSON, or as an Arrow IPC stream (Accept: "
                         f"{ARROW_STREAM})"},
    202: {"model": RunAccepted, "description": "EXECUTE FUNCTION with Prefer: respond-async: "
                                               "the run's id; follow /v1/runs/{run_id}/progress"},
    **ERRORS}

PROGRESS_ANSWERS: dict[int | str, dict[str, Any]] = {
    200: {"content": {NDJSON: {"schema": {"type": "string"}}},
          "description": 'one JSON object a line: {"event": "progress", ...}, then '
                         '{"event": "end", "result": ...} or {"event": "error", "error": ...}'},
    **ERRORS}

ARROW_BODY = {"requestBody": {"required": True, "description": "the rows, an Arrow IPC stream",
                              "content": {ARROW_STREAM: BINARY}}}
