select prices[:n], prices[:-1], prices[2:n], prices[:n:2] from ticks
-- renders as (a slice from the start to n; sqlglot read ":n" as a named parameter):
SELECT prices[:n], prices[:-1], prices[2:n], prices[:n:2] FROM ticks
