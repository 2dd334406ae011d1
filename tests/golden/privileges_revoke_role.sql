revoke analyst from alice
-- renders as:
REVOKE analyst FROM alice
