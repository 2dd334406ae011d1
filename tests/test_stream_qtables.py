"""``indb.stream.qtables``: ``tables[]``, ``cols t``, ``meta t`` and ``count t`` as kdb+
clients ask them, read without q and answered from the database as q answers them."""

from __future__ import annotations

import pytest

pytest.importorskip("indb.stream.kdb")  # sets PyKX's unlicensed mode before it loads

import indb  # noqa: E402
from indb.catalog.users import OWNER  # noqa: E402
from indb.engine.core import Engine  # noqa: E402
from indb.errors import IndbError  # noqa: E402
from indb.stream import qtables  # noqa: E402
from indb.stream.kdb import kx  # noqa: E402
from indb.stream.qtables import TableQuestion  # noqa: E402


@pytest.mark.parametrize("text, question", [
    ("tables[]", TableQuestion("tables")), ("tables`.", TableQuestion("tables")),
    (" tables [ ] ", TableQuestion("tables")), ("tables", TableQuestion("tables")),
    ("cols trade", TableQuestion("cols", "trade")), ("cols`trade", TableQuestion("cols", "trade")),
    ("meta[`s.trade]", TableQuestion("meta", "s.trade")), ("count[trade]", TableQuestion("count", "trade")),
    ("count select from trade where size > 1", TableQuestion("count", query="select from trade where size > 1")),
    ("count exec sym from trade", TableQuestion("count", query="exec sym from trade")),
    ("-2#select from trade", TableQuestion("take", query="select from trade", taken=-2)),
    ("2 # select sym from trade", TableQuestion("take", query="select sym from trade", taken=2)),
    ("2#exec sym from trade", None), ("select from trade", None), ("metadata trade", None),
    ("cols trade, quote", None), ("SELECT count(*) FROM t", None),
])
def test_the_forms_are_read_and_nothing_else(text, question):
    assert qtables.read(text) == question


@pytest.fixture
def engine(tmp_path):
    with indb.connect(tmp_path / "db") as conn:
        conn.sql("CREATE TABLE trade (time TIMESTAMP, sym VARCHAR, price DOUBLE, size BIGINT)")
        conn.sql("INSERT INTO trade VALUES ('2024-01-01 09:30', 'A', 1.5, 10), "
                 "('2024-01-01 09:31', 'B', 2.5, 20)")
        conn.sql("CREATE TABLE kinds (d DATE, t TIME, b BOOLEAN, i INTEGER, h SMALLINT, e REAL, "
                 "x BLOB, l BIGINT[], empty_list DOUBLE[])")
        conn.sql("INSERT INTO kinds VALUES (DATE '2024-01-01', TIME '09:30:00', true, 1, 2, 1.5, "
                 "'\\x01'::BLOB, [1, 2], [])")
        conn.sql("CREATE VIEW one AS SELECT 1 AS x")
    made = Engine(tmp_path / "db", cluster="threads")
    yield made
    made.close()


def test_answers_as_q_gives_them(engine):
    ask = lambda text: qtables.answer(engine, qtables.read(text), OWNER)  # noqa: E731
    assert ask("tables[]").py() == ["kinds", "trade"]  # tables, not views
    assert ask("cols trade").py() == ["time", "sym", "price", "size"]
    assert ask("count trade").py() == 2 and isinstance(ask("count trade"), kx.LongAtom)
    meta = ask("meta trade")
    assert isinstance(meta, kx.KeyedTable)
    assert meta.pd()["t"].to_dict() == {"time": b"p", "sym": b"s", "price": b"f", "size": b"j"}
    kinds = ask("meta kinds").pd()["t"].to_dict()
    assert kinds == {"d": b"d", "t": b"n", "b": b"b", "i": b"i", "h": b"h", "e": b"e",
                     "x": b"X", "l": b"J", "empty_list": b"F"}
    with pytest.raises(IndbError, match="nope"):
        ask("meta nope")
    assert ask("count select from trade where size > 10").py() == 1
    assert ask("count exec distinct sym from trade").py() == 2
    assert ask("1#select sym from trade").py() == {"sym": ["A"]}
    assert ask("-1#select sym from trade").py() == {"sym": ["B"]}
    assert ask("5#select sym from trade").py() == {"sym": ["A", "B", "A", "B", "A"]}  # q's take
    assert ask("-3#select sym from trade").py() == {"sym": ["B", "A", "B"]}
    assert ask("2#select sym from trade where size > 99").py() == {"sym": []}
