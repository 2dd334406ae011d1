create schema if not exists example_udf
-- renders as:
CREATE SCHEMA IF NOT EXISTS example_udf
