"""indb.stream.remote: a kdb+ host as a sink (``Publisher``, async ``.u.upd``), and
indb.hosts.kdb's ``rows`` as a source (SQL's ``kdb(...)``), against indb's own tickerplant
(``indb tick``, its own process) as the remote end, read back with the real PyKX client in its
unlicensed mode."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

from test_stream_server import Server, free_port, make_db  # noqa: E402

import indb  # noqa: E402
from indb.errors import OptionError  # noqa: E402
from indb.hosts import kdb  # noqa: E402
from indb.hosts.kdb import KdbHostError  # noqa: E402
from indb.stream.remote import Publisher  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("remote")
    running = Server(make_db(root / "db"), root / "server.log").start()
    yield running
    running.kill(signal.SIGTERM)


def rows(syms: list[str], sizes: list[int]) -> pa.Table:
    return pa.table({"sym": syms, "price": [100.0 + s for s in sizes], "size": sizes})


def sizes_of(server: Server, sym: str) -> list[int]:
    q = server.connect()
    try:
        found = q(f"SELECT size FROM trade WHERE sym = '{sym}' ORDER BY size").pa()
    finally:
        q.close()
    return found.column("size").to_pylist()


# -- the sink: .u.upd -------------------------------------------------------------------------

def test_a_publisher_sends_rows_as_async_updates(server):
    with Publisher(f"kdb://127.0.0.1:{server.port}") as publisher:
        before = publisher.sync()
        publisher.upd("trade", rows(["PUB", "PUB"], [1, 2]))
        publisher.upd("trade", rows(["PUB"], [3]))
        assert publisher.sync() == before + 2  # two messages, handled before the sync answer
    assert sizes_of(server, "PUB") == [1, 2, 3]  # the time column filled in by the tickerplant


def test_a_publisher_connects_again_after_the_tickerplant_restarts(server):
    publisher = Publisher(f"kdb://127.0.0.1:{server.port}")
    try:
        publisher.upd("trade", rows(["RE"], [1]))
        publisher.sync()
        server.kill()
        with pytest.raises(KdbHostError, match=f"127.0.0.1:{server.port}.*not sent"):
            publisher.upd("trade", rows(["RE"], [2]))
        server.start()  # on the same port, its rows rebuilt from the journal
        publisher.upd("trade", rows(["RE"], [3]))  # a new connection, nothing asked of the caller
        publisher.sync()
    finally:
        publisher.close()
    assert sizes_of(server, "RE") == [1, 3]


def test_an_update_the_tickerplant_refuses_is_answered_to_sync(server):
    """Async refusals are the remote's to log; a sync after them still answers."""
    with Publisher(f"kdb://127.0.0.1:{server.port}") as publisher:
        before = publisher.sync()
        publisher.upd("no_such_table", rows(["X"], [1]))
        assert publisher.sync() == before  # nothing journalled
    assert "no_such_table" in Path(server.log).read_text()


# -- the source: kdb('kdb://host:port', 'q query') ---------------------------------------------

@pytest.fixture(scope="module")
def published(server: Server) -> str:
    """The remote's URL, its trade table holding rows of the symbols SRC and OTHER."""
    with Publisher(f"kdb://127.0.0.1:{server.port}") as publisher:
        publisher.upd("trade", rows(["SRC", "OTHER", "SRC"], [10, 20, 30]))
        publisher.sync()
    return f"kdb://127.0.0.1:{server.port}"


def test_kdb_reads_a_hosts_answer_where_a_table_goes(fresh, published):
    url = published
    assert fresh.sql(f"SELECT sym, size FROM kdb('{url}', 'select from trade where sym=`SRC') "
                     "ORDER BY size").fetchall() == [("SRC", 10), ("SRC", 30)]
    by_sym = fresh.sql(f"SELECT * FROM kdb('{url}', 'select size: sum size by sym from trade "
                       "where sym in `SRC`OTHER') AS k ORDER BY sym").fetchall()
    assert by_sym == [("OTHER", 20), ("SRC", 40)]
    fresh.sql("CREATE TABLE limits (sym VARCHAR, most BIGINT)")
    fresh.sql("INSERT INTO limits VALUES ('SRC', 25), ('OTHER', 25)")
    over = fresh.sql(f"SELECT l.sym, k.size FROM limits l JOIN kdb('{url}', 'select sym, size from "
                     "trade') k ON k.sym = l.sym AND k.size > l.most").fetchall()
    assert over == [("SRC", 30)]


def test_kdb_rows_become_a_table_and_rows_of_one(fresh, published):
    url = published
    fresh.sql(f"CREATE TABLE copied AS SELECT sym, price, size FROM kdb('{url}', "
              "'select from trade where sym in `SRC`OTHER')")
    assert fresh.sql("SELECT count(*), sum(size) FROM copied").fetchall() == [(3, 60)]
    fresh.sql(f"INSERT INTO copied SELECT sym, price, size FROM kdb('{url}', "
              "'SELECT * FROM trade WHERE sym = ''OTHER''')")  # SQL, which indb's tickerplant takes
    assert fresh.sql("SELECT count(*) FROM copied WHERE sym = 'OTHER'").fetchall() == [(2,)]


def test_kdb_errors_name_the_host_and_never_the_password(fresh, published):
    url = published
    with pytest.raises(KdbHostError, match="answered with an error.*no_such_table"):
        fresh.sql(f"SELECT * FROM kdb('{url}', 'select from no_such_table')")
    with pytest.raises(KdbHostError, match="LongAtom, not a table"):
        fresh.sql(f"SELECT * FROM kdb('{url}', '.u.i')")
    port = free_port()
    with pytest.raises(KdbHostError, match=f"127.0.0.1:{port}") as refused:
        fresh.sql(f"SELECT * FROM kdb('kdb://ann:hunter2@127.0.0.1:{port}', 'select from trade')")
    assert "hunter2" not in str(refused.value)
    with pytest.raises(indb.SqlError, match="takes two strings"):
        fresh.sql(f"SELECT * FROM kdb('{url}')")
    with pytest.raises(indb.SqlError, match="goes where a table goes"):
        fresh.sql(f"SELECT kdb('{url}', 'select from trade')")
    with pytest.raises(indb.SqlError, match="a view cannot read kdb"):
        fresh.sql(f"CREATE VIEW v AS SELECT * FROM kdb('{url}', 'select from trade')")


def test_kdb_needs_the_admin_role(fresh):
    fresh.sql("CREATE USER bob")
    fresh.sql("CREATE TABLE t (x BIGINT)")
    fresh.sql("GRANT SELECT ON TABLE t TO bob")
    bob = indb.connect(fresh.path, user="bob")
    try:  # refused before any connection: the port listens nowhere
        with pytest.raises(indb.ProgrammingError, match="kdb.*needs the admin role"):
            bob.sql(f"SELECT * FROM t, kdb('kdb://127.0.0.1:{free_port()}', 'select from trade')")
    finally:
        bob.close()


TOTAL = '''CREATE FUNCTION total LANGUAGE PYTHON AS $$
def total(ctx, ticks):
    return {"n": [ticks.num_rows], "size": [sum(ticks.column("size").to_pylist())]}
$$'''


def test_kdb_is_a_functions_input(tmp_path, published):
    url = published
    conn = indb.connect(tmp_path / "db", cluster="threads", workers=1)
    try:
        conn.sql(TOTAL)
        conn.sql(f"EXECUTE FUNCTION total(INPUT_TABLE_NAMES => INPUT_TABLE(kdb('{url}', "
                 "'select from trade where sym in `SRC`OTHER')), "
                 "OUTPUT_TABLE_NAMES => OUTPUT_TABLES('totals'))")
        assert conn.sql("SELECT n, size FROM totals").fetchall() == [(3, 60)]
        inline = conn.sql(f"SELECT * FROM TABLE(total(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT size "
                          f"FROM kdb('{url}', 'select from trade') WHERE sym = 'SRC')))")
        assert inline.fetchall() == [(2, 40)]
        with pytest.raises(OptionError, match="cannot run with nowait"):
            conn.sql(f"EXECUTE FUNCTION total(INPUT_TABLE_NAMES => INPUT_TABLE(kdb('{url}', "
                     "'select from trade')), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('later'), "
                     "OPTIONS => KV_PAIRS(nowait = 'true'))")
        # the tables the inputs were read from went with their statements
        assert [row[0] for row in conn.sql("SHOW TABLES").fetchall()] == ["totals"]
    finally:
        conn.close()


def test_credentials_sign_in_from_the_url_or_the_environment(tmp_path, monkeypatch):
    db = make_db(tmp_path / "db")
    owner = indb.connect(db)
    owner.sql("CREATE USER feed PASSWORD 'p@ss:word'")
    owner.sql("GRANT INSERT ON TABLE trade TO feed")
    server = Server(db, tmp_path / "server.log").start()
    try:
        with Publisher(f"kdb://feed:p%40ss%3Aword@127.0.0.1:{server.port}") as publisher:
            publisher.upd("trade", rows(["CRED"], [1]))
            assert publisher.sync() == 1
        monkeypatch.setenv(kdb.USER_ENV, "feed")
        monkeypatch.setenv(kdb.PASSWORD_ENV, "p@ss:word")
        with Publisher(f"kdb://127.0.0.1:{server.port}") as publisher:
            publisher.upd("trade", rows(["CRED"], [2]))
            assert publisher.sync() == 2
        monkeypatch.setenv(kdb.PASSWORD_ENV, "wrong")
        with pytest.raises(KdbHostError, match="refused the credentials"):
            Publisher(f"kdb://127.0.0.1:{server.port}")
        assert "p@ss:word" not in (tmp_path / "server.log").read_text()
    finally:
        server.kill(signal.SIGTERM)
        owner.close()
