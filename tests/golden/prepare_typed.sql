prepare ins (int, text) as insert into t values ($1, $2)
-- renders as:
PREPARE ins (INT, TEXT) AS INSERT INTO t VALUES ($1, $2)
