"""PyKX's query APIs against the tickerplant: ``conn.qsql.select / exec / update / delete``, and
``conn.sql(query, *args)``.

``conn.sql`` calls kdb+'s SQL interface, ``(`.s.sp; "SELECT ..."; args)``, after making sure it is
loaded with ``"s) "``: the query is indb's SQL, its ``$1``... the arguments (``sql_call``).

PyKX sends each as q's functional form in a lambda, ``{[tab;x;y;z]?[tab;value x;value y;value
z]}`` (``!`` for update and delete; ``get tab`` where it does not change the table in place), its
table's name and its where, by and column clauses, each a pair of a small lambda and what it is
applied to: ``({parse each x}; ("price>100"; ...))`` for a where clause given as strings, ``({x};
False)`` for no by, a dictionary of names to ``(1; "q text")`` for columns and groups given as
strings (PyKX's ``_generate_clause`` in ``pykx/query.py``). Without a licence neither side can
evaluate q, so this module reads those known forms back into the q-sql text they stand for
(``select px: avg price by sym: sym from trade where price>100``), which the tickerplant
translates and answers as it answers q-sql sent as a string (q's shapes, ``qshapes``). Clauses
made of PyKX's ``Column`` objects (parse trees, licensed PyKX only) and updates in place are
refused, saying so.
"""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from indb.stream.kdb import MessageError, is_name, text

# the functional form: its verb, whether the table is read with ``get`` (not changed in place)
_QUERY = re.compile(r"\{\[tab;x;y;z\]([?!])\[\s*(get\s+)?tab;\s*(?:value\s+)?x;\s*(?:value\s+)?y;"
                    r"\s*(?:value\s+)?z\]\}")
_PARSE = "{parse each x}"
_NAMED = "{x!y}"
_ONE_NAMED = "{x!x}enlist@"
_SAME = "{x}"
_NO_COLUMNS = "{`symbol$()}"
_DICTIONARY = re.compile(r"\{\s*key\[x\]!\{\$\[0=x 0;\(::\);1=x 0;parse;2=x 0;\.\[;enlist 0;eval\];"
                         r"\(::\)\] x 1\}each value x\s*\}")


def query_text(message: Any) -> str | None:
    """The q-sql text of PyKX's functional query call ``(lambda; table; where; by; columns)``;
    None for any other message."""
    items = list(message) if isinstance(message, np.ndarray) and message.dtype == object else []
    if len(items) != 5 or not isinstance(items[0], bytes):
        return None
    form = _QUERY.fullmatch(items[0].decode(errors="replace").strip())
    if form is None:
        return None
    verb, got = form.group(1), form.group(2)
    if not is_name(items[1]):
        raise MessageError("PyKX's qsql reaches the tickerplant's tables by name: pass the "
                           "table's name ('trade'), not a table")
    if verb == "!" and not got:
        raise MessageError("an update in place (inplace=True) is not done here: indb's tables "
                           "change by SQL's UPDATE and DELETE, or by .u.upd")
    table, where, by, columns = text(items[1]), items[2], items[3], items[4]
    conditions = _clause(where, "where")
    groups = _clause(by, "by")
    selected = _clause(columns, "columns")
    if verb == "!":
        kind = "update" if isinstance(_applied(columns)[1], dict) else "delete"
    else:
        kind = "exec" if _is_empty_list(by) or _named_column(columns) else "select"
    parts = [kind, ", ".join(selected)]
    if groups:
        parts.append("by " + ", ".join(groups))
    parts.append(f"from {table}")
    if conditions:
        parts.append("where " + ", ".join(conditions))
    return " ".join(p for p in parts if p)


SQL_CALLS = (".s.sp", ".s.e")  # kdb+'s SQL interface: a query and its arguments (.s.e: none)


def sql_call(message: Any) -> tuple[str, list[Any]] | None:
    """The SQL text and arguments of a call of kdb+'s SQL interface (PyKX's ``conn.sql``);
    None for any other message."""
    items = list(message) if isinstance(message, np.ndarray) and message.dtype == object else []
    if not items or not is_name(items[0]) or text(items[0]) not in SQL_CALLS:
        return None
    if len(items) not in (2, 3) or not isinstance(items[1], bytes | str):
        raise MessageError(f"{text(items[0])} takes the SQL text and a list of its arguments")
    arguments = items[2] if len(items) == 3 else []
    values = list(arguments) if isinstance(arguments, np.ndarray | list | tuple) else [arguments]
    return _string(items[1]), [_python(v) for v in values]


def _python(value: Any) -> Any:
    """A decoded argument as the engine binds it: numpy scalars as Python's, strings as str."""
    if isinstance(value, bytes):
        return value.decode()
    return value.item() if isinstance(value, np.generic) else value


def _applied(clause: Any) -> tuple[str, Any]:
    """A clause's lambda (its text) and what it is applied to."""
    items = list(clause) if isinstance(clause, np.ndarray) and clause.dtype == object else []
    if len(items) < 2 or not isinstance(items[0], bytes):
        raise MessageError("PyKX's qsql clause is not one this tickerplant reads: give where, "
                           "by and columns as q strings (kx.Column objects need a licence)")
    return items[0].decode(errors="replace").strip(), items[1] if len(items) == 2 else items[1:]


def _clause(clause: Any, what: str) -> list[str]:
    """A clause's items as q-sql text: ``name: expression`` or an expression each."""
    function, value = _applied(clause)
    if function == _SAME and (value is False or _empty(value)):
        return []
    if function == _SAME and is_name(value):  # exec's one column: its values
        return [text(value)]
    if function == _PARSE:
        return [_string(v) for v in value]
    if function == _ONE_NAMED and is_name(value):
        return [text(value)]
    if function == _NAMED:
        names, values = value
        return [_named(text(n), text(v)) for n, v in zip(names, values, strict=True)]
    if function == _NO_COLUMNS:
        return []
    if _DICTIONARY.fullmatch(function) and isinstance(value, dict):
        return [_named(str(name), _dictionary_item(item)) for name, item in value.items()]
    raise MessageError(f"PyKX's qsql {what} clause {function[:40]!r} is not one this "
                       "tickerplant reads: give it as q strings")


def _dictionary_item(item: Any) -> str:
    """An item of PyKX's dictionary of columns: ``(1; "q text")`` (a string it parses) or ``(0;
    `name)`` (a value: a column's name)."""
    kind, value = item
    if int(kind) == 1:
        return _string(value)
    if int(kind) == 0 and is_name(value):
        return text(value)
    raise MessageError("PyKX's qsql column is a parse tree (kx.Column, which needs a licence): "
                       "give it as a q string, {'px': 'avg price'}")


def _named(name: str, expression: str) -> str:
    return expression if name == expression else f"{name}: {expression}"


def _string(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def _empty(value: Any) -> bool:
    return isinstance(value, np.ndarray | list) and len(value) == 0


def _is_empty_list(clause: Any) -> bool:
    """exec's no-by, ``({x}; ())``, where select's is ``({x}; 0b)``."""
    function, value = _applied(clause)
    return function == _SAME and _empty(value)


def _named_column(clause: Any) -> bool:
    """exec's columns given as one name, ``({x}; `price)``."""
    function, value = _applied(clause)
    return function == _SAME and is_name(value)
