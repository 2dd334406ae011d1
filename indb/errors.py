"""The one error root of indb, arranged as PEP 249 (DB-API 2.0) asks, and the kinds of problem.

``IndbError`` is DB-API's ``Error``; beneath it stand the standard classes (``InterfaceError``,
``DatabaseError`` and its ``DataError``, ``OperationalError``, ``IntegrityError``,
``InternalError``, ``ProgrammingError``, ``NotSupportedError``), and beneath those indb's own
kinds, each also a subclass of the built-in exception it resembles. Catch a standard class to
handle every problem of that sort, or an indb kind for one precisely.

Each exception keeps its fields in ``args`` so that it survives pickling across worker processes,
and its message says how to fix the problem, not only what went wrong.
"""

from __future__ import annotations


class IndbWarning(Exception):
    """DB-API's ``Warning``: important warnings, such as data truncations while inserting."""


class IndbError(Exception):
    """Root of every error indb raises on purpose (DB-API's ``Error``)."""


# -- the DB-API 2.0 classes ---------------------------------------------------------------------

class InterfaceError(IndbError):
    """A problem with the interface rather than the database: a closed connection or cursor,
    fetching before any statement ran."""


class DatabaseError(IndbError):
    """A problem of the database."""


class DataError(DatabaseError):
    """A problem with the data: a value out of range, a file that is not what it claims to be."""


class OperationalError(DatabaseError):
    """A problem of the database's operation, not of the statement: a lost race, a failed run,
    a directory that cannot be opened."""


class IntegrityError(DatabaseError):
    """The relational integrity of the database would be broken."""


class UniqueViolation(IntegrityError, DataError):
    """A write that would hold a primary key's or a UNIQUE constraint's value twice; nothing
    was written (PostgreSQL's SQLSTATE 23505)."""


class CheckViolation(IntegrityError, DataError):
    """A row a CHECK constraint refuses; nothing was written (PostgreSQL's SQLSTATE 23514)."""


class ForeignKeyViolation(IntegrityError, DataError):
    """A row whose foreign key's value no row of the referenced table holds, or a change that
    would leave such a row; nothing was written (PostgreSQL's SQLSTATE 23503)."""


class InternalError(DatabaseError):
    """indb reached a state it should not: please report it."""


class TransactionAborted(OperationalError):
    """A statement of a transaction that an earlier one failed: nothing runs until ROLLBACK
    (or ROLLBACK TO a savepoint); COMMIT rolls it back (PostgreSQL's SQLSTATE 25P02)."""


class ProgrammingError(DatabaseError):
    """A mistake in what was asked: bad SQL, an unknown name, a wrong option."""


class NotSupportedError(DatabaseError):
    """Something indb does not do (transactions over several statements, for one)."""


# -- indb's kinds ---------------------------------------------------------------------------------

class SqlError(ProgrammingError, ValueError):
    """Bad SQL: a syntax error, a name or value in the statement that does not fit.

    ``line`` and ``col`` (1-based) point at the offending token of ``sql`` when known; the
    parser's ``error_at(node, message)`` fills them from a syntax tree node, and the engine adds
    the statement's text.
    """

    def __init__(self, message: str, line: int | None = None, col: int | None = None,
                 sql: str | None = None) -> None:
        super().__init__(message, line, col, sql)

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def line(self) -> int | None:
        return self.args[1]

    @property
    def col(self) -> int | None:
        return self.args[2]

    @property
    def sql(self) -> str | None:
        return self.args[3]

    def with_sql(self, sql: str) -> SqlError:
        """The same error, showing the statement's text (unless it already shows one)."""
        if self.sql is not None:
            return self
        return type(self)(self.message, self.line, self.col, sql)

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        text = f"{self.message} Line {self.line}, Col: {self.col}."
        if self.sql:
            lines = self.sql.splitlines() or [""]
            source = lines[min(self.line, len(lines)) - 1]
            text += f"\n  {source}\n  {' ' * max((self.col or 1) - 1, 0)}^"
        return text


class CatalogError(ProgrammingError, LookupError):
    """A name that does not resolve (or already exists) in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0])


class SchemaError(ProgrammingError, ValueError):
    """A table that cannot be: a type that is unknown or cannot be stored, two columns of one
    name, a reserved name, a shard key that is not a column."""


class OptionError(ProgrammingError, ValueError):
    """An option or argument given from Python that indb cannot use (``indb.connect``,
    ``Connection.load``, ``ctx.models.load``)."""


class ModelError(DatabaseError, ValueError):
    """A model that cannot be saved, imported, loaded or called as asked."""


class FunctionError(DatabaseError, ValueError):
    """A UDF that cannot run as registered or returned what cannot become rows."""


class DirectoryError(OperationalError, OSError):
    """A database directory that cannot be opened as one: not indb's, or from a newer version."""

    def __str__(self) -> str:
        return str(self.args[0])


class StorageError(OperationalError, OSError):
    """Files of the database that cannot be read: a table whose metadata file is missing or
    damaged. The message says how to be rid of it (DROP TABLE) or where the file was."""

    def __str__(self) -> str:
        return str(self.args[0])


class ConflictError(OperationalError, RuntimeError):
    """A write lost a race with a concurrent writer and was not applied; running it again is safe."""

    def __str__(self) -> str:
        return str(self.args[0])


class RunError(OperationalError, RuntimeError):
    """A function run that did not complete: an instance failed, it was killed or it timed out.

    Nothing it wrote was committed; ``SHOW FUNCTION STATUS VERBOSE FOR '<run_id>'`` has each
    instance's status, log tails and traceback.
    """

    def __init__(self, message: str, run_id: str, status: str) -> None:
        super().__init__(message, run_id, status)

    @property
    def message(self) -> str:
        return str(self.args[0])

    @property
    def run_id(self) -> str:
        return str(self.args[1])

    @property
    def status(self) -> str:
        return str(self.args[2])

    def __str__(self) -> str:
        return (f"run {self.run_id} {self.status}: {self.message}. Nothing was written; "
                f"SHOW FUNCTION STATUS VERBOSE FOR '{self.run_id}' shows each shard's logs")


class QueryCanceledError(OperationalError, RuntimeError):
    """A statement stopped at its client's request (a PostgreSQL client's cancel request:
    psql's Ctrl-C, psycopg's ``cancel()``); what it would have written was not, and running it
    again gives its result."""

    def __str__(self) -> str:
        return str(self.args[0])


class PrivilegeError(ProgrammingError, PermissionError):
    """A statement the user may not run: a privilege or role it lacks (nothing was done)."""

    def __str__(self) -> str:
        return str(self.args[0])


class AuthenticationError(OperationalError, PermissionError):
    """A sign-in that failed: a wrong password, or a token that is unknown, revoked or expired."""

    def __str__(self) -> str:
        return str(self.args[0])


# the catalog's kinds of object, and the statement that lists each
_LISTED_BY = {"table": "SHOW TABLES", "function": "SHOW FUNCTION *", "model": "SHOW MODELS",
              "run": "SHOW FUNCTION STATUS", "function environment": "SHOW FUNCTION ENVIRONMENTS",
              "procedure": "SHOW PROCEDURES", "monitor": "SHOW MONITORS", "sequence": "SHOW SEQUENCES"}


def not_found(kind: str, name: str) -> CatalogError:
    """The error for a name of the catalog that does not exist, saying where to look."""
    return CatalogError(f"{kind} {name} does not exist; {_LISTED_BY[kind]} lists the {kind}s")
