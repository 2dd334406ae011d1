select t.px from ticks at (version => 42) as t where t.px > (select avg(px) from ticks for system_time as of '2026-01-05 09:30:00')
-- plans as:
SELECT t.px FROM "__indb_at_ticks_v42" AS t WHERE t.px > (SELECT AVG(px) FROM "__indb_at_ticks_t1767605400000000" AS ticks)
