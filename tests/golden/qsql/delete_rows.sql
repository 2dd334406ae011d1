delete from t where c2>15
-- translates to:
SELECT * FROM "t" WHERE ("c2" > 15) IS NOT TRUE
