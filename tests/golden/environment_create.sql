create or replace function environment udfe_st
-- renders as:
CREATE OR REPLACE FUNCTION ENVIRONMENT udfe_st
