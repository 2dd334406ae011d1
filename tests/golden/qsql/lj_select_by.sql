sp lj select w: max weight by p from p
-- translates to:
SELECT "l"."s" AS "s", "l"."p" AS "p", "l"."qty" AS "qty", "l"."x" AS "x", "r"."w" AS "w" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM (SELECT * FROM "sp") AS q) AS l LEFT JOIN (SELECT * EXCLUDE ("__q_i"), TRUE AS "__q_m" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM (SELECT "p", MAX("weight") AS "w" FROM "p" GROUP BY "p" ORDER BY 1 NULLS FIRST) AS q) AS q QUALIFY ROW_NUMBER() OVER (PARTITION BY "p" ORDER BY "__q_i") = 1) AS r ON "l"."p" IS NOT DISTINCT FROM "r"."p" ORDER BY "l"."__q_i"
