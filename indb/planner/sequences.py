"""Plans for sequences: CREATE/ALTER/DROP SEQUENCE, SHOW SEQUENCES, and PostgreSQL's functions
of them (``nextval``, ``currval``, ``setval``, ``lastval``) in any statement.

A sequence is named as a table is (``s``, ``schema.s``; ``public.s`` is main's). The functions
take its name as text (``nextval('s')``, ``nextval('s'::regclass)``, as pg_dump and SERIAL
defaults write it); the planner renames each call to indb's own function of it (``bind``),
which the engine registers in DuckDB for the statement (``WithSequences``).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.catalog.names import checked_table_name
from indb.catalog.sequences import FUNCTION_NAMES, TYPE_BOUNDS, SequenceInfo, defined, unwrapped
from indb.catalog.types import Identity
from indb.errors import DataError, SchemaError
from indb.parser import ExecuteFunction as ExecuteFunctionTree
from indb.parser import error_at, render
from indb.parser.sequences import AlterSequence as AlterSequenceTree
from indb.parser.sequences import DropSequence as DropSequenceTree
from indb.parser.sequences import ShowSequences as ShowSequencesTree
from indb.planner.tables import CatalogFacts, table_name

# PostgreSQL's functions of a sequence -> indb's, registered in DuckDB (whose own are of its
# sequences; what each needs of the sequence is ``access.SEQUENCE_PRIVILEGES``)
FUNCTIONS = {name: f"_indb_{name}" for name in FUNCTION_NAMES}
TYPES = {"SMALLINT": "SMALLINT", "INT": "INTEGER", "INTEGER": "INTEGER", "BIGINT": "BIGINT"}


@dataclass(frozen=True)
class CreateSequence:
    info: SequenceInfo
    if_not_exists: bool = False
    replace: bool = False  # CREATE OR REPLACE (DuckDB's): a sequence of the name dropped first


@dataclass(frozen=True)
class DropSequence:
    names: tuple[str, ...]
    if_exists: bool = False


@dataclass(frozen=True)
class AlterSequence:
    """The options ALTER SEQUENCE gives (``changes``: SequenceInfo's fields), ``restart`` (True:
    from its START; a number: from it) and ``owned_by`` (None: unchanged; ``()``: NONE)."""

    name: str
    changes: tuple[tuple[str, int | str | bool], ...]
    restart: int | bool | None = None
    owned_by: tuple[str, str] | tuple[()] | None = None
    if_exists: bool = False


@dataclass(frozen=True)
class ShowSequences:
    pass


@dataclass(frozen=True)
class WithSequences:
    """A plan whose SQL calls the sequence functions: the engine registers them around it."""

    plan: object


def plan_create(tree: exp.Create, catalog: CatalogFacts) -> CreateSequence:
    if tree.args.get("temporary") or \
            any(isinstance(p, exp.TemporaryProperty)
                for p in (tree.args.get("properties") or exp.Properties()).expressions):
        raise error_at(tree, "CREATE SEQUENCE makes a lasting sequence, not a TEMP one")
    name = _new_name(tree.this)
    kind = _type(tree.args.get("expression"))
    options = next((p for p in (tree.args.get("properties") or exp.Properties()).expressions
                    if isinstance(p, exp.SequenceProperties)), exp.SequenceProperties())
    numbers = _numbers(options)
    try:
        info = defined(name, kind, numbers.get("increment", 1), start=numbers.get("start"),
                       minimum=numbers.get("minimum"), maximum=numbers.get("maximum"),
                       cycle=bool(numbers.get("cycle")), owned_by=_owner(options))
    except DataError as error:
        raise error_at(tree, str(error)) from None
    return CreateSequence(info, bool(tree.args.get("exists")), bool(tree.args.get("replace")))


def plan_drop(tree: DropSequenceTree, catalog: CatalogFacts) -> DropSequence:
    if tree.args.get("cascade"):
        raise error_at(tree, "DROP SEQUENCE ... CASCADE is not supported: drop the DEFAULTs that "
                             "use the sequence first (ALTER TABLE t ALTER COLUMN c DROP DEFAULT)")
    return DropSequence(tuple(table_name(t) for t in tree.expressions), bool(tree.args.get("exists")))


def plan_alter(tree: AlterSequenceTree, catalog: CatalogFacts) -> AlterSequence:
    options = tree.args.get("properties") or exp.SequenceProperties()
    numbers = _numbers(options)
    changes: dict[str, int | str | bool] = {
        field: numbers[key] for key, field in (("increment", "increment"), ("start", "start"),
                                               ("minimum", "minimum"), ("maximum", "maximum"),
                                               ("cycle", "cycle")) if key in numbers}
    if tree.args.get("kind") is not None:
        changes["data_type"] = _type(tree.args["kind"])
    restart = tree.args.get("restart")
    return AlterSequence(
        table_name(tree.this), tuple(changes.items()),
        True if isinstance(restart, exp.Boolean) else _integer(restart) if restart else None,
        _owner(options) or (() if "owned" in options.args else None),
        bool(tree.args.get("exists")))


def plan_show(tree: ShowSequencesTree, catalog: CatalogFacts) -> ShowSequences:
    return ShowSequences()


def identity_of(column: str, properties: exp.SequenceProperties | None,
                always: bool) -> tuple[Identity, tuple[int | None, int | None]]:
    """An identity column's numbering from ADD GENERATED ... AS IDENTITY's options (START WITH
    and INCREMENT BY; CACHE and NO CYCLE are PostgreSQL's defaults here), and its MINVALUE and
    MAXVALUE as given (None where not): its numbers run to its type's bounds, which a MINVALUE
    and a MAXVALUE must then be (as pg_dump writes them: ``MAXVALUE 2147483647`` of an
    INTEGER)."""
    numbers = _numbers(properties or exp.SequenceProperties())
    if numbers.get("cycle"):
        raise error_at(properties, "an identity column takes START WITH and INCREMENT BY; its "
                                   "numbers run up to its type's bound (no CYCLE)")
    minimum, maximum = (int(numbers[key]) if key in numbers else None
                        for key in ("minimum", "maximum"))
    return (Identity(column, int(numbers.get("start", 1)), int(numbers.get("increment", 1)), always),
            (minimum, maximum))


def _calls(tree: exp.Expr) -> list[exp.Anonymous]:
    """The calls of sequence functions that run in the statement (not a column's DEFAULT, which
    the table keeps as written: ``nextval('s')``)."""
    return [c for c in tree.find_all(exp.Anonymous) if c.name.lower() in FUNCTIONS
            and not c.find_ancestor(exp.ColumnDef, exp.AlterColumn)]


def bind(tree: exp.Expr) -> tuple[exp.Expr, bool]:
    """The tree with each sequence function called by indb's name for it (``pg_catalog.setval``
    too), and whether there was one."""
    calls = _calls(tree)
    if not calls:
        return tree, False
    if isinstance(tree, exp.Create) and str(tree.args.get("kind") or "").upper() == "VIEW":
        raise error_at(calls[0], f"a view does not call {calls[0].name.lower()}(): a view is "
                                 "read again and again; call it in the query that reads the view")
    if isinstance(tree, ExecuteFunctionTree):
        raise error_at(calls[0], f"{calls[0].name.lower()}() inside an input query would run on "
                                 "the workers; number the rows in the function, or write the "
                                 "numbered rows to a table first")
    tree = tree.copy()
    for call in _calls(tree):
        arguments = list(call.expressions)
        wanted = {"lastval": 0, "setval": (2, 3)}.get(call.name.lower(), 1)
        if len(arguments) not in (wanted if isinstance(wanted, tuple) else (wanted,)):
            raise error_at(call, f"{call.name.lower()} takes {_arguments(call.name.lower())}")
        if arguments:
            arguments[0] = exp.cast(unwrapped(arguments[0]), "VARCHAR")
        if len(arguments) == 2:
            arguments.append(exp.true())
        named = exp.Anonymous(this=FUNCTIONS[call.name.lower()], expressions=arguments)
        qualified_call = call.parent if isinstance(call.parent, exp.Dot) and \
            call.parent.expression is call and call.parent.this.name.lower() == "pg_catalog" else call
        if isinstance(qualified_call.parent, exp.Select):  # the column keeps the function's name
            named = exp.alias_(named, call.name.lower())  # type: ignore[assignment]
        qualified_call.replace(named)
    return tree, True


def _arguments(function: str) -> str:
    return {"lastval": "no arguments: lastval()", "setval": "a sequence, a number and "
            "optionally is_called: setval('s', 42[, true])"}.get(function, f"a sequence: {function}('s')")


def _new_name(node: exp.Expr) -> str:
    try:
        return checked_table_name(table_name(node))
    except SchemaError as error:
        raise error_at(node, str(error).replace("table", "sequence")) from None


def _type(node: exp.Expr | None) -> str:
    if node is None:
        return "BIGINT"
    kind = TYPES.get(render(node).upper())
    if kind is None:
        raise error_at(node, f"a sequence is AS {', '.join(TYPE_BOUNDS).lower()}, not {render(node)}")
    return kind


def _numbers(options: exp.SequenceProperties) -> dict[str, int | bool]:
    """The numbers a sequence's options give (increment, start, minimum, maximum) and cycle."""
    out: dict[str, int | bool] = {}
    for key, field in (("increment", "increment"), ("start", "start"), ("minvalue", "minimum"),
                       ("maxvalue", "maximum")):
        if options.args.get(key) is not None:
            out[field] = _integer(options.args[key])
    for option in options.args.get("options") or []:
        word = option.name.upper()
        if word in ("CYCLE", "NO CYCLE", "NOCYCLE"):
            out["cycle"] = word == "CYCLE"
        elif word not in ("NO MINVALUE", "NO MAXVALUE", "NOMINVALUE", "NOMAXVALUE", "NO CACHE",
                          "NOCACHE"):
            raise error_at(option, f"sequence option {word} is not supported")
    return out


def _integer(node: exp.Expr) -> int:
    text = render(node)
    try:
        return int(text)
    except ValueError:
        raise error_at(node, f"a sequence's option is a whole number, not {text}") from None


def _owner(options: exp.SequenceProperties) -> tuple[str, str] | None:
    """OWNED BY t.c as (table, column); None for NONE or none given."""
    owned = options.args.get("owned")
    if owned is None:
        return None
    if not isinstance(owned, exp.Column) or not owned.table:
        raise error_at(owned, "OWNED BY names a table's column: OWNED BY t.c")
    schema = owned.args.get("db")
    table = exp.Table(this=owned.args["table"], db=schema)
    return table_name(table), owned.name
