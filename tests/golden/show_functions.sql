show functions
-- renders as:
SHOW FUNCTIONS
