"""The result of a statement: rows as Arrow, plus what a write did."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa


@dataclass
class Result:
    """Rows a statement returned (``arrow()``, ``df()``, ``fetchall()``) and a message for people."""

    table: pa.Table = field(default_factory=lambda: pa.table({}))
    message: str = ""
    rowcount: int = -1  # rows written or deleted by a write, -1 for queries (DB-API)
    _position: int = 0

    @property
    def columns(self) -> list[str]:
        return self.table.column_names

    def arrow(self) -> pa.Table:
        return self.table

    def df(self) -> Any:
        return self.table.to_pandas()

    def fetchall(self) -> list[tuple]:
        rows = self._rows(self._position, self.table.num_rows)
        self._position = self.table.num_rows
        return rows

    def fetchmany(self, size: int = 1) -> list[tuple]:
        end = min(self._position + size, self.table.num_rows)
        rows = self._rows(self._position, end)
        self._position = end
        return rows

    def fetchone(self) -> tuple | None:
        rows = self.fetchmany(1)
        return rows[0] if rows else None

    def _rows(self, start: int, end: int) -> list[tuple]:
        piece = self.table.slice(start, end - start).to_pydict()
        return list(zip(*piece.values(), strict=True)) if piece else []

    def __repr__(self) -> str:
        return f"Result({self.table.num_rows} rows: {', '.join(self.columns)})" if self.columns \
            else f"Result({self.message!r})"
