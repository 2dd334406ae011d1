CREATE TABLE places (id INTEGER, ip IPV4, shape WKT, outline BLOB(WKT), embedding VECTOR(3), hits ULONG, total UNSIGNED BIGINT, seen UNSIGNED LONG NOT NULL, raw BLOB)
-- renders as:
CREATE TABLE places (id INT, ip TEXT, shape GEOMETRY, outline GEOMETRY, embedding REAL[3], hits UBIGINT, total UBIGINT, seen UBIGINT NOT NULL, raw BLOB)
