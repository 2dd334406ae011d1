CREATE LOCAL TEMPORARY TABLE stage (id INT, name TEXT) ON COMMIT DROP
-- renders as (PostgreSQL's LOCAL read as TEMP; the engine places it in the session's schema):
CREATE TEMPORARY TABLE stage (id INT, name TEXT) ON COMMIT DROP
