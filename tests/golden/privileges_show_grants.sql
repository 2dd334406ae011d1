show grants
-- renders as:
SHOW GRANTS
