select open: first price, close: last price, hi: max price by sym from trade
-- translates to:
SELECT "sym", FIRST("price" ORDER BY "__q_i") AS "open", LAST("price" ORDER BY "__q_i") AS "close", MAX("price") AS "hi" FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "trade") AS q GROUP BY "sym" ORDER BY 1 NULLS FIRST
