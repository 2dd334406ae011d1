drop token 'a1b2c3'
-- renders as:
REVOKE TOKEN 'a1b2c3'
