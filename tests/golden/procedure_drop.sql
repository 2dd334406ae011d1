drop procedure if exists nightly
-- renders as:
DROP PROCEDURE IF EXISTS nightly
