"""Tick to anomaly row, end to end: a subscription scoring ticks with the market autoencoder,
against the kdb+ article's pattern, at a fixed rate, in one run.

    python benchmarks/bench_tick_latency.py [--rate 10000] [--seconds 5] [--device cpu|cuda]
                                            [--patterns tickerplant,indb,inline,article]
                                            [--json out.json]
    python benchmarks/bench_tick_latency.py --outputs-cpu [--json out.json]

The tickerplant (``indb tick --fsync 5``: an update is written to the OS before it is published,
synced within 5 ms) runs in a process of its own; a feed process publishes one-row async
``.u.upd`` messages at ``--rate`` ticks/s over 100 symbols, each stamped with its send time (the
``time`` column, TIMESTAMP_NS; the machine's one clock serves every process); a subscriber (this
process) receives the output rows and takes its receive time minus the stamp as the row's
latency. The feed's messages are encoded by PyKX beforehand and stamped as they go, as a feed
handler in C sends (PyKX's client spent about 0.1 ms of CPU a tick, most of a core at 10,000
ticks/s, on the machine under test); each pattern reports the rate its feed achieved and the
feed's CPU a tick.

- **tickerplant**: the ticks themselves, published by the tickerplant to the subscriber, no
  function: the floor under any pattern's latency on the machine.
- **indb**: ``CREATE SUBSCRIPTION ... EXECUTE FUNCTION tick_anomaly(...)`` (udfs/tick_anomaly.py):
  features per symbol in SQL over the micro-batch with window state (z-scores of price and log
  size against the symbol's last 20 ticks), the autoencoder resident in the function's process
  (on the GPU with ``--device cuda``, from CUDA graphs), output rows into ``ticks_anomaly``'s
  real-time table and to its subscribers. The query and its window state run in the function's
  process too (``indb.stream.window``).
- **inline**: the same subscription ``WITH (ISOLATION = 'none')``: the function, its query and
  its window state in the tickerplant's process, each batch run on its event loop.
- **article**: the pattern of the kdb+ article: a plain PyKX subscriber of ``ticks`` that per
  tick converts the message to pandas, computes the same features from per-symbol history in
  Python and calls the model loaded in its own process, then publishes the flag back to the
  tickerplant as a table (``ticks_flag``, which the measuring subscriber receives). Its own
  decision latency (stamp to model output, in that process) is reported too.

The autoencoder is trained here in a few seconds on what normal ticks' features look like (the
model of udfs/autoencoder_model.py, its threshold 20 times the 99th percentile of its training
errors, as udfs/autoencoder_train.py learns it). The first ``--warmup`` ticks of each pattern
are not measured. The machine's load average (1, 5, 15 minutes) is recorded at the start and
at the end, and the CPU time the tickerplant and its subscription's process spent on the
measured ticks (``indb_server_cpu_ms_per_1k_ticks``): on a shared machine, where elapsed times
move with the others' load, what the work itself cost.

``--outputs-cpu`` measures one step alone, in this process: the CPU a batch's output rows cost
the tickerplant (encoded off its event loop, then journalled, appended and published on it).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "udfs"))  # the market autoencoder's module

os.environ.setdefault("PYKX_UNLICENSED", "true")
import pykx as kx  # noqa: E402

SYMBOLS = 100
WINDOW = 20  # ticks of a symbol the features look back over
FEATURES = ("SELECT time, sym, px, "
            "coalesce((px - avg(px) OVER w) / nullif(stddev_samp(px) OVER w, 0), 0) AS ret_z, "
            "coalesce((ln(size) - avg(ln(size)) OVER w) / nullif(stddev_samp(ln(size)) OVER w, 0), "
            "0) AS vol_z FROM ticks WINDOW w AS (PARTITION BY sym ORDER BY time "
            f"ROWS BETWEEN {WINDOW - 1} PRECEDING AND CURRENT ROW)")
OUTPUT_COLUMNS = "time TIMESTAMP_NS, sym VARCHAR, px DOUBLE, error DOUBLE, anomaly BOOLEAN"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# -- the model --------------------------------------------------------------------------------

def train(directory: Path, seed: int = 0) -> tuple[Path, float]:
    """The market autoencoder trained on normal ticks' features; its .pt2 and threshold."""
    import torch
    from autoencoder_model import Autoencoder, ReconstructionError
    from indb.runtime.predictors import save_model
    torch.manual_seed(seed)
    x = torch.from_numpy(np.random.default_rng(seed).standard_normal((20_000, 2)).astype(np.float32))
    model = Autoencoder()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    for _ in range(4):
        for start in range(0, len(x), 256):
            batch = x[start:start + 256]
            optimizer.zero_grad()
            ((model(batch) - batch) ** 2).mean().backward()
            optimizer.step()
    scorer = ReconstructionError(model).eval()
    with torch.no_grad():
        errors = scorer(x).numpy()
    save_model(scorer, x[:2], "torch", directory)
    return next(directory.glob("*.pt2")), float(np.quantile(errors, 0.99) * 20)


# -- the feed (a process of its own) ----------------------------------------------------------

def feed(port: int, rate: float, count: int, seed: int, out: str) -> None:
    """Publish ``count`` one-row ticks at ``rate`` a second, each stamped as it is sent.

    The messages are encoded by PyKX beforehand and each one's stamp is written into it just
    before it goes, as a feed handler in C sends: PyKX's client (``q(".u.upd", ...)``, a
    conversion of the row each tick) took 90-110 µs of CPU a tick on the 2-core VM, nine tenths
    of a core at 10,000 ticks/s, on the machine whose latency is measured, and kept up with
    10,000 ticks/s only just when nothing else ran. What it achieved is written to ``out``:
    the rate from its first send to its last, and its CPU a tick."""
    rng = np.random.default_rng(seed)
    prices = 100 + rng.standard_normal(SYMBOLS)
    moves, sizes = rng.standard_normal(count) * 0.05, rng.lognormal(4, 0.5, count).astype(int) + 1
    spikes = rng.random(count) < 0.001  # now and then a jump the model has not seen
    rows = []
    for i in range(count):
        s = i % SYMBOLS
        prices[s] += moves[i] + (5.0 if spikes[i] else 0.0)
        rows.append((f"S{s}", float(prices[s]), int(sizes[i])))

    def encoded(row: tuple[str, float, int], stamp: int) -> bytearray:
        call = kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("ticks"),
                       kx.toq([kx.TimestampAtom(np.datetime64(stamp, "ns")), kx.SymbolAtom(row[0]),
                               kx.FloatAtom(row[1]), kx.LongAtom(row[2])])])
        return bytearray(kx.serialize(call, mode=3, wait=0).copy())

    at, shift = stamp_place(lambda stamp: encoded(rows[0], stamp))
    messages = [encoded(row, 0) for row in rows]
    sock = connect(port)
    cpu, start = time.process_time(), time.perf_counter()
    for i, message in enumerate(messages):
        ahead = start + i / rate - time.perf_counter()
        if ahead > 0:  # on schedule: a tick every 1/rate s, on average
            time.sleep(ahead)
        struct.pack_into("<q", message, at, time.time_ns() + shift)
        sock.sendall(message)
    took, cpu = time.perf_counter() - start, time.process_time() - cpu
    sock.sendall(kx.serialize(kx.CharVector(".u.i"), mode=3, wait=1).copy())
    read(sock)  # answered once every tick before it is in
    sock.close()
    Path(out).write_text(json.dumps({"ticks_per_s": count / took if took else None,
                                     "cpu_us_per_tick": cpu * 1e6 / count}))


def stamp_place(encoded: Callable[[int], bytes]) -> tuple[int, int]:
    """Where a tick's stamp lies in its message, and what to add to a Unix time in ns to write
    it there: PyKX's encodings of one message at two times 1 ns apart, compared (the first
    byte that differs is the low byte of the stamp)."""
    unix = 1_700_000_000_000_000_000
    first, second = encoded(unix), encoded(unix + 1)
    at = next(i for i, (a, b) in enumerate(zip(first, second)) if a != b)
    return at, struct.unpack_from("<q", first, at)[0] - unix


# -- the article's subscriber (a process of its own) ------------------------------------------

def article(port: int, model_path: str, threshold: float, device: str, count: int,
            out: str) -> None:
    """Subscribe to ticks; per tick: convert, features, the model, the flag published back."""
    import torch
    module = torch.export.load(model_path).module().to(device)
    history: dict[str, tuple[deque, deque]] = {}
    sub = kx.SyncQConnection("127.0.0.1", port, no_ctx=True)
    pub = kx.SyncQConnection("127.0.0.1", port, no_ctx=True)
    sub(".u.sub", kx.SymbolAtom("ticks"), kx.SymbolAtom(""))
    sock = socket.socket(fileno=os.dup(sub.fileno()))
    sock.settimeout(120)  # PyKX's socket is non-blocking
    Path(out + ".ready").touch()  # subscribed, the model loaded
    decided: list[int] = []
    flag = kx.SymbolAtom("ticks_flag")
    while len(decided) < count:
        message = read(sock)[1]
        _, _, rows = kx.deserialize(message)  # (`upd; `ticks; table); PyKX unpacks a list
        frame = rows.pd()  # the message converted, as the article's subscriber does
        for row in frame.itertuples(index=False):
            prices, sizes = history.setdefault(row.sym, (deque(maxlen=WINDOW), deque(maxlen=WINDOW)))
            prices.append(row.px)
            sizes.append(np.log(row.size))
            features = np.array([[_z(prices), _z(sizes)]], np.float32)
            with torch.no_grad():
                error = float(module(torch.from_numpy(features).to(device)).cpu()[0])
            decided.append(time.time_ns() - row.time.value)
            stamp = kx.TimestampAtom(np.datetime64(row.time.value, "ns"))
            pub(".u.upd", flag, kx.toq([stamp, kx.SymbolAtom(row.sym),
                                         kx.FloatAtom(row.px), kx.FloatAtom(error),
                                         kx.BooleanAtom(error > threshold)]), wait=False)
    Path(out).write_text(json.dumps(decided))
    sub.close()
    pub.close()


def _z(values: deque) -> float:
    x = np.fromiter(values, np.float64)
    spread = x.std(ddof=1) if len(x) > 1 else 0.0
    return float((x[-1] - x.mean()) / spread) if spread else 0.0


# -- the measuring subscriber (this process) --------------------------------------------------

def read(sock: socket.socket) -> tuple[int, bytes]:
    """One kdb+ message and the time its last byte arrived (ns)."""
    def exactly(count: int) -> bytes:
        data = bytearray()
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise EOFError("the tickerplant closed the connection")
            data += chunk
        return bytes(data)
    head = exactly(8)
    body = exactly(int.from_bytes(head[4:], "little") - 8)
    return time.time_ns(), head + body


def connect(port: int) -> socket.socket:
    """A kdb+ IPC connection to the tickerplant, past its handshake."""
    sock = socket.create_connection(("127.0.0.1", port))
    # each message goes at once: with Nagle's algorithm a small send waits for the ACK of the
    # one before, which the tickerplant's kernel delays (40 ms on Linux): 50 ms stalls in runs
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(b":\x03\x00")
    sock.recv(1)
    return sock


def subscribe(port: int, table: str) -> socket.socket:
    sock = connect(port)
    call = kx.toq([kx.CharVector(".u.sub"), kx.SymbolAtom(table), kx.SymbolAtom("")])
    sock.sendall(kx.serialize(call, mode=3, wait=1).copy())
    read(sock)  # (table; schema)
    sock.settimeout(120)
    return sock


def receive(sock: socket.socket, messages: list[tuple[int, bytes]], done: threading.Event) -> None:
    """Keep every message with its arrival time until ``done`` and a quiet second; decoding
    waits for the end (PyKX's table conversions take milliseconds, which would queue here)."""
    sock.settimeout(1.0)
    while True:
        try:
            messages.append(read(sock))
        except TimeoutError:
            if done.is_set():
                return


def latencies_of(messages: list[tuple[int, bytes]]) -> np.ndarray:
    """Each output row's latency (ms): its message's arrival minus its tick's stamp."""
    out = []
    for arrived, message in messages:
        _, _, rows = kx.deserialize(message)  # (`upd; t; table); PyKX unpacks a list
        stamps = rows.np()["time"].astype("datetime64[ns]").astype(np.int64)
        out.append((arrived - stamps) / 1e6)
    return np.concatenate(out) if out else np.array([])


def run_pattern(port: int, table: str, rate: float, count: int, total: int,
                seed: int) -> tuple[np.ndarray, dict[str, float]]:
    """``count`` ticks at ``rate``; the latencies of their output rows, once ``table`` has
    ``total`` rows, and what the feed achieved (``feed``'s figures)."""
    sock = subscribe(port, table)
    messages: list[tuple[int, bytes]] = []
    done = threading.Event()
    reader = threading.Thread(target=receive, args=(sock, messages, done))
    reader.start()
    with tempfile.TemporaryDirectory() as directory:
        said = Path(directory) / "feed.json"
        subprocess.run([sys.executable, __file__, "--role", "feed", "--port", str(port),
                        "--rate", str(rate), "--count", str(count), "--seed", str(seed),
                        "--out", str(said)], check=True)
        fed = json.loads(said.read_text())
    q = kx.SyncQConnection("127.0.0.1", port, no_ctx=True)
    deadline = time.monotonic() + 600
    while q(f"SELECT count(*) AS n FROM {table}").py()["n"][0] < total:
        assert time.monotonic() < deadline, f"{table} did not get every row"
        time.sleep(0.2)  # the rows are still on their way
    q.close()
    done.set()
    reader.join()
    sock.close()
    return latencies_of(messages), fed


def figures_of(name: str, latencies: np.ndarray,
               fed: dict[str, float] | None = None) -> dict[str, object]:
    """p50, p99 and max of ``latencies`` (ms); with ``fed``, the rate the feed achieved and
    its CPU a tick."""
    figures: dict[str, object] = {
        f"{name}_rows": len(latencies),
        f"{name}_p50_ms": round(float(np.percentile(latencies, 50)), 3),
        f"{name}_p99_ms": round(float(np.percentile(latencies, 99)), 3),
        f"{name}_max_ms": round(float(latencies.max()), 3)}
    if fed is not None:
        figures[f"{name}_feed_ticks_per_s"] = round(fed["ticks_per_s"] or 0, 1)
        figures[f"{name}_feed_cpu_us_per_tick"] = round(fed["cpu_us_per_tick"], 1)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=10_000, help="ticks a second")
    parser.add_argument("--seconds", type=float, default=5.0, help="measured seconds a pattern")
    parser.add_argument("--warmup", type=int, default=2_000, help="ticks not measured, first")
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--patterns", default="tickerplant,indb,inline,article",
                        help="which patterns to run, comma-separated (tickerplant: the ticks "
                             "straight to a subscriber, no function; indb; inline: indb's "
                             "with ISOLATION = 'none'; article)")
    parser.add_argument("--outputs-cpu", action="store_true",
                        help="only the CPU of a batch's outputs through the tickerplant, in one "
                             "process (no feed, no subscriber process)")
    parser.add_argument("--role", choices=("bench", "feed", "article"), default="bench",
                        help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--count", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help=argparse.SUPPRESS)
    parser.add_argument("--model", help=argparse.SUPPRESS)
    parser.add_argument("--threshold", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--out", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "feed":
        return feed(args.port, args.rate, args.count, args.seed, args.out)
    if args.role == "article":
        return article(args.port, args.model, args.threshold, args.device, args.count, args.out)
    if args.outputs_cpu:
        return outputs_cpu(args)
    bench(args)


def outputs_cpu(args: argparse.Namespace) -> None:
    """The CPU (``time.thread_time_ns``) of one batch's outputs through a tickerplant in this
    process: cast to the table and encoded (``outputs.prepared``; off the event loop until
    2026-12-05, hence the keys' names), then
    journalled, appended and published to one subscriber of every sym (on it, ``commit``);
    mean µs of 1,000 batches after 100, for 1 and 13 output rows."""
    import pyarrow as pa

    import indb
    from common import machine, report
    from indb.engine.core import Engine
    from indb.stream import outputs
    from indb.stream.tickerplant import Subscriber, Tickerplant

    directory = Path(tempfile.mkdtemp(prefix="indb-bench-outputs-"))
    with indb.connect(directory / "db") as conn:
        conn.sql(f"CREATE TABLE ticks_anomaly ({OUTPUT_COLUMNS})")
    plant = Tickerplant(Engine(directory / "db", cluster="threads"), flush_seconds=None, fsync_ms=5)
    plant.subscribe(Subscriber("bench", lambda message: None, lambda: 0, lambda: None),
                    "ticks_anomaly", [])
    figures: dict[str, object] = {"machine": machine(),
                                  "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    rng = np.random.default_rng(0)
    for count in (1, 13):
        rows = pa.table({"time": pa.array(np.arange(count) + time.time_ns(), pa.timestamp("ns")),
                         "sym": [f"S{i}" for i in range(count)], "px": rng.random(count),
                         "error": rng.random(count), "anomaly": rng.random(count) > 0.5})
        spent = []
        for n in range(1_100):
            start = time.thread_time_ns()
            ready = outputs.prepared(plant, [("ticks_anomaly", rows)])
            encoded = time.thread_time_ns()
            outputs.commit(plant, ready)
            if n >= 100:
                spent.append((encoded - start, time.thread_time_ns() - encoded))
        off_loop, on_loop = np.mean(spent, axis=0) / 1e3
        figures[f"rows_{count}_off_loop_us"] = round(float(off_loop), 1)
        figures[f"rows_{count}_on_loop_us"] = round(float(on_loop), 1)
    plant.close()
    plant.engine.close()
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report(figures, args.json)


def bench(args: argparse.Namespace) -> None:
    import indb
    from common import machine, report

    directory = Path(tempfile.mkdtemp(prefix="indb-bench-tick-latency-"))
    model_dir = directory / "model"
    model_dir.mkdir()
    model_path, threshold = train(model_dir)
    total = args.warmup + int(args.rate * args.seconds)
    with indb.connect(directory / "db") as conn:
        conn.sql("CREATE TABLE ticks (time TIMESTAMP_NS, sym VARCHAR, px DOUBLE, size BIGINT)")
        for output in ("ticks_anomaly", "ticks_flag"):
            conn.sql(f"CREATE TABLE {output} ({OUTPUT_COLUMNS})")
        conn.sql(f"CREATE FUNCTION tick_anomaly FILE PATHS '{ROOT / 'udfs' / 'tick_anomaly.py'}'")
        conn.sql(f"CREATE MODEL market_autoencoder FROM FILE '{model_path}'")
    figures: dict[str, object] = {"machine": machine(), "device": args.device, "rate": args.rate,
                                  "measured_ticks": total - args.warmup, "fsync_ms": 5,
                                  "threshold": round(threshold, 4),
                                  "load_average_start": [round(x, 2) for x in os.getloadavg()]}
    port = free_port()
    env = {**os.environ, **({"CUDA_VISIBLE_DEVICES": ""} if args.device == "cpu" else {})}
    server = subprocess.Popen([sys.executable, "-m", "indb.cli.main", "tick", "--db",
                               str(directory / "db"), "--port", str(port), "--fsync", "5",
                               "--flush", "0"], env=env, stderr=(directory / "tick.log").open("w"))
    try:
        wait_for(server, port)
        measured = total - args.warmup
        patterns = args.patterns.split(",")
        if "tickerplant" in patterns:  # the ticks themselves, straight to a subscriber: the floor
            run_pattern(port, "ticks", args.rate, args.warmup, args.warmup, 1)  # warm-up
            figures.update(figures_of("tickerplant", *run_pattern(port, "ticks", args.rate,
                                                                  measured, total, 2)))
        q = kx.SyncQConnection("127.0.0.1", port, no_ctx=True)
        for name, isolation in (("indb", "process"), ("inline", "none")):
            if name in patterns:
                figures.update(subscription(q, server.pid, port, name, isolation, threshold,
                                            args, measured, total))
        q.close()
        if "article" in patterns:
            decided = directory / "article.json"
            helper = subprocess.Popen([sys.executable, __file__, "--role", "article", "--port",
                                       str(port), "--model", str(model_path), "--threshold",
                                       str(threshold), "--device", args.device, "--count",
                                       str(total), "--out", str(decided)])
            while not Path(str(decided) + ".ready").exists():  # subscribed, its model loaded
                assert helper.poll() is None, "the article's subscriber failed"
                time.sleep(0.1)
            run_pattern(port, "ticks_flag", args.rate, args.warmup, args.warmup, 1)  # warm-up
            figures.update(figures_of("article", *run_pattern(port, "ticks_flag", args.rate,
                                                              measured, total, 2)))
            helper.wait(300)
            figures.update(figures_of("article_decision",
                                      np.array(json.loads(decided.read_text())[args.warmup:]) / 1e6))
    finally:
        server.terminate()
        server.wait(60)
    figures["load_average_end"] = [round(x, 2) for x in os.getloadavg()]
    report(figures, args.json)


def subscription(q: kx.SyncQConnection, pid: int, port: int, name: str, isolation: str,
                 threshold: float, args: argparse.Namespace, measured: int,
                 total: int) -> dict[str, object]:
    """The ``indb`` pattern's figures, its function in a process of its own (``isolation``
    ``process``) or in the tickerplant's (``none``), named ``name``."""
    subscription_name = f"scored_{name}"
    q(f"CREATE SUBSCRIPTION {subscription_name} ON ticks EXECUTE FUNCTION tick_anomaly("
      f"INPUT_TABLE_NAMES => INPUT_TABLE({FEATURES}), "
      f"PARAMS => KV_PAIRS(threshold = '{threshold}')) OUTPUT_TABLES('ticks_anomaly') "
      f"WITH (ISOLATION = '{isolation}')")
    while q(f"SHOW SUBSCRIPTION {subscription_name}").pa().column("state")[0].as_py() != "running":
        time.sleep(0.1)  # the tickerplant reads the catalog every second
    run_pattern(port, "ticks_anomaly", args.rate, args.warmup, args.warmup, 1)  # warm-up
    spent = cpu_seconds(pid)
    figures = figures_of(name, *run_pattern(port, "ticks_anomaly", args.rate, measured, total, 2))
    figures[f"{name}_server_cpu_ms_per_1k_ticks"] = round((cpu_seconds(pid) - spent) * 1e6 / measured, 1)
    shown = q(f"SHOW SUBSCRIPTION {subscription_name}").pa().to_pylist()[0]
    figures[f"{name}_batch_rows_mean"] = round(shown["batch_rows_mean"] or 0, 2)
    figures[f"{name}_batch_rows_max"] = shown["batch_rows_max"]
    figures[f"{name}_anomalies"] = q("SELECT count(*) AS n FROM ticks_anomaly WHERE anomaly").py()["n"][0]
    q(f"DROP SUBSCRIPTION {subscription_name}")
    return figures


def cpu_seconds(pid: int) -> float:
    """CPU time (user + system) of a process and its descendants, from /proc (Linux): the
    tickerplant and its subscriptions' processes. On a shared machine, where elapsed times move
    with the others' load, what the work itself cost."""
    total, pending = 0.0, [pid]
    while pending:
        current = pending.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{current}/task").iterdir():
                pending += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, ValueError):
            continue  # gone meanwhile
    return total


def wait_for(server: subprocess.Popen, port: int) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline or server.poll() is not None:
                raise RuntimeError("the tickerplant did not start") from None
            time.sleep(0.05)  # it is starting: nothing to wait on but its port


if __name__ == "__main__":
    main()
