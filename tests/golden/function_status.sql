show function status verbose for 'abc123'
-- renders as:
SHOW FUNCTION STATUS VERBOSE FOR 'abc123'
