show schemas
-- renders as:
SHOW SCHEMAS
