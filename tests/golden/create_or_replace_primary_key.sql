create or replace table example_udf.udf_sos_in_table (id int not null, x1 float, x2 float, primary key (id), shard key (id))
-- renders as:
CREATE OR REPLACE TABLE example_udf.udf_sos_in_table (id INT NOT NULL, x1 REAL, x2 REAL, PRIMARY KEY (id), SHARD KEY (id))
