"""``indb.server.pgnames``: result columns named as PostgreSQL 15 names them (each expected name
below is what PostgreSQL 15 gave the same select item), where DuckDB writes the expression."""

from __future__ import annotations

import pytest

from indb.parser import parse
from indb.server.pgnames import column_names


@pytest.mark.parametrize(("item", "name"), [
    ("count(*)", "count"), ("Sum(a)", "sum"), ("max(a)", "max"), ("min(a)", "min"),
    ("avg(a)", "avg"), ("string_agg(b, ',')", "string_agg"), ("array_agg(a)", "array_agg"),
    ("count(*)::int", "count"), ("substr(b, 1, 2)", "substr"), ("now()", "now"),
    ("date_trunc('day', ts)", "date_trunc"), ("coalesce(a, a)", "coalesce"),
    ("greatest(a, a)", "greatest"), ("nullif(a, a)", "nullif"), ('"lower"(b)', "lower"),
    ("position('a' in b)", "position"), ("extract(year from ts)", "extract"),
    ("a::int", "a"), ("cast(a as bigint)", "a"), ("ts::date", "ts"), ("'1'::integer", "int4"),
    ("'1'::text", "text"), ("1.5::numeric(5, 1)", "numeric"), ("'1'::bigint", "int8"),
    ("'1'::boolean", "bool"), ("'1'::smallint", "int2"), ("'1'::double precision", "float8"),
    ("'{1}'::int[]", "int4"), ("case when a > 0 then 1 end", "case"),
    ("case when a > 0 then 1 else b end", "b"), ("xs[1]", "xs"),
    ("(select max(a) from nm)", "max"), ("exists(select 1)", "exists"), ("array[1, 2]", "array"),
    ("current_date", "current_date"), ("current_timestamp", "current_timestamp"),
    ("1 + 2", "?column?"), ("x ->> 'k'", "?column?"), ("b ~ 'a'", "?column?"),
    ("'x'", "?column?"), ("1", "?column?"), ("-a", "?column?"), ("a is null", "?column?"),
    ("upper(b) || 'x'", "?column?"), ("a between 1 and 2", "?column?"),
])
def test_an_unnamed_select_item_is_named_as_postgresql_names_it(item, name):
    sql = f"SELECT {item} FROM nm"
    assert column_names(parse(sql)[0], sql, ["duckdb's"]) == [name]


def test_aliases_columns_and_stars_keep_duckdb_s_names():
    sql = "SELECT a, nm.b, count(*) AS n, (a) FROM nm"
    assert column_names(parse(sql)[0], sql, ["a", "b", "n", "a"]) == ["a", "b", "n", "a"]
    sql = "SELECT *, count(*) FROM nm"  # a star: the list does not line up with the result's
    assert column_names(parse(sql)[0], sql, ["a", "b", "count_star()"]) == [
        "a", "b", "count_star()"]


def test_a_union_is_named_by_its_first_query_and_returning_as_a_select():
    sql = "SELECT count(*) FROM nm UNION ALL SELECT 1"
    assert column_names(parse(sql)[0], sql, ["count_star()"]) == ["count"]
    sql = "INSERT INTO nm (a) VALUES (1) RETURNING a, a * 2, upper(b)"
    assert column_names(parse(sql)[0], sql, ["a", "(a * 2)", "upper(b)"]) == [
        "a", "?column?", "upper"]
    sql = "VALUES (1, 2)"
    assert column_names(parse(sql)[0], sql, ["col0", "col1"]) == ["column1", "column2"]
    sql = "SELECT 1; SELECT sum(a) FROM nm"  # positions are in the whole text
    assert column_names(parse(sql)[1], sql, ["sum(a)"]) == ["sum"]
