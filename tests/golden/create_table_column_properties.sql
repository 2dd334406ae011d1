create or replace table example_udf.udf_tc_in_table (id integer(primary_key, shard_key) not null, name varchar(64, dict), cost decimal(10, 2, store_only))
-- renders as:
CREATE OR REPLACE TABLE example_udf.udf_tc_in_table (id INT(PRIMARY_KEY, SHARD_KEY) NOT NULL, name TEXT(DICT), cost DECIMAL(10, 2, STORE_ONLY))
