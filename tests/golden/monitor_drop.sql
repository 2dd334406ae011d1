drop monitor if exists market_drift
-- renders as:
DROP MONITOR IF EXISTS market_drift
