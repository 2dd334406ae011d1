create function f language python with options (set_environment = 'udfe_st') as $$
def f(ctx):
    return None
$$
-- renders as:
CREATE FUNCTION f LANGUAGE PYTHON WITH OPTIONS (set_environment = 'udfe_st') AS $$
def f(ctx):
    return None
$$
