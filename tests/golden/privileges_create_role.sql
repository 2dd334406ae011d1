create role quants
-- renders as:
CREATE ROLE quants
