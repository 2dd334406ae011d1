-- Drift of the market autoencoder's inputs as the market moves on (docs/models.md, Monitoring).
-- Expects the table prices (sym VARCHAR, date DATE, close DOUBLE, volume DOUBLE) sharded by sym,
-- which `indb demo` loads (real S&P 500 and NASDAQ days, 1999-2018). Run from the directory
-- holding udfs/.

CREATE OR REPLACE FUNCTION autoencoder_train MODE = 'nondistributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'autoencoder_train.py'
  FILE PATHS 'udfs/autoencoder_train.py', 'udfs/autoencoder_model.py';

-- The features of every day: the log return, and the log volume against its mean of the year
-- before (volume grows over the decades; its level is no feature), each normalised by the
-- symbol's statistics of 1999-2004, the period the model learns.
CREATE OR REPLACE TABLE market_days AS
  WITH days AS (SELECT sym, date, ln(close / lag(close) OVER w) AS ret,
                       ln(volume) - avg(ln(volume)) OVER (w ROWS BETWEEN 250 PRECEDING AND 1 PRECEDING) AS lv
                FROM prices WHERE volume > 0 WINDOW w AS (PARTITION BY sym ORDER BY date)),
       base AS (SELECT sym, avg(ret) AS mr, stddev(ret) AS sr, avg(lv) AS ml, stddev(lv) AS sl
                FROM days WHERE date < DATE '2005-01-01' GROUP BY sym)
  SELECT sym, date, (ret - mr) / sr AS ret_z, (lv - ml) / sl AS vol_z
  FROM days JOIN base USING (sym) WHERE ret IS NOT NULL;

-- The autoencoder learns 1999-2004; its version records that query and the table's snapshot.
EXECUTE FUNCTION autoencoder_train(
  INPUT_TABLE_NAMES => INPUT_TABLE(SELECT ret_z, vol_z FROM market_days
                                   WHERE date < DATE '2005-01-01'),
  PARAMS => KV_PAIRS(epochs = '30', model = 'market_monitor_ae'));

-- A year a window (52 weeks), each compared with the training days; PSI above 0.2 alerts.
CREATE OR REPLACE MONITOR market_drift ON MODEL market_monitor_ae FOR TABLE market_days
  TIME COLUMN date FEATURES (ret_z, vol_z) WINDOW 364 DAYS THRESHOLD psi > 0.2;
EXECUTE MONITOR market_drift;

-- PSI and KS a window; the web page charts SELECT window_start, series, value FROM
-- market_drift_metrics WHERE metric = 'psi' as one line a feature.
SELECT window_start::DATE AS window_start, rows,
       round(max(value) FILTER (WHERE series = 'ret_z psi'), 3) AS psi_ret_z,
       round(max(value) FILTER (WHERE series = 'vol_z psi'), 3) AS psi_vol_z,
       round(max(value) FILTER (WHERE series = 'ret_z ks'), 3) AS ks_ret_z,
       round(max(value) FILTER (WHERE series = 'vol_z ks'), 3) AS ks_vol_z,
       string_agg(feature, ', ') FILTER (WHERE alert) AS alerts
FROM market_drift_metrics GROUP BY ALL ORDER BY window_start;
