"""``SHOW WORKERS [FOR TABLE t]``: the workers of the cluster functions run on, each with the
shards of the database's default shard count (or of table ``t``'s) placed on it.

``parse_show`` returns None (having consumed nothing) when the statement is not its own, as
``indb.parser.monitors``'s parse functions do.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp
from sqlglot.parser import Parser


class ShowWorkers(exp.Expression):
    """``SHOW WORKERS``; ``this``: the table of ``FOR TABLE t``, if given."""

    arg_types = {"this": False}


def parse_show(p: Parser) -> exp.Expr | None:
    """SHOW WORKERS [FOR TABLE t] (after SHOW)."""
    if not p._match_text_seq("WORKERS"):
        return None
    table = p._parse_table_parts() if p._match_text_seq("FOR", "TABLE") else None
    return p.expression(ShowWorkers(this=table))


TRANSFORMS: dict[type[exp.Expr], Any] = {
    ShowWorkers: lambda g, e: "SHOW WORKERS" + (f" FOR TABLE {g.sql(e, 'this')}"
                                                if e.args.get("this") else ""),
}

__all__ = ["ShowWorkers"]
