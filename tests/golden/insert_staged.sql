INSERT INTO ticks (sym, px) SELECT sym, px * 2 FROM ticks WHERE px > 1
-- plans as:
INSERT INTO __indb_stage (sym, px) SELECT sym, px * 2 FROM ticks WHERE px > 1
