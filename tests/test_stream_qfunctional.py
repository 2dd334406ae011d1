"""PyKX's query API (``conn.qsql``) read back into q-sql: the messages PyKX builds for each form
(its own ``QSQL._generate_clause``, as ``pykx/query.py`` sends them), decoded as the tickerplant
decodes them, and the q-sql text they stand for."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("PYKX_UNLICENSED", "true")
kx = pytest.importorskip("pykx")
from pykx.query import QSQL  # noqa: E402

from indb.stream import kdb  # noqa: E402
from indb.stream.kdb import MessageError  # noqa: E402
from indb.stream.qfunctional import query_text, sql_call  # noqa: E402


def sent(kind: str, table: str = "trade", columns=None, where=None, by=None, inplace=False):
    """The message PyKX's ``conn.qsql.<kind>(...)`` sends, decoded as the tickerplant reads it."""
    qsql = QSQL.__new__(QSQL)
    verb = "!" if kind in ("update", "delete") else "?"
    get = "get" if verb == "!" and not inplace else ""
    clauses = [qsql._generate_clause(value, name, kind)
               for value, name in ((where, "where"), (by, "by"), (columns, "columns"))]
    lambda_ = f"{{[tab;x;y;z]{verb}[{get} tab;value x;value y;value z]}}"
    message = kx.toq([kx.CharVector(lambda_), kx.toq(table), *map(kx.toq, clauses)])
    return kdb.decode(kdb.encode(message, kdb.SYNC))


@pytest.mark.parametrize("kind, options, text", [
    ("select", {}, "select from trade"),
    ("select", {"where": ["price>100", "sym=`IBM"]}, "select from trade where price>100, sym=`IBM"),
    ("select", {"columns": {"px": "avg price"}, "by": {"sym": "sym"}},
     "select px: avg price by sym from trade"),
    ("select", {"columns": ["sym", "price"]}, "select sym, price from trade"),
    ("select", {"columns": "price"}, "select price from trade"),
    ("exec", {"columns": "price"}, "exec price from trade"),
    ("exec", {"columns": {"p": "price"}, "where": "size>5"}, "exec p: price from trade where size>5"),
    ("update", {"columns": {"price": "price*2"}, "where": "sym=`IBM"},
     "update price: price*2 from trade where sym=`IBM"),
    ("delete", {"where": "size>10"}, "delete from trade where size>10"),
    ("delete", {"columns": ["size", "time"]}, "delete size, time from trade"),
])
def test_pykx_qsql_read_as_q_sql(kind, options, text):
    assert query_text(sent(kind, **options)) == text


def test_what_is_not_read_is_refused_or_left_alone():
    with pytest.raises(MessageError, match="in place"):
        query_text(sent("update", columns={"price": "price*2"}, inplace=True))
    assert query_text(kdb.decode(kdb.encode(kx.toq([kx.SymbolAtom(".u.i")]), kdb.SYNC))) is None
    assert query_text(b"select from trade") is None


def test_pykx_sql_read_as_its_query_and_arguments():
    call = kx.toq([kx.SymbolAtom(".s.sp"), kx.CharVector("SELECT * FROM t WHERE x > $1 AND s = $2"),
                   kx.toq((1.5, "IBM"))])
    assert sql_call(kdb.decode(kdb.encode(call, kdb.SYNC))) == (
        "SELECT * FROM t WHERE x > $1 AND s = $2", [1.5, "IBM"])
    empty = kx.toq([kx.SymbolAtom(".s.sp"), kx.CharVector("SELECT 1"), kx.toq(())])
    assert sql_call(kdb.decode(kdb.encode(empty, kdb.SYNC))) == ("SELECT 1", [])
    assert sql_call(kdb.decode(kdb.encode(kx.toq([kx.SymbolAtom(".u.i")]), kdb.SYNC))) is None
    with pytest.raises(MessageError, match="takes the SQL text"):
        sql_call(kdb.decode(kdb.encode(kx.toq([kx.SymbolAtom(".s.sp")]), kdb.SYNC)))
