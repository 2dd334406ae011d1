exec procedure nightly()
-- renders as:
EXECUTE PROCEDURE nightly
