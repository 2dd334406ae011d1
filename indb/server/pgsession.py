"""A session of the pg port (``server.pgwire``): a client connection's statements, run through
the engine on the server's pool, or in a shadow catalog (``server.pgcatalog``) for a query of
the catalog, with what only the session knows put into it (``with_session``: the shadows are
shared by the sessions that see the same relations); its cursors, prepared statements and COPY
with the client (``pgcursors``, ``pgcopy``)."""

from __future__ import annotations

import contextlib
import functools
import logging
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pyarrow as pa
from buenavista import core
from sqlglot import exp

from indb import errors
from indb.catalog.users import OWNER
from indb.catalog.named_types import named_types
from indb.connection import Connection
from indb.engine import prepared, schemas, temporary, transactions
from indb.engine.macros import definitions as macro_definitions
from indb.engine.privileges import readable_relations, visible_principals
from indb.parser import parse, render, render_indb
from indb.parser.prepared import Execute
from indb.planner.settings import DEFAULT_PATH
from indb.planner.tables import table_name
from indb.result import Result
from indb.server import pgcopy, pgcursors, pgnames, pgstatements
from indb.server.pgcancel import Cancelable
from indb.server.pgcatalog import Shadows, catalog_query
from indb.server.pgrows import CopyingIn, CopyingOut, Cursor, Fetched, Rows
from indb.server.pool import ConnectionPool, Runs, TrackedRun, is_run
from indb.storage.pending import Pending

logger = logging.getLogger(__name__)


def with_session(query: exp.Expr, user: str, backend_pid: int, visible: list[str]) -> exp.Expr:
    """A catalog query with what only its session knows: ``current_user`` and ``session_user``
    (the signed-in user), ``pg_backend_pid()`` (the key of its cancel requests),
    ``pg_my_temp_schema()`` (its temporary schema's oid, 0 before it has one), and the schemas
    whose tables ``pg_table_is_visible`` (pgcatalog's) finds (its temporary tables', psql's
    ``\\d tmp``, then its search path's), the latter ``current_schemas()``."""
    schemas = exp.Array(expressions=[exp.Literal.string(s) for s in visible])
    for node in list(query.walk()):
        if isinstance(node, exp.CurrentSchemas):
            node.replace(exp.Array(expressions=[exp.Literal.string(s) for s in visible[1:]]))
        elif isinstance(node, exp.CurrentUser | exp.SessionUser):
            node.replace(exp.Literal.string(user))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_backend_pid":
            node.replace(exp.Literal.number(backend_pid))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_my_temp_schema":
            node.replace(exp.func("coalesce", exp.Subquery(this=exp.select("oid").from_(
                "pg_catalog.pg_namespace").where(exp.column("nspname").eq(
                    exp.Literal.string(visible[0]))).limit(1)), exp.Literal.number(0)))
        elif isinstance(node, exp.Anonymous) and node.name.lower() == "pg_table_is_visible" \
                and len(node.expressions) == 1:
            node.append("expressions", schemas.copy())
    return query


class Session(Cancelable, core.Session):
    """One client connection: its statements, each on a connection of the server's pool."""

    def __init__(self, pool: ConnectionPool, runs: Runs, shadows: Shadows) -> None:
        super().__init__()
        self.pool, self.runs, self.shadows = pool, runs, shadows
        self.pending: Pending | None = None  # the open transaction's writes, lent a turn
        self.user = OWNER  # who signed in (set once the client has)
        self.notice: Callable[[str], None] = lambda text: None  # a NOTICE to the client
        self.statements: dict[str, Any] = {}  # the client's prepared statements (its handler's)
        self.catalog_prepared: dict[str, exp.Expr] = {}  # PREPARE q AS <a catalog query> (pg_dump's)
        self.cursors: dict[str, Cursor] = {}  # DECLARE's, by name
        self.backend_pid = 0  # pg_backend_pid(): the process id it gave the client
        self.temporaries = temporary.Temporaries()  # lent to a connection of the pool a turn

    def _follow(self, run: TrackedRun) -> None:
        """Wait for a run, telling the client how far it got as NOTICEs (psql prints them)."""
        seen, told = -1, None
        while True:
            with run.changed:
                run.changed.wait_for(lambda: run.version != seen)
                seen, progress, done = run.version, run.progress, run.done
            if progress is not None and (progress.finished, progress.starting) != told:
                told = (progress.finished, progress.starting)
                self.notice(f"run {progress.run_id}: " + ("starting the cluster" if progress.starting
                            else f"{progress.finished} of {progress.instances} instances finished"))
            if done:
                return

    def _catalog(self, query: exp.Expr, params: Any) -> Result:
        """A catalog query answered from what the session's user may read (pgcatalog)."""
        with self._connection() as conn:
            relations = readable_relations(conn.engine)  # the engine of the user's connection
            principals = visible_principals(conn.engine)
            path = schemas.search_path(conn.engine)  # (its schemas that exist)
            types = sorted(named_types(conn.engine.db.engine).items())
            macros = macro_definitions(conn.engine)
        return self.shadows.answer(relations, principals,
                                   with_session(query, self.user, self.backend_pid,
                                                [self.temporaries.schema, *path]),
                                   list(params) if params else None, types, macros)

    def in_transaction(self) -> bool:
        return self.pending is not None

    def transaction_failed(self) -> bool:
        """Whether the open transaction failed (ReadyForQuery's status E)."""
        return self.pending is not None and self.pending.failed is not None

    def type_of(self, probe: exp.Select) -> list[pa.DataType] | None:
        """The column types of a probe of ``pgparams`` (a SELECT ... LIMIT 0), as the session's
        user may read them; None if it fails."""
        try:
            with self._connection() as conn:
                return list(conn.sql(render(probe)).fetch_arrow_table().schema.types)
        except errors.IndbError:
            return None

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A connection of the pool, as the session's user, with the session's temporary tables
        for the turn."""
        with self.pool.connection(self.user) as conn:
            conn.engine.temporaries = self.temporaries
            conn.engine.db.pending = self.pending
            try:
                yield conn
            finally:
                self.pending = conn.engine.db.pending  # (BEGIN, COMMIT, a failure change it)
                conn.engine.db.pending = None
                conn.engine.temporaries = None

    def _drop_temporaries(self) -> None:
        if self.temporaries.made:
            with self._connection() as conn:
                temporary.dropped(conn.engine)

    def close(self) -> None:
        self._close_cursors(held=True)
        try:
            if self.pending is not None:  # a transaction left open: rolled back, its files deleted
                with self._connection() as conn:
                    conn.sql("ROLLBACK")
            self._drop_temporaries()
        except errors.IndbError as error:  # the server shutting down: they stay (temporary.py)
            logger.warning("session's temporary tables in %s not dropped: %s",
                           self.temporaries.schema, error)

    def execute_sql(self, sql: str, params: Any = None) -> core.QueryResult:
        self.begin_statement()
        pieces = pgcursors.statements(sql)
        if pieces is not None:  # several, one of them the session's own: each on its own
            results = [self.execute_sql(piece) for piece in pieces]
            for result in results[:-1]:
                result.close()
            return results[-1]
        own = pgcursors.read(sql)  # DECLARE, FETCH, MOVE, CLOSE, DEALLOCATE, RESET...
        if own is not None:
            return self._carry_out(own, params)
        copying = pgcopy.read(sql)  # COPY ... FROM STDIN, COPY ... TO STDOUT
        if copying is not None:
            return self._copy(copying)
        preparing = pgcursors.prepared_text(sql)
        catalog = catalog_query(preparing[1], None) if preparing is not None else None
        if preparing is not None and catalog is not None:  # run in a shadow at each EXECUTE
            self.catalog_prepared[preparing[0].lower()] = catalog
            return Rows(self, None, "PREPARE")
        try:
            trees = parse(sql)
        except errors.SqlError:  # maybe PostgreSQL's own SQL, of a catalog query
            catalog = catalog_query(sql, None)
            if catalog is None:
                raise
            return Rows(self, self._catalog(catalog, params), "", catalog=True)
        catalog = catalog_query(sql, trees)
        if catalog is not None:
            return Rows(self, self._catalog(catalog, params), "", catalog=True)
        if len(trees) == 1 and isinstance(trees[0], Execute) \
                and trees[0].name.lower() in self.catalog_prepared:
            return Rows(self, self._catalog(self.catalog_prepared[trees[0].name.lower()].copy(), [
                value.to_py() for value in trees[0].expressions]), "", catalog=True)
        ending = pgstatements.transaction_tag(trees)
        if ending is not None:  # BEGIN, COMMIT, ROLLBACK [TO], SAVEPOINT, RELEASE: the engine's
            with self._connection() as conn:
                message = conn.sql(sql).message or ""
                if ending in ("COMMIT", "ROLLBACK") and not trees[0].args.get("savepoint"):
                    self._close_cursors(held=False)  # a transaction's end closes its cursors
                    if self.temporaries.tables:  # and acts on ON COMMIT DROP | DELETE ROWS
                        temporary.committed(conn.engine)
            return Rows(self, None, "ROLLBACK" if message.startswith("ROLLBACK") else ending)
        if self.transaction_failed():
            raise errors.TransactionAborted(
                "current transaction is aborted, commands ignored until end of transaction block "
                f"(it failed: {self.pending.failed})")  # type: ignore[union-attr]
        tag = pgstatements.no_op(trees)
        if tag is not None:  # SET forms a client sends on its own
            return Rows(self, None, tag)
        if not trees:
            return Rows(self, None, "")
        answer = pgstatements.probe(trees, ", ".join(self.temporaries.search_path))
        if answer is not None:
            return Rows(self, Result(answer), "")
        values = list(params) if params else None
        rewritten = pgstatements.as_postgres_reads(trees, self.type_of)
        if rewritten is not None:
            sql, trees = rewritten, parse(rewritten)
        if is_run(sql):
            if self.pending is not None:  # a run commits alone: the transaction's writes first
                with self._connection() as conn:
                    transactions.commit_now(conn.engine)
            if self.temporaries.own:  # a run takes a connection of its own: what only the
                with self._connection() as conn:  # session knows is put in its text
                    sql = render_indb(conn.engine.portable(trees[0]))
            run = self.runs.start(sql, values, self.user)
            stop = (lambda: self.runs.kill(run.run_id, self.user)) if run.run_id else (lambda: None)
            with self.stoppable(stop):
                self._follow(run)
                if run.error is not None:
                    raise run.error
            assert run.result is not None
            result = run.result
        else:
            with self._connection() as conn, \
                    self.stoppable(functools.partial(conn.interrupt_statement, threading.get_ident()),
                                   again=True):
                result = conn.sql(sql, values)
        last = prepared.statement_of(self.temporaries, trees[-1])  # EXECUTE q: q's tag
        if isinstance(last, pgstatements.UPKEEP):  # PostgreSQL's VACUUM sends a tag, no rows
            self.notice(result.message)  # what it did (psql shows it): its rows stay the API's
            result.close()
            return Rows(self, None, pgstatements.tag(last, result))
        names = pgnames.column_names(last, sql, result.columns) if last is trees[-1] \
            else None  # PostgreSQL's (count, not count_star()); EXECUTE q's text is not here
        if isinstance(last, pgstatements.ROW_WRITES) and result.returns_rows:  # RETURNING: rows, a tag
            return Rows(self, result, pgstatements.tag(last, result, counted=False), names=names)
        if isinstance(last, pgstatements.WRITES) or not result.columns:
            result.close()
            return Rows(self, None, pgstatements.tag(last, result))
        return Rows(self, result, "", names=names)


    def _carry_out(self, statement: pgcursors.Statement, params: Any) -> core.QueryResult:
        """A statement about the session's cursors or prepared statements, as PostgreSQL's."""
        if isinstance(statement, pgcursors.Declare):
            if statement.name in self.cursors:
                raise errors.ProgrammingError(f'cursor "{statement.name}" already exists')
            rows = self._query_rows(statement.query, params, "DECLARE CURSOR")
            self.cursors[statement.name] = Cursor(rows, rows.batches(), statement.hold)
            return Rows(self, None, "DECLARE CURSOR")
        if isinstance(statement, pgcursors.Fetch):
            cursor = self._cursor(statement.name)
            with self.stoppable(cursor.rows.interrupt, again=True):  # (a cancel stops the read)
                taken = cursor.take(statement.count)
            if statement.move:
                return Rows(self, None, f"MOVE {len(taken)}")
            return Fetched(cursor.rows, taken)
        if isinstance(statement, pgcursors.Close):
            if statement.name is None:
                self._close_cursors(held=True)
            else:
                self._cursor(statement.name)
                self.cursors.pop(statement.name).rows.close()
            return Rows(self, None, "CLOSE CURSOR")
        if isinstance(statement, pgcursors.Reset):  # RESET, UNLISTEN: nothing to undo here
            if statement.everything:  # DISCARD ALL: the session's cursors and statements go
                self._close_cursors(held=True)
                self.statements.clear()
                self.temporaries.prepared.clear()
                self.catalog_prepared.clear()
                self.temporaries.variables.clear()
            if statement.temporary:  # DISCARD TEMP, ALL: the session's temporary tables go
                self._drop_temporaries()
            if statement.path:
                self.temporaries.search_path = DEFAULT_PATH
            return Rows(self, None, statement.tag)
        if isinstance(statement, pgcursors.Lock):  # (refused as a read of them would be)
            for table in statement.tables:
                self._query_rows(render(exp.select("*").from_(table).limit(0)), None, "LOCK").close()
            return Rows(self, None, "LOCK TABLE")
        if statement.name is None:  # DEALLOCATE: psycopg's after a statement changing a table
            self.statements.clear()
            self.temporaries.prepared.clear()  # (and PREPARE's, which share their names)
            self.catalog_prepared.clear()
            return Rows(self, None, "DEALLOCATE ALL")
        if self.statements.pop(statement.name, None) is None \
                and self.temporaries.prepared.pop(statement.name.lower(), None) is None \
                and self.catalog_prepared.pop(statement.name.lower(), None) is None:
            raise errors.ProgrammingError(f'prepared statement "{statement.name}" does not exist')
        return Rows(self, None, "DEALLOCATE")

    def _query_rows(self, query: str, params: Any, statement: str) -> Rows:
        """The rows of the query a DECLARE or a COPY TO names, checked to be a read before it
        runs (PostgreSQL refuses a write there without running it)."""
        refusal = errors.ProgrammingError(f"{statement} takes a query that returns rows")
        if not pgstatements.read_only(query):
            raise refusal
        rows = self.execute_sql(query, params)
        if not isinstance(rows, Rows) or not rows.has_results():
            rows.close()
            raise refusal
        return rows

    def _copy(self, copying: pgcopy.CopyIn | pgcopy.CopyOut) -> core.QueryResult:
        """A COPY with the client: its rows to send, or the table its rows go to (described as
        the user may read it: an unknown or unreadable table is refused before rows come)."""
        if isinstance(copying, pgcopy.CopyOut):
            query = copying.query
            if copying.table is not None:  # all its columns but the generated, as PostgreSQL's
                with self._connection() as conn:
                    query = pgcopy.all_columns(conn.engine, copying.table, self.temporaries) or query
            return CopyingOut(self._query_rows(query, None, "COPY (query) TO STDOUT"),
                              copying.form)
        temporary.resolved(self.temporaries, copying.table)  # COPY tmp FROM STDIN
        with self._connection() as conn:
            left_out = pgcopy.generated(conn.engine, copying.table)  # (not in a COPY's own list)
            try:
                described = conn.sql(render(exp.select("*").from_(copying.table).limit(0)))
            except errors.SqlError as error:  # (its position is in that SELECT, not the COPY)
                raise errors.CatalogError(f"COPY into {copying.table.sql()}: "
                                          f"{error.message.splitlines()[0]}") from None
            types = dict(zip(described.columns, [str(t) for t in described.types or ()],
                             strict=True))
            arrow = dict(zip(described.columns, described.schema.types, strict=True))
            described.close()
        columns = list(copying.columns or [c for c in types if c not in left_out])
        missing = [c for c in columns if c not in types]
        if missing:
            raise errors.CatalogError(f"table {copying.table.sql()} has no column {missing[0]}")
        return CopyingIn(table_name(copying.table), columns, [types[c] for c in columns],
                         [arrow[c] for c in columns], copying.form)

    def copy_in(self, copying: CopyingIn, data: bytes) -> int:
        """The client's rows loaded into the table in one snapshot as the user; their count."""
        if copying.form.binary:  # typed already, by the columns' types
            rows = pgcopy.rows_binary(data, copying.columns, copying.arrow_types)
        else:  # strings, cast as an INSERT of them would be
            rows = pgcopy.cast(pgcopy.rows_in(data, copying.columns, copying.form),
                               copying.types, copying.table, copying.arrow_types)
        if not rows.num_rows:
            return 0
        with self._connection() as conn:
            return conn.load(copying.table, rows, overriding="SYSTEM")  # as PostgreSQL's COPY

    def _cursor(self, name: str) -> Cursor:
        if name not in self.cursors:
            raise errors.ProgrammingError(f'cursor "{name}" does not exist')
        return self.cursors[name]

    def _close_cursors(self, held: bool) -> None:
        """Close the session's cursors declared WITHOUT HOLD, and with ``held`` the others."""
        for name in [n for n, cursor in self.cursors.items() if held or not cursor.hold]:
            self.cursors.pop(name).rows.close()
