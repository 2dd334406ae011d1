"""Plans for subscriptions (``indb.parser.subscriptions``): a function run on a table's ticks.

The function's call is checked as EXECUTE FUNCTION's is (``planner.functions``): the function
exists and is a handler, its PARAMS are its own, its output tables have valid names. The
pre-processing query (``INPUT_TABLE(SELECT ... FROM t)``) reads the subscription's table and
nothing else; it runs per micro-batch over the batch's rows (the table's name, in the query,
means the batch: rewritten here to ``BATCH``).

**Window state.** A query with window functions sees earlier batches' rows: the runtime keeps the
last ``history`` rows of each key (the windows' PARTITION BY columns, the same in every window)
and runs the query over those rows and the batch, marking the batch's rows (``NEW``) so that
only they come out. ``history`` is what the windows look back: the largest ``n`` of ``ROWS
BETWEEN n PRECEDING`` and of ``lag(x, n)``, unless ``WITH (HISTORY = n)`` says it; a window that
looks back without a bound (the default frame, UNBOUNDED PRECEDING, RANGE) needs HISTORY given.
History counts the table's rows that reach the query (after ``WHERE sym IN``, before the query's
own WHERE). ``lead`` looks at rows that have not arrived and is refused, as is GROUP BY in such
a query (it would mix earlier rows into the new ones).

**Isolation.** ``WITH (ISOLATION = 'process')``, the default, runs the function in a sandboxed
process of its own; ``'none'`` runs it in the tickerplant's process, on its event loop (the
privileges that takes are the engine's to check). A function there cannot be stopped, so
TIMEOUT is refused with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlglot import exp

from indb.parser import error_at, render, render_indb
from indb.parser import subscriptions as trees
from indb.planner.functions import _execution
from indb.planner.tables import CatalogFacts, new_name, table_name

BATCH = "indb_batch"            # the micro-batch's rows, as the pre-processing query reads them
NEW = "__indb_new"              # true for the batch's rows, false for the earlier ones kept
OPTIONS = {"max_batch": (1, 1_000_000), "max_wait": (0, 60_000), "history": (0, 1_000_000),
           "timeout": (0.001, 86_400)}
WHOLE = ("max_batch", "history")  # options in whole numbers
CHOICES = {"isolation": ("process", "none")}  # options that name one of their words; first: default
DEFAULT_MAX_BATCH = 4096        # rows
DEFAULT_MAX_WAIT = 0.0          # ms a batch waits for more rows once one arrived: none
DEFAULT_TIMEOUT = 60.0          # seconds a batch's function may take before its process is stopped
PUBLISH_SCHEME = "kdb://"


@dataclass(frozen=True)
class CreateSubscription:
    name: str
    replace: bool
    table: str
    syms: tuple[str, ...]                 # empty: every row
    function: str
    params: tuple[tuple[str, str], ...]
    query: str | None                     # the pre-processing query over BATCH; None: the rows
    windowed: bool                        # the query keeps window state (marks NEW rows)
    keys: tuple[str, ...]                 # window state: the columns a tail is kept per
    history: int                          # window state: rows kept per key; 0: none
    outputs: tuple[str, ...]
    publish: str | None                   # kdb://host:port of a tickerplant to send outputs to
    max_batch: int
    max_wait: float                       # ms
    ddl: str
    timeout: float = DEFAULT_TIMEOUT      # s (records made before it existed lack it)
    isolation: str = "process"            # process: a sandboxed process; none: the tickerplant's


@dataclass(frozen=True)
class ShowSubscriptions:
    name: str | None                      # None: every subscription


@dataclass(frozen=True)
class DropSubscription:
    name: str
    if_exists: bool


def plan_create(tree: trees.CreateSubscription, catalog: CatalogFacts) -> CreateSubscription:
    name = new_name(tree.this, "subscription")
    table = table_name(tree.args["table"])
    if not catalog.exists(table):
        raise error_at(tree.args["table"], f"table {table} does not exist; a subscription runs "
                                           "on the ticks of an existing table")
    arguments = list(tree.expressions)
    for argument in arguments:
        if argument.this.name.upper() == "OPTIONS":
            raise error_at(argument.this, "a subscription takes no OPTIONS; its batching is "
                                          "WITH (MAX_BATCH = rows, MAX_WAIT = ms)")
    given = {a.this.name.upper(): a.expression for a in arguments}
    if tree.args.get("outputs"):
        if "OUTPUT_TABLE_NAMES" in given:
            raise error_at(tree.args["outputs"][0], "the output tables are given twice: in the "
                                                    "call and in OUTPUT_TABLES(...)")
        arguments.append(exp.Kwarg(this=exp.to_identifier("OUTPUT_TABLE_NAMES"),
                                   expression=exp.Anonymous(this="OUTPUT_TABLES",
                                                            expressions=tree.args["outputs"])))
    call = _execution(tree.args["function"], arguments, catalog, render_indb(tree))
    if call.function.style != "handler":
        raise error_at(tree.args["function"], f"{call.function.name} is a script (a Kinetica-"
                                              "style program); a subscription calls a handler "
                                              "function: def f(ctx, rows)")
    if not call.outputs:
        raise error_at(tree.args["function"], "a subscription needs an output table: "
                                              "OUTPUT_TABLES('t') after the call")
    if table in call.outputs:
        raise error_at(tree.args["table"], f"a subscription cannot write into its own table {table}")
    options, chosen = _options(tree.args.get("options") or [])
    query, windowed, history = None, False, 0
    keys: tuple[str, ...] = ()
    if "INPUT_TABLE_NAMES" in given:
        query, windowed, keys, history = _query(given["INPUT_TABLE_NAMES"], table,
                                                options.get("history"))
    publish = None
    if tree.args.get("publish") is not None:
        publish = tree.args["publish"].name
        if not publish.startswith(PUBLISH_SCHEME) or ":" not in publish[len(PUBLISH_SCHEME):]:
            raise error_at(tree.args["publish"], f"PUBLISH TO takes {PUBLISH_SCHEME}host:port, "
                                                 f"not {publish!r}")
        if "@" in publish:  # the DDL is shown by SHOW SUBSCRIPTIONS
            raise error_at(tree.args["publish"], "PUBLISH TO names host:port only: give the "
                                                 "tickerplant the credentials in INDB_KDB_USER "
                                                 "and INDB_KDB_PASSWORD, which SHOW SUBSCRIPTIONS "
                                                 "cannot show")
    return CreateSubscription(
        name, bool(tree.args.get("replace")), table, _syms(tree.args.get("where")),
        call.function.name, call.params, query, windowed, keys, history, call.outputs, publish,
        int(options.get("max_batch", DEFAULT_MAX_BATCH)),
        float(options.get("max_wait", DEFAULT_MAX_WAIT)), render_indb(tree),
        float(options.get("timeout", DEFAULT_TIMEOUT)), chosen["isolation"])


def restored(definition: dict[str, Any]) -> CreateSubscription:
    """A subscription's plan from its catalog record (``dataclasses.asdict`` of it, through JSON)."""
    tuples = ("syms", "keys", "outputs")
    return CreateSubscription(**{**definition, **{k: tuple(definition[k]) for k in tuples},
                                 "params": tuple(tuple(p) for p in definition["params"])})


def plan_show(tree: trees.ShowSubscriptions, catalog: CatalogFacts) -> ShowSubscriptions:
    return ShowSubscriptions(tree.this.name.lower() if tree.args.get("this") else None)


def plan_drop(tree: trees.DropSubscription, catalog: CatalogFacts) -> DropSubscription:
    return DropSubscription(tree.this.name.lower(), bool(tree.args.get("exists")))


def _syms(where: exp.Expr | None) -> tuple[str, ...]:
    """``sym IN ('A', 'B')`` or ``sym = 'A'``: the symbols; anything else is for the query."""
    if where is None:
        return ()
    column = where.this
    if isinstance(where, exp.In):
        values = where.expressions
    elif isinstance(where, exp.EQ):
        values = [where.expression]
    else:
        values = []
    if not (isinstance(column, exp.Column) and column.name.lower() == "sym" and values
            and all(isinstance(v, exp.Literal) and v.is_string for v in values)):
        raise error_at(where, "a subscription's WHERE picks symbols: WHERE sym IN ('AAPL', "
                              "'MSFT'); filter on anything else in INPUT_TABLE(SELECT ... WHERE ...)")
    return tuple(dict.fromkeys(v.name for v in values))


def _options(nodes: list[exp.Expr]) -> tuple[dict[str, float], dict[str, str]]:
    """The numbers given, and every choice (its default where not given)."""
    out: dict[str, float] = {}
    chosen: dict[str, str] = {}
    for node in nodes:
        key = node.this.name.lower()
        if key not in OPTIONS and key not in CHOICES:
            raise error_at(node.this, f"unknown option {node.this.name}; a subscription takes "
                                      + ", ".join(k.upper() for k in [*OPTIONS, *CHOICES]))
        if key in out or key in chosen:
            raise error_at(node.this, f"{key.upper()} is given twice")
        value = node.expression
        if key in CHOICES:
            words = CHOICES[key]
            if not (isinstance(value, exp.Literal) and value.is_string and value.name in words):
                raise error_at(value, f"{key.upper()} is " + " or ".join(f"'{w}'" for w in words)
                                      + f", not {render(value)}")
            chosen[key] = value.name
            continue
        low, high = OPTIONS[key]
        try:
            number = float(value.name) if isinstance(value, exp.Literal) else None
        except ValueError:
            number = None
        if number is None or not low <= number <= high or (key in WHOLE and number != int(number)):
            raise error_at(value, f"{key.upper()} is a{' whole' if key in WHOLE else ''} "
                                  f"number from {low} to {high}, not {render(value)}")
        out[key] = number
    if chosen.get("isolation") == "none" and "timeout" in out:
        timeout = next(n for n in nodes if n.this.name.lower() == "timeout")
        raise error_at(timeout.this, "TIMEOUT stops a function's process, and with ISOLATION = "
                                     "'none' the function runs in the tickerplant's: it cannot "
                                     "be stopped; leave TIMEOUT out, or isolate it")
    return out, {key: chosen.get(key, words[0]) for key, words in CHOICES.items()}


def _query(value: exp.Expr, table: str,
           history: float | None) -> tuple[str, bool, tuple[str, ...], int]:
    """The pre-processing query over BATCH, whether it keeps window state, its keys and
    history."""
    items = value.expressions if isinstance(value, exp.Anonymous) \
        and value.name.upper() in ("INPUT_TABLE", "INPUT_TABLES") else [value]
    if len(items) != 1:
        raise error_at(value, "a subscription has one input, its table's ticks: "
                              "INPUT_TABLE(SELECT ... FROM t)")
    query = items[0].this if isinstance(items[0], exp.Subquery) else items[0]
    if not isinstance(query, exp.Query):
        raise error_at(items[0], "INPUT_TABLE_NAMES of a subscription is a query over its table: "
                                 "INPUT_TABLE(SELECT ... FROM t)")
    query = query.copy()
    ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
    read = False
    for node in list(query.find_all(exp.Table)):
        if not node.name or (not node.db and node.name.lower() in ctes):
            continue
        if table_name(node) != table:
            raise error_at(node, f"a subscription's query reads its own table's ticks ({table}), "
                                 f"not {table_name(node)}")
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(node.name))
        node.replace(exp.Table(this=exp.to_identifier(BATCH), alias=alias))
        read = True
    if not read:
        raise error_at(query, f"the query must read the subscription's table: ... FROM {table}")
    windows = list(query.find_all(exp.Window))
    if not windows:
        return render(query), False, (), 0
    return _stateful(query, windows, history)


def _stateful(query: exp.Query, windows: list[exp.Window],
              history: float | None) -> tuple[str, bool, tuple[str, ...], int]:
    """The query marking the batch's rows and keeping only them; the keys and history."""
    if not isinstance(query, exp.Select) or query.args.get("group") is not None:
        raise error_at(query, "a query with window functions runs over earlier rows and the "
                              "batch and keeps the batch's rows: write it as one SELECT without "
                              "GROUP BY")
    named = {w.this.name.lower(): w for w in query.args.get("windows") or []}  # WINDOW w AS (...)
    calls = [_resolved(w, named) for w in windows if not isinstance(w.this, exp.Identifier)]
    partitions = {tuple(render(p) for p in partition) for _, partition, _ in calls}
    first = calls[0][1]
    if len(partitions) != 1 or not all(isinstance(p, exp.Column) for p in first):
        raise error_at(calls[0][0], "the windows of a subscription's query partition by the same "
                                    "columns (PARTITION BY sym), so that earlier rows are kept per key")
    keys = tuple(p.name for p in first)
    needed = max(_looks_back(w, spec, history is not None) for w, _, spec in calls)
    kept = int(history) if history is not None else needed
    select = query.copy()
    select.select(exp.column(NEW, quoted=True), copy=False)
    outer = exp.select(exp.Star(except_=[exp.column(NEW, quoted=True)])).from_(
        exp.Subquery(this=select, alias=exp.TableAlias(this=exp.to_identifier("batch_rows")))
    ).where(exp.column(NEW, quoted=True))
    return render(outer), True, keys, kept


def _resolved(window: exp.Window, named: dict[str, exp.Window]
              ) -> tuple[exp.Window, list[exp.Expr], exp.Expr | None]:
    """A window call with its PARTITION BY and frame, a named window's where it names one."""
    alias = window.args.get("alias")
    base = named.get(alias.name.lower()) if isinstance(alias, exp.Identifier) else None
    partition = window.args.get("partition_by") or (base.args.get("partition_by") if base else None)
    spec = window.args.get("spec") or (base.args.get("spec") if base else None)
    return window, list(partition or []), spec


def _looks_back(window: exp.Window, spec: exp.Expr | None, given: bool) -> int:
    """How many earlier rows a window reads; refused when unbounded and HISTORY is not given."""
    function = window.this
    if isinstance(function, exp.Lead):
        raise error_at(window, "lead() looks at ticks that have not arrived; a subscription's "
                               "windows look back (lag, ROWS BETWEEN n PRECEDING)")
    if isinstance(function, exp.Lag):
        offset = function.args.get("offset")
        if offset is None:
            return 1
        if isinstance(offset, exp.Literal) and offset.is_int:
            return int(offset.name)
    if isinstance(spec, exp.WindowSpec) and str(spec.args.get("kind") or "").upper() == "ROWS":
        start, side = spec.args.get("start"), str(spec.args.get("start_side") or "").upper()
        if isinstance(start, exp.Literal) and start.is_int and side == "PRECEDING":
            return int(start.name)
        if str(start).upper() == "CURRENT ROW" or (side == "FOLLOWING"):
            return 0
    if given:
        return 0
    raise error_at(window, "this window looks back without a bound; say how many earlier rows a "
                           "key keeps: WITH (HISTORY = n), or frame it: ROWS BETWEEN n PRECEDING "
                           "AND CURRENT ROW")
