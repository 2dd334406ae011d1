"""The tickerplant served over kdb+ IPC (``indb tick``, its own process) to the real PyKX client
in its unlicensed mode: a feed, a subscriber and queries; errors as kdb+ errors; raw garbage;
a subscriber that stops reading; ``kill -9`` in mid-stream and a restart."""

from __future__ import annotations

import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

import indb  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402

START_SECONDS = 120  # a loaded 2-core machine imports indb and PyKX slowly


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """``indb tick`` on a database, as its own process."""

    def __init__(self, db: Path, log: Path, *options: str) -> None:
        self.db, self.log, self.options = db, log, options
        self.port = free_port()
        self.process: subprocess.Popen | None = None

    def start(self) -> Server:
        command = [sys.executable, "-m", "indb.cli.main", "tick", "--db", str(self.db),
                   "--port", str(self.port), "--flush", "0", *self.options]
        self.process = subprocess.Popen(command, stderr=self.log.open("a"))
        deadline = time.monotonic() + START_SECONDS
        while time.monotonic() < deadline:  # until it listens (or dies)
            assert self.process.poll() is None, self.log.read_text()
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.05)
        raise AssertionError(f"the tickerplant did not listen within {START_SECONDS} s")

    def connect(self) -> kx.SyncQConnection:
        return kx.SyncQConnection("127.0.0.1", self.port, no_ctx=True)

    def kill(self, sig: int = signal.SIGKILL) -> None:
        assert self.process is not None
        self.process.send_signal(sig)
        self.process.wait(60)

    def rss(self) -> int:
        """The server's resident memory, in bytes."""
        assert self.process is not None
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise AssertionError("no VmRSS")


def make_db(path: Path) -> Path:
    conn = indb.connect(path)
    conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT, "
             "SHARD KEY (sym)) WITH (SHARDS = 4)")
    conn.close()
    return path


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("tick")
    running = Server(make_db(root / "db"), root / "server.log", "--subscriber-limit", "1").start()
    yield running
    running.kill(signal.SIGTERM)


def upd(q: kx.SyncQConnection, x, wait: bool = True):
    return q(".u.upd", kx.SymbolAtom("trade"), x, wait=wait)


def columns(syms: list[str], prices: list[float], sizes: list[int]):
    return kx.toq([kx.SymbolVector(syms), kx.FloatVector(prices), kx.LongVector(sizes)])


def read_message(sock: socket.socket):
    """One kdb+ IPC message from a subscriber's socket, decoded by PyKX."""
    def exactly(count: int) -> bytes:
        data = b""
        while len(data) < count:
            chunk = sock.recv(count - len(data))
            if not chunk:
                raise EOFError("the tickerplant closed the connection")
            data += chunk
        return data
    head = exactly(8)
    return kx.deserialize(head + exactly(int.from_bytes(head[4:], "little") - 8))


def test_a_feed_a_subscriber_and_queries(server):
    feed, subscriber, querier = server.connect(), server.connect(), server.connect()
    try:
        schema = subscriber(".u.sub", kx.SymbolAtom("trade"), kx.SymbolVector(["IBM"])).py()
        assert schema == ["trade", {"time": [], "sym": [], "price": [], "size": []}]
        # the subscription's socket, read as a kdb+ subscriber reads it: one message at a time
        sock = socket.socket(fileno=os.dup(subscriber.fileno()))
        sock.settimeout(30)
        start = querier(".u.i").py()
        upd(feed, kx.toq([kx.SymbolAtom("IBM"), kx.FloatAtom(150.0), kx.LongAtom(10)]), wait=False)
        upd(feed, columns(["MSFT", "IBM"], [410.0, 151.0], [5, 20]), wait=False)
        assert feed(".u.i").py() == start + 2  # a sync message after async ones: they are done
        published: dict[str, list] = {"sym": [], "price": []}
        while len(published["sym"]) < 2:  # updates read together are published together
            name, table, rows = read_message(sock).py()
            assert (name, table) == ("upd", "trade")
            for column in published:
                published[column] += rows[column]
        assert published == {"sym": ["IBM", "IBM"], "price": [150.0, 151.0]}  # MSFT filtered out
        result = querier("SELECT sym, sum(size) AS size FROM trade WHERE sym = 'IBM' GROUP BY sym")
        assert isinstance(result, kx.Table)
        assert result.py() == {"sym": ["IBM"], "size": [30]}
        qsql = querier("select size: sum size by sym from trade where sym = `IBM")
        assert isinstance(qsql, kx.KeyedTable)  # as q answers a select by: keyed by its groups
        assert qsql.pd().reset_index().to_dict("list") == {"sym": ["IBM"], "size": [30]}
        # exec as q answers it: a list, an atom, a dictionary of columns, one of groups
        assert querier("exec price from trade where sym = `IBM").py() == [150.0, 151.0]
        assert querier("exec max price from trade").py() == 410.0
        assert querier("exec sym, size from trade where size > 5").py() == {
            "sym": ["IBM", "IBM"], "size": [10, 20]}
        assert querier("exec sum size by sym from trade").py() == {"IBM": 30, "MSFT": 5}
        grouped = querier("exec n: count i, size: sum size by sym from trade")  # list!table
        assert grouped.keys().py() == ["IBM", "MSFT"]
        assert grouped.values().py() == {"n": [2, 1], "size": [30, 5]}
        assert querier("first select sym, size from trade").py() == {"sym": "IBM", "size": 10}
        # q's commonest forms that parse as SQL too (max AS price) and fail there: q-sql's
        assert querier("select count i from trade where sym = `IBM").py() == {"x": [2]}
        assert querier("select max price from trade where sym = `IBM").py() == {"price": [151.0]}
        assert querier("select sum size, last price from trade where sym = `IBM").py() == {
            "size": [30], "price": [151.0]}
        with pytest.raises(kx.QError, match='column "nope" not found'):  # SQL's error, not q's
            querier("select nope from trade")
        joined = querier("select sym, size, ex from trade lj ([sym: `IBM`MSFT] ex: `N`Q) "
                         "where size > 5")  # q's joins, over the real-time table
        assert joined.pa().to_pydict() == {"sym": ["IBM", "IBM"], "size": [10, 20], "ex": ["N", "N"]}
        # each tick as of its own time, and its sym's ticks up to it: updates read together
        # share one time (the tickerplant stamps them together), so the answers follow the times
        ticks = querier("select time, sym, price from trade").pa().to_pylist()
        before = [[t for t in ticks if t["sym"] == tick["sym"] and t["time"] <= tick["time"]]
                  for tick in ticks]
        asof = querier("select sym, price from aj[`sym`time; select time, sym from trade; trade]")
        assert [t["sym"] for t in ticks] == ["IBM", "MSFT", "IBM"]
        assert asof.pa().to_pydict() == {"sym": ["IBM", "MSFT", "IBM"],
                                         "price": [rows[-1]["price"] for rows in before]}
        window = querier("select sym, size from wj1[(time - 1D00:00; time); `sym`time; "
                         "select time, sym from trade; (trade; (count; `size))]")
        assert window.pa().to_pydict() == {"sym": ["IBM", "MSFT", "IBM"],
                                           "size": [len(rows) for rows in before]}
        assert re.search(r"/tick/sym\d{4}\.\d\d\.\d\d$", querier(".u.L").py())  # the kdb+ log
    finally:
        for q in (feed, subscriber, querier):
            q.close()


NODE_MODULES = Path(__file__).resolve().parents[1] / ".venv" / "node" / "node_modules"
NODE_Q_PROGRAM = r"""
const nodeq = require('node-q');
const Long = require('long');
const got = {};
nodeq.connect({host: '127.0.0.1', port: Number(process.argv[2])}, (err, con) => {
  if (err) { console.log(JSON.stringify({error: err.message})); process.exit(1); }
  con.on('upd', (table, rows) => {
    got.published = [table, rows.map(r => [r.sym, r.price, r.size])];
    con.k('select n: count i, size: sum size by sym from trade where sym = `NODEQ', (e, r) => {
      got.qsql = r;
      con.k("SELECT count(*) AS n FROM trade WHERE sym = 'NODEQ'", (e, r) => {
        got.sql = r;
        con.k('select nope from trade', (e, r) => {
          got.error = e && e.message;
          console.log(JSON.stringify(got));
          con.close(() => process.exit(0));
        });
      });
    });
  });
  con.k('.u.sub', 'trade', nodeq.symbols(['NODEQ']), (e, schema) => {
    got.schema = schema;
    con.ks('.u.upd', 'trade', [nodeq.symbols(['NODEQ', 'NODEQ']), nodeq.floats([1.5, 2.5]),
                               nodeq.longs([Long.fromInt(100), Long.fromInt(200)])], () => {});
  });
});
"""


def test_node_q(server, tmp_path):
    """node-q, a kdb+ client in JavaScript with its own codec: a subscription, an update
    without its time (filled in), the update published to it, q-sql and SQL queries, an error."""
    import json
    import shutil
    if shutil.which("node") is None or not (NODE_MODULES / "node-q").is_dir():
        pytest.skip("node-q is not installed (make installs it where npm is)")
    program = tmp_path / "probe.js"
    program.write_text(NODE_Q_PROGRAM)
    run = subprocess.run(["node", str(program), str(server.port)], capture_output=True, text=True,
                         timeout=120, env={**os.environ, "NODE_PATH": str(NODE_MODULES)})
    assert run.returncode == 0, run.stdout + run.stderr
    got = json.loads(run.stdout.strip().splitlines()[-1])
    assert got["schema"] == ["trade", []]  # node-q's form of a table of no rows
    assert got["published"] == ["trade", [["NODEQ", 1.5, 100], ["NODEQ", 2.5, 200]]]
    assert got["qsql"] == [[{"sym": "NODEQ"}], [{"n": 2, "size": 300}]]  # a keyed table
    assert got["sql"] == [{"n": 2}]
    assert 'column "nope" not found' in got["error"]


def test_kola_and_a_compressed_message(server):
    """kola (Rust's kdb+ codec, with polars) as a client; and a compressed message, as q sends
    one of over 2,000 bytes to a host not its own, made by kola's encoder: decoded, its rows
    appended."""
    kola = pytest.importorskip("kola")
    import polars as pl
    rows = 5000
    call = [".u.upd", "trade", [pl.Series(["KOLA"] * rows, dtype=pl.Categorical),
                                pl.Series([1.0] * rows), pl.Series(range(rows), dtype=pl.Int64)]]
    message = kola.serialize_as_ipc_bytes6("sync", True, call)
    assert message[2] == 1 and len(message) < rows * 8  # compressed
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(b"kola:\x06\x00")
        assert sock.recv(1) in (b"\x03", b"\x06")
        sock.sendall(message)
        reply = read_message(sock)
    assert reply.py() is None  # (::), as kdb+'s .u.upd answers
    q = kola.Q("127.0.0.1", server.port)
    q.connect()
    try:
        counted = q.sync("select n: count i, size: sum size by sym from trade where sym = `KOLA")
        assert counted.to_dicts() == [{"sym": "KOLA", "n": rows, "size": rows * (rows - 1) // 2}]
        q.asyn(".u.upd", "trade", [pl.Series(["KOLA2"], dtype=pl.Categorical), pl.Series([2.0]),
                                   pl.Series([7], dtype=pl.Int64)])
        assert q.sync("exec sum size from trade where sym = `KOLA2") == 7
        assert q.sync("SELECT count(*) AS n FROM trade WHERE sym = 'KOLA2'").to_dicts() == [{"n": 1}]
        with pytest.raises(kola.KolaError, match="nope.* not found"):  # kola quotes the text
            q.sync("select nope from trade")
    finally:
        q.disconnect()


def test_errors_are_kdb_errors_and_the_server_goes_on(server):
    q = server.connect()
    try:
        with pytest.raises(kx.QError, match="column price is DOUBLE; the feed sent a str"):
            upd(q, kx.toq([kx.SymbolAtom("A"), kx.SymbolAtom("x"), kx.LongAtom(1)]))
        with pytest.raises(kx.QError, match="send 3 .* or 4 columns, not 2"):
            upd(q, kx.toq([kx.SymbolVector(["A"]), kx.FloatVector([1.0])]))
        with pytest.raises(kx.QError, match="there is no table quote"):
            q(".u.upd", kx.SymbolAtom("quote"), kx.toq([kx.SymbolAtom("A")]))
        with pytest.raises(kx.QError, match="not a function of this tickerplant"):
            q(".z.exit", kx.LongAtom(0))
        with pytest.raises(kx.QError, match="does not exist|Catalog Error"):
            q("SELECT * FROM nowhere")
        before = q(".u.i").py()
        assert before == q(".u.i").py()  # nothing refused was journalled
    finally:
        q.close()
    garbage = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    garbage.sendall(b":\x03\x00")
    assert garbage.recv(1) == b"\x03"
    garbage.sendall(os.urandom(64))  # not a kdb+ message
    reply = b""
    while chunk := garbage.recv(4096):
        reply += chunk
    garbage.close()
    with pytest.raises(kx.QError):
        kx.deserialize(reply)  # an error reply, then the connection closed
    q = server.connect()
    try:
        assert q("SELECT count(*) AS n FROM trade").py()["n"][0] >= 0  # still serving
    finally:
        q.close()


def test_a_subscriber_that_stops_reading_is_cut_off(server):
    slow = socket.create_connection(("127.0.0.1", server.port), timeout=60)
    slow.sendall(b":\x03\x00")
    assert slow.recv(1) == b"\x03"
    slow.sendall(kx.serialize(kx.toq([kx.CharVector(".u.sub"), kx.SymbolAtom("trade"),
                                      kx.SymbolAtom("")]), mode=3, wait=1).copy())
    assert read_message(slow).py()[0] == "trade"
    feed = server.connect()
    rows = 20_000
    x = kx.toq([kx.toq(np.array(["S"] * rows, dtype=object)), kx.toq(np.ones(rows)),
                kx.toq(np.arange(rows))])
    sent = 0
    try:
        for _ in range(40):  # about 30 MB published, the subscriber reading none of it
            upd(feed, x)
            sent += rows * 33
        assert feed(".u.i").py() > 0
    finally:
        feed.close()
    received = 0
    try:
        while chunk := slow.recv(1 << 16):  # what the kernel held, then the end
            received += len(chunk)
    except ConnectionResetError:
        pass
    slow.close()
    assert received < sent / 2
    assert "disconnected" in server.log.read_text()


@pytest.fixture
def own_server(tmp_path: Path) -> Iterator[Server]:
    """A tickerplant of the test's own, stopped whatever happens to the test."""
    made = Server(make_db(tmp_path / "db"), tmp_path / "server.log")
    yield made
    if made.process is not None and made.process.poll() is None:
        made.kill(signal.SIGKILL)


def test_kill_9_mid_stream_then_every_acknowledged_update_is_there_once(own_server):
    server = own_server.start()
    acknowledged: list[int] = []
    failed = threading.Event()

    def publish() -> None:
        q = server.connect()
        try:
            for n in range(1_000_000):
                upd(q, kx.toq([kx.SymbolAtom(f"S{n % 7}"), kx.FloatAtom(1.0), kx.LongAtom(n)]))
                acknowledged.append(n)
        except Exception:  # noqa: BLE001 (the server was killed under it)
            failed.set()
    feed = threading.Thread(target=publish)
    feed.start()
    deadline = time.monotonic() + 120
    while len(acknowledged) < 200 and time.monotonic() < deadline and not failed.is_set():
        time.sleep(0.01)
    server.kill(signal.SIGKILL)
    feed.join(60)
    assert failed.is_set() and len(acknowledged) >= 200

    def sizes(q: kx.SyncQConnection) -> list[int]:
        return q("SELECT size FROM trade").py()["size"]
    server.start()
    q = server.connect()
    try:
        after_restart = sizes(q)
        assert len(after_restart) == len(set(after_restart))           # none twice
        assert set(acknowledged) <= set(after_restart)                 # every acknowledged one
        assert set(after_restart) <= set(range(len(acknowledged) + 1))  # at most the one in flight
        q(".u.endofday")  # flushed into the table, the journal rolled
        assert sorted(sizes(q)) == sorted(after_restart)
    finally:
        q.close()
    server.kill(signal.SIGKILL)
    server.start()
    q = server.connect()
    try:
        assert sorted(sizes(q)) == sorted(after_restart)  # nothing replayed twice after the flush
    finally:
        q.close()


def test_pykx_s_query_api_and_the_first_query_after_ticks(own_server):
    q = own_server.start().connect()
    try:
        upd(q, columns(["IBM", "MSFT", "IBM"], [150.0, 410.0, 151.0], [10, 5, 20]))
        # the first statement after a table went real-time reads its rows (an update reads
        # the table's columns on the statement's own DuckDB connection)
        assert q("update price: price*2 from trade").py()["price"] == [300.0, 820.0, 302.0]
        # PyKX's conn.qsql, sent as q's functional forms in lambdas, read back into q-sql
        assert q.qsql.select("trade", where=["price>100", "sym=`IBM"]).py()["size"] == [10, 20]
        keyed = q.qsql.select("trade", columns={"px": "avg price"}, by={"sym": "sym"})
        assert isinstance(keyed, kx.KeyedTable)
        assert keyed.pd().reset_index().to_dict("list") == {"sym": ["IBM", "MSFT"],
                                                            "px": [150.5, 410.0]}
        assert q.qsql.exec("trade", "price").py() == [150.0, 410.0, 151.0]
        assert q.qsql.update("trade", {"size": "size*10"}).py()["size"] == [100, 50, 200]
        assert q.qsql.delete("trade", where="size>10").py()["size"] == [10, 5]
        assert q("count trade").py() == 3  # neither changed the table: q's without inplace
        # PyKX's conn.sql: kdb+'s SQL interface ("s) " to load it, then .s.sp with arguments)
        assert q.sql("SELECT sym, price FROM trade WHERE price > $1 ORDER BY price", 150.5).py() == {
            "sym": ["IBM", "MSFT"], "price": [151.0, 410.0]}
        with pytest.raises(kx.QError, match="in place"):
            q.qsql.update("trade", {"size": "size*10"}, inplace=True)
    finally:
        q.close()


def test_indb_tick_refuses_a_directory_that_is_not_a_database(tmp_path):
    from click.testing import CliRunner

    from indb.cli.main import cli
    result = CliRunner().invoke(cli, ["tick", "--db", str(tmp_path / "nowhere"), "--port", "0"])
    assert result.exit_code != 0
    assert "there is no database" in result.output
    assert not (tmp_path / "nowhere").exists()


def test_indb_serve_tick_shows_real_time_rows_to_its_other_clients(tmp_path):
    httpx = pytest.importorskip("httpx")
    pytest.importorskip("uvicorn")
    db = make_db(tmp_path / "db")
    http, tick = free_port(), free_port()
    command = [sys.executable, "-m", "indb.cli.main", "serve", "--db", str(db), "--port", str(http),
               "--pg-port", "0", "--tick", str(tick), "--grace", "5"]
    process = subprocess.Popen(command, stderr=(tmp_path / "serve.log").open("w"))
    try:
        deadline = time.monotonic() + START_SECONDS
        while True:  # until both listen (or it dies)
            assert process.poll() is None, (tmp_path / "serve.log").read_text()
            try:
                socket.create_connection(("127.0.0.1", tick), timeout=1).close()
                if httpx.get(f"http://127.0.0.1:{http}/v1/health").status_code == 200:
                    break
            except (OSError, httpx.HTTPError):
                assert time.monotonic() < deadline, "indb serve --tick did not listen"
                time.sleep(0.05)
        q = kx.SyncQConnection("127.0.0.1", tick, no_ctx=True)
        try:
            upd(q, columns(["IBM", "IBM"], [150.0, 151.0], [10, 20]))
        finally:
            q.close()
        answer = httpx.post(f"http://127.0.0.1:{http}/v1/sql",
                            json={"sql": "SELECT count(*) AS n, max(size) AS top FROM trade"},
                            timeout=60)
        assert answer.status_code == 200, answer.text
        assert answer.json()["rows"] == [[2, 20]]  # in memory only: nothing was flushed yet
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(60)


# -- privileges: the handshake's user:password, and SQL's grants ------------------------------

def test_the_tick_port_signs_in_users_and_checks_their_grants(tmp_path):
    db = make_db(tmp_path / "db")
    owner = indb.connect(db)
    for statement in ["CREATE USER feed PASSWORD 'feed pw'", "CREATE USER reader",
                      "CREATE USER nobody PASSWORD 'nobody pw'",
                      "GRANT INSERT ON TABLE trade TO feed", "GRANT SELECT ON TABLE trade TO reader"]:
        owner.sql(statement)
    token = owner.sql("CREATE TOKEN FOR reader").arrow()["token"][0].as_py()
    server = Server(db, tmp_path / "server.log").start()

    def connect(user: str = "", password: str = "") -> kx.SyncQConnection:
        return kx.SyncQConnection("127.0.0.1", server.port, username=user, password=password,
                                  no_ctx=True)
    try:
        for user, password in [("", ""), ("feed", "wrong"), ("ghost", "feed pw"), ("feed", token)]:
            with pytest.raises(Exception, match="[Aa]ccess|[Aa]uthentication"):  # the port closes
                connect(user, password).close()
        feed, reader, nobody = connect("feed", "feed pw"), connect("", token), connect("nobody", "nobody pw")
        try:
            start = reader(".u.i").py()
            upd(feed, columns(["IBM"], [150.0], [10]))  # INSERT: granted
            with pytest.raises(kx.QError, match="reader may not .* table trade: it has no INSERT "
                                                "privilege.*GRANT INSERT ON TABLE trade TO reader"):
                upd(reader, columns(["IBM"], [1.0], [1]))
            with pytest.raises(kx.QError, match="GRANT SELECT ON TABLE trade TO feed"):
                feed(".u.sub", kx.SymbolAtom("trade"), kx.SymbolAtom(""))
            with pytest.raises(kx.QError, match="GRANT SELECT ON TABLE trade TO feed"):
                feed(".u.sub", kx.SymbolAtom(""), kx.SymbolAtom(""))  # every table: each one's
            with pytest.raises(kx.QError, match="no SELECT privilege"):
                feed("select from trade")  # a query is a statement, checked as one
            with pytest.raises(kx.QError, match="needs the admin role"):
                nobody(".u.endofday")
            assert reader(".u.sub", kx.SymbolAtom("trade"), kx.SymbolAtom("")).py()[0] == "trade"
            assert reader("select size from trade").py() == {"size": [10]}
            # q's questions about tables answer what the user may read
            assert reader("tables[]").py() == ["trade"] and nobody("tables[]").py() == []
            assert reader("count trade").py() == 1 and reader("cols trade").py()[1] == "sym"
            with pytest.raises(kx.QError, match="no SELECT privilege"):
                nobody("meta trade")
            assert reader(".u.i").py() == start + 1  # the refused update was not journalled
            owner.sql("REVOKE INSERT ON TABLE trade FROM feed")  # from the next message on
            with pytest.raises(kx.QError, match="GRANT INSERT ON TABLE trade TO feed"):
                upd(feed, columns(["IBM"], [151.0], [20]))
            assert reader(".u.i").py() == start + 1
        finally:
            for q in (feed, reader, nobody):
                q.close()
    finally:
        server.kill(signal.SIGTERM)
        owner.close()


def test_sign_in_takes_a_password_or_a_token_and_refuses_the_rest(fresh):
    from indb.catalog.database import Database
    from indb.catalog.users import OWNER
    from indb.errors import AuthenticationError
    from indb.stream import access
    db = Database(fresh.path)
    authenticate = access.owner_while_no_users(db)
    assert access.sign_in(db, authenticate, "", "") == OWNER  # no users yet
    fresh.sql("CREATE USER ann PASSWORD 'hunter2'")
    fresh.sql("CREATE USER bob")
    token = fresh.sql("CREATE TOKEN FOR bob").arrow()["token"][0].as_py()
    assert access.sign_in(db, authenticate, "ann", "hunter2") == "ann"
    assert access.sign_in(db, authenticate, "", token) == "bob"
    assert access.sign_in(db, authenticate, "bob", token) == "bob"
    refusals = [("ann", "hunter3", "wrong user name or password"), ("", "hunter2", "needs its user name"),
                ("ann", token, "the token is bob's, not ann's"), ("", "", "this database has users"),
                ("", "indb_x_hunter4", "invalid token")]
    for user, password, why in refusals:
        with pytest.raises(AuthenticationError, match=why) as refused:
            access.sign_in(db, authenticate, user, password)
        assert "hunter" not in str(refused.value) and token not in str(refused.value)


def test_mutated_messages_are_answered_and_the_server_goes_on(server):
    """Well-formed kdb+ messages with a byte changed or added here and there (as a fuzzer makes
    them: this found a string function name with an attribute that was journalled and then
    failed the kdb+ log's message and the connection, and a timespan reaching an integer null
    check): each answered or refused, the server unharmed, nothing internal in its log."""
    rng = random.Random(20261205)
    calls = [kx.toq([kx.CharVector(".u.upd"), kx.SymbolAtom("trade"), columns(["M"], [1.0], [2])]),
             kx.toq([kx.SymbolAtom(".u.upd"), kx.SymbolAtom("trade"),
                     kx.toq([kx.SymbolAtom("M"), kx.FloatAtom(1.0), kx.LongAtom(2)])]),
             kx.CharVector("select count i from trade"), kx.CharVector("(.u.sub[`;`];`.u `i`L)")]
    messages = [bytes(kx.serialize(call, mode=3, wait=wait).copy()) for call in calls for wait in (0, 1)]
    # an attribute on the call's list (byte 9) and on a string function name (byte 15) is no
    # matter: the updates are taken, as kdb+'s tickerplant takes them
    attributed = [m[:at] + bytes([attribute]) + m[at + 1:] for attribute in (1, 2, 3)
                  for at in (9, 15) for m in (messages[0], messages[2]) if m[14] == 0x0a or at == 9]
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    sock.sendall(b"fuzz\x03\x00")
    assert sock.recv(1) == b"\x03"
    sock.sendall(bytes(kx.serialize(kx.CharVector(".u.i"), mode=3, wait=1).copy()))
    before = read_message(sock).py()
    sock.sendall(b"".join(attributed) + bytes(kx.serialize(kx.CharVector(".u.i"), mode=3, wait=1).copy()))
    assert read_message(sock).py() == before + len(attributed) == before + 9
    sock.close()
    messages += attributed
    q = server.connect()
    before = q(".u.i").py()
    for _ in range(40):
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
        sock.sendall(b"fuzz\x03\x00")
        assert sock.recv(1) == b"\x03"
        for _ in range(10):
            message = bytearray(rng.choice(messages))
            for _ in range(rng.randint(1, 3)):  # the call's list and names half the time
                at = rng.randrange(8, 24) if rng.random() < 0.5 else rng.randrange(8, len(message))
                if rng.random() < 0.7:
                    message[at] = rng.randrange(256)
                else:
                    message[at:at] = os.urandom(rng.randint(1, 4))
            message[4:8] = len(message).to_bytes(4, "little")
            try:
                sock.sendall(bytes(message))
            except OSError:  # refused and closed: the next connection goes on
                break
        sock.close()
    assert server.process.poll() is None
    rows = q("select count i from trade").py()["x"][0]
    assert q(".u.i").py() >= before and rows >= 0  # still answering, its count never back
    q.close()
    log = server.log.read_text()
    assert "Fatal error" not in log and "InternalError" not in log, log[-3000:]
