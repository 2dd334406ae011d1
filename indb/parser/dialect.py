"""indb's SQL: DuckDB's dialect plus Kinetica's table DDL, as a sqlglot dialect extension.

Added to DuckDB's grammar:

- ``SHARD KEY (col[, col2])`` among a ``CREATE TABLE``'s column definitions;
- ``CREATE REPLICATED TABLE``;
- ``WITH (SHARDS = n[, SHARD_KEY = 'col'])`` after the column list or before ``AS SELECT``
  (DuckDB's parser already reads it as table properties).
"""

from __future__ import annotations

from sqlglot import exp
from sqlglot.dialects.duckdb import DuckDB


class ShardKey(exp.Expression):
    """``SHARD KEY (a, b)`` inside a CREATE TABLE column list."""

    arg_types = {"expressions": True}


class ReplicatedProperty(exp.Property):
    """The ``REPLICATED`` of ``CREATE REPLICATED TABLE``."""

    arg_types: dict[str, bool] = {}


class Indb(DuckDB):
    """DuckDB's SQL with indb's statements."""

    class Parser(DuckDB.Parser):
        PROPERTY_PARSERS = {
            **DuckDB.Parser.PROPERTY_PARSERS,
            "REPLICATED": lambda self: self.expression(ReplicatedProperty()),
        }
        CONSTRAINT_PARSERS = {
            **DuckDB.Parser.CONSTRAINT_PARSERS,
            "SHARD": lambda self: self._parse_shard_key(),
        }
        SCHEMA_UNNAMED_CONSTRAINTS = {*DuckDB.Parser.SCHEMA_UNNAMED_CONSTRAINTS, "SHARD"}

        def _parse_shard_key(self) -> ShardKey | None:
            # A column may be called "shard": without KEY after it, give the tokens back.
            if not self._match_text_seq("KEY"):
                return None
            return self.expression(ShardKey(expressions=self._parse_wrapped_id_vars()))

    class Generator(DuckDB.Generator):
        TRANSFORMS = {
            **DuckDB.Generator.TRANSFORMS,
            ShardKey: lambda self, e: f"SHARD KEY ({self.expressions(e, flat=True)})",
            ReplicatedProperty: lambda self, e: "REPLICATED",
        }
        PROPERTIES_LOCATION = {
            **DuckDB.Generator.PROPERTIES_LOCATION,
            ReplicatedProperty: exp.Properties.Location.POST_CREATE,
            # DuckDB's generator drops generic properties; ours (SHARDS = 8) must survive a round trip.
            exp.Property: exp.Properties.Location.POST_WITH,
        }
