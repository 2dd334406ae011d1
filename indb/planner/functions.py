"""Plans for function statements: CREATE/DROP/SHOW/DESCRIBE FUNCTION, EXECUTE FUNCTION,
``TABLE(f(...))`` inside a query, SHOW FUNCTION STATUS and KILL FUNCTION.

Pure like the rest of the planner: the registered function's facts come from the catalog facts,
and everything a user can get wrong in the statement is refused here with its line and column.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass
from sqlglot import exp

from indb.catalog.types import Column
from indb.errors import CatalogError, SqlError
from indb.parser import CreateFunction as CreateFunctionTree
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import KillFunction as KillFunctionTree
from indb.parser import ShowFunction as ShowFunctionTree
from indb.parser import ShowFunctionStatus as ShowFunctionStatusTree
from indb.parser import render, render_indb
from indb.planner.tables import CatalogFacts, column_defs, position
from indb.registry.code import CodeFacts, inspect_code
from indb.registry.functions import FunctionInfo

MODES = ("distributed", "nondistributed")
ARGUMENTS = ("INPUT_TABLE_NAMES", "OUTPUT_TABLE_NAMES", "PARAMS", "OPTIONS")
RUN_OPTIONS = ("run_tag", "timeout", "nowait", "max_concurrency_per_node")
FUNCTION_OPTIONS = ("max_concurrency_per_node", "timeout")
TABLE_FUNCTION_PREFIX = "__indb_tf_"  # DuckDB name of the rows of the n-th TABLE(f(...)) of a query


@dataclass(frozen=True)
class CreateFunction:
    name: str
    replace: bool
    mode: str
    run_command: str
    run_command_args: tuple[str, ...]
    file_paths: tuple[str, ...]       # the file form: files to copy in
    entry: str                        # the file that is imported or run
    handler: str | None               # HANDLER; None: the function's own name, if it defines one
    body: str | None                  # the inline form's code
    code: CodeFacts | None            # the inline form's handler and metadata, read from the code
    returns: tuple[Column, ...]
    options: tuple[tuple[str, str], ...]
    ddl: str


@dataclass(frozen=True)
class DropFunction:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowFunction:
    name: str | None  # None: every function


@dataclass(frozen=True)
class DescribeFunction:
    name: str


@dataclass(frozen=True)
class InputSpec:
    """One input: a whole table (``sql`` None) or a query pushed down to every shard."""

    sql: str | None
    tables: tuple[str, ...]


@dataclass(frozen=True)
class ExecuteFunction:
    function: str
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    options: tuple[tuple[str, str], ...]
    statement: str


@dataclass(frozen=True)
class ShowFunctionStatus:
    verbose: bool
    run_id: str | None


@dataclass(frozen=True)
class KillFunction:
    run_id: str


@dataclass(frozen=True)
class QueryWithFunctions:
    """A query reading ``TABLE(f(...))``: each call runs first, its rows become a DuckDB table
    named ``TABLE_FUNCTION_PREFIX + n`` that the rewritten ``sql`` reads."""

    sql: str
    calls: tuple[ExecuteFunction, ...]


# -- CREATE / DROP / SHOW / DESCRIBE ---------------------------------------------------------

def plan_create_function(tree: CreateFunctionTree, catalog: CatalogFacts, sql: str | None) -> CreateFunction:
    name = _name(tree.this, sql)
    settings = {s.name: s.args["value"] for s in tree.args.get("settings") or []}
    text = {k: v.name for k, v in settings.items()}
    if not tree.args.get("replace") and catalog.function(name) is not None:
        raise CatalogError(f"function {name} already exists; use CREATE OR REPLACE FUNCTION, or "
                           f"DROP FUNCTION {name} first")
    mode = text.get("MODE", "distributed").lower()
    if mode not in MODES:
        raise SqlError(f"MODE must be 'distributed' or 'nondistributed', not {text['MODE']!r}",
                       *position(tree.this), sql)
    body = tree.args.get("body")
    file_paths = tuple(p.name for p in tree.args.get("file_paths") or [])
    language = text.get("LANGUAGE", "PYTHON" if body is not None else None)
    if language is not None and language.upper() != "PYTHON":
        raise SqlError(f"LANGUAGE {language} is not supported; indb runs LANGUAGE PYTHON",
                       *position(tree.this), sql)
    if (body is None) == (not file_paths):
        raise SqlError("give the code either inline (LANGUAGE PYTHON HANDLER 'f' AS $$ ... $$) or as "
                       "files (RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'f.py' FILE PATHS 'udfs/f.py')",
                       *position(tree.this), sql)
    run_command = text.get("RUN_COMMAND", "python")
    if run_command not in ("python", "python3"):
        raise SqlError(f"RUN_COMMAND {run_command!r} is not supported; indb runs RUN_COMMAND = 'python'",
                       *position(tree.this), sql)
    args = tuple(shlex.split(text.get("RUN_COMMAND_ARGS", "")))
    basenames = [p.replace("\\", "/").rsplit("/", 1)[-1] for p in file_paths]
    if len(set(basenames)) != len(basenames):
        raise SqlError("FILE PATHS names two files of the same name; they are copied side by side",
                       *position(tree.this), sql)
    entry = (args[0].rsplit("/", 1)[-1] if args else basenames[0]) if file_paths else f"{name}.py"
    if file_paths and entry not in basenames:
        raise SqlError(f"RUN_COMMAND_ARGS runs {entry}, which is not among FILE PATHS",
                       *position(tree.this), sql)
    options = _kv_options(tree.args.get("options") or [], FUNCTION_OPTIONS, "WITH OPTIONS", sql)
    returns = column_defs(tree.args["returns"], sql)[0] if tree.args.get("returns") else ()
    body_text = body.name if body is not None else None
    code = None
    if body_text is not None:
        first_line = (sql.count("\n", 0, max(sql.find(body_text), 0)) + 1) if sql else 1
        try:
            code = inspect_code({entry: body_text.encode()}, entry, text.get("HANDLER") or name,
                                must_have_handler=True, first_line=first_line)
        except SqlError as error:  # the code's line, counted in the statement
            raise SqlError(error.message, error.line, error.col, sql) from None
    return CreateFunction(name, bool(tree.args.get("replace")), mode, run_command, args, file_paths,
                          entry, text.get("HANDLER"), body_text, code, returns, options,
                          render_indb(tree))


def plan_drop_function(tree: exp.Drop, catalog: CatalogFacts, sql: str | None) -> DropFunction:
    tables = tree.args.get("tables") or [tree.this]
    name = _name(tables[0], sql)
    if not tree.args.get("exists") and catalog.function(name) is None:
        raise CatalogError(f"function {name} does not exist; SHOW FUNCTION * lists the functions")
    return DropFunction(name, bool(tree.args.get("exists")))


def plan_show_function(tree: ShowFunctionTree, catalog: CatalogFacts, sql: str | None) -> ShowFunction:
    if isinstance(tree.this, exp.Star):
        return ShowFunction(None)
    return ShowFunction(_existing_function(_name(tree.this, sql), catalog).name)


def plan_describe_function(tree: exp.Describe, catalog: CatalogFacts, sql: str | None) -> DescribeFunction:
    return DescribeFunction(_existing_function(_name(tree.this, sql), catalog).name)


def plan_show_status(tree: ShowFunctionStatusTree, catalog: CatalogFacts, sql: str | None) -> ShowFunctionStatus:
    run_id = tree.args.get("run_id")
    return ShowFunctionStatus(bool(tree.args.get("verbose")), run_id.name if run_id else None)


def plan_kill(tree: KillFunctionTree, catalog: CatalogFacts, sql: str | None) -> KillFunction:
    return KillFunction(tree.this.name)


# -- EXECUTE FUNCTION and TABLE(f(...)) -------------------------------------------------------

def plan_execute(tree: ExecuteFunctionTree, catalog: CatalogFacts, sql: str | None) -> ExecuteFunction:
    return _execution(tree.this, tree.expressions, catalog, sql, render_indb(tree))


def plan_table_functions(tree: exp.Expression, catalog: CatalogFacts,
                         sql: str | None) -> QueryWithFunctions | None:
    """The query with each ``TABLE(f(...))`` replaced by the table its run's rows will fill;
    None when the query calls no function."""
    calls = []
    tree = tree.copy()
    for node in list(tree.find_all(exp.Table)):
        call = node.this
        if not (isinstance(call, exp.Anonymous) and call.name.upper() == "TABLE"
                and len(call.expressions) == 1 and isinstance(call.expressions[0], exp.Anonymous)):
            continue
        inner = call.expressions[0]
        arguments = [a if isinstance(a, exp.Kwarg) else _positional(a, sql) for a in inner.expressions]
        execution = _execution(exp.to_identifier(inner.name), arguments, catalog, sql, render_indb(inner),
                               table_function=True)
        placeholder = exp.to_table(f"{TABLE_FUNCTION_PREFIX}{len(calls)}")
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(inner.name))
        placeholder.set("alias", alias)
        node.replace(placeholder)
        calls.append(execution)
    return QueryWithFunctions(render(tree), tuple(calls)) if calls else None


def _positional(argument: exp.Expression, sql: str | None) -> exp.Kwarg:
    raise SqlError("arguments of a table function are named: f(INPUT_TABLE_NAMES => INPUT_TABLE(t))",
                   *position(argument), sql)


def _execution(name_node: exp.Identifier, arguments: list[exp.Expression], catalog: CatalogFacts,
               sql: str | None, statement: str, table_function: bool = False) -> ExecuteFunction:
    function = _existing_function(name_node.name.lower(), catalog)
    given: dict[str, exp.Expression] = {}
    for argument in arguments:
        key = argument.this.name.upper()
        if key not in ARGUMENTS:
            raise SqlError(f"unknown argument {argument.this.name}; EXECUTE FUNCTION takes "
                           + ", ".join(ARGUMENTS), *position(argument.this), sql)
        if key in given:
            raise SqlError(f"{key} is given twice", *position(argument.this), sql)
        given[key] = argument.expression
    if table_function and "OUTPUT_TABLE_NAMES" in given:
        raise SqlError("TABLE(f(...)) returns the function's rows to the query; it takes no "
                       "OUTPUT_TABLE_NAMES", *position(name_node), sql)
    inputs = _inputs(given["INPUT_TABLE_NAMES"], catalog, sql) if "INPUT_TABLE_NAMES" in given else ()
    outputs = _outputs(given["OUTPUT_TABLE_NAMES"], sql) if "OUTPUT_TABLE_NAMES" in given else ()
    params = _kv_pairs(given["PARAMS"], "PARAMS", sql) if "PARAMS" in given else ()
    if function.params is not None:
        for key, _ in params:
            if key not in function.params:
                raise SqlError(f"{function.name} has no parameter {key}; it takes "
                               f"{', '.join(function.params) or 'none'}",
                               *position(_find_key(given["PARAMS"], key) or name_node), sql)
    options = _kv_pairs(given["OPTIONS"], "OPTIONS", sql) if "OPTIONS" in given else ()
    _check_options(options, RUN_OPTIONS, "OPTIONS", given.get("OPTIONS"), sql)
    if table_function and dict(options).get("nowait", "false").lower() == "true":
        raise SqlError("a table function cannot run with nowait: the query needs its rows",
                       *position(name_node), sql)
    return ExecuteFunction(function.name, inputs, outputs, params, options, statement)


def _inputs(value: exp.Expression, catalog: CatalogFacts, sql: str | None) -> tuple[InputSpec, ...]:
    if not (isinstance(value, exp.Anonymous) and value.name.upper() in ("INPUT_TABLE", "INPUT_TABLES")):
        raise SqlError("INPUT_TABLE_NAMES takes INPUT_TABLE(t), INPUT_TABLE(SELECT ...) or "
                       "INPUT_TABLES(t1, (SELECT ...))", *position(value), sql)
    specs = []
    for item in value.expressions:
        query = item.this if isinstance(item, exp.Subquery) else item
        if isinstance(query, exp.Query):
            ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
            names = []
            for table in query.find_all(exp.Table):
                table_name = table.name.lower()
                if table_name in ctes or not table_name:
                    continue
                if not catalog.exists(table_name):
                    raise CatalogError(f"table {table_name} does not exist; SHOW TABLES lists the tables")
                if table_name not in names:
                    names.append(table_name)
            if not names:
                raise SqlError("an input query must read a table: the function runs once per shard "
                               "of its tables", *position(item), sql)
            specs.append(InputSpec(render(query), tuple(names)))
        elif isinstance(item, exp.Column | exp.Literal | exp.Table) and item.name:
            table_name = item.name.lower()
            if not catalog.exists(table_name):
                raise CatalogError(f"table {table_name} does not exist; SHOW TABLES lists the tables")
            specs.append(InputSpec(None, (table_name,)))
        else:
            raise SqlError(f"{render(item)} is not a table or a query", *position(item), sql)
    return tuple(specs)


def _outputs(value: exp.Expression, sql: str | None) -> tuple[str, ...]:
    if not (isinstance(value, exp.Anonymous) and value.name.upper() in ("OUTPUT_TABLES", "OUTPUT_TABLE")):
        raise SqlError("OUTPUT_TABLE_NAMES takes OUTPUT_TABLES('t1', 't2')", *position(value), sql)
    names = []
    for item in value.expressions:
        name = item.name.lower()
        if not name or "." in name or name.startswith("_indb") or not isinstance(item, exp.Literal | exp.Column):
            raise SqlError(f"{render(item)} is not an output table name; write OUTPUT_TABLES('t')",
                           *position(item), sql)
        if name in names:
            raise SqlError(f"output table {name} is named twice", *position(item), sql)
        names.append(name)
    return tuple(names)


def _kv_pairs(value: exp.Expression, what: str, sql: str | None) -> tuple[tuple[str, str], ...]:
    if not (isinstance(value, exp.Anonymous) and value.name.upper() == "KV_PAIRS"):
        raise SqlError(f"{what} takes KV_PAIRS(name = 'value', ...)", *position(value), sql)
    pairs = []
    for item in value.expressions:
        if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Column)
                and isinstance(item.expression, exp.Literal)):
            raise SqlError(f"{what}: {render(item)} is not name = 'value'", *position(item), sql)
        pairs.append((item.this.name.lower(), item.expression.name))
    return tuple(pairs)


def _kv_options(properties: list[exp.Property], known: tuple[str, ...], what: str,
                sql: str | None) -> tuple[tuple[str, str], ...]:
    pairs = tuple((p.name.lower(), p.args["value"].name) for p in properties)
    _check_options(pairs, known, what, None, sql)
    return pairs


def _check_options(pairs: tuple[tuple[str, str], ...], known: tuple[str, ...], what: str,
                   node: exp.Expression | None, sql: str | None) -> None:
    for key, value in pairs:
        where = position(_find_key(node, key)) if node is not None else (None, None)
        if key not in known:
            raise SqlError(f"unknown {what} key {key}; known: {', '.join(known)}", *where, sql)
        if key == "timeout" and not _positive(value, float):
            raise SqlError(f"timeout is in seconds, a number above 0, not {value!r}", *where, sql)
        if key == "max_concurrency_per_node" and not _positive(value, int):
            raise SqlError(f"max_concurrency_per_node is a whole number above 0, not {value!r}",
                           *where, sql)
        if key == "nowait" and value.lower() not in ("true", "false"):
            raise SqlError(f"nowait is 'true' or 'false', not {value!r}", *where, sql)


def _positive(value: str, kind: type) -> bool:
    try:
        return kind(value) > 0
    except ValueError:
        return False


def _find_key(node: exp.Expression | None, key: str) -> exp.Expression | None:
    if node is None:
        return None
    return next((c for c in node.find_all(exp.Column) if c.name.lower() == key), None)


def _name(node: exp.Expression, sql: str | None) -> str:
    if not isinstance(node, exp.Table | exp.Identifier) or not node.name or (
            isinstance(node, exp.Table) and node.db):
        raise SqlError("expected a function name", *position(node), sql)
    return node.name.lower()


def _existing_function(name: str, catalog: CatalogFacts) -> FunctionInfo:
    function = catalog.function(name)
    if function is None:
        raise CatalogError(f"function {name} does not exist; SHOW FUNCTION * lists the functions")
    return function
