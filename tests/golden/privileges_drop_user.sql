drop user if exists alice
-- renders as:
DROP USER IF EXISTS alice
