"""A subscription's output rows, committed as a feed's updates are: journalled first, as
``(`.u.upd; `t; rows)`` with ``rows`` a kdb+ table, then added to the output table's real-time
table and published.

So a restart rebuilds an output table's real-time rows from the journal, each row once (a flush
records how far into the journal its rows go, as for any table), and the subscription does not
score the replayed ticks again: their outputs are in the journal after them. A subscriber that
replays the journal (``.u.i``, ``.u.L``) sees the outputs as kdb+'s would see a derived table
published back to its tickerplant. The journal's sync policy is the ticks' (``--fsync``).

Both messages are encoded from one kdb+ table (``prepared``), then journalled, appended and
sent (``commit``), on the event loop, which alone writes the journal and the subscribers'
sockets.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import pyarrow as pa

from indb.stream import kdb
from indb.stream.tickerplant import Update

if TYPE_CHECKING:
    from indb.stream.live import LiveTable
    from indb.stream.tickerplant import Tickerplant


@dataclass(frozen=True)
class Output:
    """A batch's rows for one output table, with their journal message and their publication
    encoded from one kdb+ table (PyKX's conversion of the columns is most of the cost)."""

    name: str
    live: LiveTable | None  # the real-time table they were made for (None: not made yet)
    rows: pa.Table  # in its schema, one chunk
    journalled: bytes = b""  # (`.u.upd; `t; rows)
    published: bytes = b""  # (`upd; `t; rows): what its subscribers of every sym are sent


def prepared(plant: Tickerplant, produced: list[tuple[str, pa.Table]]) -> list[Output]:
    """Each output ``(table, rows)`` cast to its real-time table's schema and encoded, where
    that table exists already; the others are left to ``commit`` (which makes real-time
    tables)."""
    ready = []
    for name, rows in produced:
        live = plant.tables.get(name)  # a dict read: only the loop adds to it
        ready.append(Output(name, None, rows) if live is None else _encoded(name, live, rows))
    return ready


def commit(plant: Tickerplant, outputs: list[Output]) -> None:
    """Journal, apply and publish a batch's outputs (``prepared``; on the event loop)."""
    stamp = plant.clock()
    updates = []
    for output in outputs:
        live = plant.table(output.name)
        if output.live is not live:  # its real-time table was made since
            output = _encoded(output.name, live, output.rows)
        updates.append(Update(live, stamp, (output.journalled,), batch=output.rows.to_batches()[0],
                              published=output.published))
    plant.commit(updates)


def _encoded(name: str, live: LiveTable, rows: pa.Table) -> Output:
    rows = _cast(rows.select(live.schema.names), live.schema).combine_chunks()
    journalled, published = kdb.update_messages((".u.upd", "upd"), name, rows)
    return Output(name, live, rows, journalled, published)


def _cast(rows: pa.Table, schema: pa.Schema) -> pa.Table:
    """The rows in the table's schema, a column cast only where its type differs (a cast of
    the whole table costs a compute call a column: most of a small batch's CPU here)."""
    if rows.schema == schema:
        return rows
    return pa.Table.from_arrays([column if column.type == field.type else column.cast(field.type)
                                 for column, field in zip(rows.columns, schema, strict=True)],
                                schema=schema)
