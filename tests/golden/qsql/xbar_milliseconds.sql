select n:count i by 100 xbar time.time from trade
-- translates to:
SELECT TIME_BUCKET(TO_MILLISECONDS(100), CAST("time" AS TIME), CAST('00:00:00' AS TIME)) AS "time", COUNT(*) AS "n" FROM "trade" GROUP BY TIME_BUCKET(TO_MILLISECONDS(100), CAST("time" AS TIME), CAST('00:00:00' AS TIME)) ORDER BY 1 NULLS FIRST
