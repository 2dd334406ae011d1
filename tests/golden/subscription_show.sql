show subscription scored
-- renders as:
SHOW SUBSCRIPTION scored
