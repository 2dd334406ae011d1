select p.shard, count(*) from table(f(input_table_names => input_table(ticks))) p join ticks t on p.id = t.id group by 1
-- plans as:
SELECT p.shard, COUNT(*) FROM __indb_tf_0 AS p JOIN ticks AS t ON p.id = t.id GROUP BY 1
