create or replace function mnist_infer returns table (id bigint, digit int)
  mode = 'distributed' run_command = 'python' run_command_args = 'mnist_infer.py'
  file paths 'udfs/mnist_infer.py', 'udfs/common.py' with options (max_concurrency_per_node = '2')
-- renders as:
CREATE OR REPLACE FUNCTION mnist_infer RETURNS TABLE (id BIGINT, digit INT) MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'mnist_infer.py' FILE PATHS 'udfs/mnist_infer.py', 'udfs/common.py' WITH OPTIONS (max_concurrency_per_node = '2')
