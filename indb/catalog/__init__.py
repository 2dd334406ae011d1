"""The catalog: database directories, tables and their column types."""

from indb.catalog.database import Database
from indb.catalog.tables import TableInfo
from indb.catalog.types import Column

__all__ = ["Column", "Database", "TableInfo"]
