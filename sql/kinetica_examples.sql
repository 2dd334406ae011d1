-- Kinetica-style UDF scripts (udfs/kinetica/) registered and run unchanged.
-- Run from the project root: indb --db ./mydb sql "$(cat sql/kinetica_examples.sql)"

CREATE TABLE points (id BIGINT, x DOUBLE, y DOUBLE, SHARD KEY (id)) WITH (SHARDS = 4);
INSERT INTO points SELECT range, range / 10.0, 3.0 * (range / 10.0) + 2.0 + (hash(range) % 100) / 1000.0
FROM range(2000);

-- 1. a table copy, shard by shard: the output table must exist (its columns are what ProcData gives)
CREATE OR REPLACE FUNCTION table_copy MODE = 'distributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'table_copy.py' FILE PATHS 'udfs/kinetica/table_copy.py';
CREATE TABLE points_copy (id BIGINT, x DOUBLE, y DOUBLE, SHARD KEY (id)) WITH (SHARDS = 4);
EXECUTE FUNCTION table_copy(INPUT_TABLE_NAMES => INPUT_TABLE(points),
                            OUTPUT_TABLE_NAMES => OUTPUT_TABLES('points_copy'));

-- 2. sum of squares: partial sums per shard, added up by SQL
CREATE OR REPLACE FUNCTION sum_of_squares
  RETURNS TABLE (shard INTEGER, column_name VARCHAR, sum_of_squares DOUBLE, row_count BIGINT)
  MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'sum_of_squares.py'
  FILE PATHS 'udfs/kinetica/sum_of_squares.py';
EXECUTE FUNCTION sum_of_squares(INPUT_TABLE_NAMES => INPUT_TABLE(SELECT x, y FROM points),
                                OUTPUT_TABLE_NAMES => OUTPUT_TABLES('squares'));

-- 3. one model per shard, averaged (weighted by rows) into one
CREATE OR REPLACE FUNCTION shard_model
  RETURNS TABLE (shard INTEGER, slope DOUBLE, intercept DOUBLE, row_count BIGINT)
  MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'shard_model.py'
  FILE PATHS 'udfs/kinetica/shard_model.py';
EXECUTE FUNCTION shard_model(INPUT_TABLE_NAMES => INPUT_TABLE(points),
                             OUTPUT_TABLE_NAMES => OUTPUT_TABLES('shard_models'),
                             PARAMS => KV_PAIRS(x = 'x', y = 'y'));

SELECT column_name, sum(sum_of_squares) AS sum_of_squares, sum(row_count) AS rows
FROM squares GROUP BY column_name ORDER BY column_name;

SELECT sum(slope * row_count) / sum(row_count) AS slope,
       sum(intercept * row_count) / sum(row_count) AS intercept,
       count(*) AS shards
FROM shard_models;
