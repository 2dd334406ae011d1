deallocate prepare q
-- renders as:
DEALLOCATE q
