execute q(name_param => 'B', age := 40)
-- renders as:
EXECUTE q(name_param := 'B', age := 40)
