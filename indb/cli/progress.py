"""What ``indb`` shows on the terminal while it works: the rows of a load and their rate; the
cluster starting, then the shards of a function run. Nothing is shown when stderr is not a
terminal (a pipe or a log file gets the results only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from rich.console import Console
from rich.progress import (BarColumn, Progress, ProgressColumn, SpinnerColumn, Task, TaskID,
                           TextColumn, TimeElapsedColumn)
from rich.text import Text

from indb.registry.runs import RunStatus

if TYPE_CHECKING:
    from indb.sharding.executor import RunProgress


class RowsColumn(ProgressColumn):
    """Rows so far, and rows a second once there are two counts to tell it from."""

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(f"{task.completed:,.0f} rows" + (f"  {speed:,.0f} rows/s" if speed else ""))


class StepsColumn(ProgressColumn):
    """What a task counts, as done/total: shards of a run, or what a UDF reports."""

    def render(self, task: Task) -> Text:
        if task.total is None:
            return Text(f"{task.completed:g}" if task.completed else "")
        return Text(f"{task.completed:g}/{task.total:g}")


@contextmanager
def load_progress(what: str, console: Console | None = None) -> Iterator[Callable[[int], None]]:
    """A callback for ``conn.load(progress=...)`` that shows the rows loaded and rows/s."""
    console = console or Console(stderr=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), RowsColumn(), TimeElapsedColumn(),
                  console=console, transient=True, disable=not console.is_terminal) as progress:
        task = progress.add_task(what, total=None)
        yield lambda rows: progress.update(task, completed=rows)


def run_progress(console: Console | None = None) -> Progress:
    """The display a ``RunDisplay`` draws on; use it as a context manager."""
    console = console or Console(stderr=True)
    return Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), StepsColumn(),
                    TimeElapsedColumn(), console=console, transient=True,
                    disable=not console.is_terminal)


class RunDisplay:
    """A function run, as ``conn.progress`` reports it: "starting the cluster" until it is up,
    then one line for the run (shards finished of all, rows read by the finished ones) and one
    for each shard that is running (what its UDF says with ``ctx.progress``)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.runs: dict[str, TaskID] = {}
        self.shards: dict[tuple[str, int], TaskID] = {}

    def __call__(self, report: RunProgress) -> None:
        rows = sum(s.rows_in or 0 for s in report.shards if s.status.finished)
        what = (f"run {report.run_id}: starting the Dask cluster" if report.starting else
                f"run {report.run_id}: shards done, {rows:,} rows read")
        if report.run_id not in self.runs:
            self.runs[report.run_id] = self.progress.add_task(what, total=report.instances)
        self.progress.update(self.runs[report.run_id], completed=report.finished, description=what)
        for shard in report.shards:
            key = (report.run_id, shard.shard)
            if shard.status == RunStatus.RUNNING:
                if key not in self.shards:
                    self.shards[key] = self.progress.add_task(f"  shard {shard.shard}", total=None)
                self.progress.update(self.shards[key], completed=shard.done or 0, total=shard.total)
            elif key in self.shards:
                self.progress.remove_task(self.shards.pop(key))
