"""Durations (``n unit``) and quoted times, as schedules write them: procedures' ``EXECUTE FOR
EVERY 1 HOUR STARTING AT '2027-01-01 00:00:00'``, monitors' ``WINDOW 1 DAY EVERY 1 HOUR``.

The parse functions take the dialect's parser where the clause's words were matched, and name
the clause (``after``) in their errors. Their values become seconds in ``indb.planner.durations``.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.generator import Generator
from sqlglot.parser import Parser

UNITS = ("SECOND", "MINUTE", "HOUR", "DAY")


class Duration(exp.Expression):
    """``n unit``: ``this`` the number (a Literal), ``unit`` one of UNITS (singular)."""

    arg_types = {"this": True, "unit": True}


def duration(p: Parser, after: str) -> Duration:
    """``n SECOND[S]|MINUTE[S]|HOUR[S]|DAY[S]``, the unit kept singular."""
    number = p._parse_number()
    unit = p._curr.text.upper() if p._curr else ""
    unit = unit[:-1] if unit.endswith("S") else unit
    if number is None or unit not in UNITS:
        p.raise_error(f"{after} takes a number and a unit: {after} 1 HOUR (SECONDS, MINUTES, "
                      "HOURS or DAYS)")
    p._advance()
    return p.expression(Duration(this=number, unit=unit))


def quoted_time(p: Parser, after: str) -> exp.Expr:
    """A time in quotes (a string Literal); what it means is the planner's to read."""
    value = p._parse_string()
    if value is None:
        p.raise_error(f"{after} takes a time in quotes: {after} '2027-01-01 00:00:00'")
    return value  # type: ignore[return-value]


def _duration_sql(g: Generator, e: Duration) -> str:
    number = g.sql(e, "this")
    return f"{number} {e.args['unit']}{'' if number == '1' else 'S'}"


TRANSFORMS: dict[type[exp.Expr], Any] = {Duration: _duration_sql}
