"""q's joins as indb translates them, against DuckDB's own join of the same tables.

Run: ``python benchmarks/bench_qjoins.py [--trades N] [--quotes M] [--symbols S] [--runs R]
[--json out.json]``. In one DuckDB database in memory: ``--trades`` trades and ``--quotes``
quotes over ``--symbols`` symbols, times rising (quotes four times as often), and a keyed table
of one row a symbol. Timed, best of ``--runs``, with the result fetched as Arrow:
``aj[`sym`time; trade; quote]`` (the translation: q's row order and its last row of several
at one time) against DuckDB's ``ASOF LEFT JOIN ... USING (sym, time)``, and ``trade lj `sym
xkey ref`` against ``LEFT JOIN ... USING (sym)``, and the window joins ``wj``/``wj1`` of
each trade's quotes from a second before to a second after it (max ask, min bid) against the
range join a DuckDB user would write (``LEFT JOIN quote ON sym = sym AND time BETWEEN ... GROUP
BY`` the trade: ``wj1``'s windows; ``wj`` takes the quote prevailing at the start too). Each
side gives one row a trade.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
from common import best_of, machine, report

from indb.parser.qsql import translate


WINDOWS = ("SELECT any_value(t.sym) AS sym, any_value(t.time) AS time, any_value(t.price) AS "
           "price, any_value(t.size) AS size, max(q.ask) AS ask, min(q.bid) AS bid FROM (SELECT "
           "*, row_number() OVER () AS i FROM trade) AS t LEFT JOIN quote AS q ON t.sym = q.sym "
           "AND q.time BETWEEN t.time - INTERVAL 1 SECOND AND t.time + INTERVAL 1 SECOND "
           "GROUP BY t.i ORDER BY t.i")  # a trade's quotes from a second before to one after


def tables(connection: duckdb.DuckDBPyConnection, trades: int, quotes: int, symbols: int) -> None:
    connection.execute(
        "CREATE TABLE trade AS SELECT 'S' || (i % $s) AS sym, TIMESTAMP '2024-01-02 09:30:00' + "
        "to_microseconds(i * 20000) AS time, 100.0 + i % 7 AS price, (i % 500)::BIGINT AS size "
        "FROM range($n) t(i)", {"s": symbols, "n": trades})
    connection.execute(
        "CREATE TABLE quote AS SELECT 'S' || (i % $s) AS sym, TIMESTAMP '2024-01-02 09:30:00' + "
        "to_microseconds(i * 5000 + 1) AS time, 99.0 + i % 5 AS bid, 101.0 AS ask "
        "FROM range($n) t(i)", {"s": symbols, "n": quotes})
    connection.execute("CREATE TABLE ref AS SELECT 'S' || i AS sym, 'EX' || (i % 3) AS ex "
                       "FROM range($s) t(i)", {"s": symbols})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trades", type=int, default=1_000_000)
    parser.add_argument("--quotes", type=int, default=5_000_000)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()
    connection = duckdb.connect()
    tables(connection, args.trades, args.quotes, args.symbols)

    def columns(name: str) -> list[str]:
        return connection.table(name).columns

    figures: dict[str, object] = {"machine": machine(), "trades": args.trades,
                                  "quotes": args.quotes, "symbols": args.symbols}
    pairs = {"aj": ("aj[`sym`time; trade; quote]",
                    "SELECT * FROM trade ASOF LEFT JOIN quote USING (sym, time)"),
             "lj": ("trade lj `sym xkey ref", "SELECT * FROM trade LEFT JOIN ref USING (sym)"),
             **{how: (f"{how}[-0D00:00:01 0D00:00:01 +\\: trade.time; `sym`time; trade; "
                      "(quote; (max; `ask); (min; `bid))]", WINDOWS) for how in ("wj", "wj1")}}
    timed: dict[str, float] = {}  # a plain query's seconds, measured once
    for name, (q, plain) in pairs.items():
        seconds = {}
        for side, sql in (("q", translate(q, columns).sql(dialect="duckdb")), ("duckdb", plain)):
            if sql not in timed:
                timed[sql], result = best_of(args.runs,
                                             lambda: connection.sql(sql).to_arrow_table())
                assert result.num_rows == args.trades  # type: ignore[attr-defined]
            seconds[side] = timed[sql]
            figures[f"{name}_{side}_s"] = round(seconds[side], 3)
        figures[f"{name}_q_trades_per_s"] = round(args.trades / seconds["q"])
        figures[f"{name}_ratio_q_over_duckdb"] = round(seconds["q"] / seconds["duckdb"], 2)
    report(figures, args.json)


if __name__ == "__main__":
    main()
