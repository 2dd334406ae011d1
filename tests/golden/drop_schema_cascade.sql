drop schema if exists example_udf cascade
-- renders as:
DROP SCHEMA IF EXISTS example_udf CASCADE
