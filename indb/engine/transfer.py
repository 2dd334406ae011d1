"""``EXPORT DATABASE 'directory'`` and ``IMPORT DATABASE 'directory'``, as DuckDB's: the
directory holds ``schema.sql`` (the statements that make the schemas, named types, sequences,
tables, comments, macros and views again, as DuckDB's IMPORT reads them), ``load.sql`` (a ``COPY
t FROM 'file'`` for each table), one file of each table's rows, ``t.csv`` or ``s_t.parquet``, and
``schema.indb.sql``: the same schema in indb's SQL, with what DuckDB's does not read (``SHARD
KEY``, ``WITH (SHARDS = n)``, identity columns, which DuckDB's schema numbers from a sequence of
their own) and a ``setval`` for each identity column that has numbered rows, so the numbers go
on where they stood. indb's IMPORT reads ``schema.indb.sql`` where there is one, else
``schema.sql`` (a DuckDB export). So a database moves between indb databases, to DuckDB, and
from DuckDB.

EXPORT writes into a directory of its own beside the target and renames it into place when
every file is written, so a failed export leaves nothing; the target must not exist, or be
empty. IMPORT runs each statement as if typed, checked as the user's, and drops what it made
when one fails. Functions, models, users and procedures are indb's, not DuckDB's, and are not
exported: ``indb backup`` copies a whole database.
"""

from __future__ import annotations

import secrets
import shutil
from pathlib import Path
from typing import TYPE_CHECKING

from sqlglot import exp

from indb import planner
from indb.catalog import named_types, sequences, views
from indb.catalog.names import DEFAULT_SCHEMA, split_name
from indb.catalog.tables import TableInfo
from indb.catalog.types import Identity
from indb.engine import references, upkeep
from indb.engine.temporary import PREFIX as TEMPORARY_PREFIX
from indb.errors import IndbError, OptionError
from indb.parser import ShardKey, parse, render_indb, split
from indb.parser.macros import DropMacro
from indb.parser.named_types import CreateType, DropType
from indb.parser.sequences import DropSequence
from indb.planner import transfer as plans
from indb.planner.tables import table_name
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

SCHEMA_FILE, LOAD_FILE = "schema.sql", "load.sql"
INDB_SCHEMA_FILE = "schema.indb.sql"  # indb's own DDL (placement, identities); schema.sql DuckDB's


def export_database(engine: Engine, plan: plans.ExportDatabase, params: object) -> Result:
    target = Path(plan.directory).absolute()
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise OptionError(f"EXPORT DATABASE writes a new directory, and {target} is not an empty "
                          "one: name another")
    partial = target.parent / f".{target.name}.partial-{secrets.token_hex(4)}"
    partial.mkdir(parents=True)
    try:
        tables = _tables(engine)
        loads: list[exp.Expr] = []
        for name in tables:
            file = f"{name.replace('.', '_')}.{plan.format}"
            written = _written_columns(engine, name)
            engine.run(planner.plan(_copy(name, partial / file, plan.options, into=False,
                                          columns=written), engine.facts))
            loads.append(_copy(name, target / file, plan.options, into=True))
        schema = _schema(engine, tables) + _comments(engine, tables)
        counters = [c for name in tables for c in _counters(engine, name)]
        (partial / INDB_SCHEMA_FILE).write_text(_script(schema + counters))
        (partial / SCHEMA_FILE).write_text(_script(_for_duckdb(engine, schema)))
        (partial / LOAD_FILE).write_text(_script(loads))
        if target.exists():
            target.rmdir()  # (empty: checked above)
        partial.rename(target)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return Result(message=f"exported {len(tables)} table(s) to {target}")


def import_database(engine: Engine, plan: plans.ImportDatabase, params: object) -> Result:
    source = Path(plan.directory).absolute()
    texts = {}
    # indb's own schema where indb wrote it (schema.sql is DuckDB's, without indb's placement)
    schema = INDB_SCHEMA_FILE if (source / INDB_SCHEMA_FILE).is_file() else SCHEMA_FILE
    for name in (schema, LOAD_FILE):
        if not (source / name).is_file():
            raise OptionError(f"IMPORT DATABASE reads a directory EXPORT DATABASE wrote, and "
                              f"{source} has no {name}")
        texts[name] = (source / name).read_text()
    made: list[exp.Create | CreateType] = []
    try:
        for name, text in texts.items():
            for number, statement in enumerate(split(text), 1):
                tree = parse(statement)[0]
                if isinstance(tree, exp.Copy):
                    _moved(tree, source)
                try:
                    engine.execute(render_indb(tree))
                except IndbError as error:
                    error.args = (f"{name}, statement {number}: {error.args[0]}", *error.args[1:])
                    raise
                if isinstance(tree, exp.Create | CreateType):
                    made.append(tree)
    except BaseException:
        for tree in reversed(made):  # what the import made, dropped again
            _drop(engine, tree)
        raise
    tables = [t for t in made if str(t.args.get("kind")).upper() == "TABLE"]
    return Result(message=f"imported {len(tables)} table(s) from {source}")


def _tables(engine: Engine) -> list[str]:
    """The database's tables (not a session's temporary ones), main's first, a table another
    references before it."""
    names = [n for n in engine.db.metadata_locations()
             if not split_name(n)[0].startswith(TEMPORARY_PREFIX)]
    return references.parents_first(engine, sorted(
        names, key=lambda n: (split_name(n)[0] != DEFAULT_SCHEMA, n)))


def _schema(engine: Engine, tables: list[str]) -> list[exp.Expr]:
    """The statements that make the database's objects again, each after what it needs."""
    schemas = sorted({split_name(t)[0] for t in tables} | set(engine.db.schemas()))
    out: list[exp.Expr] = [exp.Create(this=exp.Table(db=exp.to_identifier(s)), kind="SCHEMA")
                           for s in schemas if s != DEFAULT_SCHEMA
                           and not s.startswith(TEMPORARY_PREFIX)]
    out += [CreateType(this=exp.to_identifier(name), kind=exp.DataType.build(definition,
                                                                             dialect="duckdb"))
            for name, definition in sorted(named_types.named_types(engine.db.engine).items())]
    out += [_sequence(info) for info in sequences.every(engine.db.engine) if info.owned_by is None]
    out += [upkeep.table_ddl(engine.db.load(name)[1], timing=False) for name in tables]  # (DuckDB's)
    out += [_sequence(info) for info in sequences.every(engine.db.engine) if info.owned_by]
    shown = engine.run(planner.macros.ShowMacros()).fetch_arrow_table().to_pylist()
    out += [parse(m["definition"])[0] for m in shown if not m["temporary"]]
    return out + _views(engine)


def _sequence(info: sequences.SequenceInfo) -> exp.Create:
    """CREATE SEQUENCE of a sequence as it is: it starts at the number it would give next."""
    following = info.last_value + info.increment if info.is_called else info.last_value
    made = sequences.properties(info, following)
    if info.owned_by:
        made.set("owned", exp.to_column(".".join(info.owned_by)))
    return exp.Create(this=exp.to_table(info.name), kind="SEQUENCE",
                      properties=exp.Properties(expressions=[made]))


def _views(engine: Engine) -> list[exp.Expr]:
    """CREATE VIEW of each view, a view another reads before it."""
    defined = {v.name: parse(v.sql)[0] for v in views.views(engine.db.engine)}
    ordered: list[str] = []

    def place(name: str, seen: tuple[str, ...]) -> None:
        if name in ordered or name in seen:
            return
        for table in defined[name].find_all(exp.Table):
            if not table.db and table.name.lower() in defined:
                place(table.name.lower(), (*seen, name))
        ordered.append(name)
    for name in sorted(defined):
        place(name, ())
    return [exp.Create(this=exp.to_table(name), kind="VIEW", expression=defined[name])
            for name in ordered]


def _comments(engine: Engine, tables: list[str]) -> list[exp.Expr]:
    """COMMENT ON each table and column that has a comment."""
    out: list[exp.Expr] = []
    for name in tables:
        info = engine.db.load(name)[1]
        if info.comment is not None:
            out.append(exp.Comment(this=exp.to_table(name), kind="TABLE",
                                   expression=exp.Literal.string(info.comment)))
        out += [exp.Comment(this=exp.column(c.name, *reversed(split_name(name))), kind="COLUMN",
                            expression=exp.Literal.string(c.comment))
                for c in info.columns if c.comment is not None]
    return out


def _for_duckdb(engine: Engine, schema: list[exp.Expr]) -> list[exp.Expr]:
    """The schema as DuckDB's IMPORT reads it: tables without indb's placement (SHARD KEY, WITH
    (SHARDS = n)), an identity column as DuckDB numbers one (a sequence of its own, starting at
    the next number, and ``DEFAULT nextval``)."""
    out: list[exp.Expr] = []
    for statement in schema:
        if not (isinstance(statement, exp.Create) and str(statement.args.get("kind")) == "TABLE"):
            out.append(statement)
            continue
        table = statement.copy()
        table.set("properties", None)
        name = table_name(table.this.this)
        info = engine.db.load(name)[1]  # (once a table)
        for item in list(table.this.expressions):
            if isinstance(item, ShardKey):
                item.pop()
            elif isinstance(item, exp.ColumnDef):
                out += _numbered(engine, info, item)
        out.append(table)
    return out


def _numbered(engine: Engine, table: TableInfo, column: exp.ColumnDef) -> list[exp.Expr]:
    """An identity column made DuckDB's: its sequence (CREATE SEQUENCE, returned), and the
    column's ``DEFAULT nextval`` in place of ``GENERATED ... AS IDENTITY``."""
    identity = next((c for c in column.constraints
                     if isinstance(c.kind, exp.GeneratedAsIdentityColumnConstraint)
                     and c.kind.args.get("expression") is None), None)
    info = table.named(column.name)
    if identity is None or info is None or info.identity is None:
        return []
    numbering = info.identity
    sequence = sequences.identity_sequence(table.name, info.name)
    identity.set("kind", exp.DefaultColumnConstraint(this=exp.func(
        "nextval", exp.Literal.string(sequence))))
    following = numbering.start + _taken(engine, table.name, numbering) * numbering.increment
    return [exp.Create(this=exp.to_table(sequence), kind="SEQUENCE", properties=exp.Properties(
        expressions=[exp.SequenceProperties(start=exp.Literal.number(following),
                                            increment=exp.Literal.number(numbering.increment))]))]


def _taken(engine: Engine, table: str, identity: Identity) -> int:
    """How many numbers an identity column has given."""
    return engine.db.allocate_rowids(f"{table}/{identity.sequence}", 0)


def _counters(engine: Engine, table: str) -> list[exp.Expr]:
    """``SELECT setval('t_c_seq', n)`` of each identity column of the table that has numbered
    rows, so the numbers go on where they stood."""
    out: list[exp.Expr] = []
    for column in engine.db.load(table)[1].columns:
        identity = column.identity
        if identity is None:
            continue
        taken = _taken(engine, table, identity)
        if taken:
            last = identity.start + (taken - 1) * identity.increment
            sequence = sequences.identity_sequence(table, column.name)
            out.append(exp.select(exp.func("setval", exp.Literal.string(sequence),
                                           exp.Literal.number(last))))
    return out


def _written_columns(engine: Engine, table: str) -> list[str] | None:
    """The columns a table's file holds: those a write gives, without its generated ones (as
    DuckDB's EXPORT writes them: the COPY FROM of load.sql gives none); None for all."""
    info = engine.db.load(table)[1]
    return [c.name for c in info.written_columns] if info.generated_columns else None


def _copy(table: str, file: Path, options: tuple[exp.CopyParameter, ...], into: bool,
          columns: list[str] | None = None) -> exp.Copy:
    """COPY of a table FROM or TO a file; TO with ``columns``: those columns only."""
    source: exp.Expr = exp.to_table(table) if columns is None else exp.select(
        *[exp.column(c, quoted=True) for c in columns]).from_(table).subquery()
    return exp.Copy(this=source, kind=into, files=[exp.Literal.string(str(file))],
                    params=[o.copy() for o in options])


def _moved(tree: exp.Copy, source: Path) -> None:
    """A COPY FROM of a file that is not where the export wrote it, but is in the directory
    imported (moved with it): that one."""
    for literal in tree.args.get("files") or []:
        path = Path(literal.name)
        if not path.exists() and (source / path.name).exists():
            literal.replace(exp.Literal.string(str(source / path.name)))


def _drop(engine: Engine, tree: exp.Expr) -> None:
    """Drop what a CREATE of the import made (the import's error is the one reported)."""
    kind = "TYPE" if isinstance(tree, CreateType) else str(tree.args.get("kind")).upper()
    name = tree.this.this if isinstance(tree.this, exp.UserDefinedFunction | exp.Schema) \
        else tree.this
    dropped = {"TYPE": lambda: DropType(this=name, exists=True),
               "MACRO": lambda: DropMacro(this=name, exists=True),
               "SEQUENCE": lambda: DropSequence(expressions=[name], exists=True)}.get(
        kind, lambda: exp.Drop(tables=[name], kind=kind, exists=True, cascade=kind == "SCHEMA"))()
    try:
        engine.execute(render_indb(dropped))
    except IndbError:
        pass


def _script(statements: list[exp.Expr]) -> str:
    return "".join(f"{render_indb(s)};\n" for s in statements)

