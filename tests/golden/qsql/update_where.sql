update qty:0 from sp where s=`s1
-- translates to:
SELECT * REPLACE (CASE WHEN "s" = 's1' THEN 0 ELSE "qty" END AS "qty") FROM "sp"
