"""indb.stream.qcalls: the q call forms kdb+ clients send the tickerplant as strings (r.q's
``"(.u.sub[`;`];`.u `i`L)"``, ``".u.sub[`trade;`AAPL]"``, ``".u.upd[`trade;(...)]"``, ``.u.w``,
``.u.del``), answered as q answers them, to the real PyKX client in its unlicensed mode; a
subscriber whose SELECT is revoked; ``executemany`` over ``kdb(...)``."""

from __future__ import annotations

import re
import signal
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from test_stream_server import Server, make_db, read_message  # noqa: E402

import indb  # noqa: E402
from indb.engine import sources  # noqa: E402
from indb.parser.qsyntax import tokenize  # noqa: E402
from indb.stream import qcalls  # noqa: E402
from indb.stream.qlog import replay  # noqa: E402
from indb.stream.kdb import kx, text  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("qcalls")
    db = make_db(root / "db")
    conn = indb.connect(db)
    conn.sql("CREATE TABLE quote (time TIMESTAMP, sym VARCHAR, bid DOUBLE)")
    conn.close()
    running = Server(db, root / "server.log").start()
    yield running
    running.kill(signal.SIGTERM)


class Client:
    """A kdb+ client on a raw socket, reading every message as a q process does (the async
    ``upd`` messages a subscriber is sent, and the answers to its sync messages, in order)."""

    def __init__(self, port: int, credentials: str = "") -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.sendall(credentials.encode() + b"\x03\x00")
        assert self.sock.recv(1) == b"\x03", "the handshake was refused"

    def send(self, obj: Any, sync: bool = True) -> None:
        self.sock.sendall(bytes(kx.serialize(obj, mode=3, wait=int(sync)).copy()))

    def ask(self, text: str) -> Any:
        """A sync string and its answer; fails if an async message comes before it."""
        self.send(kx.CharVector(text))
        answer = read_message(self.sock)
        assert not (isinstance(answer, kx.List) and len(answer) == 3 and answer.py()[0] == "upd"), \
            f"an update came before the answer: {answer.py()}"
        return answer

    def close(self) -> None:
        self.sock.close()


def test_r_q_subscribes_reads_the_log_count_and_replays_the_log(server):
    """kdb+'s r.q: ``.u.rep .(hopen `:tp)"(.u.sub[`;`];`.u `i`L)"``, then ``-11!(count;log)``
    and the updates after it: every update exactly once."""
    feed = server.connect()
    feed(".u.upd", kx.SymbolAtom("trade"), kx.toq([kx.SymbolAtom("RQ"), kx.FloatAtom(1.0), kx.LongAtom(1)]))
    feed(".u.upd", kx.SymbolAtom("trade"), kx.toq([kx.SymbolVector(["RQ", "RQ"]),
                                                   kx.FloatVector([2.0, 3.0]), kx.LongVector([2, 3])]))
    rdb = Client(server.port)
    try:
        answer = rdb.ask("(.u.sub[`;`];`.u `i`L)")
        assert isinstance(answer, kx.List) and len(answer) == 2
        schemas, (count, log) = answer.py()
        assert [name for name, _ in schemas] == ["quote", "trade"]  # one (t; schema) a table
        assert schemas[1][1] == {"time": [], "sym": [], "price": [], "size": []}
        logged = answer.np()[1]  # (long; symbol), as q's `.u `i`L
        assert logged.dtype == object and isinstance(logged[0], np.int64) and isinstance(logged[1], str)
        assert count == feed(".u.i").py() and log == feed(".u.L").py()
        assert log.startswith(":") and re.search(r"/sym\d{4}\.\d\d\.\d\d$", log)  # as tick.q's .u.L
        assert Path(log[1:-10]).is_dir()  # r.q's `system "cd ",1_-10_string L` after it replays
        # (.[;();:;].)each x: the tables, empty; -11!y: the first `count` messages of the log
        seen: list[int] = []
        for function, table, x in replay(log, upto=count):  # .u.L as it came
            assert function == "upd"  # r.q's upd: insert
            if table == "trade":  # x as the feed sent it, with the time the tickerplant gave it
                assert isinstance(x[0], np.datetime64 | np.ndarray)
                syms, sizes = (x[1], x[3]) if isinstance(x[1], np.ndarray) else ([x[1]], [x[3]])
                seen += [int(size) for sym, size in zip(syms, sizes) if sym == "RQ"]
        feed(".u.upd", kx.SymbolAtom("trade"), kx.toq([kx.SymbolAtom("RQ"), kx.FloatAtom(4.0),
                                                       kx.LongAtom(4)]))
        name, table, rows = read_message(rdb.sock).py()  # upd, once subscribed
        assert (name, table, rows["sym"]) == ("upd", "trade", ["RQ"])
        assert sorted(seen + rows["size"]) == [1, 2, 3, 4]  # each once: replayed, or sent after
    finally:
        rdb.close()
        feed.close()


def test_string_calls_are_answered_as_q_answers_them(server):
    subscriber, feed = Client(server.port), server.connect()
    try:
        pair = subscriber.ask(".u.sub[`trade;`AAPL`MSFT]")
        assert pair.py() == ["trade", {"time": [], "sym": [], "price": [], "size": []}]
        handle = subscriber.ask(".z.w")
        assert isinstance(handle, kx.IntAtom)
        watched = subscriber.ask(".u.w").py()  # table -> ((handle; syms); ...)
        assert watched["quote"] == [] and [handle.py(), ["AAPL", "MSFT"]] in watched["trade"]
        assert subscriber.ask("(.u.sub[`quote;`])").py()[0] == "quote"  # rts.q's parentheses
        both = subscriber.ask("(.u.i;.u.j)")
        assert isinstance(both, kx.LongVector) and both.py()[0] == both.py()[1]  # atoms collapse
        assert subscriber.ask(".u `d`t").py()[1] == ["quote", "trade"]
        assert isinstance(subscriber.ask(".u.d"), kx.DateAtom)
        # a feed's string update: the time filled in, journalled before its answer
        before = feed(".u.i").py()
        assert isinstance(feed(".u.upd[`trade;(`AAPL;187.5;100)]"), kx.Identity)
        assert feed(".u.upd[`trade;(`IBM`MSFT;150 410.5;7 8)]").py() is None
        assert feed(".u.i").py() == before + 2
        name, table, rows = read_message(subscriber.sock).py()
        assert (name, table, rows["sym"], rows["size"]) == ("upd", "trade", ["AAPL"], [100])
        assert rows["time"][0] is not None
        name, table, rows = read_message(subscriber.sock).py()
        assert (rows["sym"], rows["price"]) == (["MSFT"], [410.5])  # IBM is not subscribed to
        with pytest.raises(kx.QError, match="column price is DOUBLE"):
            feed(".u.upd[`trade;(`AAPL;`x;1)]")
        with pytest.raises(kx.QError, match="literal arguments"):
            feed(".u.upd[`trade;(2#.z.n;2?`3;2?10000f)]")  # feed.q's: q that needs q
        with pytest.raises(kx.QError, match="syms: not a function or variable"):
            feed(".u.sub[`trade;syms]")
        with pytest.raises(kx.QError, match=r"\.u\.foo: not a function of this tickerplant"):
            feed(".u.foo[`trade]")
        assert feed(".u.i").py() == before + 2  # nothing refused was journalled
        # .u.del[t; .z.w]: this connection no longer gets trade's updates
        assert subscriber.ask(".u.del[`trade;.z.w]").py() is None
        assert [handle.py(), ["AAPL", "MSFT"]] not in subscriber.ask(".u.w").py()["trade"]
        feed(".u.upd[`trade;(`AAPL;1.0;1)]")
        subscriber.ask(".u.i")  # the answer comes first: no update was sent
        feed(f".u.del[`quote;{handle.py()}i]")  # another connection's: the owner may
        assert subscriber.ask(".u.w").py()["quote"] == []
    finally:
        subscriber.close()
        feed.close()


def test_a_lambda_sent_with_its_arguments_is_applied_to_them(server):
    """PyKX's own subscriber example: ``sub_connection('{.u.sub[x;y]}', 'trade', '')``."""
    q = server.connect()
    try:
        assert q("{.u.sub[x;y]}", "trade", "").py()[0] == "trade"
        assert q("{[t;s] .u.sub[t;s]}", "quote", kx.SymbolVector(["A"])).py()[0] == "quote"
        with pytest.raises(kx.QError, match="takes 2 arguments, not 1"):
            q("{[t;s] .u.sub[t;s]}", "quote")
        with pytest.raises(kx.QError, match="literal arguments"):
            q("{x+y}", 1, 2)  # q that needs q
    finally:
        q.close()


def test_queries_still_go_to_sql_and_q_sql(server):
    q = server.connect()
    try:
        assert q("select from quote").py() == {"time": [], "sym": [], "bid": []}
        assert q("SELECT count(*) AS n FROM quote").py() == {"n": [0]}
    finally:
        q.close()


def test_literals_are_the_objects_q_makes():
    def value(text: str) -> Any:
        node = qcalls.read(f".u.upd[`t;{text}]")
        assert isinstance(node, qcalls.Apply)
        return qcalls.literal(node.args[1])  # type: ignore[arg-type]
    assert isinstance(value("1 2 3h"), kx.ShortVector)
    assert isinstance(value("1 2.5"), kx.FloatVector)
    assert isinstance(value("`a`b"), kx.SymbolVector)
    assert isinstance(value("101b"), kx.BooleanVector)
    assert str(value("2026.12.03D10:00:00.123456789").np()) == "2026-12-03T10:00:00.123456789"
    assert isinstance(value("10:00"), kx.MinuteAtom) and isinstance(value("10:00:00.5"), kx.TimeAtom)
    assert value("0D00:05").np() == np.timedelta64(300, "s")
    assert value("0N").np() == np.iinfo("int64").min  # kdb+'s long null
    assert isinstance(value("1e"), kx.RealAtom) and value("1e5").py() == 100000.0
    assert [t.kind for t in tokenize(".u.sub[`t;`]")][:2] == ["name", "["]  # a namespace's name
    assert qcalls.read("select from trade") is None and qcalls.read("SELECT 1") is None


# -- REVOKE and subscribers ---------------------------------------------------------------------

def test_a_revoked_subscriber_is_unsubscribed_and_a_dropped_user_disconnected(tmp_path):
    db = make_db(tmp_path / "db")
    owner = indb.connect(db)
    for statement in ["CREATE USER feed", "CREATE USER bob", "CREATE USER carol",
                      "GRANT INSERT ON TABLE trade TO feed", "GRANT SELECT ON TABLE trade TO bob",
                      "GRANT SELECT ON TABLE trade TO carol"]:
        owner.sql(statement)
    tokens = {u: owner.sql(f"CREATE TOKEN FOR {u}").arrow()["token"][0].as_py()
              for u in ("feed", "bob", "carol")}
    server = Server(db, tmp_path / "server.log").start()
    feed = Client(server.port, f"feed:{tokens['feed']}")
    bob, carol = Client(server.port, f"bob:{tokens['bob']}"), Client(server.port, f"carol:{tokens['carol']}")
    try:
        for reader in (bob, carol):
            assert reader.ask(".u.sub[`trade;`]").py()[0] == "trade"

        def publish(size: int) -> None:
            feed.ask(f".u.upd[`trade;(`IBM;1.0;{size})]")
        publish(1)
        for reader in (bob, carol):
            assert read_message(reader.sock).py()[2]["size"] == [1]
        owner.sql("REVOKE SELECT ON TABLE trade FROM bob")
        publish(2)
        assert read_message(carol.sock).py()[2]["size"] == [2]  # carol still may
        bob.ask(".u.i")  # answered before any update: bob was sent none
        assert "(user bob) unsubscribed from trade" in server.log.read_text()
        with pytest.raises(kx.QError, match="GRANT SELECT ON TABLE trade TO bob"):
            bob.ask(".u.sub[`trade;`]")  # subscribing again is refused
        with pytest.raises(kx.QError, match="admin role"):
            bob.ask(f".u.del[`trade;{carol.ask('.z.w').py()}i]")  # another's subscription
        owner.sql("DROP USER carol")
        publish(3)
        with pytest.raises((EOFError, ConnectionResetError)):
            while True:  # whatever was on its way, then the end
                read_message(carol.sock)
        assert "its user carol was dropped: disconnected" in server.log.read_text()
    finally:
        for client in (feed, bob, carol):
            client.close()
        server.kill(signal.SIGTERM)
        owner.close()


# -- executemany over kdb(...) --------------------------------------------------------------------

def test_executemany_reads_a_kdb_host_once_for_every_set(server, tmp_path, monkeypatch):
    feed = server.connect()
    try:
        feed(".u.upd[`trade;(`EXM`EXM`EXM;1 2 3f;10 20 30)]")
    finally:
        feed.close()
    fetches: list[str] = []
    fetch = sources._rows

    def counted(call: Any) -> Any:
        fetches.append(call.sql())
        return fetch(call)
    monkeypatch.setattr(sources, "_rows", counted)
    url = f"kdb://127.0.0.1:{server.port}"
    conn = indb.connect(tmp_path / "db")
    try:
        conn.sql("CREATE TABLE big (size BIGINT)")
        cursor = conn.cursor()
        cursor.executemany(f"INSERT INTO big SELECT size FROM kdb('{url}', 'select from trade "
                           "where sym=`EXM') WHERE size >= ?", [(20,), (30,)])
        assert cursor.rowcount == 3 and len(fetches) == 1
        assert conn.sql("SELECT size FROM big ORDER BY size").fetchall() == [(20,), (30,), (30,)]
        cursor.executemany(f"SELECT count(*) FROM kdb('{url}', 'select from trade where "
                           "sym=`EXM') WHERE size > ?", [(0,), (15,)])
        assert cursor.fetchall() == [(2,)] and len(fetches) == 2  # the last set's rows
    finally:
        conn.close()
