"""The PostgreSQL wire protocol of ``indb serve``, through buenavista (its protocol handler and
threaded socket server): each client connection is a session whose statements run on the
server's pool, so ``psql``, psycopg and other PostgreSQL clients query the database.

What is indb's here: the session (``pgsession``: statements through the engine; its cursors,
prepared statements and COPY with the client), the types of result columns and their rows
(``pgrows``, in PostgreSQL's forms: ``pgvalues``), parameter values decoded by their type OIDs,
errors with a SQLSTATE and the position of a SQL error (an extended query's discarding the
messages up to Sync), and the password (an API token, or the user's own) when the server asks
for one.
"""

from __future__ import annotations

import functools
import io
import logging
import socket
import ssl
import struct
import threading
from collections.abc import Callable
from typing import Any

from buenavista import core, postgres

from indb import errors
from indb.planner.settings import path_of
from indb.server import pgcopy, pgerrors, pgframes, pgparams, pgstatements, pgtls, pgvalues
from indb.server.pgcatalog import Shadows
from indb.server.pgsession import Session
from indb.server.pgrows import CopyingIn, CopyingOut, Fetched, Rows, buenavista_oid
from indb.server.pool import ConnectionPool, Runs

logging.getLogger("buenavista").setLevel(logging.CRITICAL)  # it logs every client error too
logger = logging.getLogger(__name__)

SSL_REQUEST = 80877103  # the startup code of PostgreSQL's SSLRequest
CANCEL_REQUEST = 80877102  # and of its CancelRequest (a key: the process id and secret it gave)


class _Connection(core.Connection):
    def __init__(self, pool: ConnectionPool, runs: Runs) -> None:
        super().__init__()
        self.pool, self.runs = pool, runs
        self.shadows = Shadows()

    def new_session(self) -> core.Session:
        return Session(self.pool, self.runs, self.shadows)

    def parameters(self) -> dict[str, str]:
        return {"server_version": "15.0 (indb)", "server_encoding": "UTF8",
                "client_encoding": "UTF8", "DateStyle": "ISO, MDY", "TimeZone": "UTC",
                "integer_datetimes": "on", "standard_conforming_strings": "on"}


_Handled = Callable[[Any, postgres.BVContext, bytes], None]


def _extended_message(handle: _Handled) -> _Handled:
    """A handler of an extended query's message (Parse, Bind, Describe, Execute, Close) as
    PostgreSQL's: after an error every such message is discarded until the client's Sync, and an
    error is answered while the session goes on (buenavista ended the connection on one: a Bind
    of a statement that was never prepared, or was deallocated)."""
    @functools.wraps(handle)
    def handled(self: Any, ctx: postgres.BVContext, payload: bytes) -> None:
        if ctx.has_error:
            return
        try:
            handle(self, ctx, payload)
        except Exception as error:  # noqa: BLE001 (the client's to hear; the session goes on)
            self.send_error(error, ctx)
    return handled


class _Handler(postgres.BuenaVistaHandler):
    """buenavista's handler with parameters decoded by type, errors PostgreSQL clients can
    place, and the API token as the password."""

    server: PgServer
    request: socket.socket
    connection: socket.socket
    rfile: io.BufferedReader
    r: postgres.BVBuffer

    def setup(self) -> None:
        super().setup()
        self.rfile = pgframes.Bounded(self.rfile)  # type: ignore[assignment]  # PostgreSQL's limits

    def handle_startup(self, conn: core.Connection) -> postgres.BVContext | None:
        """An SSLRequest first is answered here: 'S' and TLS with the server's certificate, or
        'N' without one (PostgreSQL's answers; the client then goes on in clear or gives up, as
        its sslmode says). A CancelRequest (in clear or over TLS) is carried out here too: it
        stops the statement of the session whose key it gives, and the connection ends with
        no answer, as PostgreSQL's does. Then buenavista reads the startup message as ever."""
        sock: socket.socket = self.connection
        head = self.rfile.peek(8)[:8] if isinstance(sock, ssl.SSLSocket) else \
            sock.recv(8, socket.MSG_PEEK | socket.MSG_WAITALL)
        if len(head) == 8 and struct.unpack("!ii", head) == (16, CANCEL_REQUEST):
            _, _, process_id, secret_key = struct.unpack("!iiII", self.r.read_bytes(16))
            ctx = self.server.ctxts.get(process_id)
            if ctx is not None and ctx.secret_key == secret_key:
                ctx.session.cancel()
            if isinstance(sock, ssl.SSLSocket):  # TLS's own close first: libpq takes an end
                try:  # without it for a failed request
                    sock.unwrap()
                except (ssl.SSLError, OSError):  # the client went first
                    pass
            return None
        if len(head) == 8 and struct.unpack("!ii", head) == (8, SSL_REQUEST) and \
                not isinstance(sock, ssl.SSLSocket):
            sock.recv(8)  # nothing was read through rfile yet: taken off the socket
            if self.server.tls is None:
                sock.sendall(b"N")
            else:
                sock.sendall(b"S")
                try:
                    sock = self.server.tls.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError):  # the client gave up (its CA refused ours)
                    return None
                self.request = self.connection = sock
                self.rfile = pgframes.Bounded(sock.makefile("rb"))  # type: ignore[assignment]
                self.wfile = pgtls.SocketWriter(sock)
                self.r = postgres.BVBuffer(self.rfile)
            return self.handle_startup(conn)  # a startup message or a cancel request comes next
        if len(head) == 8:
            pgframes.check_startup_length(struct.unpack("!i", head[:4])[0])
        return super().handle_startup(conn)

    @_extended_message
    def handle_describe(self, ctx: postgres.BVContext, payload: bytes) -> None:
        """Describe a portal (run, its rows kept for the Execute that follows, as buenavista
        does) or a statement: its parameters' types (``pgparams``), and, for a read, its columns
        (it is run with NULL parameters). Anything else (a write, DDL, a function run) is
        described without running it, since nothing runs it for the client afterwards but its
        own Execute. NoData answers a statement without rows (buenavista sent nothing, and
        asyncpg waited for ever)."""
        kind, name = payload[0], bytes(payload[1:-1]).decode()
        result: core.QueryResult | None = None
        try:
            if kind == ord("P"):  # a portal of the protocol's, or a cursor's (DECLARE)
                cursor = ctx.session.cursors.get(name) if name not in ctx.portals else None
                result = cursor.rows if cursor is not None else ctx.describe_portal(name)
            elif kind == ord("S"):
                if name not in ctx.stmts:
                    raise errors.InterfaceError(f"there is no prepared statement {name!r}")
                sql, declared = ctx.stmts[name]
                # the parameters' types the client did not declare, inferred (asyncpg
                # encodes its values by them), and kept for the Bind that decodes them
                oids = pgparams.parameter_types(sql, declared, ctx.session.type_of)
                ctx.stmts[name] = (sql, oids)
                if pgstatements.read_only(sql):  # run with NULL parameters: its columns, not its rows
                    result = ctx.session.execute_sql(sql, [None] * len(oids))
                elif (shape := pgstatements.returning_shape(sql)) is not None:  # a write's RETURNING
                    result = ctx.session.execute_sql(shape, [])
                elif (shape := pgstatements.numbering_shape(sql)) is not None:  # nextval's
                    result = ctx.session.execute_sql(shape, [None] * len(oids))
            else:
                raise errors.InterfaceError(f"a Describe of kind {chr(kind)!r} (P or S are)")
        except Exception as error:  # noqa: BLE001 (the client's to hear; the session goes on)
            self.send_error(error, ctx)
            return
        if kind == ord("S"):
            self.send_paramter_description(ctx.stmts[name][1])
        if result is not None and result.has_results():
            self.send_row_description(result)
            if kind == ord("S") and isinstance(result, Rows):  # its Execute runs it anew
                result.close()
        else:
            self.wfile.write(struct.pack("!ci", postgres.ServerResponse.NO_DATA, 4))

    def send_data_rows(self, query_result: core.QueryResult, limit: int = 0) -> int:
        """Up to ``limit`` rows (0: all) as DataRow messages: a column asked for in text as
        buenavista writes it, one asked for in binary by psycopg's adapters (buenavista has no
        binary form of numeric, intervals, JSON or arrays, and its timestamps' failed: either
        ended the connection). An error once rows went (a cancel, a value DuckDB refused) ends
        the statement only."""
        try:
            return self._data_rows(query_result, limit)
        except errors.IndbError as error:
            raise _StreamFailed(error) from None

    def _data_rows(self, result: core.QueryResult, limit: int) -> int:
        formats = result.result_format or []
        writers: list[Callable[[Any], bytes]] = []
        for i in range(result.column_count()):
            oid = _oid(result, i)
            if i < len(formats) and formats[i] == 1 and oid not in pgvalues.BINARY_IS_TEXT:
                writers.append(pgvalues.encoder(pgparams.VECTOR_ARRAYS.get(oid, oid)))
            else:
                writers.append(_text_writer(result, i))
        sent = 0
        for row in result.rows():
            fields = [struct.pack("!i", -1) if value is None else _field(write(value))
                      for value, write in zip(row, writers, strict=True)]
            body = b"".join(fields)
            self.wfile.write(struct.pack("!cih", postgres.ServerResponse.DATA_ROW, len(body) + 6,
                                         len(fields)) + body)
            sent += 1
            if sent == limit:
                break
        return sent

    def send_row_description(self, query_result: core.QueryResult) -> None:
        """The columns, each with its type (``_oid``: a list's as its array type)."""
        formats = query_result.result_format or []
        fields = b"".join(
            query_result.column(i)[0].encode() + b"\x00" + struct.pack(
                "!ihihih", 0, 0, _oid(query_result, i), 0, _typmod(query_result, i),
                formats[i] if i < len(formats) else 0)
            for i in range(query_result.column_count()))
        self.wfile.write(struct.pack("!cih", postgres.ServerResponse.ROW_DESCRIPTION,
                                     len(fields) + 6, query_result.column_count()) + fields)

    def handle_query(self, ctx: postgres.BVContext, payload: bytes) -> None:
        """A simple query. buenavista's took any text ending in "}" for a JSON call of one of
        its extensions (indb has none), so ``SELECT {'k': 1}`` failed; and a query whose rows
        fail while they stream now ends with the error and the session goes on, as
        PostgreSQL's does (buenavista ended the connection)."""
        try:
            result = ctx.execute_sql(payload.decode("utf-8").rstrip("\x00"))
            if isinstance(result, CopyingIn):
                self.send_command_complete(f"COPY {self._copy_in(ctx, result)}\x00")
            elif isinstance(result, CopyingOut):
                self.send_command_complete(f"COPY {self._copy_out(result)}\x00")
            elif result.has_results():
                self.send_row_description(result)
                tag = result.status() or "SELECT"  # (a FETCH's is FETCH n)
                self.send_command_complete(f"{tag} {self.send_data_rows(result)}\x00")
            else:
                self.send_command_complete(f"{result.status()}\x00")
        except _StreamFailed as failed:
            self._aborting(ctx, failed.args[0])
            self.send_error(failed.args[0])
        except Exception as error:  # noqa: BLE001 (the client's to hear; the session goes on)
            self._aborting(ctx, error)
            self.send_error(error)
        self.send_ready_for_query(ctx)

    def _copy_in(self, ctx: postgres.BVContext, copying: CopyingIn) -> int:
        """COPY FROM STDIN's exchange: CopyInResponse (text columns), then the client's
        CopyData until its CopyDone (or CopyFail); the rows loaded, their count."""
        self.wfile.write(pgcopy.response(b"G", len(copying.columns), copying.form.binary))
        chunks: list[bytes] = []
        while True:
            kind, size = self.r.read_byte(), self.r.read_uint32()
            payload = self.r.read_bytes(size - 4) if size > 4 else b""
            if kind == b"d":
                chunks.append(payload)
            elif kind == b"c":
                return ctx.session.copy_in(copying, b"".join(chunks))
            elif kind == b"f":
                raise errors.DataError(f"COPY from stdin failed: {payload.rstrip(bytes(1)).decode()}")
            elif kind not in (b"H", b"S"):  # Flush and Sync mean nothing while copying in
                raise errors.InterfaceError(f"a message of type {kind!r} came during COPY")

    def _copy_out(self, copying: CopyingOut) -> int:
        """COPY TO STDOUT's exchange: CopyOutResponse, a CopyData a row (a header line first
        with HEADER; in binary, PostgreSQL's header first and its trailer last), CopyDone; the
        rows' count."""
        rows, form = copying.rows, copying.form
        count = rows.column_count()
        self.wfile.write(pgcopy.response(b"H", count, binary=form.binary))
        writers = [pgvalues.encoder(_oid(rows, i)) if form.binary else _text_writer(rows, i)
                   for i in range(count)]

        def send(data: bytes) -> None:
            self.wfile.write(struct.pack("!ci", b"d", len(data) + 4) + data)
        if form.header and not form.binary:
            send(pgcopy.line([rows.column(i)[0] for i in range(count)], form))
        sent = 0
        for row in rows.rows():
            fields = [None if value is None else write(value)
                      for value, write in zip(row, writers, strict=True)]
            send(pgcopy.BINARY_HEADER * (sent == 0) + pgcopy.binary_row(fields) if form.binary
                 else pgcopy.line([None if f is None else f.decode() for f in fields], form))
            sent += 1
        if form.binary:  # a header even without rows, then the trailer
            send(pgcopy.BINARY_HEADER * (sent == 0) + pgcopy.BINARY_TRAILER)
        self.wfile.write(struct.pack("!ci", b"c", 4))
        return sent

    @_extended_message
    def handle_execute(self, ctx: postgres.BVContext, payload: bytes) -> None:
        """An extended query's Execute (buenavista's, with the rows' tag the statement's: a
        write's RETURNING ends with INSERT 0 n, not SELECT n); an error while its rows stream is
        answered, and the next Sync readies the session, as for any error."""
        end = payload.index(0)  # the portal's name, then the row limit
        portal, limit = bytes(payload[:end]).decode(), struct.unpack("!i", payload[end + 1:end + 5])[0]
        try:
            result = ctx.execute_portal(portal)
        except Exception as error:  # noqa: BLE001 (the client's to hear; the session goes on)
            self.send_error(error, ctx)
            return
        if not result.has_results():
            self.send_command_complete(f"{result.status()}\x00")
            return
        try:
            sent = self.send_data_rows(result, limit)
        except _StreamFailed as failed:
            self.send_error(failed.args[0], ctx)
            return
        if limit == 0 or sent < limit:
            self.send_command_complete(f"{result.status() or 'SELECT'} {sent}\x00")
        else:  # the rest for the portal's next Execute
            ctx.result_cache[portal] = result
            self.send_portal_suspend()

    @_extended_message
    def handle_parse(self, ctx: postgres.BVContext, payload: bytes) -> None:
        super().handle_parse(ctx, payload)

    @_extended_message
    def handle_close(self, ctx: postgres.BVContext, payload: bytes) -> None:
        super().handle_close(ctx, payload)

    def handle_post_auth(self, ctx: postgres.BVContext) -> None:
        path = pgstatements.startup_search_path(ctx.params)
        if path is not None:  # (libpq's options=-c search_path=s, JDBC's currentSchema=s)
            try:
                ctx.session.temporaries.search_path = path_of(path)
            except errors.SqlError as error:
                self.send_error(error)
                self.request.shutdown(socket.SHUT_RDWR)  # as a bad password ends it
                return
        ctx.session.notice = self.send_notice_text
        ctx.session.statements = ctx.stmts  # DEALLOCATE's, by name
        pid = ctx.process_id  # (an int4 to the client: libpq reads it signed)
        ctx.session.backend_pid = pid - 2**32 if pid >= 2**31 else pid
        super().handle_post_auth(ctx)

    def send_notice_text(self, text: str) -> None:
        body = b"".join(code + value.encode() + b"\x00" for code, value in
                        ((b"S", "NOTICE"), (b"V", "NOTICE"), (b"C", "00000"), (b"M", text))) + b"\x00"
        self.wfile.write(struct.pack("!ci", postgres.ServerResponse.NOTICE_RESPONSE, len(body) + 4) + body)

    def send_auth_request(self, ctx: postgres.BVContext) -> None:
        try:
            ctx.session.user = self.server.authenticate(None)
        except errors.AuthenticationError:  # a token is needed: it is the password
            self.wfile.write(struct.pack("!cii", postgres.ServerResponse.AUTHENTICATION_REQUEST, 8, 3))
            return
        self.send_authentication_ok()
        self.handle_post_auth(ctx)

    def handle_md5_password(self, ctx: postgres.BVContext, payload: bytes) -> None:
        """The password message (cleartext, asked for above): an API token, or the password of
        the user the startup message names."""
        password = payload.decode("utf-8").rstrip("\x00")
        try:
            ctx.session.user = self.server.sign_in(ctx.params.get("user", ""), password)
        except errors.IndbError as error:
            self.send_error(error)
            self.request.shutdown(socket.SHUT_RDWR)  # the handler's loop reads the end, and stops
            return
        self.send_authentication_ok()
        self.handle_post_auth(ctx)

    @_extended_message
    def handle_bind(self, ctx: postgres.BVContext, payload: bytes) -> None:
        data = bytes(payload)
        portal, data = _cstring(data)
        statement, data = _cstring(data)
        count, = struct.unpack("!h", data[:2])
        formats = list(struct.unpack(f"!{count}h", data[2:2 + 2 * count]))
        data = data[2 + 2 * count:]
        values, = struct.unpack("!h", data[:2])
        data = data[2:]
        formats = formats * values if len(formats) == 1 else formats or [0] * values
        if statement not in ctx.stmts:
            raise errors.ProgrammingError(f'prepared statement "{statement}" does not exist')
        sql, oids = ctx.stmts[statement]
        if 0 in oids[:values] or len(oids) < values:
            # an untyped parameter takes the type of where it stands, as PostgreSQL infers as
            # it parses (tbalance + $1 is an integer; ANY($1) an array): pgbench and
            # node-postgres send theirs untyped, in text, and never ask; inferred once a
            # statement (a probe of DuckDB's), an unnamed one each time it is parsed again
            oids = pgparams.parameter_types(sql, oids, ctx.session.type_of)
            ctx.stmts[statement] = (sql, oids)
        params = []
        for i in range(values):
            size, = struct.unpack("!i", data[:4])
            raw, data = (None, data[4:]) if size < 0 else (data[4:4 + size], data[4 + size:])
            oid = oids[i] if i < len(oids) else 0
            params.append(None if raw is None else _parameter(raw, oid, formats[i]))
        results, = struct.unpack("!h", data[:2])
        result_formats = list(struct.unpack(f"!{results}h", data[2:2 + 2 * results]))
        # a portal bound anew replaces the old one, rows left of it included (an Execute with a
        # row limit, as asyncpg's fetchval sends, keeps them for a next Execute): buenavista
        # would hand them to this portal's Execute instead of running its statement
        stale = ctx.result_cache.pop(portal, None)
        if stale is not None:
            stale.close()
        ctx.add_portal(portal, statement, params, result_formats)
        self.send_bind_complete()

    def send_ready_for_query(self, ctx: postgres.BVContext | None) -> None:
        """ReadyForQuery with the session's transaction status: idle, in a transaction, or in a
        failed one (buenavista's says failed after any error of the extended protocol)."""
        session = ctx.session if ctx is not None else None
        status = postgres.TransactionStatus.IDLE
        if isinstance(session, Session) and session.in_transaction():
            status = postgres.TransactionStatus.IN_FAILED_TRANSACTION \
                if session.transaction_failed() else postgres.TransactionStatus.IN_TRANSACTION
        self.wfile.write(struct.pack("!cic", postgres.ServerResponse.READY_FOR_QUERY, 5, status))

    @staticmethod
    def _aborting(ctx: postgres.BVContext | None, exception: Any) -> None:
        """An error the client hears aborts its open transaction (PostgreSQL's)."""
        pending = ctx.session.pending if ctx is not None and isinstance(ctx.session, Session) else None
        if pending is not None:
            pending.fail(exception)

    def send_error(self, exception: Any, ctx: postgres.BVContext | None = None) -> None:
        self._aborting(ctx, exception)
        body = pgerrors.error_fields(exception)
        try:
            self.wfile.write(struct.pack("!ci", postgres.ServerResponse.ERROR_RESPONSE, len(body) + 4)
                             + body)
        except OSError:  # the client is gone: its session is closed as the connection ends
            return
        if ctx:
            ctx.mark_error()


class _StreamFailed(Exception):
    """A result's rows failed after some were sent: ``args[0]``, the error."""


def _cstring(data: bytes) -> tuple[str, bytes]:
    end = data.index(b"\x00")
    return data[:end].decode(), data[end + 1:]


def _text_writer(result: core.QueryResult, index: int) -> Callable[[Any], bytes]:
    """How a result column writes a value in PostgreSQL's text form: a list whose type is an
    array in PostgreSQL's array form (``{1,2}``), others by buenavista's type of them."""
    if _oid(result, index) in pgparams.ARRAYS.values():
        return pgvalues.text
    if _oid(result, index) in pgparams.VECTOR_ARRAYS:
        return pgvalues.vector_text
    return pgvalues.text_writer(result.column(index)[1])


def _parameter(raw: bytes, oid: int, fmt: int) -> Any:
    """A Bind's parameter by its type; a text that does not read as it (5.0 where the server
    inferred an integer; a form of the client's own) is passed as the client's text, for
    DuckDB to cast or refuse as it would an INSERT of it."""
    try:
        return pgvalues.parameter(raw, oid, fmt)
    except (ValueError, ArithmeticError):  # decimal's InvalidOperation is an ArithmeticError
        if fmt != 0:
            raise
        return raw.decode()


def _oid(result: core.QueryResult, index: int) -> int:
    """A result column's PostgreSQL type OID: indb's rows know it, others by buenavista's type."""
    if isinstance(result, Rows | Fetched):
        return result.oid(index)
    return buenavista_oid(result.column(index)[1])


def _typmod(result: core.QueryResult, index: int) -> int:
    return result.typmod(index) if isinstance(result, Rows | Fetched) else -1


def _field(data: bytes) -> bytes:
    return struct.pack("!i", len(data)) + data


class PgServer(postgres.BuenaVistaServer):
    """The PostgreSQL protocol server, on threads of its own (one a client connection);
    with ``tls``, a client's SSLRequest starts TLS (without, it is answered 'N')."""

    daemon_threads = True  # a client left connected never holds the server's exit
    block_on_close = False

    def __init__(self, address: tuple[str, int], pool: ConnectionPool, runs: Runs,
                 authenticate: Callable[[str | None], str],
                 sign_in: Callable[[str, str], str] | None = None,
                 tls: ssl.SSLContext | None = None) -> None:
        super().__init__(address, _Connection(pool, runs))
        self.RequestHandlerClass = _Handler
        self.authenticate = authenticate  # with no password (None), or an API token
        # a password message, for the startup message's user: a token, or the user's password
        self.sign_in = sign_in or (lambda user, password: authenticate(password or None))
        self.tls = tls
        self._thread: threading.Thread | None = None

    def verify_request(self, request: Any, client_address: Any) -> bool:
        return True  # bound where the operator said; who may connect is the token's to tell

    def start(self) -> None:
        self._thread = threading.Thread(target=self.serve_forever, name="indb-pgwire", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
        self.conn.shadows.close()
