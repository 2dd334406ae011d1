show function environments
-- renders as:
SHOW FUNCTION ENVIRONMENTS
