execute function udf_sos(input_table_names => (select id, x1, x2 from example_udf.udf_sos_in_table),
  output_table_names => output_tables('example_udf.udf_sos_out_table'))
-- renders as:
EXECUTE FUNCTION udf_sos(input_table_names => (SELECT id, x1, x2 FROM example_udf.udf_sos_in_table), output_table_names => OUTPUT_TABLES('example_udf.udf_sos_out_table'))
