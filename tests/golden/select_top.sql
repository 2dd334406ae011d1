select top 10 sym, px from ticks where px > 1 order by px desc
-- plans as:
SELECT sym, px FROM ticks WHERE px > 1 ORDER BY px DESC LIMIT 10
