"""q-sql translated to DuckDB: the results kdb+'s documentation prints for its examples (the
q-sql reference at code.kx.com and its suppliers-and-parts tables, sp.q), and Q for Mortals'
chapter 9 queries with results worked out from q's semantics (tests/qsql_examples/q4m.txt says
how), run through DuckDB on the same tables; q's semantics where SQL's differ; errors at their
place in the q text; the golden translations in tests/golden/qsql; and q-sql where indb accepts
SQL."""

from __future__ import annotations

import bisect
import datetime
import random
import re
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from sqlglot import exp

import indb
from indb.errors import SqlError
from indb.parser.qjoins import TableColumns
from indb.parser.qsql import translate
from indb.parser.qsyntax import tokenize

GOLDEN = sorted((Path(__file__).parent / "golden" / "qsql").glob("*.sql"))

TABLES = {  # kdb+'s sp.q, and the small tables of the reference pages
    "sp": ("s VARCHAR, p VARCHAR, qty BIGINT, x BIGINT", [
        ("s1", "p1", 300, 0), ("s1", "p2", 200, 2), ("s1", "p3", 400, 0), ("s1", "p4", 200, 1),
        ("s4", "p5", 100, 0), ("s1", "p6", 100, 0), ("s2", "p1", 300, 0), ("s2", "p2", 400, 2),
        ("s3", "p2", 200, 2), ("s4", "p2", 200, 2), ("s4", "p4", 300, 1), ("s1", "p5", 400, 1)]),
    "p": ("p VARCHAR, name VARCHAR, color VARCHAR, weight BIGINT, city VARCHAR", [
        ("p1", "nut", "red", 12, "london"), ("p2", "bolt", "green", 17, "paris"),
        ("p3", "screw", "blue", 17, "rome"), ("p4", "screw", "red", 14, "london"),
        ("p5", "cam", "blue", 12, "paris"), ("p6", "cog", "red", 19, "london")]),
    "t": ("c1 VARCHAR, c2 BIGINT, c3 DOUBLE", [("a", 10, 1.1), ("b", 20, 2.2), ("c", 30, 3.3)]),
    "people": ("name VARCHAR, sex VARCHAR, eye VARCHAR", [
        ("tom", "m", "blue"), ("dick", "m", "green"), ("harry", "m", "blue"),
        ("jack", "m", "blue"), ("jill", "f", "gray")]),
    "hair": ("name VARCHAR, hair VARCHAR, eye VARCHAR", [
        ("tom", "fair", "green"), ("dick", "dark", "brown"), ("harry", "fair", "gray")]),
    "stocks": ("n VARCHAR, p BIGINT", [("ibm", 40), ("msft", 38), ("samsung", 45), ("apple", 54)]),
}


@pytest.fixture(scope="module")
def duck() -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect()
    for name, (columns, rows) in TABLES.items():
        connection.execute(f"CREATE TABLE {name} ({columns})")
        connection.executemany(f"INSERT INTO {name} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return connection


def columns_of(name: str) -> list[str] | None:
    spec = TABLES.get(name)
    return [c.split()[0] for c in spec[0].split(", ")] if spec else None


def run(duck: duckdb.DuckDBPyConnection, q: str) -> tuple[list[str], list[tuple]]:
    """The result's columns and rows, numbers as Python's (DuckDB's sums are DECIMAL) rounded
    to 9 places (1.1 * 2 is 2.2000000000000002)."""
    relation = duck.sql(translate(q, columns_of).sql(dialect="duckdb"))
    return relation.columns, [tuple(_plain(v) for v in row) for row in relation.fetchall()]


def _plain(value: object) -> object:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return round(value, 9) if isinstance(value, float) else value


# -- kdb+'s documented examples (tests/qsql_examples/*.txt: the query, its input tables and the
# result as the page prints it) ----------------------------------------------------------------

EXAMPLES = sorted((Path(__file__).parent / "qsql_examples").glob("*.txt"))
Printed = tuple[list[str], list[list[str]]]  # column names ("" where q prints none), cells


@dataclass(frozen=True)
class Example:
    q: str
    printed: list[str]
    tables: dict[str, Printed]
    source: str


def examples() -> list[Example]:
    found: list[Example] = []
    for path in EXAMPLES:
        tables: dict[str, Printed] = {}
        source = ""
        for block in re.split(r"\n\s*\n", path.read_text()):
            lines = [line for line in block.splitlines() if not line.startswith("#")]
            if not lines:
                continue
            if lines[0].startswith("source: "):
                source = lines[0].split(": ", 1)[1]
            elif lines[0].startswith("table "):
                tables = {**tables, lines[0].split()[1]: printed_table(lines[1:])}
            else:
                assert lines[0].startswith("q)"), lines[0]
                found.append(Example(lines[0][2:], lines[1:], tables, source))
    return found


def printed_table(lines: list[str]) -> Printed:
    """A table as q prints it: the header, a line of dashes, a row a line; the columns
    start where their names do (q aligns them left), keys before the ``|``."""
    header = lines[0]
    bar = header.find("|")
    starts = [(m.start(), m.group()) for m in re.finditer(r"[^\s|]+", header)]
    if bar >= 0 and not header[:bar].strip():  # keys that q prints without a name
        starts.insert(0, (0, ""))
    if bar >= 0 and not header[bar + 1:].strip():  # a value column without a name
        starts.append((bar + 1, ""))
    bounds = [s for s, _ in starts[1:]] + [None]
    rows = []
    for row in lines[2:]:
        fields = row.replace("|", " ").split()
        # a page's hand-aligned row (a field a column), else q's columns by their names' places
        rows.append(fields if len(fields) == len(starts) else
                    [row[s:e].replace("|", "").strip() for (s, _), e in zip(starts, bounds)])
    return [name for _, name in starts], rows


def create(connection: duckdb.DuckDBPyConnection, name: str, table: Printed) -> dict[str, str]:
    """The printed table as a DuckDB table, each column's type from how q prints it (a
    timespan as a TIME, as indb keeps kdb+'s); its columns' types."""
    names, rows = table
    patterns = [("BIGINT", r"-?\d+"), ("DOUBLE", r"-?\d*\.?\d+"),
                ("TIMESTAMP_NS", r"\d{4}\.\d\d\.\d\dD[\d:.]+"), ("DATE", r"\d{4}\.\d\d\.\d\d"),
                ("TIME", r"(?:0D)?\d\d:\d\d[\d:.]*")]
    types = []
    for k, _ in enumerate(names):
        cells = [row[k] for row in rows if row[k]]
        types.append(next((t for t, p in patterns if all(re.fullmatch(p, c) for c in cells)),
                          "VARCHAR"))
    columns = ", ".join(f'"{n}" {t}' for n, t in zip(names, types))
    connection.execute(f'CREATE TABLE "{name}" ({columns})')
    values = [[None if not c else c.replace(".", "-", 2).replace("D", " ") if t == "TIMESTAMP_NS"
               else c.replace(".", "-") if t == "DATE" else c.removeprefix("0D")[:15]
               if t == "TIME" else c for c, t in zip(row, types)] for row in rows]
    connection.executemany(f'INSERT INTO "{name}" VALUES ({", ".join("?" * len(names))})',
                           values)
    return dict(zip(names, types))


def shown(value: object) -> str:
    """A value as q prints it in a table (nested lists as q shows them)."""
    if value is None:
        return ""
    if isinstance(value, list):
        items = [shown(v) for v in value]
        text = "".join("`" + i for i in items) if all(isinstance(v, str) for v in value) \
            else " ".join(items)
        return ("," if len(value) == 1 else "") + text
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, Decimal):
        value = int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, float):
        return f"{value:.7g}"
    if isinstance(value, datetime.datetime):
        return value.strftime("%Y.%m.%dD%H:%M:%S.%f") + "000"
    if isinstance(value, datetime.date):
        return value.strftime("%Y.%m.%d")
    if isinstance(value, datetime.time):
        return value.strftime("%H:%M:%S.%f")[:-3]
    return str(value)


def tokens(text: str) -> list[str]:
    """What a printed value says, less how q shows a type: enumerations (`s$), backticks of
    symbols and quotes of strings (indb's symbols and strings are both VARCHAR), and zero
    seconds and milliseconds of times (q prints a minute as 09:30, a time as 09:30:00.000)."""
    text = re.sub(r"`\w+\$", "", text)
    text = re.sub(r"(?<![\d.])(?:0D)?(\d\d:\d\d(?::\d\d)?)(?:\.(\d+))?(?![\d:.])", _time, text)
    return re.findall(r",|[^\s`\",]+", text)


def _time(match: re.Match) -> str:
    """A time (or a timespan within a day) less its trailing zero fraction and seconds."""
    clock, fraction = match[1], (match[2] or "").rstrip("0")
    return f"{clock}.{fraction}" if fraction else clock.removesuffix(":00")


def as_printed(example: Example) -> tuple[object, object]:
    """The example's result through indb and the documented one, in the same shape: the
    column names (None for a list or a dictionary by key, which q prints without them) and
    each row's cells as tokens."""
    connection = duckdb.connect()
    types = {name: create(connection, name, table) for name, table in example.tables.items()}
    tree = translate(example.q, types.get)
    relation = connection.sql(tree.sql(dialect="duckdb"))
    names, rows = list(relation.columns), relation.fetchall()
    ours = [[tokens(shown(v)) for v in row] for row in rows]
    printed = example.printed
    if len(printed) > 1 and set(printed[1]) <= set("-| "):  # a table
        documented, cells = printed_table(printed)
        names = [n if d else "" for n, d in zip(names, documented)] + names[len(documented):]
        return (names, ours), (documented, [[tokens(c) for c in row] for row in cells])
    pairs = [line.split("|", 1) for line in printed]
    if all(len(p) == 2 for p in pairs):
        lefts = [left.strip() for left, _ in pairs]
        if len(rows) == 1 and names == lefts:  # a dictionary of columns
            return (names, ours), (lefts, [[tokens(right) for _, right in pairs]])
        return (None, ours), (None, [[tokens(left), tokens(right)] for left, right in pairs])
    flat = [token for row in ours for cell in row for token in cell]  # a list, or an atom
    return (None, flat), (None, tokens(" ".join(printed)))


@pytest.mark.parametrize("example", examples(), ids=lambda e: e.q)
def test_the_results_kdbs_documentation_prints(example):
    ours, documented = as_printed(example)
    assert ours == documented, f"{example.q} ({example.source})"


def test_the_documented_examples_are_many_and_sourced():
    found = examples()
    assert len(found) >= 40 and all(e.source.startswith("https://code.kx.com/") for e in found)


def test_the_comparison_sees_a_wrong_result():
    example = next(e for e in examples() if e.q == "select sum qty by s from sp")
    wrong = Example(example.q, [line.replace("1600", "1601") for line in example.printed],
                    example.tables, example.source)
    ours, documented = as_printed(wrong)
    assert ours != documented and as_printed(example)[0] == as_printed(example)[1]


TRADE = ("trade", (["time", "sym", "price", "size"], [
    ["2024.01.02D09:30:05.000000000", "AAPL", "10.0", "100"],
    ["2024.01.02D09:31:10.000000000", "MSFT", "20.0", "200"],
    ["2024.01.02D09:34:59.000000000", "AAPL", "11.0", "300"],
    ["2024.01.02D09:36:00.000000000", "AAPL", "12.0", "100"],
    ["2024.01.03D09:41:00.000000000", "MSFT", "22.0", "100"]]))


@pytest.mark.parametrize("q, names, rows", [
    ("select last price, sum size by 5 xbar time.minute from trade", ["minute", "price", "size"],
     [["09:30:00.000", "11", "600"], ["09:35:00.000", "12", "100"], ["09:40:00.000", "22", "100"]]),
    ("select n: count i by 7 xbar time.date from trade", ["date", "n"],  # q's weeks: Saturdays
     [["2023.12.30", "5"]]),
    ("select n: count i by time.date, time.hh from trade", ["date", "hh", "n"],
     [["2024.01.02", "9", "4"], ["2024.01.03", "9", "1"]]),
    ("select n: count i by 2 xbar time.second from trade where sym=`AAPL", ["second", "n"],
     [["09:30:04.000", "1"], ["09:34:58.000", "1"], ["09:36:00.000", "1"]]),
    ("select sym, m: 2 mavg price, s: 2 msum size, r: ratios price, d: differ sym from trade",
     ["sym", "m", "s", "r", "d"],
     [["AAPL", "10", "100", "10", "1"], ["MSFT", "15", "300", "2", "1"],
      ["AAPL", "15.5", "500", "0.55", "1"], ["AAPL", "11.5", "400", "1.090909", "0"],
      ["MSFT", "17", "200", "1.833333", "1"]]),
    ("select med price, dev size, var size by sym from trade", ["sym", "price", "size", "size1"],
     [["AAPL", "11", "94.2809", "8888.889"], ["MSFT", "21", "50", "2500"]]),
    ("update a: avgs price, p: xprev[1;price] by sym from trade where size<300",
     ["time", "sym", "price", "size", "a", "p"],
     [["2024.01.02D09:30:05.000000000", "AAPL", "10", "100", "10", ""],
      ["2024.01.02D09:31:10.000000000", "MSFT", "20", "200", "20", ""],
      ["2024.01.02D09:34:59.000000000", "AAPL", "11", "300", "", ""],
      ["2024.01.02D09:36:00.000000000", "AAPL", "12", "100", "11", "10"],
      ["2024.01.03D09:41:00.000000000", "MSFT", "22", "100", "21", "20"]]),
    ("select n: count i by 0D00:07 xbar time from trade", ["time", "n"],  # from 2000.01.01, as q
     [["2024.01.02D09:26:00.000000000", "2"], ["2024.01.02D09:33:00.000000000", "2"],
      ["2024.01.03D09:35:00.000000000", "1"]]),
    ("select n: count i by 7 xbar time.time from trade where sym=`MSFT", ["time", "n"],  # in ms
     [["09:31:09.998", "1"], ["09:41:00.000", "1"]]),
    ("select[-2] sym, price from `sym xdesc trade", ["sym", "price"],
     [["AAPL", "11"], ["AAPL", "12"]]),
    ("`sym xgroup select sym, size from reverse trade", ["sym", "size"],
     [["MSFT", "100 200"], ["AAPL", "100 300 100"]]),
])
def test_time_parts_moving_and_running_functions(q, names, rows):
    example = Example(q, [], dict([TRADE]), "")
    connection = duckdb.connect()
    types = create(connection, *TRADE)
    relation = connection.sql(translate(q, lambda n: types).sql(dialect="duckdb"))
    assert relation.columns == names
    assert [[shown(v) for v in row] for row in relation.fetchall()] == rows, example.q


def test_nulls_as_q_has_them(duck):
    # a by result sorts null keys first (q's nulls are the smallest); 0N=0N is true in q
    assert run(duck, "select n: count i by a from ([] a: 2 0N 1 0N)")[1] == [
        (None, 2), (1, 1), (2, 1)]
    assert run(duck, "select from ([] a: 1 0N 3) where a = 0N")[1] == [(None,)]
    assert run(duck, "select from ([] a: 1 0N 3) where a <> 0N")[1] == [(1,), (3,)]
    assert run(duck, "select s: sum a by b from ([] a: 1 0N 0N; b: `x`y`y)")[1] == [
        ("x", 1), ("y", 0)]  # q's sum counts a null as 0
    assert run(duck, "select s: sum qty from sp where qty > 1000")[1] == [(0,)]


@pytest.mark.parametrize("q, names, rows", [
    ("0!select n: count i by s from sp where qty>300", ["s", "n"], [("s1", 2), ("s2", 1)]),
    ("`qty xcols select from sp where p=`p1", ["qty", "s", "p", "x"],
     [(300, "s1", "p1", 0), (300, "s2", "p1", 0)]),
    ("`supplier`part xcol select from sp where p=`p1", ["supplier", "part", "qty", "x"],
     [("s1", "p1", 300, 0), ("s2", "p1", 300, 0)]),
    ("`s xkey select s, p from sp where qty=100", ["s", "p"], [("s4", "p5"), ("s1", "p6")]),
    ("ungroup `s xgroup select s, qty from sp where p=`p2", ["s", "qty"],
     [("s1", 200), ("s2", 400), ("s3", 200), ("s4", 200)]),
    ('select a: `$"abc", b: "F"$"1.5", c: "i"$qty, d: "D"$"2024.01.02" from sp where i=0',
     ["a", "b", "c", "d"], [("abc", 1.5, 300, datetime.date(2024, 1, 2))]),
])
def test_table_expressions_and_casts(duck, q, names, rows):
    assert run(duck, q) == (names, rows)


def test_aggregates_of_running_functions_and_filtered_aggregates(duck):
    # last sums runs along each group's rows; max deltas too (s1: 300 -100 200 -200 -100 300)
    assert run(duck, "select last sums qty, m: max deltas qty by s from sp where s in `s1`s2")[1] \
        == [("s1", 1600, 300), ("s2", 700, 300)]
    assert run(duck, "select last sums qty from sp")[1] == [(3100,)]
    assert run(duck, "select n: count i from sp where qty > (avg;qty) fby p")[1] == [(3,)]
    # max qty - min qty is q's max (qty - min qty): the inner aggregate over the same group
    assert run(duck, "select r: max qty - min qty by s from sp")[1] == [
        ("s1", 300), ("s2", 100), ("s3", 0), ("s4", 200)]
    assert run(duck, "select n: count i by 0D01 xbar t from ([] t: 2024.01.02D09:59 "
                     "2024.01.02D10:01)")[1] == [
        (datetime.datetime(2024, 1, 2, 9), 1), (datetime.datetime(2024, 1, 2, 10), 1)]


def test_aggregates_of_an_aggregate_are_of_one_atom(duck):
    # q applies the outer aggregate to the group's one value: sum of an atom is the atom,
    # count is 1, var is 0f, svar is 0%0 (0n); a window over the rows summed it once a row
    assert run(duck, "select a: sum avg qty, b: count sum qty, c: max sum qty, d: var avg qty, "
                     "e: svar avg qty from sp")[1] == [(round(3100 / 12, 9), 1, 3100, 0.0, None)]
    assert run(duck, "select sum qty wavg x from sp")[1] == [(round(2900 / 3100, 9),)]
    assert run(duck, "select v: sum c3 wavg c2 by c1 from t")[1] == [
        ("a", 10.0), ("b", 20.0), ("c", 30.0)]
    assert run(duck, "select v: sum c3 wavg c2 from t")[1] == [(round(154 / 6.6, 9),)]
    assert run(duck, "select n: count sum qty from sp where qty > 1000")[1] == [(1,)]  # one row
    assert run(duck, "select n: count avg qty by s from sp")[1] == [
        ("s1", 1), ("s2", 1), ("s3", 1), ("s4", 1)]
    # an aggregate of a list that an aggregate is part of stays an aggregate of the rows
    assert run(duck, "select d: sum qty - avg qty from sp")[1] == [(0.0,)]


def test_first_and_last_of_a_table_and_the_vector_conditional(duck):
    assert run(duck, "first select from sp where s=`s2") == (
        ["s", "p", "qty", "x"], [("s2", "p1", 300, 0)])
    assert run(duck, "last select qty from sp") == (["qty"], [(400,)])
    # of a keyed table (select ... by), q's first is the first group's values, keys left out
    assert run(duck, "first select sum qty by s from sp") == (["qty"], [(1600,)])
    assert run(duck, "last select q: sum qty by p from sp") == (["q"], [(100,)])  # p6
    assert run(duck, "select s, b: ?[qty>250; `big; `small] from sp where p=`p2") == (
        ["s", "b"], [("s1", "small"), ("s2", "big"), ("s3", "small"), ("s4", "small")])
    assert run(duck, "select n: sum ?[qty>250; 1; 0] by s from sp")[1] == [
        ("s1", 3), ("s2", 2), ("s3", 0), ("s4", 1)]
    assert run(duck, "select ?[c2>15; c1; `small] from t") == (
        ["c2"], [("small",), ("b",), ("c",)])  # named after its first argument's name


def test_timespans_against_times_of_day():
    # indb keeps kdb+'s timespan columns (tick's time) as TIME: timespan literals compare as
    # times of day, and still add and bucket as intervals
    connection = duckdb.connect()
    quote = {"quote": create(connection, "quote", (["time", "x"], [
        ["09:29:00.000", "1"], ["09:31:00.000", "2"], ["16:01:00.000", "3"]]))}

    def rows(q: str) -> list[tuple]:
        return connection.sql(translate(q).sql(dialect="duckdb")).fetchall()
    assert rows("select x from quote where time within 0D09:30 0D16:00") == [(2,)]
    assert rows("select x from quote where time > 0D09:30:00, time < 16:00") == [(2,)]
    assert rows("select n: count i by 0D00:05 xbar time from quote") == [
        (datetime.time(9, 25), 1), (datetime.time(9, 30), 1), (datetime.time(16, 0), 1)]
    assert rows("select t: time + 0D00:05 from quote where x=1") == [(datetime.time(9, 34),)]
    # a TIME the translation knows of: buckets from midnight, as q's (09:27, where DuckDB's own
    # origin puts 09:29 and 09:31 in a 7-minute bucket from 09:26); n xbar of it asks n of what
    assert connection.sql(translate("select n: count i by 0D00:07 xbar time from quote",
                                    quote.get).sql(dialect="duckdb")).fetchall() == [
        (datetime.time(9, 27), 2), (datetime.time(15, 59), 1)]
    with pytest.raises(SqlError, match="5 xbar time: a TIME column is bucketed by a timespan") \
            as caught:
        translate("select n: count i by 5 xbar time from quote", quote.get)
    assert (caught.value.line, caught.value.col) == (1, 24)
    # a table literal's times and timestamps are known as a stored table's
    assert rows("select n: count i by 0D00:07 xbar t from ([] t: 10:00 10:06)") == [
        (datetime.time(9, 55), 1), (datetime.time(10, 2), 1)]
    assert rows("select n: count i by 7 xbar d from ([] d: 2024.01.02 2024.01.09)") == [
        (datetime.date(2023, 12, 30), 1), (datetime.date(2024, 1, 6), 1)]
    with pytest.raises(SqlError, match="100 xbar t: a TIME column") as caught:
        translate("select n: count i by 100 xbar t from ([] t: 00:00:00.150 00:00:00.250)")
    assert (caught.value.line, caught.value.col) == (1, 26)
    # n xbar of a column the translation knows is a DATE: q's n-day buckets from 2000.01.01
    types = {"days": create(connection, "days", (["d"], [["2024.01.02"], ["2024.01.09"]]))}
    assert connection.sql(translate("select n: count i by 7 xbar d from days", types.get).sql(
        dialect="duckdb")).fetchall() == [(datetime.date(2023, 12, 30), 1),
                                          (datetime.date(2024, 1, 6), 1)]


def test_clock_last_record_and_weights_of_nulls():
    connection = duckdb.connect()
    connection.execute("SET TimeZone = 'America/New_York'")
    q = "select p: .z.p, lp: .z.P, d: .z.d, t: .z.t from ([] x: 1 2) where i=0"
    before = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    (p, local, d, t), = connection.sql(translate(q).sql(dialect="duckdb")).fetchall()
    assert abs(p - before) < datetime.timedelta(minutes=1) and d == p.date()
    assert abs(p - local - datetime.timedelta(hours=5)) < datetime.timedelta(hours=1.1)
    assert (t.hour, t.minute) == (p.hour, p.minute) or p.second == 59
    # exec with no phrase: the last record; wavg weighs the items that are not null, as q's
    assert connection.sql(translate("exec from ([] s: `a`b; q: 1 2)").sql(
        dialect="duckdb")).fetchall() == [("b", 2)]
    assert connection.sql(translate("select w: x wavg y from ([] x: 1 2 3; y: 1 0N 3)").sql(
        dialect="duckdb")).fetchall() == [(2.5,)]


def test_each_of_a_column_of_lists(duck):
    assert run(duck, "select s, n: count each qty, t: sum each qty, f: first each p, "
                     "l: last each p from select p, qty by s from sp where s in `s2`s3")[1] == [
        ("s2", 2, 700, "p1", "p2"), ("s3", 1, 200, "p2", "p2")]
    assert run(duck, "update total: sum each qty from select qty by s from sp")[0] == [
        "s", "qty", "total"]


def test_right_to_left_without_precedence(duck):
    assert run(duck, "select x: c2*c2+1 from t")[1] == [(110,), (420,), (930,)]  # c2*(c2+1)
    assert run(duck, "select x: c2-c2-1 from t")[1] == [(1,), (1,), (1,)]  # c2-(c2-1)
    assert run(duck, "select x: (c2*c2)+1 from t")[1] == [(101,), (401,), (901,)]


def test_later_where_subphrases_see_only_the_rows_kept(duck):
    # avg over s1's rows only (300 200 400 200 100 400: 266.7), not over the table (258.3)
    assert run(duck, "select p from sp where s=`s1, qty > avg qty")[1] == [("p1",), ("p3",), ("p5",)]
    assert run(duck, "select p from sp where qty > avg qty, s=`s1")[1] == [("p1",), ("p3",), ("p5",)]
    assert run(duck, "select p from sp where qty > 150, qty > (avg;qty) fby s")[1] == \
        [("p3",), ("p2",), ("p4",), ("p5",)]


def test_first_last_running_and_order(duck):
    assert run(duck, "select first p, last p, n:count i by s from sp")[1] == [
        ("s1", "p1", "p5", 6), ("s2", "p1", "p2", 2), ("s3", "p2", "p2", 1), ("s4", "p5", "p4", 3)]
    assert run(duck, "select s, d: deltas qty, pr: prev qty from sp where s=`s4")[1] == [
        ("s4", 100, None), ("s4", 100, 100), ("s4", 100, 200)]
    assert run(duck, "select[2;>qty] from sp")[1] == [("s1", "p3", 400, 0), ("s2", "p2", 400, 2)]
    assert run(duck, "select[1 2] p from sp")[1] == [("p2",), ("p3",)]
    assert run(duck, "exec p!qty from sp where s=`s2") == (["p", "qty"], [("p1", 300), ("p2", 400)])
    assert run(duck, "select distinct s from sp")[1] == [("s1",), ("s4",), ("s2",), ("s3",)]


def test_functions_and_literals(duck):
    row = run(duck, "select a: 7 mod 3, b: -7 mod 3, c: -7 div 2, d: 100 xbar 250, "
                    "e: 2 wavg 3, w: qty wavg qty, v: qty wsum qty from sp where s=`s3")[1]
    assert row == [(1, 2, -4, 200, 3.0, 200.0, 40000)]
    assert run(duck, "select p from sp where qty within 300 400, s like \"s[12]\"")[1] == [
        ("p1",), ("p3",), ("p1",), ("p2",), ("p5",)]
    assert run(duck, "select p from sp where s like \"s[^1]\", p like \"p?\", qty>250")[1] == [
        ("p1",), ("p2",), ("p4",)]
    assert run(duck, "select n: count distinct s, m: max qty from sp where not s in `s1`s2")[1] \
        == [(2, 300)]
    assert run(duck, "select d: `date$2024.01.31D10:00:00.123456789, "
                     "t: 2024.01.31D10:00:00.123456789 from t where c1=`a")[1][0][0].isoformat() \
        == "2024-01-31"
    assert run(duck, "select a: 2 xexp 10, b: 2 xlog 8, c: trim \"  x \", d: ltrim \" y\", "
                     "e: cos 0, f: atan 0, r: rank qty, q: 2 xrank qty from sp where s=`s4")[1] \
        == [(1024.0, 3.0, "x", "y", 1.0, 0.0, 0, 0), (1024.0, 3.0, "x", "y", 1.0, 0.0, 1, 0),
            (1024.0, 3.0, "x", "y", 1.0, 0.0, 2, 1)]
    assert run(duck, "update r: rank qty by s from sp where s in `s2`s3")[1][6:9] == [
        ("s2", "p1", 300, 0, 0), ("s2", "p2", 400, 2, 1), ("s3", "p2", 200, 2, 0)]
    vwap = run(duck, "select vwap: qty wavg x by s from sp where qty > 100")[1]
    assert vwap == [("s1", round((300 * 0 + 200 * 2 + 400 * 0 + 200 * 1 + 400 * 1) / 1500, 9)),
                    ("s2", round((300 * 0 + 400 * 2) / 700, 9)), ("s3", 2.0),
                    ("s4", round((200 * 2 + 300 * 1) / 500, 9))]


def _ema(values: list[float | None], alpha: float) -> list[float | None]:
    """q's recurrence, a row at a time: e0 = x0, ei = alpha*xi + (1-alpha)*e(i-1); null on."""
    out: list[float | None] = []
    for v in values:
        e = v if not out else None if v is None or out[-1] is None \
            else alpha * v + (1 - alpha) * out[-1]
        out.append(e)
    return out


@pytest.mark.parametrize("alpha", ["0.5", "0.01", "1", "2%3"])
def test_ema_is_qs_recurrence_by_group_past_its_blocks(alpha):
    # 3,000 rows in two groups: past a block of rows (432 at 0.5, 273 at 2%3), a null in one
    rows = [("a" if k % 3 else "b", None if k == 2000 else 100 + (k * 37 % 101) / 7)
            for k in range(3000)]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE px (sym VARCHAR, price DOUBLE)")
    connection.executemany("INSERT INTO px VALUES (?, ?)", rows)
    factor = 2 / 3 if alpha == "2%3" else float(alpha)
    query = f"update e: ema[{alpha}; price] by sym from px"
    relation = connection.sql(translate(query, lambda _: ["sym", "price"]).sql(dialect="duckdb"))
    assert relation.columns == ["sym", "price", "e"]  # the windows' helper columns not shown
    got = relation.fetchall()
    assert [r[:2] for r in got] == rows
    for sym in ("a", "b"):
        expected = _ema([p for s, p in rows if s == sym], factor)
        actual = [e for s, _, e in got if s == sym]
        assert [e is None for e in actual] == [e is None for e in expected]
        assert all(abs(a - e) <= 1e-12 * abs(e) for a, e in zip(actual, expected) if e is not None)
    assert any(e is None for _, _, e in got)  # the null, and the rows after it in its group


def test_ema_names_and_places(duck):
    assert run(duck, "select ema[0.5; qty] from sp where s=`s2")[0] == ["qty"]
    assert run(duck, "select e: 0.5 ema qty by s from sp where s in `s2`s3")[1] == [
        ("s2", [300.0, 350.0]), ("s3", [200.0])]
    assert run(duck, "select last 0.5 ema qty from sp where s=`s2")[1] == [(350.0,)]


def _windows(how: str, quotes: list[tuple[str, int, int]], sym: str, begin: int,
             end: int) -> list[int]:
    """A window's values as kdb+ finds them: from the last quote at or before ``begin`` (wj) or
    the first at or after it (wj1), to the last at or before ``end`` (q's bin)."""
    rows = [(t, v) for s, t, v in quotes if s == sym]
    times = [t for t, _ in rows]
    last = bisect.bisect_right(times, end) - 1
    first = max(bisect.bisect_right(times, begin) - 1, 0) if how == "wj" \
        else bisect.bisect_left(times, begin)
    return [v for _, v in rows[first:last + 1]]


@pytest.mark.parametrize("how", ["wj", "wj1"])
def test_window_joins_take_kdbs_windows(how):
    # quotes of two syms, sorted (as kdb+ wants them), several at one time; trades of three
    generator = random.Random(3)
    quotes = sorted((generator.choice("ab"), generator.randint(0, 60), generator.randint(1, 99))
                    for _ in range(300))
    trades = [(generator.choice("abc"), generator.randint(0, 60)) for _ in range(200)]
    connection = duckdb.connect()
    connection.execute("CREATE TABLE qt (sym VARCHAR, time INTEGER, v INTEGER)")
    connection.executemany("INSERT INTO qt VALUES (?, ?, ?)", quotes)
    connection.execute("CREATE VIEW q2 AS SELECT *, v AS n, v AS f, 1.0 * v AS w FROM qt")
    connection.execute("CREATE TABLE tr (sym VARCHAR, time INTEGER)")
    connection.executemany("INSERT INTO tr VALUES (?, ?)", trades)
    query = (f"{how}[(time - 3; time + 2); `sym`time; tr; (q2; (::; `v); (count; `n); "
             "(first; `f); (wavg; `v; `w))]")
    known = {"q2": ["sym", "time", "v", "n", "f", "w"], "tr": ["sym", "time"]}
    relation = connection.sql(translate(query, known.get).sql(dialect="duckdb"))
    assert relation.columns == ["sym", "time", "v", "n", "f", "w"]
    rows = relation.fetchall()
    assert [r[:2] for r in rows] == trades  # the left's rows, in order
    for (sym, time), (_, _, values, count, first, weighted) in zip(trades, rows):
        expected = _windows(how, quotes, sym, time - 3, time + 2)
        assert (values or []) == expected
        assert count == len(expected) and first == (expected[0] if expected else None)
        if expected:
            assert weighted == pytest.approx(sum(v * v for v in expected) / sum(expected))
    assert any(not r[2] for r in rows) and any(len(r[2] or []) > 3 for r in rows)


def test_asof_takes_a_dictionary_or_a_table_of_keys_and_times():
    # the asof page's second example: a table of keys (its time an atom, as q extends it), a
    # row of nulls where nothing matches
    connection = duckdb.connect()
    connection.execute("CREATE TABLE t AS SELECT * FROM (VALUES (TIME '09:00', 'AAPL', 1.5, 36), "
                       "(TIME '09:10', 'AAPL', 2.5, 12), (TIME '09:00', 'GOOG', 3.5, 92)) "
                       "v(time, sym, px, vol)")
    known = {"t": ["time", "sym", "px", "vol"]}
    for q, rows in [("t asof ([]sym:`GOOG`MSFT; time:09:05)", [(3.5, 92), (None, None)]),
                    ("asof[t; `sym`time!(`AAPL;09:10)]", [(2.5, 12)]),
                    ("t asof `sym`time!(`AAPL;08:59)", [(None, None)])]:
        relation = connection.sql(translate(q, known.get).sql(dialect="duckdb"))
        assert relation.columns == ["px", "vol"] and relation.fetchall() == rows, q


def test_joins_keep_qs_rules(duck):
    """Row order of the left table, a key's first row, the as-of row the last at or before the
    time (ties: the last), nulls replacing (lj) or not (ljf), and joins inside queries."""
    ticks = "([] time: 10:00:01 10:00:02 10:00:03; s: `s1`s2`s1)"
    quotes = "([] time: 10:00:00 10:00:01 10:00:01 10:00:02; s: `s1`s1`s1`s2; b: 1 2 3 4)"
    assert run(duck, f"aj[`s`time; {ticks}; {quotes}]")[1] == [
        (datetime.time(10, 0, 1), "s1", 3), (datetime.time(10, 0, 2), "s2", 4),
        (datetime.time(10, 0, 3), "s1", 3)]
    assert run(duck, f"aj0[`s`time; {ticks}; {quotes}]")[1][2][0] == datetime.time(10, 0, 1)
    keyed = "([k: 1 2 1] v: 10 0N 30)"
    assert run(duck, f"([] k: 2 1 3; v: 1 2 3) lj {keyed}")[1] == [(2, None), (1, 10), (3, 3)]
    assert run(duck, f"([] k: 2 1 3; v: 1 2 3) ljf {keyed}")[1] == [(2, 1), (1, 10), (3, 3)]
    assert run(duck, f"([] k: 2 1 3; v: 1 2 3) ij {keyed}")[1] == [(2, None), (1, 10)]
    assert run(duck, "([] k: 2 1 3; v: 1 2 3) ij ([k: 3 2])")[1] == [(2, 1), (3, 3)]
    # a select ... by is keyed on its by columns; the join is a source like any other
    assert run(duck, "select s, p, qty, m from (sp lj select m: max qty by s from sp) "
                     "where qty = m")[1] == [("s1", "p3", 400, 400), ("s2", "p2", 400, 400),
                                            ("s3", "p2", 200, 200), ("s4", "p4", 300, 300),
                                            ("s1", "p5", 400, 400)]
    names, rows = run(duck, "select n: count i by city from sp lj `p xkey p")
    assert names == ["city", "n"] and rows == [("london", 5), ("paris", 6), ("rome", 1)]
    # a stored table with a primary key is keyed on it, as a kdb+ keyed table is; a select
    # from it without a phrase too
    def keyed(name: str) -> TableColumns | None:
        names = columns_of(name)
        return None if names is None else TableColumns(
            dict.fromkeys(names, "VARCHAR"), lambda: ("p",) if name == "p" else ())
    assert duck.sql(translate("select s, city from sp lj select from p where weight > 16",
                              keyed).sql(dialect="duckdb")).fetchall()[:3] == [
        ("s1", None), ("s1", "paris"), ("s1", "rome")]
    with pytest.raises(SqlError, match="lj joins on the keys of a keyed table"):
        translate("p lj sp", keyed)
    # a select without a phrase has its source's columns, keys first after a by
    names, rows = run(duck, "sp ij `p xkey select from p where color=`blue")
    assert names == ["s", "p", "qty", "x", "name", "color", "weight", "city"] and len(rows) == 3
    assert run(duck, "sp lj select by p from p")[0] == names
    # right to left, as q reads it: the select's source is the join after it
    names, rows = run(duck, "sp ij `p xkey select p, city from p ij `p xkey select p, weight "
                            "from p where weight > 16")
    assert names == ["s", "p", "qty", "x", "city"] and [r[1] for r in rows] == [
        "p2", "p3", "p6", "p2", "p2", "p2"]


@pytest.mark.parametrize("q, message, col", [
    ("select from sp where", "expected an expression", 21),
    ("select foo qty from sp", "cannot apply foo", 12),
    ("select sum qty by s from sp where p.city=`london", "foreign keys", 35),
    ("select qty - avg qty by s from sp", "qty is a column of many values", 8),
    ("select from sp where qty in qty", "in takes a list", 29),
    ("delete qty from sp where s=`s1", "columns or rows, not both", 26),
    ("update c: 1 from nosuch", "needs to know the columns", 18),
    ("select[n] from sp", "n and m numbers", 8),
    ("select {x+1} qty from sp", "lambdas", 8),
    ("update r: max qty - min qty by s from sp", "not as a window", 11),
    ("select from sp lj p", "lj joins on the keys of a keyed table", 16),
    ("aj[`s`time; sp; p]", "the left table has no column time", 1),
    ("aj[s; sp; p]", "the columns aj joins on", 4),
    ("sp uj `p xkey p", "two unkeyed tables, or two keyed on the same columns", 4),
    ("sp, p", "t1, t2 joins tables of the same columns", 3),
    ("sp lj 9!p", "9!t: t has 5 columns", 7),
    ("(2!sp) uj 1!sp", r"here \['s', 'p'\] and \['s'\]", 8),
    ("sp lj `city xkey p", "the left table has no column city", 4),
    ("wj[w; `s`p; sp; (p; (max; `weight))]", "takes its windows written in", 4),
    ("sp asof `s`nope!(`s1; 2)", "t has no column nope", 4),
    ("sp asof `s`p!(`s1)", "a dictionary of 2 keys and 1 values", 9),
    ("wj[-2 1 +\\: sp.x; `s`x; sp; (sp; (max; `qty))]", "two timespans", 4),
    ("wj[(x; x); `s`x; sp; (sp; (max; `nosuch))]", "second table has no column nosuch", 1),
    ("wj1[(x; x); `s`x; sp; (sp; (max; `qty); (sum; `qty))]", "name the same column", 1),
    ("wj[(x; x); `s`x; sp; (sp; (wavg; `qty))]", "with f an aggregate or ::", 1),
    ("wj[(x; x); `s`x; sp; sp]", r"\(wj's second table", 22),
    ("select y: qty +\\: x from sp", r"\\: \(an iterator\) is not translated", 16),
    ("select sums each qty from sp", "sums each is not translated", 8),
    ("select s, q: qty*'x from sp", "iterators", 18),
    ("ungroup sp", "ungroup flattens the lists", 1),
    ('select a: "Q"$qty from sp', "casts are", 14),
    ("select from sp where p.city=`london", "a time's parts are date", 22),
    ("select x: `a`b from sp where qty>1", "without where and by", 11),
    ("select from ([] a: 1 2; b: 1 2 3)", "of one length", 13),
    ("select m: qty mavg qty from sp", "takes a count of rows first", 15),
    ("select e: ema[qty; qty] from sp", "ema takes a smoothing factor", 15),
    ("select e: 1.5 ema qty from sp", "between 0 and 1", 11),
    ("select from sp where qty > 0.1 ema qty", "ema in a where phrase", 22),
    ("select from sp where qty > 1 # 2", "cannot read '#'", 30),
    ("select from sp where qty > -3p", "cannot read .3p. as a number", 29),  # (a crash once)
    ("selec from sp", "starts with select", 1),
    ("?[sp;();0b;()]", "functional forms", 1),  # q outside the templates
    ("`a`b`c`d`e xcol sp", "xcol renames the first 5 columns", 1),
    ("`sp insert (`s9;`p9;1)", "insert changes a table", 5),
])
def test_errors_point_into_the_q_text(q, message, col):
    with pytest.raises(SqlError, match=message) as caught:
        translate(q, columns_of)
    assert (caught.value.line, caught.value.col) == (1, col)


@pytest.mark.parametrize("path", GOLDEN, ids=lambda p: p.stem)
def test_golden(path):
    q, expected = path.read_text().split("\n-- translates to:\n")
    assert translate(q.strip(), columns_of).sql(dialect="duckdb") == expected.strip()


def test_q_sql_where_sql_is_accepted(conn, table_name):
    sp, big = f"{table_name}_sp", f"{table_name}_big"
    conn.sql(f"CREATE TABLE {sp} (s VARCHAR, p VARCHAR, qty BIGINT) WITH (SHARDS = 1)")
    conn.executemany(f"INSERT INTO {sp} VALUES (?, ?, ?)", [r[:3] for r in TABLES["sp"][1]])
    assert conn.sql(f"q)select total:sum qty by s from {sp}").fetchall() == [
        ("s1", 1600), ("s2", 700), ("s3", 200), ("s4", 600)]
    assert conn.sql(f"SELECT count(*) FROM q('select from {sp} where qty > (avg;qty) fby p') "
                    "AS x").fetchone() == (3,)
    assert conn.execute(f"SELECT 1;\nq)exec qty from {sp} where s=`s2").fetchall() == [(300,), (400,)]
    with conn.cursor() as cursor:  # update keeps qty in its place, from the table's columns
        cursor.execute(f"q)update qty: 2*qty from {sp} where s=`s3")
        assert [d[0] for d in cursor.description] == ["s", "p", "qty"]
        assert ("s3", "p2", 400) in cursor.fetchall()
    conn.sql(f"CREATE FUNCTION {table_name}_f LANGUAGE PYTHON AS $$\n"
             f"def {table_name}_f(ctx, t):\n    return t\n$$")
    conn.sql(f"EXECUTE FUNCTION {table_name}_f(INPUT_TABLE_NAMES => INPUT_TABLE(q('select s, qty "
             f"from {sp} where qty > 250')), OUTPUT_TABLE_NAMES => OUTPUT_TABLES('{big}'))")
    assert sorted(conn.sql(f"SELECT * FROM {big}").fetchall()) == [
        ("s1", 300), ("s1", 400), ("s1", 400), ("s2", 300), ("s2", 400), ("s4", 300)]
    # the engine gives the translation the columns' types: a timestamp compares with a minute
    # as q's, converted to minutes
    conn.sql(f"CREATE TABLE {table_name}_ts (ts TIMESTAMP, x BIGINT) WITH (SHARDS = 1)")
    conn.executemany(f"INSERT INTO {table_name}_ts VALUES (?, ?)", [
        (datetime.datetime(2024, 1, 2, 9, 29, 15), 1), (datetime.datetime(2024, 1, 2, 9, 30, 1), 2)])
    assert conn.sql(f"q)exec x from {table_name}_ts where ts>09:29").fetchall() == [(2,)]
    # joins read the stored tables' columns from the engine
    assert conn.sql(f"q)select s, x from aj[`time; ([] time: 2024.01.02D09:30:00; s: `a); "
                    f"select time: ts, x from {table_name}_ts]").fetchall() == [("a", 1)]
    assert conn.sql(f"q)select total: sum qty by s from {sp} ij ([s: `s2`s3] r: 1 2)"
                    ).fetchall() == [("s2", 700), ("s3", 200)]
    assert conn.sql(f"q)exec p from wj1[(qty - 100; qty); `s`qty; {sp}; ({sp}; (count; `p))] "
                    "where s=`s2").fetchall() == [(1,), (2,)]  # s2's quantities: 300, 400
    conn.sql(f"CREATE TABLE {table_name}_ref (s VARCHAR PRIMARY KEY, city VARCHAR)")
    conn.sql(f"INSERT INTO {table_name}_ref VALUES ('s1', 'london'), ('s4', 'paris')")
    assert conn.sql(f"q)select n: count i by city from {sp} lj {table_name}_ref").fetchall() == [
        (None, 3), ("london", 6), ("paris", 3)]  # the table's primary key is its q key
    with pytest.raises(indb.SqlError, match="expected an expression") as caught:
        conn.sql(f"SELECT 1;\n  q)select from {sp} where")
    assert (caught.value.line, caught.value.col) == (2, len(f"  q)select from {sp} where") + 1)
    with pytest.raises(indb.SqlError, match=r"cannot apply foo .*column 12 of the q-sql text"):
        conn.sql(f"SELECT * FROM q('select foo qty from {sp}')")


def test_the_guides_examples_translate():
    guide = (Path(__file__).parent.parent / "docs" / "qsql.md").read_text()
    examples = [line[2:] for block in re.findall(r"```q\n(.*?)```", guide, re.S)
                for line in block.splitlines() if line.startswith("q)")]
    assert len(examples) >= 5
    for example in examples:
        assert translate(example, columns_of).find(exp.Select)


def test_a_namespaced_name_is_one_token():
    """``.u.sub``, ``.z.w``: q's names in a namespace (the tickerplant's call forms read them)."""
    tokens = tokenize(".u.sub[`t;.z.w] .5")
    assert [(t.kind, t.text) for t in tokens][:6] == [
        ("name", ".u.sub"), ("[", "["), ("sym", "`t"), (";", ";"), ("name", ".z.w"), ("]", "]")]
    assert (tokens[6].kind, tokens[6].text) == ("num", ".5")  # a number still
