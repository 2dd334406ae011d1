"""Handlers of schema statements: CREATE SCHEMA, DROP SCHEMA [CASCADE], SHOW SCHEMAS;
PostgreSQL's default schema, ``public``, read as indb's, ``main``; and a session's search path
(``USE s``, ``SET search_path``), along which names without a schema are looked up."""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb import planner
from indb.catalog import sequences as sequence_catalog
from indb.catalog import users, views
from indb.catalog.names import DATABASE, DEFAULT_SCHEMA, POSTGRES_SCHEMA, qualified, split_name
from indb.catalog.sequences import FUNCTION_NAMES, identity_sequence, unwrapped
from indb.errors import CatalogError, SqlError
from indb.parser import dialect, privileges as privilege_trees, sequences as sequence_trees
from indb.planner.settings import DEFAULT_PATH, USER_SCHEMA
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine


def create_schema(engine: Engine, plan: planner.CreateSchema, params: object) -> Result:
    if plan.if_not_exists and engine.db.schema_exists(plan.name):
        return Result(message=f"schema {plan.name} already exists")
    engine.db.create_schema(plan.name)
    return Result(message=f"created schema {plan.name}")


def drop_schema(engine: Engine, plan: planner.DropSchema, params: object) -> Result:
    if plan.if_exists and not engine.db.schema_exists(plan.name):
        return Result(message=f"schema {plan.name} does not exist")
    held = [v.name for v in views.views(engine.db.engine) if split_name(v.name)[0] == plan.name]
    if held and not plan.cascade:
        raise CatalogError(f"schema {plan.name} holds {len(held)} view(s) ({', '.join(held[:3])}"
                           f"{', ...' if len(held) > 3 else ''}); drop them first, or DROP "
                           f"SCHEMA {plan.name} CASCADE")
    dropped = engine.db.drop_schema(plan.name, plan.cascade)
    for name in held:  # after its tables: a refusal above leaves everything as it was
        views.drop_view(engine.db.engine, name)
        users.forget_object(engine.db.engine, "table", name)
    return Result(message=f"dropped schema {plan.name}"
                  + (f" and its {len(dropped)} table(s)" if dropped else "")
                  + (f" and {len(held)} view(s)" if held else ""))


def show_schemas(engine: Engine, plan: planner.ShowSchemas, params: object) -> Result:
    names = engine.db.schemas()
    tables = engine.db.metadata_locations()
    counts = {name: 0 for name in names}
    for table in tables:
        schema = engine.db.identifier(table)[0]
        counts[schema] = counts.get(schema, 0) + 1
    return Result(pa.table({"name": pa.array(names, pa.string()),
                            "tables": pa.array([counts[n] for n in names], pa.int64())}))


def main_for_public(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with ``public.t`` read as ``main.t``: public is PostgreSQL's default schema
    as main is indb's, and what PostgreSQL writes (pg_dump, ORMs given a schema) names it. A
    database that has a schema public of its own (made before it was reserved) keeps it. A
    three-part name in this database (``indb.public.t``) is its two last parts."""
    for node in tree.find_all(exp.Table, exp.Column):  # indb.main.t: this database's main.t
        catalog = node.args.get("catalog")
        if isinstance(catalog, exp.Identifier) and catalog.name.lower() == DATABASE \
                and node.args.get("db") is not None:
            node.set("catalog", None)
    if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind")).upper() == "SCHEMA":
        return tree  # the schema itself: CREATE SCHEMA public is refused, DROP SCHEMA public none
    found = [db for node in tree.find_all(exp.Table, exp.Column)
             if isinstance(db := node.args.get("db"), exp.Identifier) and not node.args.get("catalog")
             and (db.name if db.quoted else db.name.lower()) == POSTGRES_SCHEMA]
    if found and not engine.db.schema_exists(POSTGRES_SCHEMA):
        for db in found:
            db.replace(exp.to_identifier(DEFAULT_SCHEMA))
    return tree


# the statements whose tables are looked up along the search path; the others name no table,
# or name other things as tables (USE s, DROP SCHEMA s, a subscription's batch)
_SEARCHED = (exp.Query, exp.Insert, exp.Update, exp.Delete, exp.Merge, exp.Copy,
             exp.TruncateTable, exp.Analyze, exp.Comment, exp.Describe, exp.Alter, exp.Create,
             exp.Drop, dialect.Explain, dialect.Vacuum, dialect.Optimize, dialect.ShowSnapshots,
             dialect.ExecuteFunction, dialect.ShowCreate, privilege_trees.GrantOn,
             privilege_trees.SetOwner, exp.Cache, exp.Uncache, exp.Refresh,
             sequence_trees.DropSequence, sequence_trees.AlterSequence)
_MADE = ("TABLE", "SEQUENCE")  # what a CREATE makes in the path's first schema (views: main)
# calls whose arguments name tables, by whether they may make them: a function run's, and
# DuckDB's PRAGMA table_info('t') (read as the table function)
_FUNCTION_TABLES = {"INPUT_TABLE": False, "INPUT_TABLES": False, "OUTPUT_TABLE": True,
                    "OUTPUT_TABLES": True, "PRAGMA_TABLE_INFO": False, "PRAGMA_SHOW": False}


def search_path(engine: Engine) -> tuple[str, ...]:
    """The session's search path, its schemas that exist in order (``$user``: the user's)."""
    named = _named(engine)
    if named == DEFAULT_PATH:
        return named
    return tuple(s for s in named if s == DEFAULT_SCHEMA or engine.db.schema_exists(s))


def _named(engine: Engine) -> tuple[str, ...]:
    path = engine.temporaries.search_path if engine.temporaries is not None else DEFAULT_PATH
    return tuple(dict.fromkeys(engine.user if s == USER_SCHEMA else s for s in path))


def looked_up(engine: Engine, name: str) -> str:
    """The catalog name a table's name without a schema means along the session's search path
    (``_Path.find``)."""
    path = _Path.of(engine)
    return path.find(name) if path is not None else name


@dataclass(frozen=True)
class _Path:
    """A session's search path as one statement sees it: its schemas that exist, the first it
    names (where a CREATE goes when none exists, which the CREATE then says), and the tables,
    views and (read when a name is none of those) sequences there are."""

    schemas: tuple[str, ...]
    first: str
    relations: frozenset[str]
    views: frozenset[str]
    engine: Engine = field(compare=False, repr=False)

    @functools.cached_property
    def sequences(self) -> frozenset[str]:
        """The catalog names of the sequences: CREATE SEQUENCE's, and identity columns'
        (``t_c_seq``)."""
        made = {s.name for s in sequence_catalog.every(self.engine.db.engine)}
        identities = {identity_sequence(table, column.name)
                      for table, info in self.engine.session.infos.items()
                      for column in info.columns if column.identity is not None}
        return frozenset(made | identities)

    @classmethod
    def of(cls, engine: Engine) -> _Path | None:
        """The session's path (None: main's alone, where names need no looking up)."""
        schemas = search_path(engine)
        if schemas == DEFAULT_PATH:
            return None
        return cls(schemas, schemas[0] if schemas else _named(engine)[0],
                   engine.session.relations(), engine.session.views.names, engine)

    def find(self, name: str, making: bool = False) -> str:
        """The catalog name of ``name``: in the first schema holding one, else a view's (views
        are in no schema), else in the first schema (with ``making``; and a table of main left
        out of the path, so that it is not found)."""
        found = next((s for s in self.schemas if qualified(s, name) in self.relations), None)
        if found is None and name in self.views:
            return name
        if found is None and not making:
            found = next((s for s in self.schemas if qualified(s, name) in self.sequences), None)
        if found is None and (making or name in self.relations):
            found = self.first
        return qualified(found or DEFAULT_SCHEMA, name)


def searched(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with its tables named without a schema looked up along the session's
    search path (``_Path.find``), a CREATE TABLE's made in its first schema, a function run's
    input and output tables the same way; ``current_schema()`` and ``current_schemas(...)``
    answer with the path."""
    path = _Path.of(engine)
    if path is None:
        return tree
    if isinstance(tree, exp.Command) and tree.name.upper() == "SHOW":  # DuckDB's SHOW t:
        try:  # DESCRIBE t, whose name a tree holds
            shown = planner.upkeep.shown(tree)
        except SqlError:
            return tree  # another SHOW, which the planner refuses
        tree = exp.Describe(this=shown) if shown is not None else tree
    if not isinstance(tree, _SEARCHED):
        return tree
    if isinstance(tree, exp.Create | exp.Drop) and str(tree.args.get("kind")).upper() \
            not in (*_MADE, "VIEW", "INDEX"):
        return tree
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    kind = str(tree.args.get("kind")).upper() if isinstance(
        tree, exp.Create | exp.Drop | dialect.ShowCreate) else ""
    made = tree.find(exp.Table) if isinstance(tree, exp.Create) and kind in _MADE else None
    named = tree.find(exp.Table) if kind == "VIEW" else None  # a view's name: no schema's
    for table in list(tree.find_all(exp.Table)):
        if table.args.get("db") is None and isinstance(table.this, exp.Identifier) \
                and table is not named and table.name.lower() not in ctes \
                and not isinstance(table.parent, exp.AlterRename):
            _place(table, path.find(table.name.lower(), table is made))
    for call in tree.find_all(exp.Anonymous):  # INPUT_TABLE(t), OUTPUT_TABLES('o'), ...
        if call.name.upper() not in _FUNCTION_TABLES:
            continue
        making = _FUNCTION_TABLES[call.name.upper()]
        for name in call.expressions:
            if isinstance(name, exp.Column) and not name.table:
                schema = split_name(path.find(name.name.lower(), making))[0]
                if schema != DEFAULT_SCHEMA:
                    name.set("table", exp.to_identifier(schema))
            elif name.is_string and "." not in name.name:
                name.replace(exp.Literal.string(path.find(name.name.lower(), making)))
    for call in tree.find_all(exp.Anonymous):  # nextval('s'), currval('s'::regclass), setval
        text = unwrapped(call.expressions[0]) if call.name.lower() in FUNCTION_NAMES \
            and call.expressions else None
        if isinstance(text, exp.Literal) and text.is_string and "." not in text.name:
            text.replace(exp.Literal.string(path.find(text.name.lower())))
    for node in list(tree.find_all(exp.CurrentSchema, exp.CurrentSchemas)):
        node.replace(exp.Array(expressions=[exp.Literal.string(s) for s in path.schemas])
                     if isinstance(node, exp.CurrentSchemas) else
                     exp.Literal.string(path.schemas[0]) if path.schemas else exp.null())
    return tree


def _place(table: exp.Table, name: str) -> None:
    schema = split_name(name)[0]
    if schema != DEFAULT_SCHEMA:
        table.set("db", exp.to_identifier(schema))
