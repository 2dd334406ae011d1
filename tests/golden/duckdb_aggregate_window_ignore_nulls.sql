select last(px order by ts ignore nulls) over (order by ts), first_value(px ignore nulls) over (order by ts), lag(px, 1) ignore nulls over (order by ts), any_value(px order by ts) over (order by ts) from ticks
-- plans as (an aggregate's IGNORE NULLS kept where it is a window function; sqlglot dropped it):
SELECT LAST(px ORDER BY ts IGNORE NULLS) OVER (ORDER BY ts), FIRST_VALUE(px IGNORE NULLS) OVER (ORDER BY ts), LAG(px, 1 IGNORE NULLS) OVER (ORDER BY ts), ANY_VALUE(px ORDER BY ts) OVER (ORDER BY ts) FROM ticks
