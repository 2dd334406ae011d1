-- Handwritten digits the TensorFlow way: a Keras model on TensorFlow trained where the rows are,
-- saved as a SavedModel, and served by a function and by PREDICT. Needs indb[tf] and the table
-- digits (id BIGINT, pixels FLOAT[64] of 0..16, label INTEGER, split VARCHAR) of sql/mnist.sql.
-- Run from the directory holding udfs/.

CREATE OR REPLACE FUNCTION mnist_tf_train MODE = 'nondistributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'mnist_tf_train.py' FILE PATHS 'udfs/mnist_tf_train.py';
CREATE OR REPLACE FUNCTION mnist_tf_infer MODE = 'distributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'mnist_tf_infer.py' FILE PATHS 'udfs/mnist_tf_infer.py';

-- Train on every shard's training rows in one instance; SQL scales the pixels to 0..1 on the way in.
EXECUTE FUNCTION mnist_tf_train(
  INPUT_TABLE_NAMES => INPUT_TABLE(SELECT [p / 16 FOR p IN pixels]::FLOAT[64] AS pixels, label
                                   FROM digits WHERE split = 'train'),
  PARAMS => KV_PAIRS(epochs = '15', batch_size = '32', lr = '0.003', model = 'mnist_tf'));

-- Classify the test rows shard by shard.
DROP TABLE IF EXISTS digit_tf_predictions;
EXECUTE FUNCTION mnist_tf_infer(
  INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id, [p / 16 FOR p IN pixels]::FLOAT[64] AS pixels
                                   FROM digits WHERE split = 'test'),
  OUTPUT_TABLE_NAMES => OUTPUT_TABLES('digit_tf_predictions'),
  PARAMS => KV_PAIRS(model = 'mnist_tf'));

-- Test accuracy through the predictions table and through PREDICT.
SELECT 'mnist_tf (mnist_tf_infer)' AS model, count(*) AS test_rows,
       round(avg((p.digit = d.label)::INTEGER), 4) AS accuracy
FROM digit_tf_predictions p JOIN digits d ON d.id = p.id
UNION ALL
SELECT 'mnist_tf (PREDICT)', count(*),
       round(avg((PREDICT('mnist_tf', [p / 16 FOR p IN pixels]::FLOAT[64]) = label)::INTEGER), 4)
FROM digits WHERE split = 'test';
