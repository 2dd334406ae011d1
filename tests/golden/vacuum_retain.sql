vacuum ticks retain 3
-- renders as:
VACUUM ticks RETAIN 3
