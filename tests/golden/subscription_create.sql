create or replace subscription scored on ticks where sym in ('AAPL', 'MSFT')
  execute function tick_anomaly(
    input_table_names => input_table(select time, sym, px, avg(px) over (partition by sym order by time rows between 19 preceding and current row) as m from ticks),
    params => kv_pairs(model = 'market_autoencoder'))
  output_tables('ticks_anomaly') publish to 'kdb://tick2:5010'
  with (max_batch = 1024, max_wait = 0.5, history = 40)
-- renders as:
CREATE OR REPLACE SUBSCRIPTION scored ON ticks WHERE sym IN ('AAPL', 'MSFT') EXECUTE FUNCTION tick_anomaly(input_table_names => INPUT_TABLE(SELECT time, sym, px, AVG(px) OVER (PARTITION BY sym ORDER BY time rows BETWEEN 19 preceding AND CURRENT ROW) AS m FROM ticks), params => KV_PAIRS(model = 'market_autoencoder')) OUTPUT_TABLES('ticks_anomaly') PUBLISH TO 'kdb://tick2:5010' WITH (max_batch = 1024, max_wait = 0.5, history = 40)
