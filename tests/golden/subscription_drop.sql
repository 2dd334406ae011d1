drop subscription if exists scored
-- renders as:
DROP SUBSCRIPTION IF EXISTS scored
