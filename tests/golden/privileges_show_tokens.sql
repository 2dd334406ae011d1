show tokens for alice
-- renders as:
SHOW TOKENS FOR alice
