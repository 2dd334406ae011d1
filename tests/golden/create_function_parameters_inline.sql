create function echo comment 'echoes' parameters (day date comment 'as of') language python as $$
def echo(ctx, t):
    return t
$$
-- renders as:
CREATE FUNCTION echo LANGUAGE PYTHON PARAMETERS (day DATE COMMENT 'as of') COMMENT 'echoes' AS $$
def echo(ctx, t):
    return t
$$
