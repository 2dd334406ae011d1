"""The catalog names a statement's table references mean (``t``, ``s.t``), and where in the
statement a name is (for errors that point at it)."""

from __future__ import annotations

from sqlglot import exp

from indb.catalog.names import DEFAULT_SCHEMA, checked_name, checked_table_name, qualified
from indb.errors import SchemaError
from indb.parser import error_at, render


def new_name(table: exp.Expr, kind: str = "table") -> str:
    """The name of something a statement creates: a table reference whose name is valid (a
    table's may name its schema: ``s.t``, or the string ``'s.t'``)."""
    try:
        if kind != "table":
            return checked_name(table_name(table) if isinstance(table, exp.Table) else table.name,
                                kind)
        if isinstance(table, exp.Table):
            table_name(table)  # refuses db.schema.t
            # a quoted "main.t" is one (invalid) name, not table t of main
            return checked_table_name(f"{table.db}.{table.name}") if table.db \
                else checked_name(table.name)
        return checked_table_name(table.name)
    except SchemaError as error:
        raise error_at(table, str(error)) from None


def table_name(table: exp.Expr, kind: str = "table") -> str:
    """The catalog name a table reference means: ``t`` (or ``main.t``) for a table of main,
    ``s.t`` for one of schema s; names folded to lower case."""
    if not isinstance(table, exp.Table) or not table.name:
        raise error_at(table, f"expected a {kind} name")
    if table.args.get("catalog"):
        raise error_at(table, f"{render(table)}: a table is named t or schema.t, not db.schema.t")
    if table.db and table.db.lower() != DEFAULT_SCHEMA and kind != "table":
        raise error_at(table, f"{render(table)}: a {kind} lives in schema main; name it without "
                              "a schema")
    return qualified(table.db.lower() if table.db else DEFAULT_SCHEMA, table.name.lower())


def spelling(table: exp.Expr) -> str | None:
    """A table reference's name as its quotes spell it (``"MyFrame"``), where that is not all
    lower case: PostgreSQL keeps a quoted name's case, and its clients look the table up so
    (``catalog.tables.TableInfo.spelling``); unquoted names fold to lower case, as there."""
    name = table.this if isinstance(table, exp.Table) else None
    if isinstance(name, exp.Identifier) and name.quoted and name.name != name.name.lower():
        return name.name
    return None


def find_identifier(tree: exp.Expr, name: str) -> exp.Identifier | None:
    """The first identifier in ``tree`` spelling ``name`` (in any case)."""
    return next((i for i in tree.find_all(exp.Identifier) if i.name.lower() == name.lower()), None)
