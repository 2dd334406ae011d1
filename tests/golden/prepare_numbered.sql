prepare query_person as select * from person where starts_with(name, ?) and age >= ? limit ?
-- renders as:
PREPARE query_person AS SELECT * FROM person WHERE STARTS_WITH(name, $1) AND age >= $2 LIMIT $3
