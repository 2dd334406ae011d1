"""Durations and quoted times (``indb.parser.durations``) as seconds: what schedules, monitors'
windows and tokens' expiries are planned with. Pure; times are seconds since the epoch, UTC."""

from __future__ import annotations

import datetime

from sqlglot import exp

from indb.parser import error_at
from indb.parser.durations import Duration

UNIT_SECONDS = {"SECOND": 1.0, "MINUTE": 60.0, "HOUR": 3600.0, "DAY": 86400.0}


def seconds(duration: Duration, clause: str) -> float:
    """A Duration in seconds; SqlError naming ``clause`` unless it is positive."""
    value = float(duration.this.name) * UNIT_SECONDS[duration.args["unit"]]
    if value <= 0:
        raise error_at(duration.this, f"{clause} takes a positive number")
    return value


def moment(node: exp.Expr, clause: str) -> float:
    """A time in quotes ('2027-01-31 18:00:00', UTC unless it gives an offset) as seconds since
    the epoch; SqlError naming ``clause`` otherwise."""
    try:
        parsed = datetime.datetime.fromisoformat(node.name)
    except ValueError:
        raise error_at(node, f"{clause} takes a timestamp such as '2027-01-31 18:00:00' (UTC, "
                             f"or with an offset); not {node.name!r}") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=datetime.UTC)
    return parsed.timestamp()
