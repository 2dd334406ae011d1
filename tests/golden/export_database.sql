export database 'out' (format parquet, compression zstd)
-- renders as:
EXPORT DATABASE 'out' (FORMAT parquet, COMPRESSION zstd)
