select regexp_replace(sym, '^/$', '', 'l'), regexp_extract(sym, '(z)', 1, 'k'), regexp_replace(sym, 'a', 'b', 'gi') from ticks
-- plans as:
SELECT REGEXP_REPLACE(sym, '^/$', '', 'l'), REGEXP_EXTRACT(sym, '(z)', 1, 'k'), REGEXP_REPLACE(sym, 'a', 'b', 'gi') FROM ticks
