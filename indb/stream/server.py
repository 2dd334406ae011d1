"""The tickerplant's kdb+ IPC server: asyncio, one event loop thread.

Each connection starts with kdb+'s handshake (``user:password``, a capability byte, a NUL;
answered with one capability byte, or closed when the credentials are refused), then carries
messages: an 8-byte header and a PyKX-encoded object. A connection's messages are handled in
order, those read together as one batch: their updates are journalled with one write (and one
sync), then published, then the sync ones answered. A sync query runs on a thread of its own
while the loop goes on with other connections; that connection reads nothing more until it has
its answer. Memory is bounded: a message is at most ``kdb.MAX_MESSAGE`` bytes, a connection
holds what it read while it waits, and a subscriber whose unread messages pass the
tickerplant's limit is cut off.
"""

from __future__ import annotations

import asyncio
import collections
import ipaddress
import logging
import signal
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from indb.errors import AuthenticationError, IndbError, OptionError
from indb.parser.qstatements import PREFIX as Q_PREFIX
from indb.stream import access, kdb, qcalls, qfunctional, subscriptions
from indb.stream.decoding import (CHUNK_BYTES, POOL_BYTES, Decoders, Gathered, Piece, ends, gather,
                                  is_update, pieces)
from indb.stream.tickerplant import FLUSH_SECONDS, SUBSCRIBER_LIMIT, Subscriber, Tickerplant, Update

Authenticate = access.Authenticate
QUERY_THREADS = 4
# bytes one read may take from a connection (asyncio's own reads take 256 KB): the updates of
# a read are checked, journalled and synced together, so a feed that sends faster than the
# disk syncs gets larger batches, not a longer queue
READ_BYTES = 4 << 20
MAX_CREDENTIALS = 1024  # bytes of a handshake, at most
# a read of several messages is decoded and gathered (``decoding.gather``) in pieces of about
# this size on the loop (few decoded messages in memory at once), or in the decoder processes'
# pieces (``decoding.CHUNK_BYTES``); a connection whose pieces at the decoders pass
# DECODING_LIMIT bytes is read no more until they come back
PIECE_BYTES = 64 << 10
DECODING_LIMIT = 32 << 20

# a queued message (its header, its bytes, and its value where it was decoded already), a run
# of updates gathered from a piece, or a piece of messages read together
Item = tuple[kdb.Header, bytes, Any] | tuple[Gathered, Piece] | Piece
Call = tuple[str, Any, bytes] | Update  # an update read, not yet checked; or checked

log = logging.getLogger("indb.stream")


class KdbConnection(asyncio.BufferedProtocol):
    """One client: a feed, a subscriber or a querier (or all three)."""

    def __init__(self, server: TickServer) -> None:
        self.server = server
        self.plant = server.plant
        self.transport: asyncio.Transport | None = None
        self.buffer = bytearray()
        self.user: str | None = None
        self.queue: collections.deque[Item] = collections.deque()
        self.busy = False  # a sync query of this connection is running
        self.decoding = 0  # bytes of this connection's pieces at the decoder processes
        self._calls: list[Call] = []  # updates read, not yet journalled
        # answers to send once those are journalled: a message, or the index of a sync update
        # call (answered ``::``, or its error)
        self._replies: list[bytes | int] = []
        self.subscriber: Subscriber | None = None
        self.name = "?"
        self.handle: int = 0  # kdb+'s handle of the connection (.z.w): its socket's descriptor
        self.signing_in = False  # the handshake's credentials are being checked

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        peer = transport.get_extra_info("peername")
        self.name = f"{peer[0]}:{peer[1]}" if isinstance(peer, tuple) else str(peer)
        sock = transport.get_extra_info("socket")
        self.handle = sock.fileno() if sock is not None else 0

    def connection_lost(self, exc: Exception | None) -> None:
        if self.subscriber is not None:
            self.plant.unsubscribe(self.subscriber)
        self.queue.clear()
        self.server.connections.discard(self)

    def get_buffer(self, sizehint: int) -> memoryview:
        return self.server.read_view  # one for all: what is read is copied out at once

    def buffer_updated(self, nbytes: int) -> None:
        self.data_received(self.server.read_view[:nbytes])

    def data_received(self, data: bytes | memoryview) -> None:
        self.buffer += data
        if self.user is None and not self._handshake():
            return
        try:
            whole = ends(self.buffer)
        except kdb.MessageError as error:  # the stream cannot be followed after a bad header
            log.warning("kdb+ client %s sent what is not a kdb+ message: %s", self.name, error)
            self._write(kdb.error_message(str(error)))
            self._close()
            return
        if whole:
            self._read(whole)
            del self.buffer[:whole[-1]]  # once a read, not once a message: a read holds thousands
        self._run()

    def _read(self, whole: list[int]) -> None:
        """Queue the whole messages read (they end at ``whole``): one alone as it is, several
        in pieces that ``gather`` decodes, here or in the decoder processes."""
        buffer = self.buffer
        if len(whole) == 1:
            message = bytes(buffer[:whole[0]])
            self.queue.append((kdb.header(message), message, None))
            return
        stamp = self.plant.clock()  # the time filled in: they were read together
        fills = self.plant.fills()
        decoders = self.server.decoders
        if decoders is None or whole[-1] < POOL_BYTES:
            for start, end in pieces(whole, PIECE_BYTES):
                data = bytes(buffer[start:end])
                self.queue.append(Piece(data, stamp, fills, gather(data, stamp, fills)))
            return
        for start, end in pieces(whole, CHUNK_BYTES):
            piece = Piece(bytes(buffer[start:end]), stamp, fills)
            decoders.submit(piece, asyncio.get_running_loop())
            assert piece.future is not None
            piece.future.add_done_callback(lambda _: self._run())
            self.decoding += len(piece.data)
            self.queue.append(piece)
        if self.decoding > DECODING_LIMIT and self.transport is not None:
            self.transport.pause_reading()  # until the decoders catch up (``_run``)

    def _handshake(self) -> bool:
        if self.signing_in:
            return False
        end = self.buffer.find(b"\0")
        if end < 0:
            if len(self.buffer) > MAX_CREDENTIALS:
                self._close()
            return False
        credentials = bytes(self.buffer[:end])
        del self.buffer[:end + 1]
        capability = 0
        if credentials and credentials[-1] < 32:
            capability, credentials = credentials[-1], credentials[:-1]
        user, _, password = credentials.decode(errors="replace").partition(":")
        # on a thread (a password is checked slowly, by design); nothing is read meanwhile
        assert self.transport is not None
        self.signing_in = True
        self.transport.pause_reading()
        future = asyncio.get_running_loop().run_in_executor(
            self.server.threads, access.sign_in, self.plant.engine.db, self.server.authenticate,
            user, password)
        future.add_done_callback(lambda done: self._signed_in(done, capability))
        return False

    def _signed_in(self, future: asyncio.Future[str], capability: int) -> None:
        self.signing_in = False
        try:
            self.user = future.result()
        except (AuthenticationError, IndbError) as error:
            log.warning("kdb+ client %s refused: %s", self.name, error)
            self._close()  # kdb+'s answer to bad credentials: the connection closes ('access)
            return
        self._write(bytes([min(capability, kdb.CAPABILITY)]))
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self.data_received(b"")  # messages sent right after the handshake

    # -- messages ----------------------------------------------------------------------------

    def _run(self) -> None:
        """Handle queued messages until they run out or a sync query must wait for its thread.
        Consecutive updates form one batch; anything else first settles the batch before it, so
        it sees (and answers after) every update sent before it."""
        while self.queue and not self.busy:
            item = self.queue[0]
            if isinstance(item, Piece):
                if not item.ready():
                    break  # its decoder's answer runs this again
                self.queue.popleft()
                self._gathered(item)
                continue
            self.queue.popleft()
            if isinstance(item[0], Gathered):
                self._checked(item[0], item[1])
                continue
            head, message, obj = item
            sync = head.message_type == kdb.SYNC
            try:
                if obj is None:
                    obj = kdb.decode(message)
                if is_update(obj):  # checked with the others read with it, at the batch's end
                    if sync:
                        self._replies.append(len(self._calls))
                    self._calls.append((kdb.text(obj[1]), obj[2], message))
                    continue
                form = qcalls.read(kdb.text(obj)) if kdb.is_name(obj) else None  # `.u `i`L
                if kdb.is_name(obj) and form is None:
                    self._settle()
                    self._query(kdb.text(obj), sync)
                    continue
                functional = qfunctional.query_text(obj)  # PyKX's conn.qsql.select(...)
                sql = qfunctional.sql_call(obj)  # PyKX's conn.sql(...)
                if functional is not None or sql is not None:
                    self._settle()
                    if sql is not None:
                        self._query(sql[0], sync, sql[1])
                    else:
                        self._query(Q_PREFIX + str(functional), sync)
                    continue
                if form is not None:
                    self._settle()
                answer = self._call(obj) if form is None else qcalls.evaluate(form, self)
                if sync:
                    self._replies.append(kdb.encode(answer, kdb.RESPONSE))
            except Exception as error:  # noqa: BLE001 (the client hears of it; the server goes on)
                refusal = self._refused(error, sync)
                if refusal is not None:
                    self._replies.append(refusal)
        self._settle()

    def _gathered(self, piece: Piece) -> None:
        """A piece's segments back at the head of the queue, in order (a sync query among them
        holds up the rest)."""
        if piece.future is not None:
            self.decoding -= len(piece.data)
            if self.decoding <= DECODING_LIMIT // 2 and not self.busy and \
                    self.transport is not None and not self.transport.is_closing():
                self.transport.resume_reading()
        items: list[Item] = []
        for segment in piece.segments or []:
            if isinstance(segment, Gathered):
                items.append((segment, piece))
            else:
                message = piece.data[segment[0]:segment[1]]
                items.append((kdb.header(message), message, segment[2]))
        self.queue.extendleft(reversed(items))

    def _checked(self, run: Gathered, piece: Piece) -> None:
        """A run of updates gathered from a piece, checked as one update (the user's INSERT,
        the table's columns); should it not check, its messages go back in the queue one at a
        time, each to be checked alone, for its own error."""
        try:
            self._may("INSERT", [run.table])
            update = self.plant.gathered(run.table, run.vectors, run.timed, piece.stamp,
                                         frames=run.frames, framed=run.count,
                                         logged=run.logged, fills=piece.fills)
        except IndbError:
            update = None
        if update is None:
            data = piece.data[run.start:run.end]
            starts = [0, *ends(data)]
            self.queue.extendleft(reversed([
                (kdb.header(data, a), data[a:b], None) for a, b in zip(starts, starts[1:])]))
            return
        self._replies.extend([len(self._calls)] * len(run.syncs))  # each answered ``::``
        self._calls.append(update)

    def _refused(self, error: Exception, sync: bool) -> bytes | None:
        """A message that failed: the sync caller's error reply, or None and a line in the log."""
        self.plant.rejected += 1
        if not isinstance(error, IndbError | kdb.MessageError):
            log.error("kdb+ client %s: message failed", self.name, exc_info=error)
            error = kdb.MessageError(f"{type(error).__name__}: {error}")
        if sync:
            return kdb.error_message(str(error))
        log.warning("kdb+ client %s: async message refused: %s", self.name, error)
        return None

    def _settle(self) -> None:
        """Check, journal, apply and publish the batch of updates (stamped with one time: they
        were read together), then send the replies so far."""
        calls, replies = self._calls, self._replies
        self._calls, self._replies = [], []
        errors = self._commit(calls) if calls else {}
        synced = {r for r in replies if isinstance(r, int)}
        for index, error in errors.items():
            if index not in synced:
                self._refused(error, False)
        for reply in replies:
            if isinstance(reply, int):  # a sync update's answer
                reply = self._refused(errors[reply], True) or b"" if reply in errors else UPDATED
            self._write(reply)

    def _commit(self, calls: list[Call]) -> dict[int, Exception]:
        """Journal, apply and publish the updates this user may make (INSERT on the table,
        checked once a table; those checked already as they are); the errors of those refused,
        by their index."""
        errors: dict[int, Exception] = {}
        raw = [(i, call) for i, call in enumerate(calls) if not isinstance(call, Update)]
        for name in {call[0] for _, call in raw}:
            try:
                self._may("INSERT", [name])
            except Exception as error:  # noqa: BLE001 (each of its updates is refused)
                errors.update((i, error) for i, call in raw if call[0] == name)
        stamp, updates = self.plant.clock(), []
        run: list[tuple[int, tuple[str, Any, bytes]]] = []  # unchecked, checked together
        for index, call in [*enumerate(calls), (-1, None)]:
            if call is None or isinstance(call, Update):
                prepared, refused = self.plant.prepare_many([c for _, c in run], stamp)
                updates += prepared
                errors.update((run[i][0], error) for i, error in refused.items())
                run = []
                if call is not None:
                    updates.append(call)
            elif index not in errors:
                run.append((index, call))
        self.plant.commit(updates)  # journalled before anyone hears of them
        return errors

    def _call(self, obj: Any) -> Any:
        """A function call ``(name; args...)``, or a variable by its name; what it returns."""
        if kdb.is_name(obj):  # ".u.i" (what else a string holds is read by ``qcalls``)
            self._settle()
            return self.plant.variable(kdb.text(obj))
        items = list(obj) if isinstance(obj, np.ndarray) and obj.dtype == object else []
        if not items or not kdb.is_name(items[0]):
            raise kdb.MessageError("the tickerplant takes calls (`.u.upd; t; x), (`.u.sub; t; "
                                   f"syms) and query strings (SQL or q-sql), not {obj!r:.80}")
        name, args = kdb.text(items[0]), items[1:]
        if name in kdb.UPDATES:  # with two arguments it was taken as an update (``is_update``)
            _arity(name, args, 2)
        self._settle()
        if name == ".u.sub":
            _arity(name, args, 2)
            self._may("SELECT", [kdb.text(args[0])] if kdb.text(args[0]) else self.plant._table_names())
            return self.plant.subscribe(self._subscriber(), kdb.text(args[0]), kdb.symbols(args[1]))
        if name == ".u.endofday":
            self._may("ROLE", [access.rules.ADMIN])
            self.plant.end_of_day()
            return NOTHING
        return qcalls.other(self, name, args)  # .u.del, or the error naming the functions

    def update(self, name: str, x: Any, message: bytes) -> None:
        """An update a q string called (``.u.upd[`t;x]``): journalled and applied now, after
        those read before it; its error raised."""
        self._settle()
        errors = self._commit([(name, x, message)])
        if errors:
            raise errors[0]

    def _may(self, privilege: str, names: list[str]) -> None:
        """Refuse what this connection's user may not do (a kdb+ error naming the grant)."""
        assert self.user is not None
        self.server.grants.check(self.user, privilege, names)

    def _subscriber(self) -> Subscriber:
        if self.subscriber is None:
            transport = self.transport
            assert transport is not None
            self.subscriber = Subscriber(self.name, self._write, transport.get_write_buffer_size,
                                         self._close)
            assert self.user is not None
            self.subscriber.may_read = access.reader(self.server.grants, self.user, self.subscriber)
        return self.subscriber

    def _query(self, text: str, sync: bool, params: list[Any] | None = None) -> None:
        """Run a query (with ``params`` for its ``$1``...) on a thread; the connection reads no
        more until it is answered."""
        if not sync:
            log.warning("kdb+ client %s sent a query async: nothing to answer, not run", self.name)
            return
        self.busy = True
        assert self.transport is not None and self.user is not None
        self.transport.pause_reading()
        loop = asyncio.get_running_loop()
        future = loop.run_in_executor(self.server.threads, _answer, self.plant, text, self.user,
                                      params)
        future.add_done_callback(self._answered)

    def _answered(self, future: asyncio.Future[bytes]) -> None:
        self._write(future.result())
        self.busy = False
        if self.transport is not None and not self.transport.is_closing():
            self.transport.resume_reading()
            self._run()

    def _write(self, data: bytes) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.write(data)

    def _close(self) -> None:
        if self.transport is not None:
            self.transport.abort()


NOTHING = kdb.kx.toq(None)  # q's generic null, ::, what .u.upd returns
UPDATED = kdb.encode(NOTHING, kdb.RESPONSE)  # the answer to a sync update
def _arity(name: str, args: list[Any], count: int) -> None:
    if len(args) != count:
        raise kdb.MessageError(f"{name} takes {count} arguments, not {len(args)}")


def _answer(plant: Tickerplant, text: str, user: str, params: list[Any] | None = None) -> bytes:
    """A sync query's response message: its rows, or the error."""
    try:
        return kdb.encode(plant.query(text, user, params), kdb.RESPONSE)
    except IndbError as error:
        return kdb.error_message(str(error))
    except Exception as error:  # noqa: BLE001 (a query's failure is the client's answer, not the server's end)
        log.exception("query %r failed", text)
        return kdb.error_message(f"{type(error).__name__}: {error}")


class TickServer:
    """The tickerplant served over kdb+ IPC on ``host:port`` (port 0: any free one)."""

    def __init__(self, plant: Tickerplant, host: str = "127.0.0.1", port: int = 5010,
                 authenticate: Authenticate | None = None, decoders: int = 0) -> None:
        self.plant = plant
        # processes that decode large reads while the loop journals what came before
        self.decoders = Decoders(decoders) if decoders else None
        self.host, self.port = host, port
        self.authenticate = authenticate or access.owner_while_no_users(plant.engine.db)
        self.grants = access.Grants(plant.engine)
        self.threads = ThreadPoolExecutor(QUERY_THREADS, thread_name_prefix="indb-tick-query")
        self.connections: set[KdbConnection] = set()
        self.read_view = memoryview(bytearray(READ_BYTES))  # the loop's reads land here
        self.loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: asyncio.Server | None = None
        self._failure: BaseException | None = None
        self._stopped = threading.Event()
        self.subscriptions: subscriptions.Subscriptions | None = None  # started with the timers

    def start(self) -> None:
        """Serve on a thread of its own; returns once it listens (``port`` is then the real one)."""
        self._thread = threading.Thread(target=self.run, name="indb-tick", daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._failure is not None:
            raise self._failure

    def run(self) -> None:
        """Serve until ``stop()`` (on the calling thread)."""
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._listen())
        except BaseException as error:
            self._failure = error
            self._ready.set()
            raise
        self._ready.set()
        self._timers()
        try:
            self.loop.run_forever()
        finally:
            self._shutdown()

    async def _listen(self) -> None:
        def connection() -> KdbConnection:
            made = KdbConnection(self)
            self.connections.add(made)
            return made
        self._server = await self.loop.create_server(connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        log.info("tickerplant listening on %s:%s (journal %s)", self.host, self.port,
                 self.plant.journal.path)

    def _timers(self) -> None:
        """The journal's sync (every ``fsync_ms``), end of day (checked each second) and the
        scheduled flush; the sync and the flush on threads: the loop goes on taking updates."""
        plant = self.plant
        if plant.fsync_ms:
            threading.Thread(target=self._syncing, name="indb-tick-sync", daemon=True).start()

        def day() -> None:
            self.loop.call_later(1.0, day)  # first: a failed end of day is tried again
            if plant.day_ended():
                try:
                    plant.end_of_day()
                except Exception:  # noqa: BLE001 (its rows stay in memory and the journal)
                    log.exception("end of day failed; trying again in a second")
        day()
        if plant.flush_seconds:
            seconds = plant.flush_seconds

            def flush() -> None:
                self.loop.run_in_executor(self.threads, _flush, plant)
                self.loop.call_later(seconds, flush)
            self.loop.call_later(seconds, flush)
        self.subscriptions = subscriptions.start(plant, self.loop, self.threads)

    def _syncing(self) -> None:
        """Sync the journal every ``fsync_ms``, until the server stops."""
        while not self._stopped.wait(self.plant.fsync_ms / 1000):
            self.plant.journal.sync_due()

    def run_until_signal(self) -> None:
        """Serve on this (the main) thread until SIGTERM or SIGINT."""
        def stop(signum: int, frame: object) -> None:
            log.info("tickerplant stopped by signal %s", signum)
            self.loop.call_soon_threadsafe(self.loop.stop)
        previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            self.run()
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)

    def close(self) -> None:
        """Close the tickerplant and its database, once the server has stopped."""
        self.plant.close()
        self.plant.engine.close()

    def stop(self) -> None:
        """Stop serving (from any thread); the journal is written and synced."""
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
        if self._thread is not None:
            self._thread.join()

    def _shutdown(self) -> None:
        self._stopped.set()
        if self._server is not None:
            self._server.close()
        if self.subscriptions is not None:
            self.subscriptions.close()
        for connection in list(self.connections):
            connection._close()
        self.threads.shutdown(wait=True)
        if self.decoders is not None:
            self.decoders.close()
        self.plant.journal.commit()
        self.plant.journal.sync()


def _flush(plant: Tickerplant) -> None:
    try:
        count = plant.flush()
        if count:
            log.info("flushed %d real-time rows into their tables", count)
    except Exception:  # noqa: BLE001 (the rows stay in memory and the journal; the next flush tries again)
        log.exception("flush failed; the rows stay in memory and in the journal")


def open_tickerplant(db: str | Path, *, host: str = "127.0.0.1", port: int = 5010,
                     journal: str | Path | None = None, fsync_ms: int = 0,
                     flush_seconds: float | None = FLUSH_SECONDS,
                     subscriber_limit: int = SUBSCRIBER_LIMIT,
                     authenticate: Authenticate | None = None,
                     workers: int | None = None, decoders: int = 0,
                     kdb_log: bool = True) -> TickServer:
    """A tickerplant for the database ``db`` and its server, not started yet (``start()`` on a
    thread, ``run()`` on this one); ``close()`` after it stops."""
    from indb.engine.core import Engine
    if authenticate is None and not _loopback(host):
        raise OptionError(f"a tickerplant on {host} (beyond loopback) needs an authenticator "
                          "that checks its clients' tokens (indb serve --tick has one)")
    engine = Engine(db, workers=workers)
    try:
        plant = Tickerplant(engine, journal=journal, fsync_ms=fsync_ms,
                            flush_seconds=flush_seconds, subscriber_limit=subscriber_limit,
                            kdb_log=kdb_log)
    except BaseException:
        engine.close()
        raise
    try:
        return TickServer(plant, host, port, authenticate, decoders)
    except BaseException:
        plant.close()
        engine.close()
        raise


def _loopback(host: str) -> bool:
    try:
        return host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
