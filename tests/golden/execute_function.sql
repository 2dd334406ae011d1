execute function f(input_table_names => input_table(select id, x from ticks where x > 1),
  output_table_names => output_tables('out'), params => kv_pairs(n = '3'), options => kv_pairs(run_tag = 'nightly'))
-- renders as:
EXECUTE FUNCTION f(input_table_names => INPUT_TABLE(SELECT id, x FROM ticks WHERE x > 1), output_table_names => OUTPUT_TABLES('out'), params => KV_PAIRS(n = '3'), options => KV_PAIRS(run_tag = 'nightly'))
