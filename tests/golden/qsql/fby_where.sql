select from sp where qty > (avg;qty) fby p
-- translates to:
SELECT * EXCLUDE ("__q_i") FROM (SELECT * FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "sp") AS q QUALIFY "qty" > AVG("qty") OVER (PARTITION BY "p")) AS q ORDER BY "__q_i"
