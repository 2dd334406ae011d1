"""Results as text: readable tables for people, CSV and JSON for programs."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from indb.catalog.types import sql_type_of

FORMATS = ("table", "csv", "json")


def render(result: pa.Table, fmt: str = "table", max_rows: int = 100) -> str:
    """``result`` as text in one of FORMATS."""
    return {"table": _table, "csv": _csv, "json": _json}[fmt](result, max_rows)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(map(str, value[:8])) + f", … {len(value) - 8} more]"
    return str(value)


def _table(result: pa.Table, max_rows: int) -> str:
    table = Table(show_lines=False, header_style="bold")
    for field in result.schema:
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or \
            pa.types.is_decimal(field.type)
        table.add_column(f"{field.name}\n{sql_type_of(field.type)}", justify="right" if numeric else "left",
                         overflow="fold")
    for row in result.slice(0, max_rows).to_pylist():
        table.add_row(*(_cell(v) for v in row.values()))
    out = io.StringIO()
    console = Console(file=out, width=160, color_system=None, force_terminal=False)
    console.print(table)
    text = out.getvalue()
    hidden = result.num_rows - min(result.num_rows, max_rows)
    footer = f"{result.num_rows} row{'s' if result.num_rows != 1 else ''}"
    return text + (f"{footer} ({hidden} not shown; use --max-rows or --format csv)" if hidden else footer)


def _csv(result: pa.Table, max_rows: int) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in result.to_pylist():
        writer.writerow(["" if v is None else v for v in row.values()])
    return out.getvalue().rstrip("\n")


def _json(result: pa.Table, max_rows: int) -> str:
    return json.dumps(result.to_pylist(), default=str, indent=1)
