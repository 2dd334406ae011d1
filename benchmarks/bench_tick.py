"""Ingest through the tickerplant with journalling on: one-row and 100-row updates, messages/s
and rows/s, for both fsync policies.

    python benchmarks/bench_tick.py [--messages 200000] [--batch-messages 20000] [--json out.json]
        [--decoders 0 1 2] [--feeds pykx encoded] [--kdb-log on off] [--no-in-process]

The tickerplant runs in a process of its own (``indb tick``). Two feeds publish async
``.u.upd`` messages over loopback and end with one sync ``.u.i`` (answered only once every
update before it is journalled and in its real-time table): the PyKX client, one call a
message (what a Python feed costs, the client's own time included), and the same messages
encoded by PyKX beforehand and written to the socket in large writes (what a q feed, or a
batching one, sends), which measures the tickerplant itself; for each, also the messages per
second of the tickerplant's own CPU time (from /proc), which a loaded machine disturbs less.
Beside them, in this process: PyKX alone decoding the same messages (``deserialize`` then
``np()``, elapsed and CPU time), the ceiling of any tickerplant that decodes with PyKX; and the
tickerplant's own handling of them without sockets (its connection handler fed the messages
as 4 MB reads, journal included), in CPU time, which says what indb adds to PyKX's decoding.
``--decoders``: the tickerplant runs once with each number of decoder processes (``indb tick
--decoders N``; 0 is the loop decoding, and is the only one passed to a tickerplant without the
option); the CPU time is then that of the tickerplant and all its processes. Figures with N > 0
are keyed ``decoders<N>_...``. ``--kdb-log on off``: each with the day's kdb+ log and without it
(``indb tick --no-kdb-log``, keys prefixed ``no_kdb_log_``). The load average is recorded
before and after.
Targets (issue 15): 50k one-row messages/s, 2M rows/s in 100-row messages.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import indb
from common import machine, report

os.environ.setdefault("PYKX_UNLICENSED", "true")
import pykx as kx  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start(path: Path, fsync_ms: int, decoders: int, kdb_log: bool = True
          ) -> tuple[subprocess.Popen, int]:
    port = free_port()
    more = (["--decoders", str(decoders)] if decoders else []) + ([] if kdb_log else ["--no-kdb-log"])
    server = subprocess.Popen([sys.executable, "-m", "indb.cli.main", "tick", "--db", str(path),
                               "--port", str(port), "--fsync", str(fsync_ms), "--flush", "0",
                               *more], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return server, port
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the tickerplant did not start") from None
            time.sleep(0.05)  # it is starting: nothing to wait on but its port


def updates(count: int, rows: int) -> list:
    """``count`` update arguments of ``rows`` rows each (one row: a list of atoms)."""
    rng = np.random.default_rng(0)
    syms = [f"S{i}" for i in range(100)]
    if rows == 1:
        return [kx.toq([kx.SymbolAtom(syms[i % 100]), kx.FloatAtom(float(rng.random())),
                        kx.LongAtom(i)]) for i in range(count)]
    return [kx.toq([kx.toq(np.array([syms[(i + j) % 100] for j in range(rows)], dtype=object)),
                    kx.toq(rng.random(rows)), kx.toq(np.arange(rows) + i * rows)])
            for i in range(count)]


def through_pykx(port: int, xs: list) -> float:
    """Seconds for the PyKX client to publish every update async, then be answered."""
    q = kx.SyncQConnection("127.0.0.1", port, no_ctx=True)
    table = kx.SymbolAtom("trade")
    started = time.perf_counter()
    for x in xs:
        q(".u.upd", table, x, wait=False)
    q(".u.i")
    took = time.perf_counter() - started
    q.close()
    return took


def pre_encoded(port: int, xs: list) -> float:
    """Seconds to write the same messages, encoded beforehand, then be answered."""
    messages = b"".join(kx.serialize(kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("trade"), x]),
                                     mode=3, wait=0).copy() for x in xs)
    done = kx.serialize(kx.CharVector(".u.i"), mode=3, wait=1).copy()
    sock = socket.create_connection(("127.0.0.1", port))
    sock.sendall(b":\x03\x00")
    sock.recv(1)
    started = time.perf_counter()
    sock.sendall(messages + done)
    head = b""
    while len(head) < 8:
        head += sock.recv(8 - len(head))
    size = int.from_bytes(head[4:], "little") - 8
    body = b""
    while len(body) < size:
        body += sock.recv(size - len(body))
    took = time.perf_counter() - started
    sock.close()
    return took


def decode_only(xs: list) -> tuple[float, float]:
    """Seconds (elapsed, and of this process's CPU time) PyKX alone takes to decode the same
    messages (``deserialize`` then ``np()``), in this process: the ceiling for any PyKX-based
    server."""
    messages = [kx.serialize(kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("trade"), x]),
                             mode=3, wait=0).copy() for x in xs]
    started, cpu = time.perf_counter(), time.process_time()
    for message in messages:
        kx.deserialize(message).np()
    return time.perf_counter() - started, time.process_time() - cpu


def in_process(directory: Path, xs: list) -> float:
    """CPU seconds the tickerplant's connection handler takes for the messages, fed as 4 MB
    reads in this process (no sockets; journal on, synced every 10 ms)."""
    from indb.engine.core import Engine
    from indb.stream.server import READ_BYTES, KdbConnection, TickServer
    from indb.stream.tickerplant import Tickerplant

    class Transport:  # what the handler needs of asyncio's: answers go nowhere
        def write(self, data: bytes) -> None:
            pass

        def is_closing(self) -> bool:
            return False

    data = b"".join(kx.serialize(kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("trade"), x]),
                                 mode=3, wait=0).copy() for x in xs)
    with indb.connect(directory) as conn:
        conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT, "
                 "SHARD KEY (sym)) WITH (SHARDS = 4)")
    plant = Tickerplant(Engine(directory, cluster="threads"), fsync_ms=10, flush_seconds=None)
    try:
        handler = KdbConnection(TickServer(plant))
        handler.transport, handler.user = Transport(), "owner"  # type: ignore[assignment]
        started = time.process_time()
        for start in range(0, len(data), READ_BYTES):
            handler.data_received(data[start:start + READ_BYTES])
        took = time.process_time() - started
        assert plant.journal.count == len(xs), "every message journalled"
        return took
    finally:
        plant.close()
        plant.engine.close()


def cpu_seconds(pid: int) -> float:
    """The user and system CPU time of a process and of every process under it so far
    (Linux): the tickerplant's decoder processes are children of its forkserver."""
    stats: dict[int, tuple[int, float]] = {}  # pid -> (parent, CPU seconds)
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rpartition(")")[2].split()
            except OSError:  # gone meanwhile
                continue
            stats[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12]))
                                      / os.sysconf("SC_CLK_TCK"))
    tree, total = {pid}, 0.0
    for _ in range(4):  # the tickerplant, its forkserver, the decoders
        tree |= {p for p, (parent, _) in stats.items() if parent in tree}
    for p in tree:
        total += stats.get(p, (0, 0.0))[1]
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000, help="one-row messages a run")
    parser.add_argument("--batch-messages", type=int, default=20_000, help="100-row messages a run")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--decoders", type=int, nargs="+", default=[0],
                        help="numbers of decoder processes, one tickerplant run each")
    parser.add_argument("--feeds", nargs="+", default=["pykx", "encoded"],
                        choices=["pykx", "encoded"])
    parser.add_argument("--kdb-log", nargs="+", default=["on"], choices=["on", "off"],
                        help="with the kdb+ log (on, the default) and without it (off: keys "
                             "prefixed no_kdb_log_), one tickerplant run each, alternating")
    parser.add_argument("--no-in-process", action="store_true",
                        help="skip PyKX decoding alone and the handler without sockets")
    args = parser.parse_args()

    figures: dict[str, object] = {"machine": machine(), "one_row_messages": args.messages,
                                  "hundred_row_messages": args.batch_messages,
                                  "load_average_before": os.getloadavg()[0]}
    shapes = {"1row": updates(args.messages, 1), "100rows": updates(args.batch_messages, 100)}
    feeds = {"pykx": through_pykx, "encoded": pre_encoded}
    for shape, xs in ({} if args.no_in_process else shapes).items():
        seconds, cpu = decode_only(xs)
        figures[f"pykx_decode_only_{shape}_messages_per_s"] = round(len(xs) / seconds)
        figures[f"pykx_decode_only_{shape}_messages_per_cpu_s"] = round(len(xs) / cpu)
        cpu = in_process(Path(tempfile.mkdtemp(prefix="indb-bench-tick-")) / "db", xs)
        figures[f"in_process_{shape}_messages_per_cpu_s"] = round(len(xs) / cpu)
    runs = [(fsync_ms, policy, decoders, log)
            for fsync_ms, policy in ((0, "fsync_each"), (10, "fsync_10ms"))
            for decoders in args.decoders for log in args.kdb_log]
    for fsync_ms, policy, decoders, log in runs:  # alternating: each policy runs each in turn
        directory = Path(tempfile.mkdtemp(prefix="indb-bench-tick-"))
        with indb.connect(directory / "db") as conn:
            conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, "
                     "size BIGINT, SHARD KEY (sym)) WITH (SHARDS = 4)")
        server, port = start(directory / "db", fsync_ms, decoders, log == "on")
        prefix = ("no_kdb_log_" if log == "off" else "") + \
            (f"decoders{decoders}_" if decoders else "")
        try:
            for shape, xs in shapes.items():
                rows = 1 if shape == "1row" else 100
                for feed in args.feeds:
                    cpu = cpu_seconds(server.pid)
                    seconds = feeds[feed](port, xs)
                    cpu = cpu_seconds(server.pid) - cpu
                    key = f"{prefix}{policy}_{shape}_{feed}"
                    figures[f"{key}_messages_per_s"] = round(len(xs) / seconds)
                    figures[f"{key}_rows_per_s"] = round(len(xs) * rows / seconds)
                    figures[f"{key}_messages_per_server_cpu_s"] = round(len(xs) / max(cpu, 0.01))
        finally:
            server.terminate()
            server.wait(60)
    figures["load_average_after"] = os.getloadavg()[0]
    report(figures, args.json)


if __name__ == "__main__":
    main()
