"""Results as text: tables that fit the terminal for people, CSV and JSON for programs."""

from __future__ import annotations

import csv
import io
import json
import shutil
from typing import Any

import pyarrow as pa
from rich.console import Console
from rich.table import Table

from indb.catalog.types import sql_type_of

FORMATS = ("table", "csv", "json")
MIN_WIDTH = 10  # the narrowest column drawn: columns that would be narrower are left out instead
MAX_CELL = 1000  # characters of one value a table shows; CSV and JSON show every value whole
RULE = 3  # what a column adds to a table's width besides its text: a space each side, a rule
NOT_A_TERMINAL = 160  # the width tables are drawn for when the output is a file or a pipe


def terminal_width() -> int:
    """The terminal's width in characters ($COLUMNS first), or NOT_A_TERMINAL."""
    return shutil.get_terminal_size((NOT_A_TERMINAL, 24)).columns


def render(result: pa.Table, fmt: str = "table", max_rows: int = 100, width: int | None = None,
           total_rows: int | None = None) -> str:
    """``result`` as text in one of FORMATS. A table shows ``max_rows`` rows, fits in ``width``
    characters (the terminal's by default) and says how many rows (``total_rows``, when
    ``result`` holds only the first ones) and columns it left out."""
    if fmt == "table":
        return _table(result, max_rows, width or terminal_width(),
                      result.num_rows if total_rows is None else total_rows)
    return {"csv": _csv, "json": _json}[fmt](result)


def _cell(value: Any) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, list) and len(value) > 8:
        return "[" + ", ".join(map(str, value[:8])) + f", … {len(value) - 8} more]"
    text = str(value)
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _width(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


def _table(result: pa.Table, max_rows: int, width: int, total_rows: int) -> str:
    rows = result.slice(0, max_rows)
    headers = [f"{field.name}\n{sql_type_of(field.type)}" for field in result.schema]
    cells = [[_cell(v) for v in column.to_pylist()] for column in rows.columns]
    # each column gets at least MIN_WIDTH (or its whole text, if narrower); long values wrap
    least = [min(MIN_WIDTH, max([_width(h)] + [_width(c) for c in column]))
             for h, column in zip(headers, cells, strict=True)]
    shown = max(1, next((k for k in range(len(least), 0, -1)
                         if 1 + sum(least[:k]) + RULE * k <= width), 1))
    table = Table(show_lines=False, header_style="bold")
    for field, header, minimum in zip(list(result.schema)[:shown], headers, least, strict=False):
        numeric = pa.types.is_integer(field.type) or pa.types.is_floating(field.type) or \
            pa.types.is_decimal(field.type)
        table.add_column(header, justify="right" if numeric else "left", overflow="fold",
                         min_width=minimum)
    for row in zip(*cells[:shown], strict=True):
        table.add_row(*row)
    notes = [f"{total_rows} row{'s' if total_rows != 1 else ''}"]
    if total_rows > rows.num_rows:
        notes.append(f"{total_rows - rows.num_rows} not shown: use --max-rows or --format csv")
    if shown < len(headers):
        notes.append(f"{shown} of {len(headers)} columns shown: the terminal is too narrow for "
                     "the others; use --format csv or json, or select fewer columns")
    out = io.StringIO()
    console = Console(file=out, width=width, color_system=None, force_terminal=False)
    console.print(table)
    console.print("; ".join(notes), highlight=False, markup=False)
    return out.getvalue().rstrip("\n")


def _csv(result: pa.Table) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(result.column_names)
    for row in zip(*(column.to_pylist() for column in result.columns), strict=True):
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue().rstrip("\n")


def _json(result: pa.Table) -> str:
    return json.dumps(result.to_pylist(), default=str, indent=1)
