alter function environment udfe_st install python package 'sentence-transformers==2.7.0 inflection', 'six'
-- renders as:
ALTER FUNCTION ENVIRONMENT udfe_st INSTALL PYTHON PACKAGE 'sentence-transformers==2.7.0 inflection', 'six'
