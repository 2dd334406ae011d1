revoke usage on model cnn from analyst
-- renders as:
REVOKE USAGE ON MODEL cnn FROM analyst
