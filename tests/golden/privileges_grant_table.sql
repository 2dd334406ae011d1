grant select, insert on prices to analyst
-- renders as:
GRANT SELECT, INSERT ON TABLE prices TO analyst
