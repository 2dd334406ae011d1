alter user alice password null
-- renders as:
ALTER USER alice PASSWORD NULL
