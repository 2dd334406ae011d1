drop function environment if exists udfe_st
-- renders as:
DROP FUNCTION ENVIRONMENT IF EXISTS udfe_st
