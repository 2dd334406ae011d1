exec qty, s from sp
-- translates to:
SELECT ARRAY_AGG("qty" ORDER BY "__q_i") AS "qty", ARRAY_AGG("s" ORDER BY "__q_i") AS "s" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "sp") AS q
