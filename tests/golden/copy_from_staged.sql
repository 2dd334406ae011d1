copy ticks (sym, px) from 'ticks.csv' (header)
-- plans as:
COPY __indb_stage (sym, px) FROM 'ticks.csv' WITH (header)
