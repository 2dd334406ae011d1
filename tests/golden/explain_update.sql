explain update ticks set px = 1 where sym = 'a'
-- renders as:
EXPLAIN UPDATE ticks SET px = 1 WHERE sym = 'a'
