create function double_it language python mode = 'nondistributed' handler 'double_it' as $$
def double_it(ctx, t):
    return t
$$
-- renders as:
CREATE FUNCTION double_it LANGUAGE PYTHON MODE = 'nondistributed' HANDLER 'double_it' AS $$
def double_it(ctx, t):
    return t
$$
