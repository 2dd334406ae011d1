-- Market anomalies with the autoencoder of the kdb+ example.
-- Expects the table prices (sym VARCHAR, date DATE, close DOUBLE, volume DOUBLE) sharded by sym,
-- which `indb demo` (real S&P 500 and NASDAQ days) and notebooks/market_anomalies.ipynb load.
-- Run from the directory holding udfs/.

CREATE OR REPLACE FUNCTION autoencoder_train MODE = 'nondistributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'autoencoder_train.py'
  FILE PATHS 'udfs/autoencoder_train.py', 'udfs/autoencoder_model.py';
CREATE OR REPLACE FUNCTION anomaly_score MODE = 'distributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'anomaly_score.py' FILE PATHS 'udfs/anomaly_score.py';

-- Features in SQL, per symbol (window functions; all of a symbol's days are in one shard):
-- the z-scored log return of the close and the z-scored log volume.
EXECUTE FUNCTION autoencoder_train(
  INPUT_TABLE_NAMES => INPUT_TABLE(
    WITH days AS (SELECT sym, ln(close / lag(close) OVER (PARTITION BY sym ORDER BY date)) AS ret,
                         ln(volume) AS lv FROM prices WHERE volume > 0)
    SELECT (ret - avg(ret) OVER s) / stddev(ret) OVER s AS ret_z,
           (lv - avg(lv) OVER s) / stddev(lv) OVER s AS vol_z
    FROM days WHERE ret IS NOT NULL WINDOW s AS (PARTITION BY sym)),
  PARAMS => KV_PAIRS(epochs = '60', model = 'market_autoencoder'));

DROP TABLE IF EXISTS anomaly_scores;
EXECUTE FUNCTION anomaly_score(
  INPUT_TABLE_NAMES => INPUT_TABLE(
    WITH days AS (SELECT sym, date, close, volume,
                         ln(close / lag(close) OVER (PARTITION BY sym ORDER BY date)) AS ret,
                         ln(volume) AS lv FROM prices WHERE volume > 0)
    SELECT sym, date, close, volume,
           (ret - avg(ret) OVER s) / stddev(ret) OVER s AS ret_z,
           (lv - avg(lv) OVER s) / stddev(lv) OVER s AS vol_z
    FROM days WHERE ret IS NOT NULL WINDOW s AS (PARTITION BY sym)),
  OUTPUT_TABLE_NAMES => OUTPUT_TABLES('anomaly_scores'),
  PARAMS => KV_PAIRS(model = 'market_autoencoder'));

-- Anomalies per symbol, and the ten largest.
SELECT sym, count(*) AS days, count(*) FILTER (WHERE anomaly) AS anomalies
FROM anomaly_scores GROUP BY sym ORDER BY sym;

SELECT sym, date, round(close, 2) AS close, volume, round(error, 3) AS error
FROM anomaly_scores WHERE anomaly ORDER BY error DESC LIMIT 10;
