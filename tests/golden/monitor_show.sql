show monitors
-- renders as:
SHOW MONITORS
