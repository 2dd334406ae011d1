create replicated table params (k varchar, v double)
-- renders as:
CREATE REPLICATED TABLE params (k TEXT, v DOUBLE)
