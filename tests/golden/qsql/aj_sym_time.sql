aj[`c1`c2; t; ([] c1: `a`b; c2: 5 25; q: 1 2)]
-- translates to:
SELECT "l"."c1" AS "c1", "l"."c2" AS "c2", "l"."c3" AS "c3", "r"."q" AS "q" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM (SELECT * FROM "t") AS q) AS l ASOF LEFT JOIN (SELECT * EXCLUDE ("__q_i"), TRUE AS "__q_m" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM (SELECT UNNEST(['a', 'b']) AS "c1", UNNEST([5, 25]) AS "c2", UNNEST([1, 2]) AS "q") AS q) AS q QUALIFY ROW_NUMBER() OVER (PARTITION BY "c1", "c2" ORDER BY "__q_i" DESC) = 1) AS r ON "l"."c1" = "r"."c1" AND "l"."c2" >= "r"."c2" ORDER BY "l"."__q_i"
