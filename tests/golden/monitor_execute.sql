execute monitor market_drift
-- renders as:
EXECUTE MONITOR market_drift
