show users
-- renders as:
SHOW USERS
