export database 'out' (FORMAT parquet, COMPRESSION zstd)
-- renders as:
EXPORT DATABASE 'out' (FORMAT parquet, COMPRESSION zstd)
