"""A subscription's output rows, committed as a feed's updates are: journalled first, as
``(`.u.upd; `t; rows)`` with ``rows`` a kdb+ table, then added to the output table's real-time
table and published.

So a restart rebuilds an output table's real-time rows from the journal, each row once (a flush
records how far into the journal its rows go, as for any table), and the subscription does not
score the replayed ticks again: their outputs are in the journal after them. A subscriber that
replays the journal (``.u.i``, ``.u.L``) sees the outputs as kdb+'s would see a derived table
published back to its tickerplant. The journal's sync policy is the ticks' (``--fsync``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from indb.stream import kdb
from indb.stream.tickerplant import Update

if TYPE_CHECKING:
    from indb.stream.tickerplant import Tickerplant


def commit(plant: Tickerplant, produced: list[tuple[str, pa.Table]]) -> None:
    """Journal, apply and publish a batch's outputs ``(table, rows)`` (on the event loop)."""
    stamp = plant.clock()
    updates = []
    for name, rows in produced:
        live = plant.table(name)
        rows = rows.select(live.schema.names).cast(live.schema).combine_chunks()
        message = kdb.encode(kdb.call(".u.upd", kdb.symbol(name), kdb.table(rows)), kdb.ASYNC)
        updates.append(Update(live, stamp, (message,), batch=rows.to_batches()[0]))
    plant.commit(updates)
