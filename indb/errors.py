"""The one error root of indb and its few subclasses.

Each exception keeps its fields in ``args`` so that it survives pickling across worker processes,
and its message says how to fix the problem, not only what went wrong.
"""

from __future__ import annotations


class IndbError(Exception):
    """Root of every error indb raises on purpose."""


class SqlError(IndbError, ValueError):
    """Bad SQL: a syntax error, an unknown name, a type that does not fit.

    ``line`` and ``col`` (1-based) point at the offending token when known.
    """

    def __init__(self, message: str, line: int | None = None, col: int | None = None,
                 sql: str | None = None) -> None:
        super().__init__(message, line, col, sql)

    message = property(lambda self: self.args[0])
    line = property(lambda self: self.args[1])
    col = property(lambda self: self.args[2])
    sql = property(lambda self: self.args[3])

    def __str__(self) -> str:
        if self.line is None:
            return self.message
        text = f"{self.message} Line {self.line}, Col: {self.col}."
        if self.sql:
            lines = self.sql.splitlines() or [""]
            source = lines[min(self.line, len(lines)) - 1]
            text += f"\n  {source}\n  {' ' * max(self.col - 1, 0)}^"
        return text


class CatalogError(IndbError, LookupError):
    """A name that does not resolve (or already exists) in the catalog."""

    def __str__(self) -> str:
        return str(self.args[0])


class DatabaseError(IndbError, OSError):
    """A database directory that cannot be opened as one: not indb's, or from a newer version."""

    def __str__(self) -> str:
        return str(self.args[0])


class ConflictError(IndbError, RuntimeError):
    """A write lost a race with a concurrent writer and was not applied; running it again is safe."""

    def __str__(self) -> str:
        return str(self.args[0])


class RunError(IndbError, RuntimeError):
    """A function run that did not complete: an instance failed, it was killed or it timed out.

    Nothing it wrote was committed; ``SHOW FUNCTION STATUS VERBOSE FOR '<run_id>'`` has each
    instance's status, log tails and traceback.
    """

    def __init__(self, message: str, run_id: str, status: str) -> None:
        super().__init__(message, run_id, status)

    message = property(lambda self: self.args[0])
    run_id = property(lambda self: self.args[1])
    status = property(lambda self: self.args[2])

    def __str__(self) -> str:
        return (f"run {self.run_id} {self.status}: {self.message}. Nothing was written; "
                f"SHOW FUNCTION STATUS VERBOSE FOR '{self.run_id}' shows each shard's logs")
