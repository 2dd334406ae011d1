create or replace monitor market_drift on model market_autoencoder version 'production'
  for table market_days time column date features (ret_z, vol_z) label event
  reference (select ret_z, vol_z from market_days where date < '2015-01-01')
  window 30 days threshold psi > 0.2, ks_pvalue < 0.001, recall < 0.5
  every 1 day starting at '2027-01-01 06:00:00'
-- renders as:
CREATE OR REPLACE MONITOR market_drift ON MODEL market_autoencoder VERSION 'production' FOR TABLE market_days TIME COLUMN date FEATURES (ret_z, vol_z) LABEL event REFERENCE (SELECT ret_z, vol_z FROM market_days WHERE date < '2015-01-01') WINDOW 30 DAYS THRESHOLD psi > 0.2, ks_pvalue < 0.001, recall < 0.5 EVERY 1 DAY STARTING AT '2027-01-01 06:00:00'
