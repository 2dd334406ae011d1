select by sex from people
-- translates to:
SELECT "sex", LAST(COLUMNS(* EXCLUDE ("sex", "__q_i")) ORDER BY "__q_i") FROM (SELECT *, ROW_NUMBER() OVER () - 1 AS "__q_i" FROM "people") AS q GROUP BY "sex" ORDER BY 1 NULLS FIRST
