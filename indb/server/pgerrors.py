"""An error as PostgreSQL's ErrorResponse tells it: its SQLSTATE (by indb's error classes,
which drivers turn into their own: psycopg's ``UniqueViolation``, SQLAlchemy's
``IntegrityError``), its message, and where in the statement's text it points."""

from __future__ import annotations

import re
from typing import Any

from indb import errors

# SQLSTATE of an error, by the first of its classes named here
SQLSTATES = {"UniqueViolation": "23505", "CheckViolation": "23514", "ForeignKeyViolation": "23503",
             "TransactionAborted": "25P02",
             "SqlError": "42601", "CatalogError": "42P01", "SchemaError": "42P16",
             "ConflictError": "40001", "DataError": "22000", "NotSupportedError": "0A000",
             "QueryCanceledError": "57014", "RunError": "38000", "FunctionError": "38000",
             "ModelError": "38000", "AuthenticationError": "28000", "PrivilegeError": "42501",
             "ProtocolViolation": "08P01", "InterfaceError": "08000", "ProgrammingError": "42000",
             "OperationalError": "58000"}


# ... made finer by what the message says (DuckDB's errors all come as a SqlError; indb's
# CatalogError is both a name missing and a name taken), as PostgreSQL tells them apart: ORMs
# and drivers act on these (psycopg's UndefinedTable, DuplicateTable, UndefinedColumn...)
_BY_MESSAGE = ((re.compile(r"already exists"), "42P07"),
               (re.compile(r"^Binder Error: Referenced column|^Binder Error: Values list .* does "
                           r"not have a column|^Binder Error: Table .* does not have a column"),
                "42703"),
               (re.compile(r"^Binder Error: Ambiguous reference"), "42702"),
               (re.compile(r"must appear in the GROUP BY clause"), "42803"),
               (re.compile(r"^Catalog Error: (Table|View|Sequence) with name"), "42P01"),
               (re.compile(r"^Catalog Error: (Scalar |Table |Aggregate |Macro )?Function with name"
                           r"|^Binder Error: No function matches"), "42883"),
               (re.compile(r"^Catalog Error: Schema with name"), "3F000"),
               (re.compile(r"^Catalog Error: Type with name"), "42704"),
               (re.compile(r"^Out of Range Error|^Conversion Error: .* out of range"), "22003"),
               (re.compile(r"^(Conversion|Invalid Input) Error"), "22P02"))


def error_fields(exception: Any) -> bytes:
    """The ErrorResponse's body: severity, SQLSTATE, message and, for a SqlError that points
    into its statement, the position (from 1) of the character it points at."""
    fields = [(b"S", "ERROR"), (b"V", "ERROR"), (b"C", sqlstate(exception)),
              (b"M", exception.message if isinstance(exception, errors.SqlError) else str(exception))]
    if isinstance(exception, errors.SqlError) and exception.line and exception.sql:
        lines = exception.sql.splitlines(keepends=True)
        offset = sum(len(line) for line in lines[:exception.line - 1]) + (exception.col or 1)
        fields.append((b"P", str(offset)))
    return b"".join(code + text.encode() + b"\x00" for code, text in fields) + b"\x00"


def sqlstate(error: Any) -> str:
    if isinstance(error, errors.SqlError | errors.CatalogError):
        message = error.message if isinstance(error, errors.SqlError) else str(error)
        for pattern, state in _BY_MESSAGE:
            if pattern.search(message):
                return state
    for kind in type(error).__mro__:
        if kind.__name__ in SQLSTATES:
            return SQLSTATES[kind.__name__]
    return "XX000"
