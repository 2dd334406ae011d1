desc function environment *
-- renders as:
DESCRIBE FUNCTION ENVIRONMENT *
