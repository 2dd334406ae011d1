update cumqty:sums qty by s from sp
-- translates to:
SELECT * EXCLUDE ("__q_i"), SUM("qty") OVER (PARTITION BY "s" ORDER BY "__q_i" ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW) AS "cumqty" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "sp") AS q ORDER BY "__q_i"
