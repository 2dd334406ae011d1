"""An error as PostgreSQL's ErrorResponse tells it: its SQLSTATE (by indb's error classes,
which drivers turn into their own: psycopg's ``UniqueViolation``, SQLAlchemy's
``IntegrityError``), its message, and where in the statement's text it points."""

from __future__ import annotations

from typing import Any

from indb import errors

# SQLSTATE of an error, by the first of its classes named here
SQLSTATES = {"UniqueViolation": "23505", "CheckViolation": "23514", "ForeignKeyViolation": "23503",
             "TransactionAborted": "25P02",
             "SqlError": "42601", "CatalogError": "42P01", "SchemaError": "42P16",
             "ConflictError": "40001", "DataError": "22000", "NotSupportedError": "0A000",
             "QueryCanceledError": "57014", "RunError": "38000", "FunctionError": "38000",
             "ModelError": "38000", "AuthenticationError": "28000", "PrivilegeError": "42501",
             "InterfaceError": "08000", "ProgrammingError": "42000", "OperationalError": "58000"}


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
    for kind in type(error).__mro__:
        if kind.__name__ in SQLSTATES:
            return SQLSTATES[kind.__name__]
    return "XX000"
