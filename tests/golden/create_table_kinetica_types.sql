CREATE TABLE places (id INTEGER, ip IPV4, shape WKT, outline BLOB(WKT), embedding VECTOR(3), hits ULONG, raw BLOB)
-- renders as:
CREATE TABLE places (id INT, ip TEXT, shape GEOMETRY, outline GEOMETRY, embedding REAL[3], hits UBIGINT, raw BLOB)
