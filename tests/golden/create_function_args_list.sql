create or replace function udf_sos mode = 'distributed' run_command = 'python3'
  run_command_args = 'udf/udf_sos.py', '--verbose', 'yes' file paths 'udf/udf_sos.py', 'kinetica_proc.py'
  with options (max_concurrency_per_node = '0')
-- renders as:
CREATE OR REPLACE FUNCTION udf_sos MODE = 'distributed' RUN_COMMAND = 'python3' RUN_COMMAND_ARGS = 'udf/udf_sos.py', '--verbose', 'yes' FILE PATHS 'udf/udf_sos.py', 'kinetica_proc.py' WITH OPTIONS (max_concurrency_per_node = '0')
