"""Plans for function statements: CREATE/DROP/SHOW/DESCRIBE FUNCTION, EXECUTE FUNCTION,
``TABLE(f(...))`` inside a query, SHOW FUNCTION STATUS and KILL FUNCTION.

Pure like the rest of the planner: the registered function's facts come from the catalog facts,
and everything a user can get wrong in the statement is refused here with its line and column.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlglot import exp

from indb.catalog.types import Column
from indb.errors import CatalogError, not_found
from indb.parser import CreateFunction as CreateFunctionTree
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import KillFunction as KillFunctionTree
from indb.parser import ShowFunction as ShowFunctionTree
from indb.parser import ShowFunctionStatus as ShowFunctionStatusTree
from indb.parser import error_at, render, render_indb
from indb.catalog.names import qualified
from indb.planner import parameters
from indb.planner.macros import DropMacro
from indb.planner.tables import CatalogFacts, column_defs, existing_schema, new_name, table_name
from indb.registry.code import CodeFacts, entry_path, inspect_code, stored_path

if TYPE_CHECKING:
    from indb.registry.environments import EnvironmentInfo
    from indb.registry.functions import FunctionInfo, Parameter

MODES = ("distributed", "nondistributed")
ARGUMENTS = ("INPUT_TABLE_NAMES", "OUTPUT_TABLE_NAMES", "PARAMS", "OPTIONS")
TABLE_FUNCTION_PREFIX = "__indb_tf_"  # DuckDB name of the rows of the n-th TABLE(f(...)) of a query


def _positive_number(value: str) -> float:
    number = float(value)
    if not number > 0:
        raise ValueError(value)
    return number


def _concurrency(value: str) -> int | None:
    """A whole number of instances; 0 (Kinetica's default) means no limit: None."""
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number or None


def _retries(value: str) -> int:
    number = int(value)
    if number < 0:
        raise ValueError(value)
    return number


def _distributed(value: str) -> str:
    if value.lower() != "ddp":
        raise ValueError(value)
    return "ddp"


def _flag(value: str) -> bool:
    return {"true": True, "false": False}[value.lower()]


# Each option: how its text becomes a value (a ValueError or KeyError refuses it), and what to say.
_OPTION_VALUES: dict[str, tuple[Callable[[str], object], str]] = {
    "run_tag": (str, "any text"),
    "timeout": (_positive_number, "in seconds, a number above 0"),
    "nowait": (_flag, "'true' or 'false'"),
    "max_concurrency_per_node": (_concurrency, "a whole number, 0 for no limit"),
    "max_retries": (_retries, "a whole number, 0 for none"),
    "set_environment": (str.lower, "the name of a function environment"),
    "distributed": (_distributed, "'ddp' (every shard's instance at once, as one torch.distributed "
                                  "process group)"),
}
# OPTIONS => KV_PAIRS(...); the environment is the function's own (its WITH OPTIONS)
RUN_OPTIONS = tuple(key for key in _OPTION_VALUES if key != "set_environment")
FUNCTION_OPTIONS = ("max_concurrency_per_node", "timeout", "set_environment",  # WITH OPTIONS
                    "distributed", "max_retries")


@dataclass(frozen=True)
class RunOptions:
    """How a run goes, parsed and checked: the function's WITH OPTIONS, then the run's OPTIONS."""

    run_tag: str | None = None
    timeout: float | None = None                # seconds; the run is stopped after it
    nowait: bool = False                        # return the run id at once
    max_concurrency_per_node: int | None = None  # instances one worker runs at a time; None: all
    set_environment: str | None = None           # the function environment its instances run in
    distributed: str | None = None               # 'ddp': the shards' instances as one process group
    max_retries: int = 1                         # tries more of a shard whose worker died


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
    parameters: tuple[Parameter, ...] | None = None  # PARAMETERS (...); None: not declared
    comment: str = ""                                # COMMENT '...'


@dataclass(frozen=True)
class DropFunction:
    name: str
    if_exists: bool


@dataclass(frozen=True)
class ShowFunction:
    name: str | None  # None: every function
    listing: bool = False  # SHOW FUNCTIONS: the caller's executable functions and their parameters


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
    function: FunctionInfo
    inputs: tuple[InputSpec, ...]
    outputs: tuple[str, ...]
    params: tuple[tuple[str, str], ...]
    options: RunOptions
    statement: str
    environment: EnvironmentInfo | None = None  # SET_ENVIRONMENT's, as the plan was made


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

def plan_create_function(tree: CreateFunctionTree, catalog: CatalogFacts) -> CreateFunction:
    _name(tree.this)  # one name, not a qualified one
    name = new_name(tree.this, "function")
    settings = {s.name: s.args["value"] for s in tree.args.get("settings") or []}
    text = {k: v.name for k, v in settings.items()}
    if not tree.args.get("replace") and catalog.function(name) is not None:
        raise CatalogError(f"function {name} already exists; use CREATE OR REPLACE FUNCTION, or "
                           f"DROP FUNCTION {name} first")
    mode = text.get("MODE", "distributed").lower()
    if mode not in MODES:
        raise error_at(tree.this, f"MODE must be 'distributed' or 'nondistributed', not "
                                  f"{text['MODE']!r}")
    body = tree.args.get("body")
    file_paths = tuple(p.name for p in tree.args.get("file_paths") or [])
    language = text.get("LANGUAGE", "PYTHON" if body is not None else None)
    if language is not None and language.upper() != "PYTHON":
        raise error_at(tree.this, f"LANGUAGE {language} is not supported; indb runs LANGUAGE PYTHON")
    if (body is None) == (not file_paths):
        raise error_at(tree.this, "give the code either inline (LANGUAGE PYTHON HANDLER 'f' AS $$ "
                                  "... $$) or as files (RUN_COMMAND = 'python' RUN_COMMAND_ARGS = "
                                  "'f.py' FILE PATHS 'udfs/f.py')")
    run_command = text.get("RUN_COMMAND", "python")
    if run_command not in ("python", "python3"):
        raise error_at(tree.this, f"RUN_COMMAND {run_command!r} is not supported; indb runs "
                                  "RUN_COMMAND = 'python'")
    args = _run_command_args(settings.get("RUN_COMMAND_ARGS"))
    stored = [stored_path(p) for p in file_paths]  # their places in the code directory
    if len(set(stored)) != len(stored):
        raise error_at(tree.this, "FILE PATHS names two files that would lie at the same path "
                                  "(relative paths keep their folders; others only their name)")
    found = (entry_path(args[0], stored) if args else stored[0]) if file_paths else f"{name}.py"
    if found is None:
        raise error_at(tree.this, f"RUN_COMMAND_ARGS runs {args[0]}, which is not among FILE PATHS")
    entry = found
    option_nodes = tree.args.get("options") or []
    options = tuple((p.name.lower(), p.args["value"].name) for p in option_nodes)
    _check_options(options, FUNCTION_OPTIONS, "WITH OPTIONS",
                   {key: node for (key, _), node in zip(options, option_nodes, strict=True)})
    environment = run_options(dict(options)).set_environment
    if environment is not None and catalog.environment(environment) is None:
        raise not_found("function environment", environment)
    returns = column_defs(tree.args["returns"])[0] if tree.args.get("returns") else ()
    if any(c.generated is not None for c in returns):
        raise error_at(tree.args["returns"], "RETURNS TABLE names the columns a function returns: "
                                             "no generated column")
    body_text = body.name if body is not None else None
    code = None
    if body is not None:
        # the code's line 1 is the line of AS $$ (the string token's position is where it ends)
        first_line = body.meta["line"] - body.name.count("\n") if "line" in body.meta else 1
        code = inspect_code({entry: body.name.encode()}, entry, text.get("HANDLER") or name,
                            must_have_handler=True, first_line=first_line)
    comment = tree.args.get("comment")
    return CreateFunction(name, bool(tree.args.get("replace")), mode, run_command, args, file_paths,
                          entry, text.get("HANDLER"), body_text, code, returns, options,
                          render_indb(tree), parameters.declared(tree.args.get("parameters")),
                          comment.name if comment is not None else "")


def _run_command_args(value: exp.Expr | None) -> tuple[str, ...]:
    """RUN_COMMAND_ARGS as arguments: Kinetica's list ('a.py', '--flag', 'v') one argument a
    string, as written; one string split as a shell would ('a.py --flag v')."""
    if value is None:
        return ()
    if isinstance(value, exp.Tuple):
        return tuple(item.name for item in value.expressions)
    try:
        return tuple(shlex.split(value.name))
    except ValueError as error:  # shlex: "No closing quotation"
        raise error_at(value, f"RUN_COMMAND_ARGS cannot be split into arguments: {error}") from None


def plan_drop_function(tree: exp.Drop, catalog: CatalogFacts) -> DropFunction | DropMacro:
    tables = tree.args.get("tables") or [tree.this]
    name = _name(tables[0])
    if catalog.function(name) is None:  # DuckDB's DROP FUNCTION of a macro (CREATE FUNCTION
        return DropMacro(name.lower(), bool(tree.args.get("exists")), as_function=True)  # m(a) AS ...)
    return DropFunction(name, bool(tree.args.get("exists")))


def plan_show_function(tree: ShowFunctionTree, catalog: CatalogFacts) -> ShowFunction:
    if isinstance(tree.this, exp.Star):
        return ShowFunction(None, bool(tree.args.get("listing")))
    return ShowFunction(_existing_function(_name(tree.this), catalog).name)


def plan_describe_function(tree: exp.Describe, catalog: CatalogFacts) -> DescribeFunction:
    return DescribeFunction(_existing_function(_name(tree.this), catalog).name)


def plan_show_status(tree: ShowFunctionStatusTree, catalog: CatalogFacts) -> ShowFunctionStatus:
    run_id = tree.args.get("run_id")
    return ShowFunctionStatus(bool(tree.args.get("verbose")), run_id.name if run_id else None)


def plan_kill(tree: KillFunctionTree, catalog: CatalogFacts) -> KillFunction:
    return KillFunction(tree.this.name)


# -- EXECUTE FUNCTION and TABLE(f(...)) -------------------------------------------------------

def plan_execute(tree: ExecuteFunctionTree, catalog: CatalogFacts) -> ExecuteFunction:
    return _execution(tree.this, tree.expressions, catalog, render_indb(tree))


def plan_table_functions(tree: exp.Expr, catalog: CatalogFacts) -> QueryWithFunctions | None:
    """The query with each ``TABLE(f(...))`` replaced by the table its run's rows will fill;
    None when the query calls no function."""
    calls: list[ExecuteFunction] = []
    tree = tree.copy()
    for node in list(tree.find_all(exp.Table)):
        call = node.this
        if not (isinstance(call, exp.Anonymous) and call.name.upper() == "TABLE"
                and len(call.expressions) == 1 and isinstance(call.expressions[0], exp.Anonymous)):
            continue
        inner = call.expressions[0]
        for argument in inner.expressions:
            if not isinstance(argument, exp.Kwarg):
                raise error_at(argument, "arguments of a table function are named: "
                                         "f(INPUT_TABLE_NAMES => INPUT_TABLE(t))")
        execution = _execution(exp.to_identifier(inner.name), inner.expressions, catalog,
                               render_indb(inner), table_function=True)
        placeholder = exp.to_table(f"{TABLE_FUNCTION_PREFIX}{len(calls)}")
        alias = node.args.get("alias") or exp.TableAlias(this=exp.to_identifier(inner.name))
        placeholder.set("alias", alias)
        node.replace(placeholder)
        calls.append(execution)
    return QueryWithFunctions(render(tree), tuple(calls)) if calls else None


def _execution(name_node: exp.Expr, arguments: list[exp.Expr], catalog: CatalogFacts,
               statement: str, table_function: bool = False) -> ExecuteFunction:
    function = _existing_function(name_node.name.lower(), catalog)
    given: dict[str, exp.Expr] = {}
    for argument in arguments:
        key = argument.this.name.upper()
        if key not in ARGUMENTS:
            raise error_at(argument.this, f"unknown argument {argument.this.name}; EXECUTE "
                                          "FUNCTION takes " + ", ".join(ARGUMENTS))
        if key in given:
            raise error_at(argument.this, f"{key} is given twice")
        given[key] = argument.expression
    if table_function and "OUTPUT_TABLE_NAMES" in given:
        raise error_at(name_node, "TABLE(f(...)) returns the function's rows to the query; it "
                                  "takes no OUTPUT_TABLE_NAMES")
    inputs = _inputs(given["INPUT_TABLE_NAMES"], catalog) if "INPUT_TABLE_NAMES" in given else ()
    outputs = _outputs(given["OUTPUT_TABLE_NAMES"], catalog) if "OUTPUT_TABLE_NAMES" in given else ()
    params = _kv_pairs(given["PARAMS"], "PARAMS") if "PARAMS" in given else ()
    if function.params is not None:
        for key, _ in params:
            if key not in function.params:
                raise error_at(_find_key(given["PARAMS"], key) or name_node,
                               f"{function.name} has no parameter {key}; it takes "
                               f"{', '.join(function.params) or 'none'}")
    params = parameters.checked(function, params, {k: _find_key(given.get("PARAMS"), k) for k, _ in params},
                                given.get("PARAMS") or name_node)
    pairs = _kv_pairs(given["OPTIONS"], "OPTIONS") if "OPTIONS" in given else ()
    nodes = {key: _find_key(given.get("OPTIONS"), key) for key, _ in pairs}
    _check_options(pairs, RUN_OPTIONS, "OPTIONS", nodes)
    options = run_options({**function.options, **dict(pairs)})
    if table_function and options.nowait:
        raise error_at(name_node, "a table function cannot run with nowait: the query needs its rows")
    environment = None
    if options.set_environment is not None:
        environment = catalog.environment(options.set_environment)
        if environment is None:  # dropped with the function still naming it (an older database)
            raise not_found("function environment", options.set_environment)
    return ExecuteFunction(function, inputs, outputs, params, options, statement, environment)


def run_options(texts: Mapping[str, str]) -> RunOptions:
    """Options given as text (already checked by ``_check_options``) as a RunOptions."""
    return RunOptions(**{key: _OPTION_VALUES[key][0](value)  # type: ignore[arg-type]
                         for key, value in texts.items()})


def _inputs(value: exp.Expr, catalog: CatalogFacts) -> tuple[InputSpec, ...]:
    """INPUT_TABLE_NAMES as Kinetica writes it: INPUT_TABLE(t | SELECT ...), INPUT_TABLES(t1,
    (SELECT ...), ...), a query in parentheses, or a table's name (t, s.t or 's.t')."""
    if isinstance(value, exp.Anonymous) and value.name.upper() in ("INPUT_TABLE", "INPUT_TABLES"):
        items = list(value.expressions)
    elif isinstance(value, exp.Subquery | exp.Query | exp.Column | exp.Table) \
            or (isinstance(value, exp.Literal) and value.is_string):
        items = [value]
    else:
        raise error_at(value, "INPUT_TABLE_NAMES takes a table (t or schema.t), a query in "
                              "parentheses, INPUT_TABLE(t), INPUT_TABLE(SELECT ...) or "
                              "INPUT_TABLES(t1, (SELECT ...))")
    specs = []
    for item in items:
        query = item.this if isinstance(item, exp.Subquery) else item
        if isinstance(query, exp.Query):
            ctes = {cte.alias_or_name.lower() for cte in query.find_all(exp.CTE)}
            names: list[str] = []
            for table in query.find_all(exp.Table):
                if not table.name or (not table.db and table.name.lower() in ctes):
                    continue
                name = _existing_table(table_name(table), catalog)
                if name not in names:
                    names.append(name)
            if not names:
                raise error_at(item, "an input query must read a table: the function runs once "
                                     "per shard of its tables")
            specs.append(InputSpec(render(query), tuple(names)))
        elif isinstance(item, exp.Column | exp.Literal | exp.Table) and item.name:
            specs.append(InputSpec(None, (_existing_table(named_table(item), catalog),)))
        else:
            raise error_at(item, f"{render(item)} is not a table or a query")
    return tuple(specs)


def named_table(item: exp.Expr) -> str:
    """The catalog name of a table named in a function's arguments: t, s.t, or 't' / 's.t'."""
    if isinstance(item, exp.Column):  # t, or s.t (read as column t of table s)
        if item.args.get("db") or item.args.get("catalog"):
            raise error_at(item, f"{render(item)}: a table is named t or schema.t")
        item = exp.Table(this=item.this, db=item.args.get("table"))
    if isinstance(item, exp.Table):
        return table_name(item)
    schema, dot, table = item.name.lower().partition(".")  # a string: 't' or 's.t'
    return qualified(schema, table) if dot else item.name.lower()


def _existing_table(name: str, catalog: CatalogFacts) -> str:
    if not catalog.exists(name):
        raise not_found("table", name)
    return name


def _outputs(value: exp.Expr, catalog: CatalogFacts) -> tuple[str, ...]:
    if not (isinstance(value, exp.Anonymous) and value.name.upper() in ("OUTPUT_TABLES", "OUTPUT_TABLE")):
        raise error_at(value, "OUTPUT_TABLE_NAMES takes OUTPUT_TABLES('t1', 's.t2')")
    names: list[str] = []
    for item in value.expressions:
        if not item.name or not isinstance(item, exp.Literal | exp.Column):
            raise error_at(item, f"{render(item)} is not an output table name; write "
                                 "OUTPUT_TABLES('t')")
        name = named_table(item)
        if name in names:
            raise error_at(item, f"output table {name} is named twice")
        if not catalog.exists(name):  # a table the run creates: its name must be valid
            name = new_name(item if isinstance(item, exp.Literal)
                            else exp.Table(this=item.this, db=item.args.get("table")), "table")
            existing_schema(name, item, catalog)
        names.append(name)
    return tuple(names)


def _kv_pairs(value: exp.Expr, what: str) -> tuple[tuple[str, str], ...]:
    if not (isinstance(value, exp.Anonymous) and value.name.upper() == "KV_PAIRS"):
        raise error_at(value, f"{what} takes KV_PAIRS(name = 'value', ...)")
    pairs = []
    for item in value.expressions:
        if not (isinstance(item, exp.EQ) and isinstance(item.this, exp.Column)
                and isinstance(item.expression, exp.Literal)):
            raise error_at(item, f"{what}: {render(item)} is not name = 'value'")
        pairs.append((item.this.name.lower(), item.expression.name))
    return tuple(pairs)


def _check_options(pairs: tuple[tuple[str, str], ...], known: tuple[str, ...], what: str,
                   nodes: Mapping[str, exp.Expr | None]) -> None:
    """Refuse unknown keys and values that do not parse, pointing at the key's node."""
    for key, value in pairs:
        node = nodes.get(key)
        if key not in known:
            raise error_at(node, f"unknown {what} key {key}; known: {', '.join(known)}")
        parse, expected = _OPTION_VALUES[key]
        try:
            parse(value)
        except (ValueError, KeyError):
            raise error_at(node, f"{key} is {expected}, not {value!r}") from None


def _find_key(node: exp.Expr | None, key: str) -> exp.Expr | None:
    if node is None:
        return None
    return next((c for c in node.find_all(exp.Column) if c.name.lower() == key), None)


def _name(node: exp.Expr) -> str:
    if not isinstance(node, exp.Table | exp.Identifier) or not node.name or (
            isinstance(node, exp.Table) and node.db):
        raise error_at(node, "expected a function name")
    return node.name.lower()


def _existing_function(name: str, catalog: CatalogFacts) -> FunctionInfo:
    function = catalog.function(name)
    if function is None:
        raise not_found("function", name)
    return function
