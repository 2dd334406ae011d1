"""Storage: Iceberg tables of Parquet files, written per shard and committed atomically."""
