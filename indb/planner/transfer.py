"""Plans for ``EXPORT DATABASE 'directory' [(options)]`` and ``IMPORT DATABASE 'directory'``."""

from __future__ import annotations

from dataclasses import dataclass

from sqlglot import exp

from indb.parser import error_at
from indb.parser.transfer import ExportDatabase as ExportTree
from indb.parser.transfer import ImportDatabase as ImportTree
from indb.planner.tables import CatalogFacts

FORMATS = ("csv", "parquet")  # what a table's file may be


@dataclass(frozen=True)
class ExportDatabase:
    directory: str
    options: tuple[exp.CopyParameter, ...] = ()  # COPY's, for each table's file

    @property
    def format(self) -> str:
        given = next((o.args.get("expression") for o in self.options if o.name.upper() == "FORMAT"),
                     None)
        return given.name.lower() if given is not None else "csv"


@dataclass(frozen=True)
class ImportDatabase:
    directory: str


def plan_export(tree: ExportTree, catalog: CatalogFacts) -> ExportDatabase:
    plan = ExportDatabase(tree.this.name, tuple(tree.expressions))
    if plan.format not in FORMATS:
        node = next(o for o in tree.expressions if o.name.upper() == "FORMAT")
        raise error_at(node, f"EXPORT DATABASE writes csv or parquet files, not {plan.format}")
    if not plan.directory:
        raise error_at(tree.this, "EXPORT DATABASE needs a directory: EXPORT DATABASE 'backup'")
    return plan


def plan_import(tree: ImportTree, catalog: CatalogFacts) -> ImportDatabase:
    return ImportDatabase(tree.this.name)
