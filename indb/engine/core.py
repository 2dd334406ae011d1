"""The engine: one open database. It parses statements, plans them, and carries each plan out
through the one table of handlers (``indb.engine.handlers.HANDLERS``)."""

from __future__ import annotations

import logging
import reprlib
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, nullcontext
from pathlib import Path

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog.database import Database
from indb.catalog.location import Location
from indb.catalog.users import OWNER
from indb.engine import (macros, modifying, named_types, prepared, privileges, registered, sequences,
                         sources, tables, temporary, transactions, variables)
from indb.engine.handlers import HANDLERS
from indb.engine.qsql import expanded
from indb.engine.schemas import main_for_public, searched
from indb.engine.shortcuts import Shortcuts
from indb.engine.temporary import Temporaries
from indb.engine.upkeep import described_view
from indb.errors import IndbError, InternalError, OptionError, ProgrammingError, SqlError
from indb.parser import in_user_terms, parse
from indb.parser.prepared import Execute, Prepare
from indb.query.session import ParameterSets, QuerySession
from indb.registry.environments import EnvironmentInfo, EnvironmentStore
from indb.registry.functions import FunctionInfo, FunctionStore
from indb.registry.models import ModelInfo, ModelStore
from indb.registry.runs import RunLog
from indb.result import Result
from indb.runtime.gpus import visible_gpus
from indb.runtime.predictors import Predictor
from indb.sharding.cluster import default_workers
from indb.sharding.executor import FunctionRunner, Progress

# instance processes sharing one GPU, taking turns at it: while one computes, the others read or
# write their files (measured on an H100, 1M rows warm, docs/benchmarks.md: 1 -> 0.89-1.02M
# rows/s, 2 -> 1.23-1.28M, 4 -> 1.31-1.36M, 8 -> 1.34M; eight are no faster than four, and
# would leave each process half the share of the GPU's memory)
GPU_SLOTS = 4
log = logging.getLogger(__name__)


class Engine:
    """One open database: its catalog, its DuckDB session, its records and the function runner.

    ``workers``/``threads_per_worker`` size the local Dask cluster started on the first function
    run (``cluster="threads"`` runs its workers as threads of this process, for fast tests);
    ``scheduler`` uses an existing Dask scheduler instead.

    Threads may share an engine: statements run one at a time (planning, views, handlers and
    their writes), each on a DuckDB connection of its own; a query's rows are then read outside
    that turn, on a DuckDB connection of the result's own.
    """

    def __init__(self, path: str | Path | Location, *, default_shards: int | None = None,
                 workers: int | None = None, threads_per_worker: int | None = None,
                 scheduler: str | None = None, cluster: str = "processes",
                 gpus: int | None = None, relocate: bool = False, user: str = OWNER) -> None:
        if cluster not in ("processes", "threads"):
            raise OptionError(f"cluster is 'processes' or 'threads', not {cluster!r}")
        self.db = Database(path, default_shards=default_shards, workers=workers, relocate=relocate)
        self.session = QuerySession(self.db)
        self.functions = FunctionStore(self.db)
        self.runs = RunLog(self.db.engine)
        self.models = ModelStore(self.db)
        url = self.db.engine.url  # the fast path's stamps need the catalog's SQLite file
        self.shortcuts = Shortcuts(url.database if url.get_backend_name() == "sqlite" else None)
        self._predictors: dict[tuple[str, float, str | None], Predictor] = {}
        gpus = (visible_gpus() if gpus is None else gpus) if cluster == "processes" else 0
        urls = self.db.location  # a database described by URLs may name its cluster
        scheduler = scheduler or (urls.scheduler if urls else None)
        options: dict[str, object] = {"scheduler": scheduler, "tls": urls.tls if urls else None} \
            if scheduler else {
            # with GPUs, one worker per GPU unless told otherwise
            "workers": workers or self.db.workers or gpus or default_workers(),
            "threads_per_worker": threads_per_worker or (GPU_SLOTS if gpus else 2),
            "processes": cluster == "processes", "gpus": gpus}
        self.predict_device = "cuda" if gpus else "cpu"  # where PREDICT runs its torch models
        self.runner = FunctionRunner(self.db, self.functions, self.runs, self.models, options)
        self.progress: Progress | None = None  # called while a function runs (the CLI's bar)
        self.environments = EnvironmentStore(self.db)
        self.facts = _CatalogFacts(self.db, self.functions, self.models, self.environments)
        # its session's temporary tables (None: a server's pooled connection, whose session
        # lends its own for each statement's turn, or has none)
        self.temporaries: Temporaries | None = Temporaries()
        self.pooled = False  # a server's connection, which its requests and sessions take turns on
        self._lock = threading.RLock()  # one statement at a time; handlers run plans inside theirs
        self._running = False  # a handler is running (read and written under _lock only)
        self._user = user  # who runs statements, unless a thread says otherwise (as_user)
        self._identity = threading.local()  # .user: as_user's, for this thread
        if user != OWNER:
            privileges.confine(self, user)

    def execute(self, sql: str, params: object = None) -> Result:
        """Run every statement in ``sql``; returns the last one's result (a query's rows are
        read as they are fetched)."""
        params = _parameters(params)
        try:
            with self._lock:  # a single-row PREDICT planned before, while nothing changed
                fast = self.shortcuts.run(self, sql, params) \
                    if isinstance(sql, str) and self.db.pending is None else None
            if fast is not None:
                return fast
            trees = parse(_text(sql))
            if params is not None and len(trees) != 1:
                raise SqlError("parameters go with exactly one statement")
            result = Result(message="no statement")
            for tree in trees:
                result.close()  # an earlier statement's rows are never read
                result = self._statement(tree, params, sql if len(trees) == 1 else None)
            return result
        except SqlError as error:  # show where in the text the user typed
            raise in_user_terms(error, sql) from None

    def executemany(self, sql: str, seq_of_parameters: Iterable[object]) -> Result:
        """Run one statement once a parameter set; ``rowcount`` is the total. An INSERT is
        planned once, DuckDB stages the rows of every set, and they are written in ONE snapshot;
        other statements run once a set, in order (a query returns the last set's rows)."""
        if isinstance(seq_of_parameters, str | bytes) or not isinstance(seq_of_parameters, Iterable):
            raise ProgrammingError("executemany takes a sequence of parameter sets (a list of "
                                   f"lists or tuples), not a {type(seq_of_parameters).__name__}")
        sets = tuple(_parameter_set(p) for p in seq_of_parameters)
        try:
            trees = parse(_text(sql))
            if len(trees) != 1:
                raise SqlError("executemany runs exactly one statement")
            with self._lock, self.session.statement(), transactions.failing(self):
                self.session.refresh()
                tree = self._checked(trees[0], self.user)
                if not sets:
                    planner.plan(tree, self.facts)  # a statement that cannot run is still refused
                    return Result(message="no parameter sets: nothing ran", rowcount=0)
                # kdb('kdb://...', 'q') takes literals only: fetched once for every set
                with sources.fetched(self, tree) as tree:
                    plan = planner.plan(tree, self.facts)
                    if _inserts(plan):
                        return self.run(plan, ParameterSets(sets))
                    result, total = Result(), 0
                    for params in sets:
                        result.close()
                        self.session.refresh()  # the set before may have changed a table
                        result = self.run(plan, params)
                        total += max(result.rowcount, 0)
                if not result.returns_rows:
                    result.rowcount = total
                return result
        except SqlError as error:
            raise in_user_terms(error, sql) from None

    @property
    def user(self) -> str:
        """Who the calling thread's statements run as (``docs/security.md``)."""
        return getattr(self._identity, "user", None) or self._user

    @contextmanager
    def as_user(self, user: str) -> Iterator[None]:
        """Run the statements this thread executes inside as ``user`` (a server's session):
        each is checked against that user's privileges, and what it creates is that user's."""
        outer = getattr(self._identity, "user", None)
        self._identity.user = user
        try:
            yield
        finally:
            self._identity.user = outer

    def _statement(self, tree: exp.Expr, params: object, text: str | None = None) -> Result:
        """Run one statement; ``text``, its whole text, lets the fast path learn it."""
        if modifying.writes(tree):  # WITH d AS (DELETE ... RETURNING *) INSERT ...: parts
            return modifying.run(self, tree, params, self._statement)
        if isinstance(tree, Execute):
            text = None  # EXECUTE q runs what q is now: never a fast path's
        if self.db.pending is not None:
            text = None  # a transaction's reads see its writes: no fast path's
        with self._lock, self.session.statement(), transactions.failing(self):
            stamp = self.shortcuts.stamp() if text is not None else None  # before anything is read
            self.session.refresh()
            user = self.user
            tree = self._checked(tree, user)
            with sources.fetched(self, tree) as tree:  # kdb('kdb://...', 'q'): a host's rows
                plan = planner.plan(tree, self.facts)
                created = privileges.owned(self, plan)
                result = self.run(plan, params)
            privileges.record(self, plan, created, user)
            temporary.noted(self, tree)
            if text is not None:
                self.shortcuts.learn(self, text, tree, plan, result, stamp)
            return result

    def _checked(self, tree: exp.Expr, user: str) -> exp.Expr:
        """The statement as indb runs it (``EXECUTE q`` as q's statement, q-sql translated,
        macros' calls expanded, named types' definitions in place of their names and variables'
        values in place of ``getvariable``, the session's temporary tables in their schema and
        its registered data under indb's names, ``public`` as main, names looked up along the
        session's search path, ``DESCRIBE v`` of a view as of its rows, ``current_user`` as
        ``user``, a sequence read as a table as its row), checked against ``user``'s privileges
        (PrivilegeError)."""
        tree = prepared.bound(self, tree)
        if isinstance(tree, Prepare):  # its statement checked now, kept as written
            return prepared.checked(tree, self._checked(tree.expression.copy(), user))
        tree = named_types.expanded(self, macros.expanded(self, expanded(self, tree)))
        tree = variables.expanded(self, tree)
        tree = registered.placed(self, temporary.placed(self, tree))
        tree = _as_user(described_view(self, searched(self, main_for_public(self, tree))), user)
        tree, needed = sequences.as_relations(self, tree)
        privileges.check(self, tree, user, needed)
        return tree

    def portable(self, tree: exp.Expr) -> exp.Expr:
        """The statement with what only this session knows put in it (its temporary macros,
        tables and views, its variables, its search path), to run on a connection of its own
        (the PostgreSQL port's function runs)."""
        with self._lock, self.session.statement():
            self.session.refresh()
            tree = variables.expanded(self, macros.expanded(self, tree))
            return searched(self, temporary.named(self.temporaries, tree))

    def run(self, plan: planner.Plan, params: object = None) -> Result:
        """Carry out one plan with its handler, in the statement's turn. A plan a handler runs
        inside its own is read whole before that handler goes on, since the handler may then
        remove what the rows come from (PREDICT's functions); only the outermost one streams."""
        handler = HANDLERS.get(type(plan))
        loading = isinstance(plan, planner.Load)  # Connection.load: planned without a statement
        if loading:
            privileges.check_load(self, plan, self.user)  # type: ignore[arg-type]
        if handler is None:
            raise InternalError(f"no handler for {type(plan).__name__} plans")
        with self._lock, self.session.statement(), transactions.failing(self), \
                transactions.around(self, plan) if not self._running else nullcontext():
            inside, self._running = self._running, True  # (around: a statement's own plan)
            try:
                result = handler(self, plan, params)
            finally:
                self._running = inside
            if loading:
                privileges.record(self, plan, privileges.owned(self, plan), self.user)
            if inside:
                result.arrow()  # reads the rest of its rows now
            elif result.types is None and result.columns:
                result.types = self.session.types_of(result.schema)
            return result

    def served_model(self, name: str, version: int | str | None = None,
                     precision: str | None = None) -> Predictor:
        """A registered model loaded once in this process and kept: on its GPU when it has one,
        replayed from CUDA graphs there (PREDICT and ``Connection.model`` use it)."""
        with self._lock:  # loaded once, whichever thread asks first
            info = self.models.local(self.models.get(name, version))  # an object store's: copied
            key = (info.path, info.created, precision)  # the artifact, not the name: versions move
            if key not in self._predictors:
                self._predictors[key] = Predictor(info, device=self.predict_device,
                                                  precision=precision,
                                                  cuda_graphs=self.predict_device != "cpu")
            return self._predictors[key]

    def shard(self, name: str, shard: int) -> pa.Table:
        """One shard's rows of a table, in SQL types."""
        return tables.shard(self, name, shard)

    def close(self) -> None:
        """Close the database, after runs started with ``nowait`` have finished."""
        self.runner.wait()
        with self._lock:
            if self.db.pending is not None:  # a transaction left open: rolled back (PEP 249)
                transactions.discard(self)
            try:
                temporary.dropped(self)
            except IndbError as error:  # the catalog out of reach: they stay (temporary.py)
                log.warning("temporary tables in %s not dropped: %s",
                            self.temporaries and self.temporaries.schema, error)
            self.shortcuts.close()
            self.session.close()
            self.db.close()


def _text(sql: object) -> str:
    if not isinstance(sql, str):
        raise ProgrammingError(f"SQL is a str, not a {type(sql).__name__}")
    return sql


def _parameters(params: object) -> Sequence | Mapping | None:
    return None if params is None else _parameter_set(params)


def _parameter_set(params: object) -> Sequence | Mapping:
    """Statement parameters as DuckDB takes them: a sequence of values for the ``?``s (qmark),
    or a mapping for ``$name``s; anything else is refused saying so."""
    if isinstance(params, Mapping) or (isinstance(params, Sequence)
                                       and not isinstance(params, str | bytes | bytearray)):
        return params
    raise ProgrammingError(f"parameters are a sequence of values, one for each ? (a list or "
                           f"tuple, such as [{reprlib.repr(params)}]), or a mapping for $name "
                           f"parameters; not a {type(params).__name__}")


def _inserts(plan: planner.Plan) -> bool:
    """Whether a plan is an INSERT (calling PREDICT or not): executemany stages all its rows."""
    inner = plan.plan if isinstance(plan, planner.WithPredictions) else plan
    return isinstance(inner, planner.Insert)


class _CatalogFacts:
    """What the planner may ask the catalog: table names, the default shard count, functions."""

    def __init__(self, db: Database, functions: FunctionStore, models: ModelStore,
                 environments: EnvironmentStore) -> None:
        self.db, self.functions, self.models = db, functions, models
        self.environments = environments
        self.default_shards = db.default_shards

    def exists(self, name: str) -> bool:
        return self.db.exists(name)

    def schema_exists(self, name: str) -> bool:
        return self.db.schema_exists(name)

    def function(self, name: str) -> FunctionInfo | None:
        return self.functions.find(name)

    def environment(self, name: str) -> EnvironmentInfo | None:
        return self.environments.find(name)

    def model(self, name: str, version: int | str | None) -> ModelInfo:
        return self.models.get(name, version)


def _as_user(tree: exp.Expr, user: str) -> exp.Expr:
    """``current_user``, ``session_user`` and ``current_role`` as the user the statement runs
    as (DuckDB's are its own name, ``duckdb``; PostgreSQL's role is its user)."""
    roles = [c for c in tree.find_all(exp.Column) if not c.table and not c.this.quoted
             and c.name.lower() == "current_role"]
    for node in [*tree.find_all(exp.CurrentUser, exp.SessionUser), *roles]:
        named = isinstance(node.parent, exp.Select) and node in node.parent.expressions
        value = exp.Literal.string(user)  # a column of its own keeps the function's name
        name = "session_user" if isinstance(node, exp.SessionUser) else \
            "current_role" if isinstance(node, exp.Column) else "current_user"
        node.replace(exp.alias_(value, name) if named else value)
    return tree
