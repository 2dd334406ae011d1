"""A subscription's function in a resident process of its own, sandboxed as UDF instances are.

``Resident`` (in the tickerplant) starts ``python -m indb.stream.resident FD`` once, through
``indb.sharding.sandbox`` where the machine can confine it (Landlock: it reads Python, indb, the
function's code and the database's models, writes only its staging directory, opens no TCP),
and talks to it over a socket pair: length-framed messages (``multiprocessing``'s
``send_bytes``, which the process uses; the tickerplant's end is an asyncio connection of its
event loop, ``Framed``), each a kind byte and a body. Rows go as Arrow IPC streams, everything else as
JSON; nothing the process sends is unpickled, so a hostile function can make its own answers
wrong but cannot run code in the tickerplant.

- tickerplant -> process: ``S`` the setup (the function, its code directory, parameters, output
  tables, device, the pre-processing query; then, when it says ``seeded``, the window state as
  an Arrow stream), then ``B`` a batch's rows, once per batch;
- process -> tickerplant: ``U`` once, when it has loaded the function and is ready for
  batches (a batch's timeout counts from there, not from a start that a busy machine slows);
  ``M`` a model's name and version (``ctx.models.load``; the tickerplant
  reads the catalog and answers ``M`` with the version's facts), then ``R`` the results in one
  message (JSON: each output's Arrow stream's length, null for none, and how the query ran; a
  newline, then the streams: one message wakes the tickerplant once), or ``Q`` the query's
  error or ``E`` the function's.

The pre-processing query runs here too (``indb.stream.window``), before the function, with the
window state kept here between batches: off the tickerplant's GIL, on a DuckDB connection of the
process's own. The tickerplant keeps a copy of the state (``window.Mirror``) to seed a new process.

What runs a batch, the function with its window state and context, is ``Served``: in this
process, or in the tickerplant's own with ``ISOLATION = 'none'`` (``indb.stream.inline``).

The process loads the function once and keeps it, and the models it loads, for as long as the
subscription runs; a process that dies (a crash, ``os._exit`` in the function) fails the batch
it was running, and the next batch starts a new one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

import pyarrow as pa

from indb.errors import FunctionError, IndbError, SqlError
from indb.registry.functions import FunctionInfo
from indb.registry.models import ModelInfo
from indb.sharding import sandbox
from indb.sharding.jobs import Job
from indb.stream.window import Mirror, Window

if TYPE_CHECKING:
    from indb.stream.inline import Inline

SETUP, BATCH, MODEL, RESULTS, ERROR, QUERY_ERROR, READY = b"S", b"B", b"M", b"R", b"E", b"Q", b"U"
LENGTH = struct.Struct("!i")  # multiprocessing's framing: a message's length, then its bytes
MAX_FRAME = 1 << 30  # bytes of one message either way, at most
LOOKUP_SECONDS = 1.0  # how long the process uses a model version's facts before asking again

log = logging.getLogger("indb.stream")


def to_ipc(table: pa.Table) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


def from_ipc(data: bytes | memoryview, check: bool = True) -> pa.Table:
    with pa.ipc.open_stream(pa.py_buffer(data)) as reader:
        table = reader.read_all()
    if check:  # what the function's process sent: checked before the tickerplant uses it
        table.validate(full=True)
    return table


class Results(NamedTuple):
    """A batch's outputs, one a table (None: nothing for that one), and how the
    pre-processing query ran: ``query`` is ``incremental``, or ``duckdb: why`` (None: no
    query); ``fell_back``: this batch was left to DuckDB (rows out of order, say)."""
    outputs: list[pa.Table | None]
    query: str | None = None
    fell_back: bool = False


class Ready(NamedTuple):
    """The process has loaded the function: it takes batches from now on."""


class ModelAsked(NamedTuple):
    """The process asks for a model version's facts (``ctx.models.load``)."""
    name: str
    version: int | str | None


# what a subscription's function says: a batch's results, a model it asks about, that it is
# ready, or a batch's error (the query's SqlError, or the function's)
Heard = Results | ModelAsked | Ready | IndbError


class Resident:
    """The tickerplant's end of a subscription's process: started off the event loop
    (``start``: the process spawned and set up), then written and read on it (``attach``),
    one batch at a time."""

    def __init__(self, name: str, function: FunctionInfo, code_dir: str, db_path: str,
                 params: dict[str, str], outputs: tuple[str, ...], device: str,
                 lookup: Callable[[str, int | str | None], ModelInfo],
                 query: dict[str, Any] | None = None) -> None:
        """``query``: the pre-processing query's part of the plan (``name``, ``table``,
        ``query``, ``windowed``, ``keys``, ``history``), run in the process; None: none."""
        self.name, self.function, self.code_dir, self.db_path = name, function, code_dir, db_path
        self.params, self.outputs, self.device, self.lookup = params, outputs, device, lookup
        self.query = query
        self.mirror = mirror_of(query)
        self.process: subprocess.Popen[bytes] | None = None
        self.sock: socket.socket | None = None  # the process's socket until ``attach``
        self.link: Framed | None = None  # and after it
        self.staging: Path | None = None
        self.confined = False

    def start(self) -> None:
        """Start the process (it imports the function at once), off the event loop."""
        if self.sock is None and self.link is None:
            self._spawn()

    def _spawn(self) -> None:
        scratch = Path(tempfile.mkdtemp(prefix=f"indb-subscription-{self.name}-"))
        job = Job(run_id=f"subscription-{self.name}", function=self.function,
                  code_dir=self.code_dir, shard=0, shards=1, inputs=(), outputs=(),
                  params=self.params, work_dir=str(scratch), db_path=self.db_path, db_id="",
                  io_properties={}, deadline=None)
        if self.device == "cuda":  # CUDA does not start inside the sandbox yet (sandbox._gpu)
            rules, refused = None, ("CUDA does not start inside the sandbox yet"
                                    if sandbox.mode() == "on" else None)
        else:
            rules, refused = sandbox.decide(job)
        if refused is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            raise FunctionError(f"subscription {self.name}: {refused}")
        parent, child = socket.socketpair()
        argv = [sys.executable, "-m", "indb.stream.resident", str(child.fileno())]
        env = dict(os.environ)
        # one thread a library (torch, BLAS) unless the tickerplant's environment says otherwise:
        # a micro-batch is too small to share, and threads that wait for each other on a busy
        # machine made a 60-row batch of the autoencoder 16 ms instead of 0.3 ms
        env.setdefault("OMP_NUM_THREADS", "1")
        if rules is not None:
            shutil.rmtree(scratch, ignore_errors=True)
            self.staging = sandbox.staging_dir(rules)
            scratch = self.staging / "scratch"
            scratch.mkdir()
            env.update(sandbox.environment(self.staging))
            argv = sandbox.command(rules, self.staging, argv)
        else:
            self.staging = scratch
        self.confined = rules is not None
        try:
            self.process = subprocess.Popen(argv, pass_fds=(child.fileno(),), env=env,
                                            cwd=str(scratch), start_new_session=True)
        finally:
            child.close()
        self.sock = parent
        seed = self.mirror.fold() if self.mirror is not None else None
        setup = {**setup_of(self, scratch), "seeded": seed is not None}
        parent.sendall(framed(SETUP + json.dumps(setup).encode()))
        if seed is not None:  # a process started again: the windows go on where they were
            parent.sendall(framed(to_ipc(seed)))
        log.info("subscription %s: its function runs in process %d (%s)", self.name,
                 self.process.pid, "sandboxed" if self.confined else "not sandboxed")

    def attach(self, loop: asyncio.AbstractEventLoop, on_heard: Callable[[Heard], None],
               on_lost: Callable[[], None]) -> None:
        """From now on the process is read and written on ``loop``: what each message it sends
        says goes to ``on_heard``, the end of its socket to ``on_lost``."""
        sock, self.sock = self.sock, None
        assert sock is not None
        link = self.link = Framed(lambda message: on_heard(reply(message)), on_lost)
        loop.create_task(loop.connect_accepted_socket(lambda: link, sock=sock))

    def send(self, rows: pa.Table) -> None:
        """Hand the process a batch (the mirror keeps its rows whatever comes)."""
        assert self.link is not None
        if self.mirror is not None:
            self.mirror.add(rows)
        self.link.send(BATCH + to_ipc(rows))

    def answer(self, model: bytes) -> None:
        """The answer to ``ModelAsked`` (``model_facts``'s, made off the event loop)."""
        assert self.link is not None
        self.link.send(MODEL + model)

    def model_facts(self, asked: ModelAsked) -> bytes:
        """A model version's facts from the catalog, or the error to tell the function."""
        try:
            return json.dumps({"info": self.lookup(asked.name, asked.version).to_json()}).encode()
        except Exception as error:  # noqa: BLE001 (the function hears of it, as ctx.models.load's error)
            return json.dumps({"error": f"{type(error).__name__}: {error}"}).encode()

    def ended(self) -> str:
        """End the process (killed if it still runs); how it ended, for an error message."""
        return _how(self._end())

    def _end(self) -> int | None:
        if self.link is not None:
            self.link.close()
            self.link = None
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        code = None
        if self.process is not None and self.process.poll() is None:
            self.process.kill()  # it has had its chance: a batch failed, or the subscription ends
        if self.process is not None:
            try:
                code = self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait()
            self.process = None
        if self.staging is not None:
            shutil.rmtree(self.staging, ignore_errors=True)
            self.staging = None
        return code

    def close(self) -> None:
        """End the process (it exits when its socket closes)."""
        self._end()


def reply(message: bytes) -> Heard:
    """What a message from the process says: a batch's results, a model it asks about, that
    it is ready, or the batch's error (``FunctionError``, or ``SqlError`` for the query's)."""
    kind, body = message[:1], message[1:]
    if kind == RESULTS:
        try:
            return _results(body)
        except FunctionError as error:
            return error
    if kind == MODEL:
        try:
            asked = json.loads(body)
            return ModelAsked(str(asked["name"]), asked["version"])
        except (ValueError, TypeError, KeyError):
            return FunctionError("the function's process asked for a model in a message that "
                                 "does not read")
    if kind == READY:
        return Ready()
    if kind == ERROR:
        return FunctionError(body.decode(errors="replace"))
    if kind == QUERY_ERROR:
        return SqlError(body.decode(errors="replace"))
    return FunctionError(f"the function's process sent {kind!r}, not a result")


def framed(message: bytes) -> bytes:
    """A message as ``multiprocessing``'s ``send_bytes`` frames it (the process reads it with
    ``recv_bytes``): its length, a big-endian int32, then its bytes."""
    if len(message) > MAX_FRAME:
        raise FunctionError(f"a batch of {len(message)} bytes is more than a subscription's "
                            f"process takes ({MAX_FRAME}); lower its MAX_BATCH")
    return LENGTH.pack(len(message)) + message


class Framed(asyncio.Protocol):
    """A subscription's process's socket on the event loop: its messages, framed as
    ``multiprocessing`` frames them, taken out as they complete, so that the loop never waits
    for one that has not all arrived (a hostile process could send half of one and stop);
    writes are the transport's, buffered, never blocking."""

    def __init__(self, on_message: Callable[[bytes], None], on_lost: Callable[[], None]) -> None:
        self.on_message, self.on_lost = on_message, on_lost
        self.transport: asyncio.Transport | None = None
        self.pending: list[bytes] = []  # written before the transport was made
        self.buffer = bytearray()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.closed:
            transport.abort()
            return
        for data in self.pending:
            transport.write(data)
        self.pending.clear()

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        while len(self.buffer) >= LENGTH.size and not self.closed:
            size, start = LENGTH.unpack_from(self.buffer)[0], LENGTH.size
            # (-1 is multiprocessing's header of a message past 2 GB: past MAX_FRAME too)
            if size < 0 or size > MAX_FRAME:
                log.warning("subscription process sent a message of %d bytes: cut off", size)
                self.close()
                self.on_lost()
                return
            if len(self.buffer) < start + size:
                return
            message = bytes(self.buffer[start:start + size])
            del self.buffer[:start + size]
            self.on_message(message)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.closed:
            self.closed = True
            self.on_lost()

    def send(self, message: bytes) -> None:
        data = framed(message)
        if self.transport is None:
            self.pending.append(data)
        elif not self.transport.is_closing():
            self.transport.write(data)

    def close(self) -> None:
        """Close the socket; ``on_lost`` is not called for it."""
        self.closed = True
        if self.transport is not None:
            self.transport.abort()


def _results(body: bytes) -> Results:
    """An ``R`` message's body: the JSON head (the streams' lengths, how the query ran), a
    newline, the Arrow streams."""
    head, _, data = body.partition(b"\n")
    try:
        said = json.loads(head)
    except ValueError:
        said = None
    lengths = said.get("lengths") if isinstance(said, dict) else None
    if not isinstance(lengths, list):
        raise FunctionError("the function's process sent results that do not read")
    query = said.get("query")  # (``said`` is a dict: it gave the lengths)
    view, at = memoryview(data), 0
    results: list[pa.Table | None] = []
    for length in lengths:
        if length is None:
            results.append(None)
            continue
        if not isinstance(length, int) or length < 0 or at + length > len(data):
            raise FunctionError("the function's process sent results that do not add up")
        results.append(from_ipc(view[at:at + length]))
        at += length
    return Results(results, query if isinstance(query, str) else None,
                   said.get("fell_back") is True)


def _how(code: int | None) -> str:
    if code is None:
        return "still running"
    return f"killed by signal {-code}" if code < 0 else f"exit code {code}"


# -- the function at work, wherever it runs ------------------------------------------------

def remembered(ask: Callable[[str, int | str | None], ModelInfo]
               ) -> Callable[[str, int | str | None], ModelInfo]:
    """``ask`` for a model version's facts, its answers reused for ``LOOKUP_SECONDS`` (a
    catalog read, and from the process a round trip, each batch were milliseconds)."""
    looked: dict[tuple[str, int | str | None], tuple[float, ModelInfo]] = {}

    def lookup(name: str, version: int | str | None) -> ModelInfo:
        now = time.monotonic()
        seen = looked.get((name, version))
        if seen is not None and now - seen[0] < LOOKUP_SECONDS:
            return seen[1]
        info = ask(name, version)
        looked[(name, version)] = now, info
        return info
    return lookup


def mirror_of(query: dict[str, Any] | None) -> Mirror | None:
    """The tickerplant's copy of a windowed query's state (None: no window state to keep)."""
    if query is None or not query["windowed"]:
        return None
    return Mirror(tuple(query["keys"]), int(query["history"]))


def setup_of(runner: Resident | Inline, scratch: Path) -> dict[str, Any]:
    """What ``Served`` is made from (JSON): ``runner``'s function, code, parameters, outputs,
    device and query (a ``Resident``, or ``indb.stream.inline.Inline``), ``scratch`` its
    directory."""
    return {"function": runner.function.to_json(), "code_dir": runner.code_dir,
            "params": runner.params, "outputs": list(runner.outputs), "device": runner.device,
            "scratch": str(scratch), "run_id": f"subscription-{runner.name}",
            "query": runner.query}


class Served:
    """A subscription's function loaded where it runs (its process, or the tickerplant's with
    ``ISOLATION = 'none'``), with its window state and its context: ``batch`` runs a batch,
    ``keep`` brings the window state up to date once the batch's results have gone."""

    def __init__(self, setup: dict[str, Any], seed: pa.Table | None,
                 lookup: Callable[[str, int | str | None], ModelInfo]) -> None:
        """``setup``: ``setup_of``'s; ``seed``: the window state to go on from."""
        from indb.sharding.host import load_handler
        from indb.udf.context import Context
        from indb.udf.models import Models

        self.function = function = FunctionInfo.from_json(setup["function"])
        scratch = Path(setup["scratch"])
        self.job = Job(run_id=setup["run_id"], function=function, code_dir=setup["code_dir"],
                       shard=0, shards=1, inputs=(), outputs=(), params=setup["params"],
                       work_dir=str(scratch), db_path="", db_id="", io_properties={},
                       deadline=None)
        self.device, self.outputs = setup["device"], tuple(setup["outputs"])
        self.window = Window(setup["query"], seed) if setup["query"] is not None else None
        self.handler: Any = None
        try:
            self.handler = load_handler(self.job)  # at once: the first batch does not wait
        except Exception:  # noqa: BLE001 (tried again, and reported, with the first batch)
            self.handler = None
        self.context = Context(run_id=self.job.run_id, function=function.name, shard=0,
                               shards=1, mode=function.mode, params=setup["params"],
                               scratch=scratch, outputs=self.outputs,
                               models=Models(lookup, str(scratch), self.device),
                               device=self.device)

    def batch(self, rows: pa.Table) -> Results:
        """A batch's results; raises the query's SqlError or the function's error."""
        from indb.sharding.host import load_handler
        from indb.udf.frames import to_frame, to_outputs

        window = self.window
        fallbacks = window.fallbacks if window is not None else 0
        if window is not None:
            rows = window.rows(rows)
        if self.handler is None:
            self.handler = load_handler(self.job)
        frame = to_frame(rows, self.function.frame, self.device)
        results = to_outputs(self.handler(self.context, frame), self.outputs)
        return Results(results, None if window is None else window.described,
                       window is not None and window.fallbacks > fallbacks)

    def keep(self) -> None:
        if self.window is not None:
            self.window.keep()

    def close(self) -> None:
        if self.window is not None:
            self.window.close()


# -- the process ------------------------------------------------------------------------------

def main(argv: list[str]) -> None:
    channel = Connection(int(argv[1]))
    setup = json.loads(channel.recv_bytes()[1:])

    def ask(name: str, version: int | str | None) -> ModelInfo:
        """A model version's facts from the tickerplant's catalog."""
        channel.send_bytes(MODEL + json.dumps({"name": name, "version": version}).encode())
        answer = json.loads(channel.recv_bytes()[1:])
        if "error" in answer:
            raise FunctionError(answer["error"])
        return ModelInfo.from_json(answer["info"])

    seed = from_ipc(channel.recv_bytes(), check=False) if setup["seeded"] else None
    served = Served(setup, seed, remembered(ask))
    channel.send_bytes(READY)
    while True:
        try:
            message = channel.recv_bytes()
        except (EOFError, OSError):
            return
        try:
            results = served.batch(from_ipc(message[1:], check=False))  # from the tickerplant
            streams = [None if r is None else to_ipc(r) for r in results.outputs]
        except SqlError as error:  # the query's (it names the subscription)
            channel.send_bytes(QUERY_ERROR + str(error).encode())
            continue
        except Exception as error:  # noqa: BLE001 (the tickerplant records it; the process goes on)
            channel.send_bytes(ERROR + f"{type(error).__name__}: {error}".encode())
            continue
        head = json.dumps({"lengths": [None if s is None else len(s) for s in streams],
                           "query": results.query, "fell_back": results.fell_back})
        channel.send_bytes(b"".join([RESULTS, head.encode(), b"\n",
                                     *(s for s in streams if s is not None)]))
        served.keep()  # while the tickerplant delivers the results


if __name__ == "__main__":
    main(sys.argv)
