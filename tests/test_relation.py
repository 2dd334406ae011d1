"""DuckDB's relational API on indb's Python connections (``indb.relation``): steps built on a
query's result, relations of files and Python data, and their outputs."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest

import indb
from indb.errors import OptionError, SqlError
from indb.relation import Relation


@pytest.fixture
def conn(tmp_path):
    with indb.connect(tmp_path / "db") as connection:
        connection.sql("CREATE TABLE trades (sym VARCHAR, px DOUBLE, qty INTEGER)")
        connection.sql("INSERT INTO trades VALUES ('A', 10, 1), ('A', 12, 2), ('B', 5, 3), "
                       "('C', 20, 4)")
        yield connection


def test_duckdb_s_documented_chain(conn):
    # the relational API guide's: filter, project, order, limit over a DataFrame
    input_df = pd.DataFrame({"i": [1, 2, 3, 4], "j": ["one", "two", "three", "four"]})
    rel = conn.from_df(input_df)
    output = rel.filter("i >= 2").project("i, j, i*2 AS two_i").order("i DESC").limit(2).df()
    assert output.to_dict("list") == {"i": [4, 3], "j": ["four", "three"], "two_i": [8, 6]}


def test_steps_build_on_a_query_s_result(conn):
    rel = conn.sql("FROM trades")
    assert isinstance(rel, Relation) and isinstance(rel, indb.Result)
    assert rel.filter("px > 6").aggregate("sym, avg(px) AS avg_px", "sym").order("sym").fetchall() \
        == [("A", 11.0), ("C", 20.0)]
    assert rel.project("sym", "px * qty AS notional").order("notional DESC").limit(2).fetchall() \
        == [("C", 80.0), ("A", 24.0)]
    assert rel.order("px").limit(1, offset=1).fetchall() == [("A", 10.0, 1)]
    assert rel.count().fetchall() == [(4,)] and rel.shape == (4, 3)
    assert rel.project("sym").distinct().order("sym").fetchall() == [("A",), ("B",), ("C",)]
    assert rel.filter("sym = 'A'").union(rel.filter("sym = 'B'")).count().fetchone() == (3,)
    assert sorted(rel.except_(rel.filter("sym = 'A'")).fetchall()) == [("B", 5.0, 3), ("C", 20.0, 4)]
    assert rel.intersect(rel.filter("qty = 4")).fetchall() == [("C", 20.0, 4)]
    assert rel.filter("px > 1").sql_query() == "SELECT * FROM trades WHERE px > 1"
    assert rel.order("px DESC").limit(1).sql_query() == "SELECT * FROM trades ORDER BY px DESC LIMIT 1"
    assert rel.query("v", "SELECT max(px) FROM v").fetchall() == [(20.0,)]
    # a query's parameters go along; its rows are read once, execute() runs it again
    priced = conn.sql("SELECT * FROM trades WHERE px > ?", [6])
    assert priced.filter("qty < 4").order("px").fetchall() == [("A", 10.0, 1), ("A", 12.0, 2)]
    assert len(priced.fetchall()) == 3 and priced.fetchall() == []
    assert len(priced.execute().fetchall()) == 3


def test_joins_by_using_columns_or_a_condition_and_their_names(conn):
    rel = conn.sql("FROM trades")
    names = conn.from_arrow(pa.table({"sym": ["A", "B"], "name": ["Apple", "Bolt"]}))
    assert rel.join(names, "sym").order("px").project("sym, name").fetchall() == [
        ("B", "Bolt"), ("A", "Apple"), ("A", "Apple")]
    assert rel.join(names, ["sym"], how="left").filter("name IS NULL").fetchall() == [
        ("C", 20.0, 4, None)]
    assert rel.join(names, "sym", how="anti").fetchall() == [("C", 20.0, 4)]
    # aliased sides: their names stay visible in the steps after the join, as in DuckDB
    joined = rel.set_alias("t").join(names.set_alias("r"), "t.sym = r.sym")
    assert sorted(joined.project("t.sym, r.name").fetchall()) == [
        ("A", "Apple"), ("A", "Apple"), ("B", "Bolt")]
    with pytest.raises(OptionError, match="join's how is one of"):
        rel.join(names, "sym", how="sideways")


def test_outputs_write_tables_views_and_files(conn, tmp_path):
    rel = conn.sql("FROM trades")
    rel.filter("px > 10").create("big")
    rel.filter("sym = 'B'").insert_into("big")
    assert conn.sql("SELECT sym FROM big ORDER BY px").fetchall() == [("B",), ("A",), ("C",)]
    rel.aggregate("sym, sum(qty) AS q", "sym").create_view("per_sym")
    assert conn.sql("SELECT q FROM per_sym WHERE sym = 'A'").fetchall() == [(3,)]
    rel.order("px").write_csv(str(tmp_path / "t.csv"))
    assert (tmp_path / "t.csv").read_text().splitlines()[:2] == ["sym,px,qty", "B,5.0,3"]
    rel.write_parquet(str(tmp_path / "t.parquet"), compression="zstd")
    assert conn.read_parquet(str(tmp_path / "t.parquet")).count().fetchone() == (4,)
    assert conn.read_csv(str(tmp_path / "t.csv"), header=True).filter("qty > 2").order("qty") \
        .fetchall() == [("B", 5.0, 3), ("C", 20.0, 4)]


def test_python_data_and_variables_are_read_by_the_relations_that_name_them(conn):
    frame = pd.DataFrame({"sym": ["A"], "limit": [11.0]})
    rel = conn.from_df(frame)
    assert rel.join(conn.sql("FROM trades"), "sym").filter("px > \"limit\"").fetchall() == [
        ("A", 11.0, 12.0, 2)]
    limits = pd.DataFrame({"sym": ["C"]})  # noqa: F841 (a variable the query names)
    named = conn.sql("SELECT * FROM trades JOIN limits USING (sym)")
    assert named.project("px").fetchall() == [(20.0,)]
    with pytest.raises(SqlError, match="python_data_"):  # a relation's data is its own
        conn.sql(f"SELECT * FROM {rel.sql_query().split()[-1]}")


def test_a_step_s_mistake_is_an_error_at_the_step(conn):
    rel = conn.sql("FROM trades")
    with pytest.raises(SqlError, match="something is missing after '>'"):
        rel.filter("px >")
    with pytest.raises(SqlError, match='"nope" not found'):
        rel.project("nope")
    with pytest.raises(SqlError, match="built on one query"):
        conn.sql("SHOW TABLES").filter("name = 'x'")
    with pytest.raises(OptionError, match="whole numbers"):
        rel.limit(-1)
    with pytest.raises(OptionError, match="is not an option of COPY"):
        rel.write_csv("x.csv", **{"header true); DROP TABLE trades; --": 1})
    assert conn.sql("SELECT count(*) FROM trades").fetchone() == (4,)
    assert conn.sql("INSERT INTO trades VALUES ('D', 1, 1)").fetchall() == [(1,)]  # not a relation


def test_a_table_s_handle_is_a_relation_of_its_rows_and_duckdb_s_keywords(conn):
    table = conn.table("trades")
    assert table.shards == 8 and table.alias == "trades"  # its shards, and DuckDB's relation
    assert table.filter("px > 10").order("px").fetchall() == [("A", 12.0, 2), ("C", 20.0, 4)]
    assert table.df().shape == (4, 3)
    with pytest.raises(AttributeError):
        table.no_such_method
    assert conn.sql("SELECT sym FROM trades WHERE px > ?", params=[15]).fetchall() == [("C",)]
    assert conn.sql("FROM trades", alias="t").alias == "t"
    with pytest.raises(indb.ProgrammingError, match="once"):
        conn.sql("SELECT ?", [1], params=[2])
