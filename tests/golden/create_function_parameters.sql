create or replace function score_ticks mode = 'distributed' run_command = 'python' run_command_args = 'score.py'
  file paths 'udfs/score.py'
  parameters (threshold double default 0.9 comment 'the cut', symbol varchar, n int default -3, live boolean default true)
  comment 'scores ticks against a threshold'
-- renders as:
CREATE OR REPLACE FUNCTION score_ticks MODE = 'distributed' RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'score.py' FILE PATHS 'udfs/score.py' PARAMETERS (threshold DOUBLE DEFAULT 0.9 COMMENT 'the cut', symbol TEXT, n INT DEFAULT -3, live BOOLEAN DEFAULT TRUE) COMMENT 'scores ticks against a threshold'
