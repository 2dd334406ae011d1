show snapshots ticks
-- renders as:
SHOW SNAPSHOTS ticks
