insert into ticks values ('A', TIMESTAMP '2026-01-01 09:30:00', 1.5)
-- plans as:
INSERT INTO __indb_stage VALUES ('A', CAST('2026-01-01 09:30:00' AS TIMESTAMP), 1.5)
