-- Handwritten digits, trained and classified where they are stored.
-- Expects the table digits (id BIGINT, pixels FLOAT[64] of 0..16, label INTEGER, split VARCHAR),
-- which `indb demo` and notebooks/mnist_in_database.ipynb load. Run from the directory holding udfs/.

CREATE OR REPLACE FUNCTION mnist_train MODE = 'nondistributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS 'udfs/mnist_train.py', 'udfs/mnist_model.py';
CREATE OR REPLACE FUNCTION mnist_train_shards MODE = 'distributed' HANDLER 'mnist_train'
  RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS 'udfs/mnist_train.py', 'udfs/mnist_model.py';
CREATE OR REPLACE FUNCTION mnist_average MODE = 'nondistributed' HANDLER 'mnist_average'
  RUN_COMMAND = 'python' RUN_COMMAND_ARGS = 'mnist_train.py' FILE PATHS 'udfs/mnist_train.py', 'udfs/mnist_model.py';
CREATE OR REPLACE FUNCTION mnist_infer MODE = 'distributed' RUN_COMMAND = 'python'
  RUN_COMMAND_ARGS = 'mnist_infer.py' FILE PATHS 'udfs/mnist_infer.py';

-- Train on every shard's training rows in one instance; SQL scales the pixels to 0..1 on the way in.
EXECUTE FUNCTION mnist_train(
  INPUT_TABLE_NAMES => INPUT_TABLE(SELECT [p / 16 FOR p IN pixels]::FLOAT[64] AS pixels, label
                                   FROM digits WHERE split = 'train'),
  PARAMS => KV_PAIRS(epochs = '15', batch_size = '32', lr = '0.002', model = 'mnist_cnn'));

-- The same network trained per shard and averaged (FedAvg): one round a procedure, the next
-- version of mnist_fedavg each time; three rounds in another procedure: mnist_fedavg v1..v3.
CREATE OR REPLACE PROCEDURE mnist_fedavg_round BEGIN
  DROP TABLE IF EXISTS mnist_shard_weights;
  EXECUTE FUNCTION mnist_train_shards(
    INPUT_TABLE_NAMES => INPUT_TABLE(SELECT [p / 16 FOR p IN pixels]::FLOAT[64] AS pixels, label
                                     FROM digits WHERE split = 'train'),
    OUTPUT_TABLE_NAMES => OUTPUT_TABLES('mnist_shard_weights'),
    PARAMS => KV_PAIRS(epochs = '5', batch_size = '32', lr = '0.002', model = 'mnist_fedavg'));
  EXECUTE FUNCTION mnist_average(INPUT_TABLE_NAMES => INPUT_TABLE(mnist_shard_weights),
                                 PARAMS => KV_PAIRS(model = 'mnist_fedavg'));
END;
CREATE OR REPLACE PROCEDURE mnist_fedavg_rounds BEGIN
  EXECUTE PROCEDURE mnist_fedavg_round;
  EXECUTE PROCEDURE mnist_fedavg_round;
  EXECUTE PROCEDURE mnist_fedavg_round;
END;
EXECUTE PROCEDURE mnist_fedavg_rounds;

-- The centrally trained CNN is the one in production.
ALTER MODEL mnist_cnn SET ALIAS production = 1;

-- Classify the test rows shard by shard with the production model.
DROP TABLE IF EXISTS digit_predictions;
EXECUTE FUNCTION mnist_infer(
  INPUT_TABLE_NAMES => INPUT_TABLE(SELECT id, [p / 16 FOR p IN pixels]::FLOAT[64] AS pixels
                                   FROM digits WHERE split = 'test'),
  OUTPUT_TABLE_NAMES => OUTPUT_TABLES('digit_predictions'),
  PARAMS => KV_PAIRS(model = 'mnist_cnn', version = 'production'));

-- Test accuracy of each model: the CNN through its predictions table, and both through PREDICT.
SELECT 'mnist_cnn (mnist_infer)' AS model, count(*) AS test_rows,
       round(avg((p.digit = d.label)::INTEGER), 4) AS accuracy
FROM digit_predictions p JOIN digits d ON d.id = p.id
UNION ALL
SELECT 'mnist_cnn (PREDICT)', count(*),
       round(avg((PREDICT('mnist_cnn', [p / 16 FOR p IN pixels]::FLOAT[64]) = label)::INTEGER), 4)
FROM digits WHERE split = 'test'
UNION ALL
SELECT 'mnist_fedavg (PREDICT)', count(*),
       round(avg((PREDICT('mnist_fedavg', [p / 16 FOR p IN pixels]::FLOAT[64]) = label)::INTEGER), 4)
FROM digits WHERE split = 'test';

-- Confusion matrix: true label down, predicted digit across.
SELECT d.label,
       count(*) FILTER (WHERE p.digit = 0) AS "0", count(*) FILTER (WHERE p.digit = 1) AS "1",
       count(*) FILTER (WHERE p.digit = 2) AS "2", count(*) FILTER (WHERE p.digit = 3) AS "3",
       count(*) FILTER (WHERE p.digit = 4) AS "4", count(*) FILTER (WHERE p.digit = 5) AS "5",
       count(*) FILTER (WHERE p.digit = 6) AS "6", count(*) FILTER (WHERE p.digit = 7) AS "7",
       count(*) FILTER (WHERE p.digit = 8) AS "8", count(*) FILTER (WHERE p.digit = 9) AS "9"
FROM digit_predictions p JOIN digits d ON d.id = p.id
GROUP BY d.label ORDER BY d.label;
