alter function environment udfe_st remove python package 'six'
-- renders as:
ALTER FUNCTION ENVIRONMENT udfe_st UNINSTALL PYTHON PACKAGE 'six'
