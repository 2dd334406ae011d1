"""What a host process and its supervisor say to each other over their socket.

The supervisor sends a ``Job``; the host sends reports while it runs (``StatusLine``,
``ProgressReport``), questions only the catalog can answer (``RowidsWanted``, ``ModelWanted``,
each answered with a value or the ``IndbError`` that says why not), and ``Done`` at the end.
"""

from __future__ import annotations

from dataclasses import dataclass

from indb.sharding.jobs import Outcome


@dataclass(frozen=True)
class Done:
    """The instance ended; the outcome says how and what it wrote."""

    outcome: Outcome


@dataclass(frozen=True)
class StatusLine:
    """The UDF's status message (``ctx.status``, a script's ``proc_data.status``)."""

    text: str


@dataclass(frozen=True)
class ProgressReport:
    """The UDF's progress (``ctx.progress``)."""

    done: float
    total: float | None


@dataclass(frozen=True)
class RowidsWanted:
    """Reserve ``count`` row ids of ``table``'s sequence; answered with the first."""

    table: str
    count: int


@dataclass(frozen=True)
class ModelWanted:
    """Which model version ``ctx.models.load(name, version)`` means; answered with a ModelInfo."""

    name: str
    version: int | str | None


Report = Done | StatusLine | ProgressReport
Question = RowidsWanted | ModelWanted
