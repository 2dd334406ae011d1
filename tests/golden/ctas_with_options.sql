CREATE TABLE daily WITH (SHARD_KEY = 'sym', SHARDS = 4) AS SELECT sym, avg(px) AS px FROM ticks GROUP BY sym
-- renders as:
CREATE TABLE daily WITH (SHARD_KEY='sym', SHARDS=4) AS SELECT sym, AVG(px) AS px FROM ticks GROUP BY sym
