select from sp where s=`s1, qty > avg qty
-- translates to:
SELECT * EXCLUDE ("__q_i") FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "sp") AS q WHERE "s" = 's1' QUALIFY "qty" > AVG("qty") OVER ()) AS q ORDER BY "__q_i"
