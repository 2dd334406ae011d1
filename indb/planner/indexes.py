"""Plans for ``CREATE [UNIQUE] INDEX`` and ``DROP INDEX``.

indb reads a table by scanning it (its Parquet files' statistics skip what a filter excludes),
so an index changes no plan. An index of columns is still recorded with its table, because
PostgreSQL's clients read it back (psql's ``\\d``, SQLAlchemy's ``get_indexes``, Alembic's
comparison), and a unique one is a promise every write keeps, as a UNIQUE constraint's. An index
of expressions or of some rows (``WHERE``) is accepted and not recorded, unless it is unique:
indb cannot keep that promise, so it refuses it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlglot import exp

from indb.catalog.names import qualified, split_name
from indb.parser import error_at, render
from indb.planner.tables import CatalogFacts, existing_table, table_name


@dataclass(frozen=True)
class NoIndex:
    """``CREATE INDEX`` of expressions or of some rows, accepted and recorded nowhere: it would
    change no result. ``table`` and ``columns``: those it names, checked to exist."""

    statement: str
    table: str
    columns: tuple[str, ...] = ()


@dataclass(frozen=True)
class CreateIndex:
    """``CREATE [UNIQUE] INDEX [IF NOT EXISTS] [name] ON t [USING btree] (c, ...)``; ``name`` None
    gets PostgreSQL's (``<table>_<columns>_idx``)."""

    table: str
    name: str | None
    columns: tuple[str, ...]
    unique: bool
    if_not_exists: bool = False
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class DropIndex:
    """``DROP INDEX [IF EXISTS] name, ...``: ``names`` qualified as tables' are (an index lives in
    its table's schema)."""

    names: tuple[str, ...]
    if_exists: bool = False
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class RenameIndex:
    """``ALTER INDEX [IF EXISTS] name RENAME TO new`` (Django's RenameIndex): ``old`` qualified
    as a table's name is, ``new`` in its schema."""

    old: str
    new: str
    if_exists: bool = False
    node: exp.Expr | None = field(default=None, compare=False, repr=False)


def plan_create_index(tree: exp.Create, catalog: CatalogFacts) -> CreateIndex | NoIndex:
    index = tree.this
    params = index.args.get("params")
    keys = [_key(o.this if isinstance(o, exp.Ordered) else o)
            for o in (params.args.get("columns") or [] if params else [])]
    table = existing_table(table_name(index.args["table"]), catalog)
    using = params.args.get("using") if params else None
    some_rows = params.args.get("where") if params else None
    included = params.args.get("include") if params else None
    unique = bool(tree.args.get("unique"))
    of_columns = bool(keys) and all(isinstance(k, exp.Column) and not k.table for k in keys)
    btree = using is None or using.name.lower() == "btree"
    if not unique and not (of_columns and btree and not some_rows and not included):
        return NoIndex(f"CREATE INDEX {index.name}".rstrip(), table,
                       tuple(k.name for k in keys if isinstance(k, exp.Column)))
    if not of_columns:
        odd = next((k for k in keys if not isinstance(k, exp.Column) or k.table), index)
        raise error_at(odd, f"a unique index of {render(odd)} is not supported: indb keeps a "
                            "unique index of columns (CREATE UNIQUE INDEX name ON t (a, b))")
    if some_rows:
        raise error_at(some_rows, "a partial unique index (WHERE) is not supported: indb keeps a "
                                  "unique index over all of a table's rows")
    if included:
        raise error_at(params, "INCLUDE is not supported in a unique index; name its columns alone")
    if using is not None and not btree:
        raise error_at(using, f"a unique index is a btree, not {using.name}: leave USING out")
    return CreateIndex(table, index.name or None, tuple(k.name for k in keys), unique,
                       bool(tree.args.get("exists")), tree)


def plan_rename_index(tree: exp.Alter) -> RenameIndex:
    actions = tree.args.get("actions") or []
    if len(actions) != 1 or not isinstance(actions[0], exp.AlterRename) \
            or not isinstance(actions[0].this, exp.Table) or actions[0].this.db:
        raise error_at(tree, "ALTER INDEX renames an index: ALTER INDEX name RENAME TO new")
    old = table_name(tree.this)
    return RenameIndex(old, qualified(split_name(old)[0], actions[0].this.name.lower()),
                       bool(tree.args.get("exists")), tree)


def _key(node: exp.Expr) -> exp.Expr:
    """An index's key without its operator class (Django's ``name varchar_pattern_ops``), which
    picks the operators a PostgreSQL index serves, not what it holds."""
    return node.this if isinstance(node, exp.Opclass) else node


def plan_drop_index(tree: exp.Drop, catalog: CatalogFacts) -> DropIndex:
    return DropIndex(tuple(table_name(t) for t in tree.args.get("tables") or []),
                     bool(tree.args.get("exists")), tree)
