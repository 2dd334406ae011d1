select vwap: size wavg price by sym from trade where size > 100
-- translates to:
SELECT "sym", SUM("size" * "price") / SUM(CASE WHEN NOT "price" IS NULL THEN "size" END) AS "vwap" FROM "trade" WHERE "size" > 100 GROUP BY "sym" ORDER BY 1 NULLS FIRST
