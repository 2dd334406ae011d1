show procedures
-- renders as:
SHOW PROCEDURES
