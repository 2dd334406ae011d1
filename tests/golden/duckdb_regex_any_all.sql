select sym ~ any(['A.*', 'B.*']), sym !~ all(['Z.*']), sym ~* any(['a.*']), not (sym ~ all(['A.*'])) from ticks
-- renders as (a regex match against ANY/ALL of a list; sqlglot wrote regexp_matches(sym, ANY(...)), which DuckDB cannot read):
SELECT sym ~ ANY(['A.*', 'B.*']), sym !~ ALL(['Z.*']), sym ~* ANY(['a.*']), NOT (sym ~ ALL(['A.*'])) FROM ticks
