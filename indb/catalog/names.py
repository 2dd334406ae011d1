"""Which names indb accepts for what it creates: tables, views, functions, models, columns.

A table's name becomes a directory of the warehouse, a DuckDB view and part of Iceberg's
identifiers, so table-like names are plain identifiers: a letter or ``_`` first, then letters,
digits and ``_``, at most ``MAX_NAME`` characters, case-insensitive (kept lower-case). Column names
only live inside files and views (always quoted), so they may hold spaces and punctuation, but not
control characters, and not the prefix indb reserves for its hidden columns.

Names are checked where things are created. A database made before these rules that holds a name
outside them still opens: such a table can be read where its name can be written and dropped.
"""

from __future__ import annotations

import re

from indb.errors import SchemaError

MAX_NAME = 63          # as PostgreSQL's identifiers; far below any file system's limit
MAX_COLUMN_NAME = 255
RESERVED_PREFIXES = ("_indb", "__indb")  # indb's hidden columns, staging tables and views
_IDENTIFIER = re.compile(r"[a-z_][a-z0-9_]*\Z")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def checked_name(name: str, kind: str = "table") -> str:
    """``name`` lower-cased, if it is a valid name for a new ``kind``; else SchemaError."""
    lowered = name.lower()
    if not lowered:
        raise SchemaError(f"a {kind} needs a name; the name is empty")
    if len(lowered) > MAX_NAME:
        raise SchemaError(f"{kind} names are at most {MAX_NAME} characters; {name[:20]}... has "
                          f"{len(name)}")
    if not _IDENTIFIER.match(lowered):
        raise SchemaError(f"{name!r} is not a valid {kind} name: use letters, digits and _, "
                          "starting with a letter or _")
    if lowered.startswith(RESERVED_PREFIXES):
        raise SchemaError(f"{kind} names starting with _indb are reserved for indb ({name})")
    return lowered


def checked_column_name(name: str) -> str:
    """``name`` if it is a valid column name (any printable text, not reserved); else SchemaError."""
    if not name:
        raise SchemaError("a column needs a name; the name is empty")
    if len(name) > MAX_COLUMN_NAME:
        raise SchemaError(f"column names are at most {MAX_COLUMN_NAME} characters; "
                          f"{name[:20]}... has {len(name)}")
    if _CONTROL.search(name):
        raise SchemaError(f"column name {name!r} holds a control character")
    if name.lower().startswith("_indb_"):
        raise SchemaError(f"column names starting with _indb_ are reserved ({name})")
    return name
