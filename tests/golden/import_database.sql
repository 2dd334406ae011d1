import database 'out'
-- renders as:
IMPORT DATABASE 'out'
