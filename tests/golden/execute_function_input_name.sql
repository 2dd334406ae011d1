EXECUTE FUNCTION udf_tc(INPUT_TABLE_NAMES => example_udf.udf_tc_in_table, OUTPUT_TABLE_NAMES => OUTPUT_TABLES('example_udf.udf_tc_out_table'))
-- renders as:
EXECUTE FUNCTION udf_tc(INPUT_TABLE_NAMES => example_udf.udf_tc_in_table, OUTPUT_TABLE_NAMES => OUTPUT_TABLES('example_udf.udf_tc_out_table'))
