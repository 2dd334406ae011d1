"""What the PostgreSQL server reads from a statement before it runs it: a client's probe of the
server, whether it only reads (a prepared statement is then run to learn its columns), the
shape of a write's RETURNING rows, the transaction statements accepted as no-ops, and the
command tag a client reads a write's row count from."""

from __future__ import annotations

import re

import pyarrow as pa
from sqlglot import exp

from indb import errors
from indb.parser import (dialect, environments, faithful, kinetica, monitors, parse, prepared,
                         procedures, render, render_indb, sequences, subscriptions, workers)
from indb.parser import privileges as identity
from indb.catalog.types import sql_type_of
from indb.result import Result
from indb.server import pgcursors, pgparams, pgvalues
from indb.planner.settings import SEARCH_PATH, command_setting
from indb.planner.variables import is_variable
from indb.planner.tables import MERGE_ACTION, write_target
from indb.server.pgcatalog import SETTINGS, VERSION, catalog_query

WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Merge, exp.Create, exp.Drop, exp.Alter,
          exp.TruncateTable, exp.Comment, sequences.AlterSequence, sequences.DropSequence,
          identity.SetOwner)
ROW_WRITES = (exp.Insert, exp.Delete, exp.Update, exp.Merge)  # a RETURNING sends rows; DDL none
UPKEEP = (dialect.Vacuum, dialect.Optimize)  # commands in PostgreSQL: a tag, no rows
# statements that only read, run to learn their columns when a client describes them prepared
READS: tuple[type[exp.Expr], ...] = (
    exp.Query, exp.Describe, exp.Show, dialect.ShowFunction, dialect.ShowFunctionStatus,
    dialect.ShowModels, dialect.DescribeModel, dialect.ShowSnapshots, dialect.ShowViews,
    dialect.Explain, kinetica.ShowSchemas, environments.ShowFunctionEnvironment,
    environments.DescribeFunctionEnvironment, identity.ShowTokens, identity.ShowGrants,
    identity.ShowPrincipals, procedures.ShowProcedure, monitors.ShowMonitors,
    subscriptions.ShowSubscriptions, workers.ShowWorkers, sequences.ShowSequences)


def as_postgres_reads(trees: list[exp.Expr], type_of: pgparams.TypeOf) -> str | None:
    """The statements again as indb's SQL where PostgreSQL reads them otherwise than DuckDB:
    its array literals (``'{1,2}'::int[]``, and ``'{1,2}'`` where a list column's value goes:
    ``pgparams.array_strings``) as DuckDB's arrays (``pgvalues.array_literal``), and a
    descending order's NULLs first, PostgreSQL's default (DuckDB's puts them last); None when
    they have neither, so the text the client sent runs as it came."""
    strings = [pair for tree in trees for pair in pgparams.array_strings(tree, type_of)]
    for string, kind in strings:
        string.replace(exp.cast(string.copy(), exp.DataType.build(sql_type_of(kind), dialect="duckdb")))
    descending = [ordered for tree in trees for ordered in tree.find_all(exp.Ordered)
                  if ordered.args.get("desc") and not ordered.args.get("nulls_first")
                  and not ordered.args.get(faithful.NULLS_LAST)]
    for ordered in descending:
        ordered.set("nulls_first", True)
    if not strings and not descending and not any(
            pgvalues.is_array_literal(cast) for tree in trees for cast in tree.find_all(exp.Cast)):
        return None
    return ";\n".join(render_indb(tree.transform(
        lambda node: pgvalues.array_literal(node) if isinstance(node, exp.Cast) else node))
        for tree in trees)


def probe(trees: list[exp.Expr], search_path: str = SETTINGS["search_path"]) -> pa.Table | None:
    """The answer to a client's probe of the server (``SHOW setting``, ``SELECT
    pg_catalog.version()``), or None for a statement of the database's; ``search_path`` the
    session's."""
    if len(trees) != 1:
        return None
    tree = trees[0]
    if isinstance(tree, exp.Command) and tree.name.upper() == "SHOW":
        setting = " ".join(tree.text("expression").lower().split())
        if setting in SETTINGS:
            value = search_path if setting == "search_path" else SETTINGS[setting]
            return pa.table({setting.replace(" ", "_"): [value]})
    if isinstance(tree, exp.Select) and len(tree.expressions) == 1 and not tree.args.get("from"):
        call = tree.expressions[0]
        if isinstance(call, exp.CurrentVersion) or (
                isinstance(call, exp.Dot) and call.this.name.lower() == "pg_catalog"
                and isinstance(call.expression, exp.Anonymous)
                and call.expression.name.lower() == "version"):
            return pa.table({"version": [VERSION]})
    return None


def read_only(sql: str) -> bool:
    """Whether ``sql`` is one statement that only reads (a query, a catalog query, a client's
    probe, SHOW or DESCRIBE): running it changes nothing."""
    try:
        if pgcursors.read(sql) is not None:
            return False  # they change the session's cursors or statements
        trees = parse(sql)
    except errors.SqlError:  # PostgreSQL's own SQL: a catalog query, or refused when it runs
        return True
    if len(trees) != 1:
        return False
    if catalog_query(sql, trees) is not None or probe(trees) is not None:
        return True
    tree = trees[0]
    if _numbers(tree):
        return False
    return isinstance(tree, READS) or (isinstance(tree, exp.Command) and tree.name.upper() == "SHOW")


def _numbers(tree: exp.Expr) -> bool:
    """Whether a statement takes or sets a sequence's numbers (``nextval``, ``setval``)."""
    return any(isinstance(node, exp.Anonymous) and node.name.lower() in ("nextval", "setval")
               for node in tree.walk())


def numbering_shape(sql: str) -> str | None:
    """For one query that takes or sets a sequence's numbers: the query under ``LIMIT 0``, whose
    columns describe its rows without taking a number (DuckDB runs none of it)."""
    try:
        trees = parse(sql)
    except errors.SqlError:
        return None
    if len(trees) != 1 or not isinstance(trees[0], exp.Query) or not _numbers(trees[0]):
        return None
    return render_indb(exp.select("*").from_(trees[0].subquery("numbered")).limit(0))


def returning_shape(sql: str) -> str | None:
    """For one INSERT, UPDATE, DELETE or MERGE with RETURNING: a query of its RETURNING list
    over none of the table's rows, whose columns describe the write's rows without running it
    (``merge_action()`` is text)."""
    try:
        trees = parse(sql)
    except errors.SqlError:
        return None
    if len(trees) != 1 or not isinstance(trees[0], ROW_WRITES) \
            or trees[0].args.get("returning") is None:
        return None
    tree = trees[0]
    table = write_target(tree).copy()
    alias = table.alias or table.name
    table.set("alias", None)
    listed = [e.transform(lambda node: exp.cast(exp.null(), "VARCHAR") if isinstance(
        node, exp.Anonymous) and node.name.lower() == MERGE_ACTION else node)
        for e in tree.args["returning"].expressions]
    return render(exp.select(*listed).from_(table.as_(alias, quoted=True)).limit(0))


def transaction_tag(trees: list[exp.Expr]) -> str | None:
    """The command tag of a statement that opens, ends or marks a transaction (BEGIN, COMMIT,
    ROLLBACK [TO], SAVEPOINT, RELEASE), which the engine carries out; None for another."""
    if len(trees) != 1:
        return None
    tree = trees[0]
    tags: dict[type, str] = {exp.Transaction: "BEGIN", exp.Commit: "COMMIT", exp.Rollback: "ROLLBACK"}
    if type(tree) in tags:
        return tags[type(tree)]
    if isinstance(tree, exp.Command) and tree.name.upper() in ("SAVEPOINT", "RELEASE"):
        return tree.name.upper()
    return None


def no_op(trees: list[exp.Expr]) -> str | None:
    """The command tag of a SET a client sends on its own, accepted and doing nothing."""
    if len(trees) != 1:
        return None
    tree = trees[0]
    if sets_search_path(tree) or is_variable(tree):
        return None  # the session's: the engine sets it
    if isinstance(tree, exp.Set):
        return "SET"
    if isinstance(tree, exp.Command) and tree.name.upper() == "SET":
        rest = tree.expression  # the command's text after SET (a string, or a literal of it)
        if (rest if isinstance(rest, str) else rest.name).strip().upper().startswith(SET_FORMS):
            return "SET"
    return None


def sets_search_path(tree: exp.Expr) -> bool:
    """Whether ``tree`` is a SET of the search path (``SET search_path TO s``, ``SET SCHEMA
    's'``), which the session keeps, unlike the other settings a client sets."""
    if isinstance(tree, exp.Set):
        return any(isinstance(item.this, exp.EQ) and item.this.this.sql().lower() in SEARCH_PATH
                   for item in tree.expressions)
    if isinstance(tree, exp.Command):
        setting = command_setting(tree)
        return setting is not None and setting[0] in SEARCH_PATH
    return False


# SET forms sqlglot reads as commands that are accepted and do nothing, as a SET of a setting is
# (SET ROLE and SET SESSION AUTHORIZATION are not among them: they are refused, since a
# session's user is the one that signed in). SET CONSTRAINTS is the engine's (its transactions')
SET_FORMS = ("TIME ZONE", "NAMES", "SESSION CHARACTERISTICS")


def tag(tree: exp.Expr, result: Result, counted: bool = True) -> str:
    """The command tag PostgreSQL clients read the row count from (without the count where the
    rows sent are counted: a write's RETURNING)."""
    rows = f" {max(result.rowcount, 0)}" if counted else ""
    if isinstance(tree, exp.Insert):
        return f"INSERT 0{rows}"
    if isinstance(tree, exp.Delete | exp.Update | exp.Merge):
        return f"{tree.key.upper()}{rows}"
    if isinstance(tree, exp.Create | exp.Drop | exp.Alter):
        return f"{tree.key.upper()} {tree.args.get('kind') or ''}".strip()
    if isinstance(tree, (*UPKEEP, exp.Analyze)):
        return tree.key.upper()
    if isinstance(tree, exp.TruncateTable):
        return "TRUNCATE TABLE"
    if isinstance(tree, prepared.Prepare):
        return "PREPARE"
    if isinstance(tree, exp.Comment):
        return "COMMENT"
    if isinstance(tree, identity.SetOwner):
        return f"ALTER {tree.args['kind']}"
    if isinstance(tree, sequences.AlterSequence | sequences.DropSequence):
        return f"{'ALTER' if isinstance(tree, sequences.AlterSequence) else 'DROP'} SEQUENCE"
    return (result.message or "OK").splitlines()[0]


def startup_search_path(params: dict[str, str]) -> str | None:
    """The search path a client's startup message sets (None: none): a parameter of its own
    (asyncpg's ``server_settings``, JDBC's ``currentSchema``), or libpq's ``options``
    (``-c search_path=s``, ``--search_path=s``; a space in a value escaped with ``\\``)."""
    if "search_path" in params:
        return params["search_path"]
    words = [w.replace("\\ ", " ") for w in re.split(r"(?<!\\) +", params.get("options", "")) if w]
    found = None
    for i, word in enumerate(words):
        setting = words[i + 1] if word == "-c" and i + 1 < len(words) else \
            word[2:] if word.startswith(("-c", "--")) else ""
        name, equals, value = setting.partition("=")
        if equals and name.strip().lower().replace("-", "_") == "search_path":
            found = value
    return found
