grant execute on function score to alice
-- renders as:
GRANT EXECUTE ON FUNCTION score TO alice
