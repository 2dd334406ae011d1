"""DuckDB's macros, kept in the catalog (``CREATE MACRO``) or by a session (``CREATE TEMP
MACRO``), put in place of each call before a statement is checked and planned: a scalar macro's
expression with the call's arguments for its parameters, a table macro's query as a subquery
where it stands in FROM. DuckDB expands its macros the same way when it binds a statement; here
the expansion comes first, so what a macro reads is its caller's read, checked as the caller's,
and DuckDB never holds a macro."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa
from sqlglot import exp

from indb.catalog import macros as catalog
from indb.catalog.macros import Macro
from indb.engine.privileges import is_admin
from indb.errors import CatalogError, PrivilegeError, SqlError
from indb.parser import error_at, parse, render, render_indb
from indb.planner import macros as plans
from indb.result import Result

if TYPE_CHECKING:
    from indb.engine.core import Engine

# names indb's statements give meaning to, which a macro of that name would hide
RESERVED = frozenset({"predict", "input_table", "input_tables", "output_table", "output_tables",
                      "kdb", "q", "kv_pairs"})
EXPANSIONS = 1000  # calls put in place in one statement: more is a macro that calls itself


def defined(engine: Engine) -> dict[str, Macro]:
    """The macros a statement may call: the catalog's, and the session's before them."""
    return {**catalog.macros(engine.db.engine), **_session(engine)}


def _session(engine: Engine) -> dict[str, Macro]:
    """The session's temporary macros (none where there is no session: the HTTP API)."""
    return engine.temporaries.macros if engine.temporaries is not None else {}


def _defaults(macro: Macro) -> dict[str, exp.Expr]:
    """The defaults of those of a macro's parameters that have one, by parameter."""
    return {e.alias: e.this for e in parse(macro.defaults)[0].expressions} if macro.defaults \
        else {}


def expanded(engine: Engine, tree: exp.Expr) -> exp.Expr:
    """The statement with each call of a macro replaced by the macro's body, again for the calls
    a body makes (a call of a function DuckDB has is never a macro's: see ``create``)."""
    if not any(isinstance(node, exp.Anonymous) and node.name.lower() not in RESERVED
               for node in tree.walk()):
        return tree  # (no call sqlglot does not know, PREDICT's aside: no catalog read)
    macros = defined(engine)
    for _ in range(EXPANSIONS):  # innermost first: an argument is expanded once, then copied
        calls = list(tree.find_all(exp.Anonymous, bfs=False))  # (each node before its own)
        call = next((c for c in reversed(calls) if c.name.lower() in macros), None)
        if call is None:
            return tree
        _put_in_place(call, macros[call.name.lower()])
    raise CatalogError(f"macros were expanded {EXPANSIONS} times in one statement: a macro that "
                       "calls itself, directly or through others, never ends")


def _chosen(call: exp.Anonymous, macro: Macro) -> Macro:
    """The definition of a macro a call takes: the one (of its overloads) whose parameters its
    arguments fit, as DuckDB chooses; the first where none does (its error says why)."""
    positional = sum(not isinstance(a, exp.PropertyEQ | exp.Kwarg) for a in call.expressions)
    named = {a.this.name.lower() for a in call.expressions if isinstance(a, exp.PropertyEQ | exp.Kwarg)}
    for variant in (macro, *macro.overloads):
        defaults = _defaults(variant)
        if positional == len(variant.parameters) - len(defaults) and named <= set(defaults):
            return variant
    return macro


def _put_in_place(call: exp.Anonymous, macro: Macro) -> None:
    macro = _chosen(call, macro)
    body = parse(macro.body)[0]
    values = _arguments(call, macro)
    for column in list(body.find_all(exp.Column)):
        if not column.table and column.name.lower() in values:
            column.replace(_grouped(values[column.name.lower()].copy()))
    table = call.parent if isinstance(call.parent, exp.Table) and call.parent.this is call else None
    if macro.is_table != (table is not None):
        raise error_at(call, f"macro {macro.name} is a table macro: read it in FROM"
                       if macro.is_table else f"macro {macro.name} gives a value, not a table")
    if table is not None:
        table.replace(exp.Subquery(this=body, alias=table.args.get("alias") or exp.TableAlias(
            this=exp.to_identifier(macro.name))))
        return
    value = _grouped(body.expressions[0])
    parent = call.parent
    if isinstance(parent, exp.Select) and call in parent.expressions:  # named as DuckDB names it
        value = exp.alias_(value, call.sql(dialect="duckdb", normalize_functions=False), quoted=True)
    call.replace(value)


def _parameters(macro: Macro) -> list[exp.Expr]:
    defaults = _defaults(macro)
    return [exp.PropertyEQ(this=exp.to_identifier(p), expression=defaults[p])
            if p in defaults else exp.to_identifier(p) for p in macro.parameters]


def _body(macro: Macro, wrapped: bool = False) -> exp.Expr:
    """A macro's expression, or its query (in parentheses where ``wrapped``: an overload's)."""
    body = parse(macro.body)[0]
    if not macro.is_table:
        return body.expressions[0]
    return exp.Subquery(this=body) if wrapped else body


def _arguments(call: exp.Anonymous, macro: Macro) -> dict[str, exp.Expr]:
    """Each parameter's value in ``call``: those without a default by position, as DuckDB
    takes them, those with one by name (``b := 7``) or their default."""
    defaults = _defaults(macro)
    required = [p for p in macro.parameters if p not in defaults]
    given = [a for a in call.expressions if not isinstance(a, exp.PropertyEQ | exp.Kwarg)]
    named = {a.this.name.lower(): a.expression for a in call.expressions
             if isinstance(a, exp.PropertyEQ | exp.Kwarg)}
    unknown = sorted(set(named) - set(defaults))
    if macro.overloads and (len(given) != len(required) or unknown):
        raise error_at(call, f"macro {macro.name} takes " + " or ".join(
            str(len(v.parameters)) for v in (macro, *macro.overloads)) + " argument(s)")
    if len(given) != len(required) or unknown:
        raise error_at(call, f"macro {macro.name} takes {len(required)} argument(s) by position"
                             + (f" ({', '.join(required)})" if required else "")
                             + (f" and {', '.join(defaults)} by name (name := value)"
                                if defaults else "")
                             + (f"; it has no parameter {unknown[0]} with a default"
                                if unknown else ""))
    return {**dict(zip(required, given)), **{p: named.get(p, d) for p, d in defaults.items()}}


def _grouped(value: exp.Expr) -> exp.Expr:
    """``value`` in parentheses where it stands for a name (a parameter, a call) in a larger
    expression: ``a * 2`` of ``x + 1`` is ``(x + 1) * 2``."""
    atomic = isinstance(value, exp.Column | exp.Literal | exp.Func | exp.Paren | exp.Null
                        | exp.Boolean | exp.Subquery)
    return value if atomic else exp.paren(value, copy=False)


def create(engine: Engine, plan: plans.CreateMacro, params: object) -> Result:
    macro = plan.macro
    if macro.name in RESERVED or engine.session.query(render(
            exp.select(exp.func("count", exp.Star())).from_(exp.Table(
                this=exp.Anonymous(this="duckdb_functions"))).where(exp.column(
                    "function_name").eq(exp.Literal.string(macro.name))))).column(0)[0].as_py():
        raise CatalogError(f"{macro.name} is a function of DuckDB's or indb's: a macro needs a "
                           "name of its own")
    if not plan.temporary:
        catalog.create_macro(engine.db.engine, macro, plan.replace)
        return Result(message=f"created macro {macro.name}")
    if engine.temporaries is None:
        raise SqlError("a temporary macro lives as long as its session, and the HTTP API has "
                       "none (each request stands alone): make it with CREATE MACRO")
    if macro.name in engine.temporaries.macros and not plan.replace:
        raise CatalogError(f"temporary macro {macro.name} already exists; CREATE OR REPLACE "
                           f"TEMP MACRO {macro.name} redefines it")
    engine.temporaries.macros[macro.name] = macro
    return Result(message=f"created temporary macro {macro.name}")


def drop(engine: Engine, plan: plans.DropMacro, params: object) -> Result:
    if engine.temporaries is not None and plan.name in engine.temporaries.macros:
        del engine.temporaries.macros[plan.name]
        return Result(message=f"dropped temporary macro {plan.name}")
    if plan.name in catalog.macros(engine.db.engine) and not is_admin(engine, engine.user):
        raise PrivilegeError(f"DROP MACRO {plan.name} needs the admin role")
    if catalog.drop_macro(engine.db.engine, plan.name):
        return Result(message=f"dropped macro {plan.name}")
    what = "function or macro" if plan.as_function else "macro"
    if plan.if_exists:
        return Result(message=f"{what} {plan.name} does not exist")
    raise CatalogError(f"{what} {plan.name} does not exist; SHOW " + (
        "FUNCTION * and SHOW MACROS list them" if plan.as_function else "MACROS lists them"))


def show(engine: Engine, plan: plans.ShowMacros, params: object) -> Result:
    """One row a macro: its name, parameters, kind, whether it is the session's, and the
    statement that makes it again."""
    session = _session(engine)
    macros = sorted(defined(engine).values(), key=lambda m: (m.name not in session, m.name))
    return Result(pa.table({
        "name": pa.array([m.name for m in macros], pa.string()),
        "parameters": pa.array([list(m.parameters) for m in macros], pa.list_(pa.string())),
        "kind": pa.array(["table" if m.is_table else "scalar" for m in macros], pa.string()),
        "temporary": pa.array([m.name in session for m in macros], pa.bool_()),
        "definition": pa.array([_definition(m, m.name in session) for m in macros], pa.string())}))


def definitions(engine: Engine) -> list[tuple[str, str]]:
    """The database's macros (not the session's), each with the CREATE MACRO that makes it, as
    SHOW MACROS gives it: what the pg port's catalog lists (``server.pgmacros``)."""
    return [(m.name, _definition(m, False)) for m in sorted(
        catalog.macros(engine.db.engine).values(), key=lambda m: m.name)]


def _definition(macro: Macro, temporary: bool) -> str:
    if macro.overloads:  # m(a) AS ..., (a, b) AS ... (DuckDB's)
        variants = [exp.MacroOverload(this=_body(m, wrapped=True), expressions=_parameters(m),
                                      is_table=m.is_table) for m in (macro, *macro.overloads)]
        return render_indb(exp.Create(
            this=exp.UserDefinedFunction(this=exp.to_table(macro.name)), kind="MACRO",
            expression=exp.MacroOverloads(expressions=variants),
            properties=exp.Properties(expressions=[exp.TemporaryProperty()]) if temporary
            else None))
    return render_indb(exp.Create(
        this=exp.UserDefinedFunction(this=exp.to_table(macro.name), expressions=_parameters(macro),
                                     wrapped=True),
        kind="MACRO", expression=_body(macro),
        properties=exp.Properties(expressions=[
            *([exp.TemporaryProperty()] if temporary else []),
            *([exp.ReturnsProperty(this=exp.Schema(this=exp.Var(this="TABLE")), is_table=True)]
              if macro.is_table else [])]) if temporary or macro.is_table else None))
