"""Handlers of the subscription statements; the tickerplant runs subscriptions
(``indb.stream.subscriptions``).

CREATE checks what it can before anything is recorded: the pre-processing query runs over no
rows of the table's columns (so an unknown column is refused now), and the definer's privileges
(EXECUTE on the function, SELECT on the table, INSERT on existing output tables) are the
statement's (``planner.access``), checked again whenever a tickerplant starts the subscription.
A subscription runs with its definer's rights; only the definer (or an admin) drops it. One
whose function runs in the tickerplant's process (``ISOLATION = 'none'``) holds everything the
tickerplant holds, so it takes an admin's function, an admin definer, and a machine where the
sandbox is not required (``check_unisolated``).
"""

from __future__ import annotations

import dataclasses
import time
from typing import TYPE_CHECKING, Any

import duckdb
import pyarrow as pa

from indb.catalog import users
from indb.engine import privileges
from indb.errors import CatalogError, OptionError, PrivilegeError, SqlError
from indb.planner import access as rules
from indb.planner import subscriptions as plans
from indb.registry.subscriptions import SubscriptionInfo, SubscriptionStore
from indb.result import Result
from indb.sharding import sandbox

if TYPE_CHECKING:
    from indb.engine.core import Engine

# SHOW SUBSCRIPTIONS' figures, as a running subscription reports them (name, Arrow type)
FIGURES = (("state", pa.string()), ("lag_rows", pa.int64()), ("batches", pa.int64()),
           ("rows_in", pa.int64()), ("rows_out", pa.int64()), ("batch_rows_mean", pa.float64()),
           ("batch_rows_max", pa.int64()), ("latency_p50_ms", pa.float64()),
           ("latency_p99_ms", pa.float64()), ("query_path", pa.string()),
           ("query_fallbacks", pa.int64()), ("errors", pa.int64()), ("last_error", pa.string()),
           ("reported", pa.timestamp("us", tz="UTC")))
STOPPED = "not running"  # the state of a subscription no tickerplant runs
STALE_SECONDS = 5.0  # figures older than this: their tickerplant is gone (it reports every second)


def create_subscription(engine: Engine, plan: plans.CreateSubscription, params: object) -> Result:
    store = SubscriptionStore(engine.db)
    if store.find(plan.name) and not plan.replace:
        raise CatalogError(f"subscription {plan.name} already exists; use CREATE OR REPLACE "
                       f"SUBSCRIPTION, or DROP SUBSCRIPTION {plan.name} first")
    check_unisolated(engine, plan, engine.user)
    if plan.query is not None:
        _, info = engine.db.load(plan.table)
        prepare(plan, info.arrow_schema.empty_table())
    store.create(SubscriptionInfo(plan.name, dataclasses.asdict(plan), plan.ddl, engine.user,
                                  time.time()), replace=plan.replace)
    return Result(message=f"created subscription {plan.name}: {plan.function} on the ticks of "
                          f"{plan.table}, into {', '.join(plan.outputs)} (a tickerplant on this "
                          "database runs it)")


def show_subscriptions(engine: Engine, plan: plans.ShowSubscriptions, params: object) -> Result:
    """The subscriptions on tables the user may read, with the figures their tickerplant last
    reported."""
    store = SubscriptionStore(engine.db)
    infos = [store.get(plan.name)] if plan.name else store.all()
    access = privileges.access(engine, engine.user, [])
    shown = [i for i in infos if access.may(engine.user, "SELECT", "table", i.definition["table"])]
    if plan.name and not shown:
        raise PrivilegeError(f"{engine.user} may not see subscription {plan.name}: it may not "
                             f"read its table {infos[0].definition['table']}")
    head = (("name", pa.string()), ("table", pa.string()), ("function", pa.string()),
            ("outputs", pa.string()), ("definer", pa.string()))
    rows: dict[str, list[Any]] = {k: [] for k, _ in head + FIGURES + (("ddl", pa.string()),)}
    for info in shown:
        figures = store.figures(info.name) or {"state": STOPPED}
        if figures.get("reported") is not None and figures["reported"] < time.time() - STALE_SECONDS:
            figures["state"] = STOPPED  # killed without a word: what it last said stays shown
        definition = info.definition
        values = {"name": info.name, "table": definition["table"],
                  "function": definition["function"], "outputs": ", ".join(definition["outputs"]),
                  "definer": info.definer, "ddl": info.ddl, **figures}
        if values.get("reported") is not None:
            values["reported"] = int(values["reported"] * 1e6)
        for key in rows:
            rows[key].append(values.get(key))
    schema = pa.schema(list(head + FIGURES) + [("ddl", pa.string())])
    return Result(pa.table({k: pa.array(v, schema.field(k).type) if k != "reported"
                            else pa.array(v, pa.int64()).cast(schema.field(k).type)
                            for k, v in rows.items()}, schema=schema))


def drop_subscription(engine: Engine, plan: plans.DropSubscription, params: object) -> Result:
    """The subscription goes (a tickerplant running it stops it within a second); its output
    tables stay."""
    store = SubscriptionStore(engine.db)
    info = store.to_drop(plan.name, plan.if_exists)
    if info is None:
        return Result(message=f"subscription {plan.name} does not exist")
    privileges.check_creator(engine, "subscription", info, "drop")
    store.drop(plan.name)
    return Result(message=f"dropped subscription {plan.name}; its output tables stay")


def owner_of(engine: Engine, kind: str, name: str) -> str:
    """An object's owner (the database's owner owns what no one else does)."""
    return users.owners(engine.db.engine).get((kind, name), users.OWNER)


def admin_owns(engine: Engine, kind: str, name: str) -> bool:
    return privileges.is_admin(engine, owner_of(engine, kind, name))


def needs(plan: plans.CreateSubscription) -> list[rules.Need]:
    """What running the subscription needs of its definer."""
    return [rules.Need("EXECUTE", "function", plan.function),
            rules.Need("SELECT", "table", plan.table),
            *(rules.Need("OUTPUT", "table", name) for name in plan.outputs)]


def check_definer(engine: Engine, plan: plans.CreateSubscription, user: str) -> None:
    """PrivilegeError unless ``user`` may still run the subscription."""
    needed = needs(plan)
    rules.check_needs(needed, privileges.access(engine, user, needed))
    check_unisolated(engine, plan, user)


def check_unisolated(engine: Engine, plan: plans.CreateSubscription, user: str) -> None:
    """PrivilegeError (or OptionError) unless ``user`` may run ``plan``'s function where it
    says: in the tickerplant's process (``ISOLATION = 'none'``) only an admin's function, for
    an admin, where the sandbox is not required. (A developer who owns the function could
    replace its code at any time; in that process its code reads the catalog, the journal and
    every client's connection.)"""
    if plan.isolation != "none":
        return
    if not privileges.is_admin(engine, user):
        raise PrivilegeError(f"only an admin may run a subscription's function in the "
                             f"tickerplant's process (ISOLATION = 'none'); {user} is not one: "
                             "leave ISOLATION out for a sandboxed process of its own")
    owner = owner_of(engine, "function", plan.function)
    if not privileges.is_admin(engine, owner):
        raise PrivilegeError(f"function {plan.function} is {owner}'s, who is not an admin: with "
                             "ISOLATION = 'none' its code would run in the tickerplant's process "
                             "with the tickerplant's rights; register it as an admin (ALTER "
                             "FUNCTION ... OWNER TO), or leave ISOLATION out")
    if sandbox.mode() == "on":
        raise OptionError("INDB_SANDBOX=on requires every function to run confined; a "
                          "subscription with ISOLATION = 'none' runs its function in the "
                          "tickerplant's process, unconfined")


def prepare(plan: plans.CreateSubscription, rows: pa.Table) -> pa.Table:
    """The pre-processing query's rows over ``rows`` (which carry ``NEW`` when the query keeps
    window state); SqlError naming the subscription when DuckDB refuses it. (CREATE's check; a
    tickerplant runs it in the function's process: ``indb.stream.window``.)"""
    assert plan.query is not None
    if plan.windowed and plans.NEW not in rows.column_names:
        rows = rows.append_column(plans.NEW, pa.array([True] * rows.num_rows, pa.bool_()))
    with duckdb.connect() as duck:
        duck.register(plans.BATCH, rows)
        return run_query(duck, plan.name, plan.table, plan.query)


def run_query(duck: duckdb.DuckDBPyConnection, name: str, table: str, query: str) -> pa.Table:
    """Subscription ``name``'s query on ``duck``, where its rows are registered as ``BATCH``;
    SqlError naming the subscription when DuckDB refuses it."""
    try:
        return duck.sql(query).to_arrow_table()
    except duckdb.Error as error:
        raise SqlError(f"subscription {name}: its query fails over the rows of table "
                       f"{table}: {error}") from None
