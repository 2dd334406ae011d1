"""Queries: DuckDB in-process over each table's current Iceberg snapshot."""
